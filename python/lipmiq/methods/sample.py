"""Certified lower bound by sampling the domain and a local search over inputs (and so regions).

Batched through the C++ core: forward pass -> patterns -> Jacobians -> operator norms. The best
points are re-certified in float64 by `witness.certify`, so only true Jacobian norms are reported.
"""
from __future__ import annotations

import math
import time
from typing import List, Optional, Tuple

import numpy as np

from .. import _core
from .. import options as opt
from ..bounds import NetworkBounds
from ..certify.witness import certify
from ..domain import Global
from ..network import pattern_key
from ..problem import Problem
from ..tracker import Tracker
from .patterns import local_search

CHUNK_ENTRIES = 4_000_000  # float64 entries of the Jacobian batch held at once (32 MB)
LOCAL_SEARCH_TIME = 2.0    # seconds at most for the hill climbs after sampling (they usually stop in far less) ...
# ... or this share of the remaining time where that is more (time limits past 100 s): a longer run gets its better
# lower bound. 64-48-48-10 pt0 l2 (all outputs) stayed at 10.3031 for 600 s; its climbs, still rising at 2 s, reach
# 10.5114 at 3.3 s and 10.5944 at 5 s (then 24 climbs in a row without a gain stop them).
LOCAL_SEARCH_LONG_SHARE = 0.02
LOCAL_SEARCH_SHARE = 0.05  # ... and at most this share of it
# Hill climbs from the best witness and from the patterns of this many of the best sampled points: on [3, 7, 7, 1]
# (seeds 0-39, p = q in {1, 2, inf}, 2048 samples) the climb from the witness alone reached the exact L on 99 of
# 120 queries, with 64 more starts on all 120 (16: 57 of the first 60, against 60).
LOCAL_SEARCH_STARTS = 64
# On R^n the sampled radii span these decades around the first layer's hyperplanes (`_global_scale`).
RADIUS_DECADES = (-2.0, 3.0)


