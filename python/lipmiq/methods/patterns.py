"""The pattern branch-and-bound: max ||J(g)||_{p->q} over activation patterns, where it reduces exactly to
vector problems, and local searches over patterns that seed the certified lower bound.

For J(g) = J0 + sum_i g_i C[:, i] R[i, :] (one layer of free neurons, the others fixed), max_g ||J(g)||_{p->q}
reduces exactly to vector problems max_g ||s + sum_i g_i a_i||_r solved by `_core.pattern_max`: p = 1 by
columns, q = inf by rows (scalar outputs), q = 1 by sign vectors of the output. On the global domain with one
hidden layer whose non-constant rows of W_1 are linearly independent, every pattern is realised
(W x = 2g - 1 - b is solvable for every g, and that x has every |z_i| = 1 > 0), so the maximum is L itself.
"""
from __future__ import annotations

import math
import time
from typing import Dict, List, Optional, Sequence, Set, Tuple

import numpy as np

from .. import _core
from ..bounds import NetworkBounds
from ..bounds.jacobian import rounding_allowance
from ..certify.regions import interior_point
from ..certify.witness import certify
from ..domain import Global
from ..network import Network, chain_jacobian, pattern_key
from ..norms import dual
from ..problem import Problem
from ..tolerances import NORM_RTOL, RANK_RTOL
from ..tracker import Tracker

MAX_SIGN_OUTPUTS = 12   # q = 1 reduction enumerates 2^(m-1) output sign vectors
# The climbs stop after this many in a row that did not raise the lower bound (climbs that start at a pattern an
# earlier one visited cost nothing and do not count). On [3, 7, 7, 1] (seeds 0-19, p = q in {1, 2, inf}) the last
# improving climb was at most the 21st, and all 60 still reach the exact L (16: 58, 8: 55); on the [8, w, w, 1] series
# (w = 8-20) the same lower bounds in 0.03-0.55 s instead of 0.09-1.27 s. Elsewhere a later start can still win
# (fan-in [8, 12, 12, 1], seed 1, l-inf: 1.9031 against 1.9158, review finding): the searches after it close the gap.
PATIENCE = 24
CANDIDATE_ENTRIES = 4_000_000  # float64 entries of the candidates' Jacobians held at once (32 MB)


def _slices(C: np.ndarray, R: np.ndarray, J0: np.ndarray, p: float, q: float):
    """(A, s0, r) vector problems whose maxima's maximum is max_g ||J0 + C diag(g) R||_{p->q}; None if none apply."""
    m = C.shape[0]
    if p == 1.0:
        return [((C * R[:, j][None, :]).T, J0[:, j], q) for j in range(R.shape[1])]
    r = dual(p)
    if math.isinf(q):
        return [((C[k][:, None] * R), J0[k], r) for k in range(m)]
    if q == 1.0 and m <= MAX_SIGN_OUTPUTS:
        out = []
        for bits in range(2 ** (m - 1)):
            d = np.array([1.0] + [-1.0 if bits >> i & 1 else 1.0 for i in range(m - 1)])
            out.append((((d @ C)[:, None] * R), d @ J0, r))
        return out
    return None


def _vector_problem(A: np.ndarray, s0: np.ndarray, r: float, incumbent: float, time_limit: float):
    """The C++ branch-and-bound on one vector problem (the rows of A are the a_i)."""
    return _core.pattern_max(np.ascontiguousarray(A, dtype=np.float64), np.ascontiguousarray(s0, dtype=np.float64), r, incumbent,
                             time_limit=max(time_limit, 0.0))


def rank_one_max(C: np.ndarray, R: np.ndarray, J0: np.ndarray, p: float, q: float,
                 time_limit: float, incumbent: float = 0.0) -> Optional[Tuple[float, np.ndarray, bool]]:
    """max over g in {0,1}^h of ||J0 + C diag(g) R||_{p->q}: (value, g, complete), or None when
    (p, q, outputs) has no reduction to vector problems. `incumbent` prunes (value may then be it)."""
    slices = _slices(C, R, J0, p, q)
    if slices is None:
        return None
    stop = time.perf_counter() + time_limit
    best, best_g, complete = incumbent, None, True
    for A, s0, r in slices:
        value, g, done, improved, _ = _vector_problem(A, s0, r, best, stop - time.perf_counter())
        complete &= bool(done)
        if improved and value > best:
            best, best_g = float(value), g.astype(np.uint8)
    return best, best_g, complete


def _jacobian_parts(net: Network, pattern: List[np.ndarray], layer: int):
    """(C, R) with J = C diag(g_layer) R for hidden layer `layer`, the other layers fixed by `pattern`."""
    R = chain_jacobian(net.weights[:layer + 1], pattern[:layer])
    C = chain_jacobian(net.weights[layer + 1:], pattern[layer + 1:])
    return C, R


