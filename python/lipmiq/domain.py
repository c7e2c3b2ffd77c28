"""Input domains: a box, a p-ball around a point, or all of R^n."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np

from .errors import InputError
from .norms import norm_name, parse_norm
from .tolerances import PROJECTION_RTOL


def _vector(value: object, n: int, what: str) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64) if not isinstance(value, np.ndarray) else value.astype(np.float64)
    if arr.ndim == 0:
        arr = np.full(n, float(arr))
    arr = arr.reshape(-1)
    if arr.size != n:
        raise InputError(f"{what} has {arr.size} entries but the network has {n} inputs")
    if np.isnan(arr).any():
        raise InputError(f"{what} has a NaN entry at index {int(np.argmax(np.isnan(arr)))}")
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

    def resolve(self, n: int) -> "Box":
        lo = _vector(self.lo, n, "box lower bound")
        hi = _vector(self.hi, n, "box upper bound")
        for arr, what in ((lo, "lower"), (hi, "upper")):
            if not np.all(np.isfinite(arr)):
                raise InputError(f"box {what} bound must be finite (use the global domain for R^n)")
        bad = np.flatnonzero(lo > hi)
        if bad.size:
            i = int(bad[0])
            raise InputError(f"box has lo > hi at coordinate {i}: lo={lo[i]!r}, hi={hi[i]!r}")
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


@dataclass(frozen=True)
class Ball(Domain):
    """||x - center||_norm <= radius."""

    center: object
    radius: float
    norm: object = 2

    def resolve(self, n: int) -> "Ball":
        center = _vector(self.center, n, "ball center")
        if not np.all(np.isfinite(center)):
            raise InputError("ball center must be finite")
        try:
            radius = float(self.radius)
        except (TypeError, ValueError):
            raise InputError(f"ball radius must be a number, got {self.radius!r}") from None
        if not math.isfinite(radius) or radius < 0:
            raise InputError(f"ball radius must be finite and >= 0, got {self.radius!r}")
        return Ball(center, radius, parse_norm(self.norm, "ball norm"))

    def box_hull(self):
        c = np.asarray(self.center)
        return c - self.radius, c + self.radius

    def project(self, x):
        c = np.asarray(self.center)
        d = x - c
        r = np.linalg.norm(d, ord=self.norm, axis=-1, keepdims=True)
        inside = r <= self.radius
        # Shrink slightly below the radius so rounding cannot leave the ball.
        shrunk = c + d * (self.radius / np.where(inside, 1.0, r)) * (1.0 - PROJECTION_RTOL)
        return np.where(inside, x, shrunk)

    def contains(self, x):
        return float(np.linalg.norm(x - np.asarray(self.center), ord=self.norm)) <= self.radius

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
