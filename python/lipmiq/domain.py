"""Input domains: a box, a p-ball around a point, or all of R^n."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np

from .errors import InputError
from .norms import norm_name, parse_norm
from .tolerances import PROJECTION_RTOL, UNIT_ROUNDOFF


def _numbers(value: object, what: str, finite_hint: str = "") -> np.ndarray:
    """`value` as a float64 scalar (0-d) or flat vector; InputError unless it is finite real numbers."""
    try:
        raw = np.asarray(value)
    except (TypeError, ValueError):  # ragged nested lists
        raw = np.asarray(None)
    if raw.dtype.kind not in "iuf":
        raise InputError(f"{what} must be a number or a vector of numbers, got {value!r}")
    arr = raw.astype(np.float64)
    arr = arr if arr.ndim == 0 else arr.reshape(-1)
    if np.isnan(arr).any():
        raise InputError(f"{what} has a NaN entry at index {int(np.argmax(np.isnan(arr.reshape(-1))))}")
    if not np.all(np.isfinite(arr)):
        raise InputError(f"{what} must be finite{finite_hint}")
    return arr


def _sized(arr: np.ndarray, n: int, what: str) -> np.ndarray:
    """A checked scalar or vector as n entries (a scalar applies to every coordinate)."""
    if arr.ndim == 0:
        return np.full(n, float(arr))
    if arr.size != n:
        raise InputError(f"{what} has {arr.size} entries but the network has {n} inputs")
    return arr


class Domain:
    """Base class; concrete domains are resolved against the network's input size before use."""

    def resolve(self, n: int) -> "Domain":
        raise NotImplementedError

    def box_hull(self) -> Optional[Tuple[np.ndarray, np.ndarray]]:
        """A box containing the domain, or None when the domain is unbounded."""
        raise NotImplementedError

    def project(self, x: np.ndarray) -> np.ndarray:
        """A point of the domain near x (exact membership, used to repair solver points); x may also be
        a (count, n) array of points, projected row by row."""
        raise NotImplementedError

    def contains(self, x: np.ndarray) -> bool:
        raise NotImplementedError

    def sample(self, count: int, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError

    def to_dict(self) -> dict:
        raise NotImplementedError


@dataclass(frozen=True)
class Box(Domain):
    """lo <= x <= hi coordinate-wise; scalars apply to every coordinate."""

    lo: object
    hi: object

    def __post_init__(self) -> None:
        hint = " (use the global domain for R^n)"
        lo = _numbers(self.lo, "box lower bound", hint)
        hi = _numbers(self.hi, "box upper bound", hint)
        if lo.ndim and hi.ndim and lo.size != hi.size:
            raise InputError(f"box lower and upper bounds have {lo.size} and {hi.size} entries")
        lo, hi = np.broadcast_arrays(lo, hi)
        bad = np.flatnonzero(lo > hi)
        if bad.size:
            i = int(bad[0])
            where = f" at coordinate {i}" if lo.ndim else ""
            raise InputError(f"box has lo > hi{where}: lo={float(lo.flat[i])!r}, hi={float(hi.flat[i])!r}")

    def resolve(self, n: int) -> "Box":
        lo = _sized(_numbers(self.lo, "box lower bound"), n, "box lower bound")
        hi = _sized(_numbers(self.hi, "box upper bound"), n, "box upper bound")
        return Box(lo, hi)

    def box_hull(self):
        return np.asarray(self.lo), np.asarray(self.hi)

    def project(self, x):
        return np.clip(x, self.lo, self.hi)

    def contains(self, x):
        return bool(np.all(x >= self.lo) and np.all(x <= self.hi))

    def sample(self, count, rng):
        lo, hi = np.asarray(self.lo), np.asarray(self.hi)
        return lo + rng.random((count, lo.size)) * (hi - lo)

    def to_dict(self):
        lo, hi = np.asarray(self.lo), np.asarray(self.hi)
        if lo.size and np.all(lo == lo.flat[0]) and np.all(hi == hi.flat[0]):
            return {"box": [float(lo.flat[0]), float(hi.flat[0])]}
        return {"box": {"lo": lo.tolist(), "hi": hi.tolist()}}


def _sum_outward(a: np.ndarray, b: float, toward: float) -> np.ndarray:
    """fl(a + b), moved one ulp toward `toward` where the exact sum lies beyond it (Knuth's TwoSum error)."""
    total = a + b
    b_part = total - a
    error = (a - (total - b_part)) + (b - b_part)
    beyond = error < 0.0 if toward < 0.0 else error > 0.0
    return np.where(beyond, np.nextafter(total, toward), total)


@dataclass(frozen=True)
class Ball(Domain):
    """||x - center||_norm <= radius."""

    center: object
    radius: float
    norm: object = math.inf  # local robustness queries are l-inf balls; the CLI default too

    def __post_init__(self) -> None:
        _numbers(self.center, "ball center")
        radius = self.radius
        if isinstance(radius, (bool, np.bool_)) or not isinstance(radius, (int, float, np.integer, np.floating)):
            raise InputError(f"ball radius must be a number, got {radius!r}")
        if not math.isfinite(radius) or radius < 0:
            raise InputError(f"ball radius must be finite and >= 0, got {radius!r}")
        parse_norm(self.norm, "ball norm")

    def resolve(self, n: int) -> "Ball":
        center = _sized(_numbers(self.center, "ball center"), n, "ball center")
        return Ball(center, float(self.radius), parse_norm(self.norm, "ball norm"))

    def box_hull(self):
        """[c - r, c + r] rounded outward where the float sum is inexact (to nearest it can cut the ball by half an
        ulp: a proof of emptiness over the box would miss that strip); exact endpoints stay as they are."""
        c = np.asarray(self.center, dtype=np.float64)
        return _sum_outward(c, -float(self.radius), -math.inf), _sum_outward(c, float(self.radius), math.inf)

    def _distance_upper(self, d: np.ndarray) -> np.ndarray:
        """An upper bound on ||x - center|| from d = fl(x - center) (last axis): the norm of d scaled by its
        largest entry (no squares underflow: offsets of 1e-170 vanished squared, review finding), inflated by
        2 (n + 4) u for the subtraction, the scaling, the sum or maximum and the square root. The float test alone
        let x = 1e-30 into the ball |x + 1| <= 1 (1e-30 + 1 rounds to 1), where the region of relu(x) > 0 has no
        interior: a witness above L = 0 (review finding)."""
        scale = np.max(np.abs(d), axis=-1, keepdims=True)
        safe = np.where(scale > 0.0, scale, 1.0)
        with np.errstate(over="ignore", invalid="ignore"):  # inf / inf: NaN, read as outside by the callers
            norm = np.linalg.norm(d / safe, ord=self.norm, axis=-1, keepdims=True) * scale
        return norm * (1.0 + 2.0 * (d.shape[-1] + 4) * UNIT_ROUNDOFF)

    def project(self, x):
        """Points outside (or within rounding of the sphere) pulled toward the center until `contains` holds:
        c + d s rounds by an ulp of c, which a 1e-12 pull does not cover when the radius is small next to the
        center (review finding), so larger pulls follow, and the center last. x may be (count, n)."""
        c = np.asarray(self.center, dtype=np.float64)
        x = np.asarray(x, dtype=np.float64)
        rows = x.reshape(-1, c.size).copy()
        with np.errstate(over="ignore", invalid="ignore"):  # an overflowing offset: inf, then outside
            d = rows - c
        r = self._distance_upper(d)
        outside = ~(r[:, 0] <= self.radius)  # NaN (an inf entry, an overflowing offset) is outside too
        for pull in (PROJECTION_RTOL, 1e-9, 1e-6, 1e-3):  # all rows at once; a stronger pull for those still out
            if not outside.any():
                break
            rows[outside] = c + d[outside] * (self.radius / r[outside]) * (1.0 - pull)
            outside[outside] = ~(self._distance_upper(rows[outside] - c)[:, 0] <= self.radius)
        rows[outside] = c
        return rows.reshape(x.shape)

    def contains(self, x):
        """True only when x is in the ball in exact arithmetic (points within rounding of the sphere are not)."""
        with np.errstate(over="ignore", invalid="ignore"):
            d = np.asarray(x, dtype=np.float64) - np.asarray(self.center)
        return bool(self._distance_upper(d)[..., 0] <= self.radius)

    def sample(self, count, rng):
        c = np.asarray(self.center)
        n = c.size
        if math.isinf(self.norm):
            d = rng.uniform(-1.0, 1.0, (count, n))
        elif self.norm == 2.0:
            g = rng.standard_normal((count, n))
            d = g / np.linalg.norm(g, axis=1, keepdims=True) * rng.random((count, 1)) ** (1.0 / n)
        else:
            e = rng.exponential(size=(count, n + 1))
            d = (e[:, :n] / e.sum(axis=1, keepdims=True)) * rng.choice([-1.0, 1.0], size=(count, n))
        return c + self.radius * d

    def to_dict(self):
        return {"ball": {"center": np.asarray(self.center).tolist(), "radius": float(self.radius),
                         "norm": norm_name(float(self.norm)) if not isinstance(self.norm, str) else self.norm}}


@dataclass(frozen=True)
class Global(Domain):
    """All of R^n."""

    def resolve(self, n: int) -> "Global":
        return self

    def box_hull(self):
        return None

    def project(self, x):
        return x

    def contains(self, x):
        return True

    def sample(self, count, rng):
        raise InputError("the global domain has no distribution to sample from")

    def to_dict(self):
        return {"global": True}
