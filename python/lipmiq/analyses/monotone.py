"""Monotonicity: certified bounds on one Jacobian entry d f_k / d x_i over a domain, and its sign.

The entry is e_k^T J(g) e_i on each activation region g. Over the regions with non-empty interior that
meet the domain (where f is differentiable; f is Lipschitz, so f is monotone in x_i exactly when the
entry has that sign on all of them):
- sound bounds: interval propagation of e_i through the network (every neuron not proved stable may be
  on or off), tightened by SCIP's dual bound of the closed MIQCQP with v = e_i fixed and the signed
  objective +/- y (the closed problem contains every such region, so its optimum bounds the entry);
- achieved values: certified witnesses, points strictly inside a region (re-checked in float64), from
  sampling and from the solver's incumbents (repaired by the region LP when on a boundary).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, List, Optional, Tuple

import numpy as np

from .. import options as opt
from ..api import _check_time_limit
from ..domain import Domain, Global
from ..errors import InputError
from ..formulation.model import Formulation
from ..formulation.plan import Plan, build_plan
from ..io import load
from ..jsonout import dumps, plain
from ..versions import versions
from ..problem import Problem, make_problem
from ..certify.regions import empty_interior, interior_point
from ..solvers.scip import SCIP_STATUS, problem_points
from ..solvers.trace import UPPER_RTOL, BoundTrace
from ..certify.witness import pattern_at

ROUND_REL = 1e-12   # rounding allowance of interval dot products, relative to the sum of |terms|
ABS_TOL = 1e-9      # absolute allowance on SCIP's dual bound (relative to the interval bound's size)
VERDICTS = ("increasing", "decreasing", "constant", "not monotone", "unknown")


@dataclass
class EntryWitness:
    """A point x strictly inside the region `pattern`, where d f_k / d x_i = value."""

    x: np.ndarray
    pattern: List[np.ndarray]
    value: float

    def to_dict(self) -> dict:
        return {"x": self.x.tolist(), "pattern": [np.asarray(g, dtype=int).tolist() for g in self.pattern],
                "value": self.value}


@dataclass
class MonotoneResult:
    """Every d f_k / d x_i on the domain lies in [lower, upper]; min_witness/max_witness achieve values."""

    output: int
    input: int
    lower: float
    upper: float
    min_witness: Optional[EntryWitness]
    max_witness: Optional[EntryWitness]
    verdict: str
    status: str
    domain: dict
    time_s: float
    message: str = ""
    stats: dict = field(default_factory=dict)

    @property
    def min_achieved(self) -> float:
        return math.inf if self.min_witness is None else self.min_witness.value

    @property
    def max_achieved(self) -> float:
        return -math.inf if self.max_witness is None else self.max_witness.value

    def to_dict(self) -> dict:
        """The JSON document as plain Python values; an infinite bound, or a side with no witness, is None."""
        return plain({
            "output": self.output, "input": self.input, "verdict": self.verdict, "status": self.status,
            "lower": self.lower, "upper": self.upper,
            "min": [self.lower, self.min_achieved], "max": [self.max_achieved, self.upper],
            "min_witness": None if self.min_witness is None else self.min_witness.to_dict(),
            "max_witness": None if self.max_witness is None else self.max_witness.to_dict(),
            "domain": self.domain, "time_s": self.time_s, "message": self.message, "stats": self.stats,
            "versions": versions(),
        })

    def to_json(self, **kwargs: Any) -> str:
        """Strict JSON (no Infinity or NaN tokens)."""
        return dumps(self.to_dict(), **kwargs)


def _interval_matvec(W: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Enclosure of W u for lo <= u <= hi, safe against float rounding and sign-exact: a sum whose
    terms are all <= 0 (>= 0) keeps an upper (lower) bound of exactly 0."""
    Wp, Wn = np.maximum(W, 0.0), np.minimum(W, 0.0)
    out = []
    for T in (Wp * hi[None, :] + Wn * lo[None, :], Wp * lo[None, :] + Wn * hi[None, :]):  # upper, lower terms
        total = T.sum(axis=1)
        err = ROUND_REL * np.abs(T).sum(axis=1)
        pos = np.maximum(T, 0.0).sum(axis=1) * (1.0 + ROUND_REL)
        neg = np.minimum(T, 0.0).sum(axis=1) * (1.0 + ROUND_REL)
        out.append((total, err, pos, neg))
    (hs, he, hp, _), (ls, le, _, ln) = out
    return np.maximum(ls - le, ln), np.minimum(hs + he, hp)


