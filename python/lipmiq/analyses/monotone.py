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
from ..api import check_time_limit
from ..bounds import root_bounds
from ..certify.regions import empty_interior, interior_point
from ..certify.witness import pattern_at
from ..domain import Domain, Global
from ..errors import InputError, TimeUp
from ..formulation.model import Formulation
from ..io import load
from ..jsonout import dumps, plain
from ..problem import Problem, make_problem
from ..reductions import Chain, Plan, reduce
from ..solvers import scip
from ..tolerances import (
    CONSISTENCY_RTOL,
    ENTRY_DUAL_ATOL,
    EXACT_RTOL,
    SCIP_DUAL_RTOL,
    SCIP_GAP,
)
from ..versions import versions

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


class _Entry:
    """Certified witnesses of one Jacobian entry: the smallest and the largest value seen."""

    def __init__(self, problem: Problem, input_index: int, free_index: int):
        self.problem, self.i, self.free_index = problem, input_index, free_index
        self.low: Optional[EntryWitness] = None
        self.high: Optional[EntryWitness] = None

    def at(self, x: np.ndarray) -> Optional[EntryWitness]:
        """The entry at x (problem coordinates, projected into the domain) if x is inside a region."""
        x_full = self.problem.inputs.lift_point(self.problem.domain.project(np.asarray(x, dtype=np.float64)))
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

    def sample(self, count: int, seed: int, deadline: float = math.inf) -> None:
        rng = np.random.default_rng(seed)
        dom = self.problem.domain
        if isinstance(dom, Global):
            n = self.problem.network.input_dim
            scales = np.repeat([1.0, 10.0, 1000.0], -(-count // 3))[:count, None]
            points = rng.standard_normal((count, n)) * scales
        else:
            points = dom.sample(count, rng)
        for x in points:
            if time.perf_counter() > deadline:
                return
            self.at(x)


def _solve_side(problem: Problem, plan: Plan, chain: Chain, entry: _Entry, sign: float, encoding: str,
                time_limit: float, bound: float) -> Tuple[float, str, int]:
    """max sign * entry over the closed problem: a sound bound on it (given `bound`), status, cuts."""
    direction = np.zeros(plan.n_dir)
    direction[entry.free_index] = 1.0
    deadline = time.perf_counter() + time_limit
    try:
        form = Formulation(plan, math.inf, math.inf, strict=False, encoding=encoding, direction=direction, sign=sign,
                           deadline=deadline)
    except TimeUp:
        return bound, "time_limit", 0
    scale = max(1.0, abs(bound))
    best_bound = [bound]
    cuts = [0]

    def on_solution(sol) -> None:
        point = form.point(sol)
        for x in chain.points(point.x):
            if entry.at(x) is not None:
                return
        inner, _ = interior_point(problem, chain.pattern(point.g), deadline)
        if inner is not None:
            entry.at(inner)

    def on_dual(dual: float) -> None:
        best_bound[0] = min(best_bound[0], dual + SCIP_DUAL_RTOL * abs(dual) + ENTRY_DUAL_ATOL * scale)

    def cut_empty_pattern(model) -> bool:
        """Only a pattern proved empty is cut (a thin region is kept); a real optimum ends the search."""
        best = form.point(model.getBestSol())
        full = chain.pattern(best.g)
        inner, _ = interior_point(problem, full, deadline)
        if inner is not None or not empty_interior(problem, full, deadline):
            if inner is not None:
                entry.at(inner)
            return False
        cuts[0] += 1
        scip.free_transform(model)
        form.add_nogood(best.g)
        return True

    outcome = scip.solve(form.model, deadline, on_solution, on_dual, gap=SCIP_GAP,
                         absgap=SCIP_GAP * scale, resolve=cut_empty_pattern)
    if outcome.raw == "infeasible":  # no region meets the domain in the model: keep the interval bound
        return bound, "optimal", cuts[0]
    if outcome.raw in ("optimal", "gaplimit") and outcome.solutions:
        return best_bound[0], "optimal", cuts[0]
    return best_bound[0], outcome.status, cuts[0]


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
    return hi - lo <= EXACT_RTOL * max(1.0, abs(hi))


def monotonicity(network: Any, domain: Optional[Domain] = None, output: int = 0, input: int = 0,
                 time_limit: float = 60.0, encoding: str = "quadratic", samples: int = 256, seed: int = 0,
                 tighten: str = "symbolic") -> MonotoneResult:
    """Certified [min, max] of d f_output / d x_input over `domain` (default R^n) and the verdict:
    increasing (>= 0 everywhere), decreasing (<= 0), constant, not monotone (both signs realised), unknown."""
    start = time.perf_counter()
    caller = "monotonicity()"
    time_limit = check_time_limit(time_limit)
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
    direction = np.zeros(problem.network.input_dim)
    direction[free_index] = 1.0
    entry = _Entry(problem, input, free_index)
    deadline = start + time_limit
    try:
        root = root_bounds(problem.network, problem.domain, deadline)
        plan, chain = reduce(problem, root, tighten, min(30.0, 0.15 * time_limit), direction=direction,
                             deadline=deadline)
    except TimeUp as exc:
        entry.sample(samples, seed, deadline)
        low, high = _achieved(entry)
        return MonotoneResult(output, input, -math.inf, math.inf, entry.low, entry.high,
                              _verdict(-math.inf, math.inf, low, high), "time_limit", problem.full_domain.to_dict(),
                              time.perf_counter() - start, f"{exc}; only sampled values", {"cuts": 0})
    lower, upper = float(plan.ylo[0]), float(plan.yhi[0])
    entry.sample(samples, seed, deadline)
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
        bound, status, cuts = _solve_side(problem, plan, chain, entry, sign, encoding, share,
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
    if high > upper + CONSISTENCY_RTOL * max(1.0, abs(upper)) or low < lower - CONSISTENCY_RTOL * max(1.0, abs(lower)):
        status = "error"
        message = f"inconsistent bounds: witnesses [{low!r}, {high!r}] outside [{lower!r}, {upper!r}]; please report"
    return MonotoneResult(output, input, lower, upper, entry.low, entry.high, _verdict(lower, upper, low, high),
                          status, problem.full_domain.to_dict(), time.perf_counter() - start, message, stats)