def _any_pattern_rounding(problem: Problem) -> float:
    """Float64 rounding allowance of ||J(g)|| valid for every pattern g (all neurons open)."""
    net = problem.network
    states = [np.full(h, -1, dtype=np.int8) for h in net.hidden_sizes]
    return rounding_allowance(net.weights, states, problem.p, problem.q)


def full_rank_rows(W: np.ndarray) -> bool:
    """True when the rows of W are linearly independent (strict singular-value test)."""
    if W.shape[0] == 0:
        return True
    if W.shape[0] > W.shape[1]:
        return False
    sv = np.linalg.svd(W, compute_uv=False)
    return bool(sv[-1] > RANK_RTOL * sv[0] * max(W.shape))


def _realising_point(W: np.ndarray, b: np.ndarray, g: np.ndarray, scale: float) -> np.ndarray:
    """x with W x + b = scale (2g - 1) (least squares; exact when W has independent rows)."""
    return np.linalg.lstsq(W, scale * (2.0 * g - 1.0) - b, rcond=None)[0]


def global_one_layer(problem: Problem, tracker: Tracker, time_limit: float) -> Optional[str]:
    """Exact L for one hidden layer on R^n when every pattern is realisable; None when not applicable."""
    net = problem.network
    if not isinstance(problem.domain, Global) or len(net.layers) != 2:
        return None
    W, b = net.layers[0].W, net.layers[0].b
    live = np.flatnonzero(np.any(W != 0, axis=1))  # zero rows are constant: no effect on J
    if live.size == 0:
        tracker.offer_upper(0.0)
        return "optimal"
    if not full_rank_rows(W[live]):
        return None
    C, R = net.layers[1].W[:, live], W[live]
    res = rank_one_max(C, R, np.zeros((C.shape[0], R.shape[1])), problem.p, problem.q, time_limit)
    if res is None:
        return None
    value, g_live, complete = res
    if g_live is not None:
        for scale in (1.0, 1e3, 1e-3):
            x = _realising_point(W[live], b[live], g_live.astype(np.float64), scale)
            if tracker.offer_lower(certify(problem, x)) or tracker.lower >= value * (1 - 1e-9):
                break
    if complete:
        tracker.offer_upper(value * (1.0 + NORM_RTOL) + _any_pattern_rounding(problem))
        return "optimal"
    return "time_limit"


def pattern_search(problem: Problem, tracker: Tracker, bounds: Optional[NetworkBounds],
                   time_limit: float) -> Optional[str]:
    """Pattern branch-and-bound where it helps: exact on the global one-layer case ('optimal'), an upper
    bound for one hidden layer on bounded domains, and incumbents around the best witness's pattern.
    `bounds` are the problem's pre-activation bounds (None on R^n)."""
    status = global_one_layer(problem, tracker, time_limit)
    if status is not None:
        return "optimal" if tracker.exact else None
    net = problem.network
    if len(net.layers) == 2 and bounds is not None:
        state = bounds.stability()[0]
        _one_layer_box(problem, tracker, state, time_limit)
        return "optimal" if tracker.exact else None
    stop = time.perf_counter() + time_limit
    if tracker.witness is not None and len(net.layers) > 2:
        _neighbourhood(problem, tracker, bounds, time_limit / 2)
    local_search(problem, tracker, bounds, stop - time.perf_counter())
    return "optimal" if tracker.exact else None


def local_search(problem: Problem, tracker: Tracker, bounds: Optional[NetworkBounds], time_limit: float,
                 starts: Sequence[List[np.ndarray]] = ()) -> None:
    """Hill climbing over patterns from the best witness, then from each of `starts`: flip one unstable neuron,
    keep the best flip whose region meets the domain (region LP), certify it; each climb stops when no flip
    improves, all of them when time is up or after PATIENCE climbs in a row without a better lower bound. A climb
    is a function of its pattern, so one that reaches a pattern an earlier climb visited stops there, and region
    verdicts are shared: on [8, 12, 12, 1] (64 starts) this cut the climbs from 0.62 to 0.28 s (l-inf; [8, 8, 8, 1]
    l2 0.23 to 0.09 s) with the same lower bound."""
    stop = time.perf_counter() + time_limit
    net = problem.network
    states = bounds.stability() if bounds is not None else [np.zeros(h, dtype=np.int8) for h in net.hidden_sizes]
    flips = [(k, int(j)) for k, state in enumerate(states) for j in np.flatnonzero(state == 0)]
    if not flips:
        return
    first = [] if tracker.witness is None else [tracker.witness.pattern]
    visited: Set[bytes] = set()  # patterns some climb has been at
    regions: Dict[bytes, Optional[np.ndarray]] = {}  # pattern -> an interior point of its region, None if none found
    idle = 0  # climbs in a row that did not raise the lower bound
    for start in list(first) + list(starts):
        if time.perf_counter() > stop or idle >= PATIENCE:
            return
        lower = tracker.lower
        if _climb(problem, tracker, [np.asarray(g, dtype=np.uint8).copy() for g in start], flips, stop, visited,
                  regions):
            idle = 0 if tracker.lower > lower else idle + 1