def entry_intervals(plan: Plan, index: int) -> Tuple[float, float]:
    """Interval bounds of W_k u_{k-1} with u_0 = e_index; stores them as the plan's direction bounds."""
    W_first = plan.layers[0].W if plan.layers else plan.W_out
    lo = hi = W_first[:, index].astype(np.float64)
    for k, layer in enumerate(plan.layers):
        if k > 0:
            lo, hi = _interval_matvec(layer.W, ulo, uhi)
        layer.wlo, layer.whi = lo, hi
        ulo = np.where(layer.active, lo, np.minimum(lo, 0.0))
        uhi = np.where(layer.active, hi, np.maximum(hi, 0.0))
    if plan.layers:
        plan.ylo, plan.yhi = _interval_matvec(plan.W_out, ulo, uhi)
    else:
        plan.ylo, plan.yhi = lo.copy(), hi.copy()
    return float(plan.ylo[0]), float(plan.yhi[0])


class _Entry:
    """Certified witnesses of one Jacobian entry: the smallest and the largest value seen."""

    def __init__(self, problem: Problem, input_index: int):
        self.problem, self.i = problem, input_index
        self.low: Optional[EntryWitness] = None
        self.high: Optional[EntryWitness] = None

    def at(self, x: np.ndarray) -> Optional[EntryWitness]:
        """The entry at x (problem coordinates, projected into the domain) if x is inside a region."""
        x_full = self.problem.lift_x(self.problem.domain.project(np.asarray(x, dtype=np.float64)))
        if not self.problem.full_domain.contains(x_full):
            return None
        pattern, _ = pattern_at(self.problem.full, x_full, self.problem.free)
        if pattern is None:
            return None
        value = float(self.problem.full.jacobian(pattern)[0, self.i])
        w = EntryWitness(x_full, pattern, value)
        if self.low is None or value < self.low.value:
            self.low = w
        if self.high is None or value > self.high.value:
            self.high = w
        return w

    def sample(self, count: int, seed: int) -> None:
        rng = np.random.default_rng(seed)
        dom = self.problem.domain
        if isinstance(dom, Global):
            n = self.problem.network.input_dim
            scales = np.repeat([1.0, 10.0, 1000.0], -(-count // 3))[:count, None]
            points = rng.standard_normal((count, n)) * scales
        else:
            points = dom.sample(count, rng)
        for x in points:
            self.at(x)


def _solve_side(problem: Problem, plan: Plan, entry: _Entry, free_index: int, sign: float, encoding: str,
                time_limit: float, bound: float) -> Tuple[float, str, int]:
    """max sign * entry over the closed problem: a sound bound on it (given `bound`), status, cuts."""
    direction = np.zeros(plan.n_dir)
    direction[free_index] = 1.0
    form = Formulation(plan, math.inf, math.inf, strict=False, encoding=encoding, direction=direction, sign=sign)
    m = form.model

    def on_solution(sol) -> None:
        point = form.point(sol)
        for x in problem_points(plan, point.x):
            if entry.at(x) is not None:
                return
        inner, _ = interior_point(problem, plan.full_pattern(problem.network, point.g))
        if inner is not None:
            entry.at(inner)

    trace = BoundTrace(on_solution, None)
    m.includeEventhdlr(trace, "lipmiq_entry", "certifies incumbents of a Jacobian entry")
    deadline = time.perf_counter() + time_limit
    scale = max(1.0, abs(bound))
    m.setParam("limits/absgap", 1e-7 * scale)
    m.setParam("limits/gap", 1e-7)
    cuts = 0
    while True:
        m.setParam("limits/time", max(deadline - time.perf_counter(), 0.01))
        m.optimize()
        if trace.error is not None:
            raise trace.error
        raw = m.getStatus()
        for sol in m.getSols()[:5]:
            on_solution(sol)
        if raw == "infeasible":  # no region meets the domain in the model: keep the interval bound
            return bound, "optimal", cuts
        dual = m.getDualbound()
        bound = min(bound, dual + UPPER_RTOL * abs(dual) + ABS_TOL * scale)
        if raw not in ("optimal", "gaplimit") or m.getNSols() == 0 or deadline <= time.perf_counter():
            return bound, SCIP_STATUS.get(raw, "error"), cuts
        best = form.point(m.getBestSol())
        full = plan.full_pattern(problem.network, best.g)
        inner, _ = interior_point(problem, full)
        if inner is not None or not empty_interior(problem, full):
            if inner is not None:
                entry.at(inner)
            return bound, "optimal", cuts  # only a pattern proved empty is cut (a thin region is kept)
        cuts += 1  # the optimum sits on a pattern with empty interior: cut it and solve again
        m.freeTransform()
        form.add_nogood(best.g)


def _achieved(entry: _Entry) -> Tuple[float, float]:
    return (entry.low.value, entry.high.value) if entry.high is not None else (math.inf, -math.inf)


def _verdict(lower: float, upper: float, low: float, high: float) -> str:
    if lower >= 0 and upper <= 0:
        return "constant"
    if lower >= 0:
        return "increasing"
    if upper <= 0:
        return "decreasing"
    if low < 0 < high:
        return "not monotone"
    return "unknown"


def _closed(lo: float, hi: float) -> bool:
    return hi - lo <= 1e-6 * max(1.0, abs(hi))


def monotonicity(network: Any, domain: Optional[Domain] = None, output: int = 0, input: int = 0,
                 time_limit: float = 60.0, encoding: str = "quadratic", samples: int = 256, seed: int = 0,
                 tighten: str = "symbolic") -> MonotoneResult:
    """Certified [min, max] of d f_output / d x_input over `domain` (default R^n) and the verdict:
    increasing (>= 0 everywhere), decreasing (<= 0), constant, not monotone (both signs realised), unknown."""
    start = time.perf_counter()
    caller = "monotonicity()"
    time_limit = _check_time_limit(time_limit)
    encoding = opt.check_argument(opt.encoding().check, encoding, "encoding", caller)
    tighten = opt.check_argument(opt.tighten("symbolic").check, tighten, "tighten", caller)
    samples = opt.check_argument(opt.integer(0, 10 ** 8), samples, "samples", caller)
    seed = opt.check_argument(opt.seed().check, seed, "seed", caller)
    net = load(network)
    for value, what, size in ((output, "output", net.output_dim), (input, "input", net.input_dim)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise InputError(f"{what} must be an index, got {value!r}")
        if not 0 <= int(value) < size:
            raise InputError(f"{what} index {value} is out of range: the network has {size} {what}s")
    output, input = int(output), int(input)
    problem = make_problem(net, domain, math.inf, math.inf, output)
    where = np.flatnonzero(problem.free == input)
    if where.size == 0:
        raise InputError(f"input {input} is fixed by the domain (lo == hi or a zero radius): no derivative to bound")
    free_index = int(where[0])
    plan = build_plan(problem, tighten)
    lower, upper = entry_intervals(plan, free_index)
    entry = _Entry(problem, input)
    entry.sample(samples, seed)
    stats = {"unstable_neurons": plan.n_unstable, "interval": [lower, upper], "cuts": 0}
    statuses = []
    for sign in (1.0, -1.0):
        low, high = _achieved(entry)
        if (sign > 0 and _closed(high, upper)) or (sign < 0 and _closed(lower, low)):
            statuses.append("optimal")
            continue
        sides_left = 2 if sign > 0 else 1
        share = (time_limit - (time.perf_counter() - start)) / sides_left
        if share <= 0.01:
            statuses.append("time_limit")
            continue
        bound, status, cuts = _solve_side(problem, plan, entry, free_index, sign, encoding, share,
                                          upper if sign > 0 else -lower)
        stats["cuts"] += cuts
        statuses.append(status)
        if sign > 0:
            upper = bound
        else:
            lower = -bound
    low, high = _achieved(entry)
    stopped = [s for s in ("error", "interrupted", "time_limit") if s in statuses]
    # closed on both sides, or why not: a stop, else "finished" (every solve done, a gap left)
    status = "optimal" if _closed(high, upper) and _closed(lower, low) else (stopped[0] if stopped else "finished")
    message = f"{plan.n_unstable} unstable neurons, {stats['cuts']} empty-interior patterns cut"
    if high > upper + 1e-9 * max(1.0, abs(upper)) or low < lower - 1e-9 * max(1.0, abs(lower)):
        status = "error"
        message = f"inconsistent bounds: witnesses [{low!r}, {high!r}] outside [{lower!r}, {upper!r}]; please report"
    return MonotoneResult(output, input, lower, upper, entry.low, entry.high, _verdict(lower, upper, low, high),
                          status, problem.full_domain.to_dict(), time.perf_counter() - start, message, stats)
