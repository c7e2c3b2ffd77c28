"""Certified robustness radius of a classifier at an input, from local Lipschitz bounds of its margins.

With k the predicted class at x0 and margins m_j = f_k(x0) - f_j(x0) > 0, let L_j(R) be a certified
upper bound on the Lipschitz constant (input p-norm) of f_k - f_j on the ball B_p(x0, R). Along the
segment from x0 to any x in that (convex) ball, f_k(x) - f_j(x) >= m_j - L_j(R) ||x - x0||_p, so the
class cannot change for ||x - x0||_p < min(R, min_j m_j / L_j(R)). That radius is valid for every R;
the best R is the fixed point R = min_j m_j / L_j(R), searched for by growing and bisecting R.
The first R is the radius from global bounds (the product of layer norms), valid everywhere.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, List, Optional

import numpy as np

from ..api import check_options, check_time_limit, lipschitz
from ..domain import Ball, Global
from ..errors import InputError
from ..io import load
from ..jsonout import dumps, plain
from ..norms import norm_name, parse_norm
from ..tolerances import RADIUS_RTOL
from ..versions import versions


@dataclass
class MarginBound:
    """The bound used for one rival class j: margin m_j and the Lipschitz bounds of f_k - f_j."""

    rival: int
    margin: float
    lower: float
    upper: float

    def to_dict(self) -> dict:
        return {"class": self.rival, "margin": self.margin, "lipschitz_lower": self.lower,
                "lipschitz_upper": self.upper}


@dataclass
class RadiusResult:
    """Every x with ||x - center||_p < radius is classified as `label` (certified)."""

    radius: float
    label: int
    p: float
    center: np.ndarray
    ball_radius: float                       # the R whose local bounds gave `radius` (inf: global bounds)
    bounds: List[MarginBound]
    rounds: List[List[float]] = field(default_factory=list)   # [[R, min_j m_j / L_j(R)], ...]
    time_s: float = 0.0
    message: str = ""

    def to_dict(self) -> dict:
        """The JSON document as plain Python values; infinities are None (`ball_radius` None: global bounds)."""
        return plain({
            "radius": self.radius, "label": self.label, "p": norm_name(self.p),
            "center": self.center,
            "ball_radius": self.ball_radius,
            "bounds": [b.to_dict() for b in self.bounds],
            "rounds": self.rounds,
            "time_s": self.time_s, "message": self.message, "versions": versions(),
        })

    def to_json(self, **kwargs: Any) -> str:
        """Strict JSON (no Infinity or NaN tokens)."""
        return dumps(self.to_dict(), **kwargs)


MIN_SHARE = 0.01  # seconds: a margin bound asked for less is not worth starting


class _Clock:
    """The search's deadline and the largest time a `lipschitz` call took beyond its own limit (its fixed
    cost: loading, bounds, the product bound), so that no round starts that cannot finish in time."""

    def __init__(self, time_limit: float):
        self.start = time.perf_counter()
        self.deadline = self.start + time_limit
        self.overhead = 0.0

    def remaining(self) -> float:
        return self.deadline - time.perf_counter()

    def share(self, calls_left: int) -> float:
        """The time limit for the next call when `calls_left` calls (this one included) must still run."""
        return (self.remaining() - self.overhead * calls_left) / calls_left

    def record(self, asked: float, took: float) -> None:
        self.overhead = max(self.overhead, took - asked)


def _radius_at(net, x0: np.ndarray, label: int, margins: np.ndarray, domain, p: float, method: str,
               clock: _Clock, options: dict) -> Optional[tuple]:
    """min_j m_j / L_j on `domain` and the per-class bounds (an unbounded L_j gives radius 0); None when the
    time left cannot bound every rival (a round is valid only with all of them)."""
    bounds = []
    rivals = [j for j in range(margins.size) if j != label]
    for done, j in enumerate(rivals):
        share = clock.share(len(rivals) - done)
        if share < MIN_SHARE:
            return None
        c = np.zeros(margins.size)
        c[label], c[j] = 1.0, -1.0
        began = time.perf_counter()
        res = lipschitz(net, domain, p=p, q=p, output=c, method=method, time_limit=share, **options)
        clock.record(share, time.perf_counter() - began)
        upper = res.upper if res.status != "error" else math.inf  # a failed solve proves nothing
        bounds.append(MarginBound(j, float(margins[j]), res.lower, upper))
    ratios = [b.margin / b.upper if b.upper > 0 else math.inf for b in bounds]
    return min(ratios) * (1.0 - RADIUS_RTOL), bounds


def certified_radius(network: Any, x0: Any, p: object = 2, time_limit: float = 60.0, method: str = "miqcqp",
                     max_rounds: int = 8, rtol: float = 1e-2,
                     on_round: Optional[Callable[[RadiusResult], None]] = None, **options: Any) -> RadiusResult:
    """The largest radius (searched over balls B_p(x0, R)) within which the predicted class is certified.

    `time_limit` covers the whole search; each round spends an equal share of what is left on the
    margins' local Lipschitz bounds (`method` and `options` are passed to `lipschitz`). `on_round`
    sees the result so far after every round (for a progress display).
    """
    clock = _Clock(check_time_limit(time_limit))
    net = load(network)
    p = parse_norm(p, "input norm p")
    if net.output_dim < 2:
        raise InputError(f"a classifier needs at least 2 outputs, the network has {net.output_dim}")
    try:
        x0 = np.asarray(x0, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise InputError("the center must be a vector of numbers") from None
    if x0.size != net.input_dim:
        raise InputError(f"the center has {x0.size} entries but the network has {net.input_dim} inputs")
    if not np.all(np.isfinite(x0)):
        raise InputError("the center has non-finite entries")
    if isinstance(max_rounds, bool) or not isinstance(max_rounds, (int, np.integer)) or max_rounds < 1:
        raise InputError(f"max_rounds must be >= 1, got {max_rounds!r}")
    check_options(method, options)  # an unknown method or option, or a bad value, before any solve
    scores = net(x0)
    label = int(np.argmax(scores))
    margins = scores[label] - scores
    result = RadiusResult(0.0, label, p, x0, math.inf, [], time_s=0.0)
    if np.sort(margins)[1] <= 0:
        result.message = "a tie between the top classes at the center: no positive radius"
        result.time_s = time.perf_counter() - clock.start
        return result

    rounds = int(max_rounds) + 1
    first = _radius_at(net, x0, label, margins, Global(), p, "naive", clock, {})
    if first is None:
        result.message = "time limit reached before the global bounds of every rival class"
        result.time_s = time.perf_counter() - clock.start
        return result
    r, bounds = first
    result.radius, result.bounds = r, bounds
    result.rounds.append([math.inf, r])
    best, hi = r, math.inf          # best: certified radius; hi: a ball size known to be too large
    R = 2.0 * r if math.isfinite(r) and r > 0 else 1.0
    for done in range(1, rounds):
        round_clock = _Clock(clock.remaining() / (rounds - done))
        round_clock.overhead = clock.overhead
        at = _radius_at(net, x0, label, margins, Ball(x0, R, p), p, method, round_clock, dict(options))
        clock.overhead = round_clock.overhead
        if at is None:
            result.message = "time limit reached"
            break
        r, bounds = at
        result.rounds.append([R, r])
        if min(R, r) > best:
            best = min(R, r)
            result.radius, result.bounds, result.ball_radius = best, bounds, R
        result.time_s = time.perf_counter() - clock.start
        if on_round is not None:
            on_round(result)
        if r >= R:   # the whole ball is certified: a larger one may be too
            nxt = r if math.isinf(hi) else min(r, 0.5 * (R + hi))
        else:        # the ball is too large for its own bounds: shrink towards the certified part
            hi = R
            nxt = 0.5 * (best + hi)
        if nxt <= best * (1.0 + rtol) or (math.isfinite(hi) and hi <= best * (1.0 + rtol)):
            result.message = "converged"
            break
        R = nxt
    else:
        result.message = result.message or f"stopped after {max_rounds} rounds"
    result.time_s = time.perf_counter() - clock.start
    return result