def _climb(problem: Problem, tracker: Tracker, current: List[np.ndarray], flips: List[Tuple[int, int]],
           stop: float, visited: Set[bytes], regions: Dict[bytes, Optional[np.ndarray]]) -> bool:
    """One hill climb from `current` (a pattern; its own region is not checked: only improving flips are), until
    no flip improves or it would move to a pattern in `visited`; False when `current` itself was visited (nothing
    done)."""
    key = pattern_key(current)
    if key in visited:
        return False
    visited.add(key)
    net, p, q = problem.network, problem.p, problem.q
    value = float(_core.operator_norms(np.ascontiguousarray(net.jacobian(current)[None]), p, q)[0][0])
    while time.perf_counter() < stop:
        candidates = []
        for k, j in flips:
            pattern = [g.copy() for g in current]
            pattern[k][j] ^= 1
            candidates.append(pattern)
        norms = _candidate_norms(net, candidates, p, q, stop)
        if norms is None:
            return True
        moved = False
        for i in np.argsort(-norms):
            if norms[i] <= value * (1 + 1e-12) or time.perf_counter() > stop:
                break
            key = pattern_key(candidates[i])
            if key not in regions:
                regions[key] = interior_point(problem, candidates[i], stop)[0]
            x = regions[key]
            if x is not None:
                tracker.offer_lower(certify(problem, x))
                if key in visited:  # an earlier climb went on from here (or started here)
                    return True
                visited.add(key)
                current, value, moved = candidates[i], float(norms[i]), True
                break
        if not moved:
            return True
    return True


def _candidate_norms(net: Network, candidates: List[List[np.ndarray]], p: float, q: float,
                     stop: float) -> Optional[np.ndarray]:
    """||J(g)||_{p->q} (achieved values) of the candidate patterns, by batches of the core's batched Jacobians;
    None when time runs out before all are evaluated."""
    size = max(1, CANDIDATE_ENTRIES // max(1, net.input_dim * net.output_dim))
    norms = []
    for s in range(0, len(candidates), size):
        if time.perf_counter() > stop:
            return None
        chunk = candidates[s:s + size]
        masks = [np.ascontiguousarray(np.stack([c[k] for c in chunk])) for k in range(len(chunk[0]))]
        J = _core.jacobians(net.core, masks, len(chunk))
        norms.append(_core.operator_norms(J, p, q)[0])
    return np.concatenate(norms)


def _offer_pattern(problem: Problem, tracker: Tracker, pattern: List[np.ndarray], deadline: float) -> None:
    """Certify a pattern at its region's deepest point, if its region meets the domain's interior."""
    x, _ = interior_point(problem, pattern, deadline)
    if x is not None:
        tracker.offer_lower(certify(problem, x))


def _one_layer_box(problem: Problem, tracker: Tracker, state: np.ndarray, time_limit: float) -> None:
    """Max over the patterns of the unstable neurons (stable ones fixed): an upper bound on a bounded domain."""
    stop = time.perf_counter() + time_limit
    net = problem.network
    free = np.flatnonzero(state == 0)
    fixed = (state == 1).astype(np.float64)
    C, R = _jacobian_parts(net, [fixed], 0)
    J0 = C @ (fixed[:, None] * R)
    res = rank_one_max(C[:, free], R[free], J0, problem.p, problem.q, stop - time.perf_counter())
    if res is None:
        return
    value, g_free, complete = res
    if complete:
        tracker.offer_upper(value * (1.0 + NORM_RTOL) + _any_pattern_rounding(problem))
    if g_free is not None:
        g = fixed.copy()
        g[free] = g_free
        _offer_pattern(problem, tracker, [g.astype(np.uint8)], stop)


def _neighbourhood(problem: Problem, tracker: Tracker, bounds: Optional[NetworkBounds], time_limit: float) -> None:
    """Best last-hidden-layer pattern with the earlier layers fixed at the witness's pattern (incumbents)."""
    stop = time.perf_counter() + time_limit
    net = problem.network
    pattern = [np.asarray(g, dtype=np.float64) for g in tracker.witness.pattern]
    last = len(pattern) - 1
    free = np.arange(pattern[last].size)
    if bounds is not None:
        free = np.flatnonzero(bounds.stability()[last] == 0)
    C, R = _jacobian_parts(net, pattern, last)
    base = pattern[last].copy()
    base[free] = 0.0
    J0 = C @ (base[:, None] * R)
    res = rank_one_max(C[:, free], R[free], J0, problem.p, problem.q, stop - time.perf_counter(), tracker.lower)
    if res is None or res[1] is None:
        return
    base[free] = res[1]
    _offer_pattern(problem, tracker, [g.astype(np.uint8) for g in pattern[:last]] + [base.astype(np.uint8)], stop)