def jacobian_norms(problem: Problem, X: np.ndarray) -> np.ndarray:
    """||J(pattern(x))||_{p->q} (a certified-achievable value) for each row of X."""
    net = problem.network
    chunk = max(1, CHUNK_ENTRIES // max(1, net.input_dim * net.output_dim))
    out = np.empty(len(X))
    for s in range(0, len(X), chunk):
        Xc = np.ascontiguousarray(X[s:s + chunk])
        Z = _core.forward(net.core, Xc)
        masks = [np.ascontiguousarray(z > 0, dtype=np.uint8) for z in Z[:-1]]
        J = _core.jacobians(net.core, masks, len(Xc))
        out[s:s + chunk] = _core.operator_norms(J, problem.p, problem.q)[0]
    return out


def _global_scale(problem: Problem) -> float:
    """A length at which the first layer's hyperplanes sit: where the global regions are seen."""
    W, b = problem.network.weights[0], problem.network.biases[0]
    dist = np.abs(b) / np.maximum(np.linalg.norm(W, axis=1), 1e-300)
    # capped so that the largest sampled radius stays at most 1e300 (weights near 1e-300 with biases of 1e6 put the
    # hyperplanes at 1e306 and the radii overflowed, with a RuntimeWarning from the fuzz suite)
    return float(min(max(np.median(dist), 1e-3), 1e300 / 10.0 ** RADIUS_DECADES[1]))


def _initial_points(problem: Problem, count: int, rng: np.random.Generator) -> np.ndarray:
    n = problem.network.input_dim
    if isinstance(problem.domain, Global):
        d = rng.standard_normal((count, n))
        d /= np.linalg.norm(d, axis=1, keepdims=True)
        r = _global_scale(problem) * 10.0 ** rng.uniform(*RADIUS_DECADES, (count, 1))
        return d * r
    return problem.domain.sample(count, rng)


def _step_scale(problem: Problem, X: np.ndarray) -> np.ndarray:
    hull = problem.domain.box_hull()
    if hull is None:
        return np.maximum(np.abs(X), _global_scale(problem)) * 0.25
    return np.broadcast_to((hull[1] - hull[0]) * 0.25, X.shape).copy()


def sampling_stage(problem: Problem, tracker: Tracker, seed: int, bounds: Optional[NetworkBounds] = None,
                   climb_time: float = math.inf) -> Optional[Tuple[str, str]]:
    """The short sampling the search methods run once their first upper bounds are in, then hill climbs over
    patterns from its best witness and from its best samples' patterns (`patterns.local_search`, a few region LPs
    each): the branch-and-bounds prune against this lower bound from their first node ([8, 20, 20, 1], l-inf: 6.82
    sampled, 7.39 after 15 LPs, where the engine's search alone was at 7.387 after 180 s), for at most
    `climb_time` seconds (0: none). (status, note) when it settles the query, else None."""
    return climb_stage(problem, tracker, bounds, sample_stage(problem, tracker, seed), climb_time)


def sample_stage(problem: Problem, tracker: Tracker, seed: int) -> List[List[np.ndarray]]:
    """The sampling alone (stage `sampling`), its best witness offered: the patterns the climbs start from."""
    with tracker.stage("sampling"):
        X, values = sample_lower(problem, tracker, budget=min(1.0, 0.1 * tracker.remaining()), seed=seed)
    return best_patterns(problem, X, values, LOCAL_SEARCH_STARTS)


def climb_time_limit(remaining: float) -> float:
    """The hill climbs' seconds with `remaining` seconds left: LOCAL_SEARCH_TIME, more on long runs (see there)."""
    return min(max(LOCAL_SEARCH_TIME, LOCAL_SEARCH_LONG_SHARE * remaining), LOCAL_SEARCH_SHARE * remaining)


def climb_stage(problem: Problem, tracker: Tracker, bounds: Optional[NetworkBounds], starts: List[List[np.ndarray]],
                climb_time: float = math.inf) -> Optional[Tuple[str, str]]:
    """The hill climbs from `starts` (stage `climbs`, `climb_time_limit` seconds but at most `climb_time`; 0: none):
    (status, note) when the lower bound so far settles the query or the time is up, else None."""
    if climb_time > 0.0 and not tracker.exact:
        with tracker.stage("climbs"):
            local_search(problem, tracker, bounds, min(climb_time, climb_time_limit(tracker.remaining())), starts)
    if tracker.exact:
        return "optimal", "the lower bound of the sampling and hill climbs met the upper bound"
    if tracker.remaining() <= 0:
        return "time_limit", "time limit reached by the hill climbs or the stages before them"
    return None


def sample_lower(problem: Problem, tracker: Tracker, budget: float, samples: int = 2048,
                 seed: int = 0, keep: int = 8, batch: int = 64) -> Tuple[np.ndarray, np.ndarray]:
    """Offer the best certified sampled Jacobian norm to the tracker within about `budget` seconds; the sampled
    points with their norms (seeds for a search over patterns)."""
    stop = time.perf_counter() + budget
    rng = np.random.default_rng(seed)
    X, values = _evaluate(problem, _initial_points(problem, samples, rng), stop)
    order = np.argsort(-values)[:keep]
    best_x, best_v = X[order], values[order]
    step = _step_scale(problem, best_x)
    _offer_best(problem, tracker, best_x, best_v)
    while time.perf_counter() < stop and np.any(step > 1e-9):
        cand = best_x[:, None, :] + step[:, None, :] * rng.uniform(-1, 1, (len(best_x), batch, best_x.shape[1]))
        cand = problem.domain.project(cand.reshape(-1, best_x.shape[1]))
        vals = jacobian_norms(problem, cand).reshape(len(best_x), batch)
        arg = np.argmax(vals, axis=1)
        improved = vals[np.arange(len(best_x)), arg] > best_v * (1 + 1e-12)
        best_x[improved] = cand.reshape(len(best_x), batch, -1)[improved, arg[improved]]
        best_v[improved] = vals[improved, arg[improved]]
        step[~improved] *= 0.5
        if improved.any():
            _offer_best(problem, tracker, best_x, best_v)
    return X, values


def best_patterns(problem: Problem, X: np.ndarray, values: np.ndarray, count: int) -> List[List[np.ndarray]]:
    """The activation patterns of the best points of X by value, at most `count` distinct ones (forward passes
    by chunks in that order, stopping once `count` are found: the distinct ones usually come first)."""
    if count <= 0:
        return []
    order = np.argsort(-values)
    seen: set = set()
    out: List[List[np.ndarray]] = []
    for start in range(0, len(order), 2 * count):
        Z = _core.forward(problem.network.core, np.ascontiguousarray(X[order[start:start + 2 * count]]))[:-1]
        for i in range(len(Z[0]) if Z else 0):
            pattern = [np.ascontiguousarray(z[i] > 0, dtype=np.uint8) for z in Z]
            key = pattern_key(pattern)
            if key not in seen:
                seen.add(key)
                out.append(pattern)
                if len(out) == count:
                    return out
    return out


def _evaluate(problem: Problem, X: np.ndarray, stop: float, first: int = 64):
    """(X evaluated, their Jacobian norms): batches that double in size while the budget lasts, at least one,
    so a large network gets the samples its budget affords instead of all of them."""
    done, size, values = 0, first, []
    while done < len(X):
        values.append(jacobian_norms(problem, X[done:done + size]))
        done = min(done + size, len(X))
        size *= 2
        if time.perf_counter() > stop:
            break
    return X[:done], np.concatenate(values)


def _offer_best(problem: Problem, tracker: Tracker, X: np.ndarray, values: np.ndarray) -> None:
    for i in np.argsort(-values):
        if values[i] <= tracker.lower:
            return
        if tracker.offer_lower(certify(problem, X[i])):
            return


OPTIONS = opt.Options(
    opt.seed("random seed of the sample"),
    opt.Option("samples", opt.integer(1, 10 ** 8), 2048, "points sampled before the local search"),
    opt.Option("sample_time", opt.real(0.0, lo_open=True), 10.0, "seconds at most for sampling and local search"),
)


def run(problem: Problem, tracker: Tracker, options: dict) -> Tuple[str, str]:
    with tracker.stage("sampling"):
        sample_lower(problem, tracker, budget=min(tracker.remaining(), options["sample_time"]),
                     samples=options["samples"], seed=options["seed"])
    status = "time_limit" if tracker.remaining() <= 0 else "finished"
    return status, "sampling and local search (a lower bound only)"
