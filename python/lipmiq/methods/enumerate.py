"""Exact constants by enumeration: activation regions (small networks) and the pattern branch-and-bound.

Region enumeration (`method="enumerate"`): depth-first over the neurons, layer by layer. A node is a
partial pattern with a point x strictly inside its region (margin s > INTERIOR_TOL, as in `regions.py`).
Symbolic bounds with the decided neurons as priors fix the neurons that are stable on the node's region;
a branched neuron's child on x's side keeps x, and only the other child needs an LP. Every complete
region contributes its exact ||J||_{p->q} (certified at its interior point for the lower bound). Before a
child's LP, the interval Jacobian bound of its partial pattern (`jacobian_bounds`) is compared with the
certified lower bound: a subtree that cannot beat it is skipped, and its bound (at most the lower bound)
joins the maximum. The upper bound is that maximum, reported only when the enumeration completes; it is
a branch-and-bound over regions, used by `method="miqcqp"` before SCIP (`region_search`).

Pattern branch-and-bound (`_core.pattern_max`): for J(g) = J0 + sum_i g_i C[:, i] R[i, :] (one layer of
free neurons, the others fixed), max_g ||J(g)||_{p->q} reduces exactly to vector problems
max_g ||s + sum_i g_i a_i||_r: p = 1 by columns, q = inf by rows (scalar outputs), q = 1 by sign vectors
of the output. On the global domain with one hidden layer whose non-constant rows of W_1 are linearly
independent, every pattern is realised (W x = 2g - 1 - b is solvable for every g, and that x has every
|z_i| = 1 > 0), so the maximum is L itself.
"""
from __future__ import annotations

import dataclasses
import math
import time
from types import SimpleNamespace
from typing import List, Optional, Tuple

import highspy
import numpy as np

from .. import _core
from .. import options as opt
from ..bounds.propagation import preactivation_bounds, stability
from ..domain import Ball, Box, Global
from ..bounds.jacobian import pattern_norm_bound, rounding_allowance
from ..network import Network
from ..norms import dual, opnorm_upper
from ..problem import Problem
from ..certify.regions import INTERIOR_TOL, _solve_max_last, interior_point, margin_lp, max_lp, region_lp
from ..tracker import Tracker
from ..certify.witness import certify
from .naive import naive_upper

UPPER_RTOL = 1e-10      # relative inflation of float64 norms reported as upper bounds
RANK_RTOL = 1e-10       # singular values below this times the largest count as zero
MAX_SIGN_OUTPUTS = 12   # q = 1 reduction enumerates 2^(m-1) output sign vectors


# ---- pattern branch-and-bound ------------------------------------------------------------------
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
    R = net.layers[0].W
    for k in range(layer):
        R = net.layers[k + 1].W @ (pattern[k][:, None] * R)
    C = net.layers[-1].W
    for k in range(len(pattern) - 1, layer, -1):
        C = (C * pattern[k][None, :]) @ net.layers[k].W
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
        tracker.offer_upper(value * (1.0 + UPPER_RTOL) + _any_pattern_rounding(problem))
        return "optimal"
    return "time_limit"


def pattern_search(problem: Problem, tracker: Tracker, time_limit: float) -> Optional[str]:
    """Pattern branch-and-bound where it helps: exact on the global one-layer case ('optimal'), an upper
    bound for one hidden layer on bounded domains, and incumbents around the best witness's pattern."""
    status = global_one_layer(problem, tracker, time_limit)
    if status is not None:
        return "optimal" if tracker.exact else None
    net = problem.network
    bounds = preactivation_bounds(net, problem.domain)
    if len(net.layers) == 2 and bounds is not None:
        state = stability(bounds)[0]
        _one_layer_box(problem, tracker, state, time_limit)
        return "optimal" if tracker.exact else None
    stop = time.perf_counter() + time_limit
    if tracker.witness is not None and len(net.layers) > 2:
        _neighbourhood(problem, tracker, bounds, time_limit / 2)
    local_search(problem, tracker, bounds, stop - time.perf_counter())
    return "optimal" if tracker.exact else None


def local_search(problem: Problem, tracker: Tracker, bounds, time_limit: float) -> None:
    """Hill climbing over patterns from the best witness: flip one unstable neuron, keep the best flip whose
    region meets the domain (region LP), certify it; stop when no flip improves or time is up."""
    if tracker.witness is None:
        return
    stop = time.perf_counter() + time_limit
    net, p, q = problem.network, problem.p, problem.q
    states = stability(bounds) if bounds is not None else [np.zeros(h, dtype=np.int8) for h in net.hidden_sizes]
    flips = [(k, int(j)) for k, state in enumerate(states) for j in np.flatnonzero(state == 0)]
    current = [np.asarray(g, dtype=np.uint8).copy() for g in tracker.witness.pattern]
    value = float(_core.operator_norms(np.ascontiguousarray(net.jacobian(current)[None]), p, q)[0][0])
    while flips and time.perf_counter() < stop:
        candidates = []
        for k, j in flips:
            pattern = [g.copy() for g in current]
            pattern[k][j] ^= 1
            candidates.append(pattern)
        J = np.ascontiguousarray(np.stack([net.jacobian(c) for c in candidates]))
        norms = _core.operator_norms(J, p, q)[0]
        moved = False
        for i in np.argsort(-norms):
            if norms[i] <= value * (1 + 1e-12) or time.perf_counter() > stop:
                break
            x, _ = interior_point(problem, candidates[i])
            if x is not None:
                tracker.offer_lower(certify(problem, x))
                current, value, moved = candidates[i], float(norms[i]), True
                break
        if not moved:
            return


def _offer_pattern(problem: Problem, tracker: Tracker, pattern: List[np.ndarray]) -> None:
    """Certify a pattern at its region's deepest point, if its region meets the domain's interior."""
    x, _ = interior_point(problem, pattern)
    if x is not None:
        tracker.offer_lower(certify(problem, x))


def _one_layer_box(problem: Problem, tracker: Tracker, state: np.ndarray, time_limit: float) -> None:
    """Max over the patterns of the unstable neurons (stable ones fixed): an upper bound on a bounded domain."""
    net = problem.network
    free = np.flatnonzero(state == 0)
    fixed = (state == 1).astype(np.float64)
    C, R = _jacobian_parts(net, [fixed], 0)
    J0 = C @ (fixed[:, None] * R)
    res = rank_one_max(C[:, free], R[free], J0, problem.p, problem.q, time_limit)
    if res is None:
        return
    value, g_free, complete = res
    if complete:
        tracker.offer_upper(value * (1.0 + UPPER_RTOL) + _any_pattern_rounding(problem))
    if g_free is not None:
        g = fixed.copy()
        g[free] = g_free
        _offer_pattern(problem, tracker, [g.astype(np.uint8)])


def _neighbourhood(problem: Problem, tracker: Tracker, bounds, time_limit: float) -> None:
    """Best last-hidden-layer pattern with the earlier layers fixed at the witness's pattern (incumbents)."""
    net = problem.network
    pattern = [np.asarray(g, dtype=np.float64) for g in tracker.witness.pattern]
    last = len(pattern) - 1
    free = np.arange(pattern[last].size)
    if bounds is not None:
        free = np.flatnonzero(stability(bounds)[last] == 0)
    C, R = _jacobian_parts(net, pattern, last)
    base = pattern[last].copy()
    base[free] = 0.0
    J0 = C @ (base[:, None] * R)
    res = rank_one_max(C[:, free], R[free], J0, problem.p, problem.q, time_limit, tracker.lower)
    if res is None or res[1] is None:
        return
    base[free] = res[1]
    _offer_pattern(problem, tracker, [g.astype(np.uint8) for g in pattern[:last]] + [base.astype(np.uint8)])


# ---- region enumeration ------------------------------------------------------------------------
def _domain_centre(problem: Problem) -> Tuple[np.ndarray, float]:
    """A point of the domain's interior and its distance to the boundary (Euclidean ball inside)."""
    dom, n = problem.domain, problem.network.input_dim
    if isinstance(dom, Box):
        lo, hi = np.asarray(dom.lo, float), np.asarray(dom.hi, float)
        return (lo + hi) / 2.0, float(np.min(hi - lo)) / 2.0
    if isinstance(dom, Ball):
        scale = 1.0 if dom.norm != 1.0 else 1.0 / math.sqrt(n)
        return np.asarray(dom.center, float).copy(), float(dom.radius) * scale
    return np.zeros(n), 1.0


MAX_CUTS = 200  # cutting planes per LP for Euclidean balls


def region_point(problem: Problem, pattern: List[np.ndarray]) -> Tuple[Optional[np.ndarray], float, bool]:
    """`regions.region_lp` (point, margin, proved empty), made exact for Euclidean balls by cutting planes
    d.(x - c) + s <= r: the returned x has a Euclidean s-ball (s > INTERIOR_TOL) inside the region and
    the true ball; emptiness is proved on the outer polyhedron with the cuts (valid for the ball)."""
    dom = problem.domain
    if not (isinstance(dom, Ball) and dom.norm == 2.0):
        return region_lp(problem, pattern)
    built = margin_lp(problem, pattern)
    if built is None:
        return None, -math.inf, True
    M, b, lo, hi, k, n = built
    center, radius = np.asarray(dom.center, dtype=np.float64), float(dom.radius)
    for _ in range(MAX_CUTS):
        s, x, empty = _solve_max_last(M, b, lo, hi, k, prove=True)
        if x is None or s <= INTERIOR_TOL:
            return None, s, empty
        d = x[:n] - center
        dist = float(np.linalg.norm(d))
        if min(s, radius - dist) > INTERIOR_TOL:  # an s'-ball around x lies in the region and the ball
            return x[:n], min(s, radius - dist), False
        cut = np.zeros(M.shape[1])
        cut[:n], cut[k] = d / dist, 1.0
        M, b = np.vstack([M, cut]), np.append(b, radius + float(d @ center) / dist)
    return None, math.nan, False  # undecided after MAX_CUTS


class RegionLP:
    """max s over {x in the domain at distance >= s from its faces, sign_j (a_j.x + c_j) >= s ||a_j||_2 for
    the pushed rows}: one HiGHS model whose region rows are pushed and popped along the depth-first search,
    each solve warm-started from the previous basis (polyhedral domains: boxes, 1- and inf-balls, R^n)."""

    def __init__(self, problem: Problem):
        M, b, lo, hi, k, n = margin_lp(problem, [])  # the domain's rows: no neuron decided yet
        self.n = n  # the margin's column is k == n
        self.h = max_lp(M, b, lo, hi, k)
        self.rows = self.h.getNumRow()

    def push(self, a: np.ndarray, c: float, sign: float) -> None:
        idx = np.concatenate([np.flatnonzero(a), [self.n]]).astype(np.int32)
        vals = np.concatenate([-sign * a[a != 0], [float(np.linalg.norm(a))]])
        self.h.addRow(-highspy.kHighsInf, sign * c, idx.size, idx, vals)
        self.rows += 1

    def pop(self) -> None:
        self.rows -= 1
        self.h.deleteRows(1, np.array([self.rows], dtype=np.int32))

    def solve(self) -> Tuple[Optional[np.ndarray], float]:
        self.h.run()
        if self.h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return None, -math.inf
        x = np.asarray(self.h.getSolution().col_value)
        s = float(x[self.n])
        return (x[:self.n].copy(), s) if s > INTERIOR_TOL else (None, s)


class RegionEnumerator:
    """Depth-first enumeration of the activation regions of `problem` that meet its domain's interior."""

    def __init__(self, problem: Problem, tracker: Tracker, symbolic: bool = True, prune: bool = True,
                 time_limit: float = math.inf):
        self.problem, self.tracker = problem, tracker
        self.net = problem.network
        self.sizes = self.net.hidden_sizes
        self.symbolic = symbolic and problem.domain.box_hull() is not None
        self.upper = 0.0
        self.prune = prune
        self.deadline = time.perf_counter() + time_limit
        self.pruned = 0  # subtrees whose Jacobian bound could not beat the certified lower bound
        self.regions = 0
        self.lps = 0
        self.stopped = False
        self.thin = 0  # regions with a positive margin below INTERIOR_TOL: neither pruned nor certified
        euclid = isinstance(problem.domain, Ball) and problem.domain.norm == 2.0
        self.lp = None if euclid else RegionLP(problem)  # 2-balls: cutting planes per region (region_point)

    def _affine(self, g: List[np.ndarray], layer: int) -> Tuple[np.ndarray, np.ndarray]:
        A, c = self.net.layers[0].W, self.net.layers[0].b
        for k in range(layer):
            A = self.net.layers[k + 1].W @ (g[k][:, None] * A)
            c = self.net.layers[k + 1].W @ (g[k] * c) + self.net.layers[k + 1].b
        return A, c

    def _stabilise(self, g: List[np.ndarray], bounds):
        """Fix undecided neurons that the region's symbolic bounds prove stable; returns new bounds."""
        prior = []
        for k, (l, u) in enumerate(bounds):
            l, u = l.copy(), u.copy()
            if k < len(g):
                l[g[k] == 1] = np.maximum(l[g[k] == 1], 0.0)
                u[g[k] == 0] = np.minimum(u[g[k] == 0], 0.0)
            prior.append((l, u))
        new = preactivation_bounds(self.net, self.problem.domain, "symbolic", prior)
        for k in range(len(g)):
            l, u = new[k]
            if np.any(l > u):
                return None  # the relaxation proves the region empty
            und = g[k] < 0
            g[k][und & (l >= 0)] = 1
            g[k][und & (u <= 0)] = 0
        return new

    def _lp_child(self, g: List[np.ndarray], layer: int, decided: np.ndarray):
        """Interior point of the partial region (layers < layer fully decided, `decided` rows of `layer`)."""
        self.lps += 1
        W = self.net.weights
        rows = np.flatnonzero(decided)
        weights = W[:layer] + [W[layer][rows], np.ones((1, rows.size))]
        biases = self.net.biases[:layer] + [self.net.biases[layer][rows], np.zeros(1)]
        # a light stand-in for Network: the region LP reads only weights, biases and input_dim
        sub = dataclasses.replace(self.problem, network=SimpleNamespace(weights=weights, biases=biases,
                                                                        input_dim=self.net.input_dim))
        pattern = [gk.astype(np.uint8) for gk in g[:layer]] + [g[layer][rows].astype(np.uint8)]
        return region_point(sub, pattern)

    def _leaf(self, g: List[np.ndarray], x: np.ndarray) -> None:
        self.regions += 1
        p, q = self.problem.p, self.problem.q
        pattern = [gk.astype(np.uint8) for gk in g]
        J = self.net.jacobian(pattern)
        norms, V, exact = _core.operator_norms(np.ascontiguousarray(J[None]), p, q)
        value = float(norms[0])
        up = value * (1.0 + UPPER_RTOL) if exact[0] else opnorm_upper(J, p, q)
        up += rounding_allowance(self.net.weights, [gk.astype(np.int8) for gk in pattern], p, q)
        self.upper = max(self.upper, up)
        if value > self.tracker.lower:
            self.tracker.offer_lower(certify(self.problem, x, V[0]))

    def _dominated(self, g: List[np.ndarray]) -> bool:
        """True when no completion of g can beat the certified lower bound: the subtree is skipped and
        its bound (at most the lower bound) joins `upper`, so the final maximum stays an upper bound."""
        if not self.tracker.lower > 0.0:
            return False
        bound = pattern_norm_bound(self.net.weights, g, self.problem.p, self.problem.q)
        if bound > self.tracker.lower:
            return False
        self.upper = max(self.upper, bound)
        self.pruned += 1
        return True

    def _node(self, g: List[np.ndarray], x: np.ndarray, bounds, decided: List[np.ndarray],
              checked: bool = False) -> None:
        """`checked`: g's bound was already compared with the lower bound (before the child's LP)."""
        if self.stopped or self.tracker.remaining() <= 0 or time.perf_counter() > self.deadline:
            self.stopped = True
            return
        if bounds is not None:
            open_before = sum(int(np.count_nonzero(gk < 0)) for gk in g)
            bounds = self._stabilise(g, bounds)
            if bounds is None:
                return
            checked = checked and sum(int(np.count_nonzero(gk < 0)) for gk in g) == open_before
        if self.prune and not checked and self._dominated(g):
            return
        for k, gk in enumerate(g):
            und = np.flatnonzero(gk < 0)
            if und.size:
                break
        else:
            self._leaf(g, x)
            return
        j = int(und[0])
        A, c = self._affine(g, k)
        a, cj = A[j], c[j]
        norm = float(np.linalg.norm(a))
        if norm == 0.0:  # constant pre-activation: no branching, no effect on J
            g[k][j] = 1 if cj > 0 else 0
            self._node(g, x, bounds, decided)
            g[k][j] = -1
            return
        z = float(a @ x + cj)
        side = 1 if z > 0 else 0
        for value in (side, 1 - side):
            child = [gk.copy() for gk in g]
            child[k][j] = value
            if self.prune and self._dominated(child):  # before its LP: most subtrees end here
                continue
            dec = [d.copy() for d in decided]
            dec[k][j] = True
            if self.lp is not None:
                self.lp.push(a, cj, 2.0 * value - 1.0)
            if value == side and abs(z) / norm > INTERIOR_TOL:
                point = x
            else:
                point = None
                if self.lp is not None:
                    self.lps += 1
                    point, _ = self.lp.solve()
                if point is None:  # re-decide on the exactly scaled LP: prune only proved-empty regions
                    point, _, empty = self._lp_child(child, k, dec[k])
                    if point is None and not empty:
                        self.thin += 1  # a real region too thin to certify: no exact claim
                        self.stopped = True
            if point is not None:
                self._node(child, point, bounds, dec, checked=self.prune)
            if self.lp is not None:
                self.lp.pop()

    def run(self) -> bool:
        """Enumerate; True when every region was visited (then `upper` is the exact maximum)."""
        g = [np.full(h, -1, dtype=np.int8) for h in self.sizes]
        decided = [np.zeros(h, dtype=bool) for h in self.sizes]
        x0, _ = _domain_centre(self.problem)
        bounds = preactivation_bounds(self.net, self.problem.domain) if self.symbolic else None
        if bounds is not None and isinstance(self.problem.domain, Box):
            hull = self.problem.domain.box_hull()
            if np.any(hull[1] - hull[0] <= 2 * INTERIOR_TOL):
                self.thin += 1  # the whole domain is too thin to certify a region: reported as such
                return False
        self._node(g, x0, bounds, decided)
        return not self.stopped


def region_search(problem: Problem, tracker: Tracker, time_limit: float = math.inf, symbolic: bool = True,
                  prune: bool = True) -> Tuple[str, str]:
    """Region branch-and-bound: every region that meets the domain's interior, except the subtrees whose
    Jacobian bound cannot beat the certified lower bound. 'optimal' (the upper bound offered is then the
    exact maximum), 'time_limit', or 'error' when a region too thin to certify or exclude was met."""
    enum = RegionEnumerator(problem, tracker, symbolic=symbolic, prune=prune, time_limit=time_limit)
    start = time.perf_counter()
    complete = enum.run()
    tracker.count(regions=enum.regions, region_lps=enum.lps, pruned_subtrees=enum.pruned)
    note = f"{enum.regions} regions, {enum.pruned} subtrees pruned, {enum.lps} LPs, {time.perf_counter() - start:.2f} s"
    if complete:
        tracker.offer_upper(enum.upper)
        return "optimal", "region enumeration complete: " + note
    if enum.thin:
        return "error", f"a region thinner than {INTERIOR_TOL:g} could be neither certified nor excluded: " + note
    return "time_limit", "region enumeration stopped at the time limit: " + note


OPTIONS = opt.Options(
    opt.Option("symbolic", opt.flag, True, "symbolic bounds fix the neurons that are stable on a node's region"),
    opt.Option("prune", opt.flag, True, "skip the subtrees whose Jacobian bound cannot beat the lower bound"),
)


def run(problem: Problem, tracker: Tracker, options: dict) -> Tuple[str, str]:
    """`method="enumerate"`: exact by pattern branch-and-bound where it applies, else by regions."""
    with tracker.stage("product"):
        tracker.offer_upper(naive_upper(problem)[0])
    with tracker.stage("patterns"):
        status = global_one_layer(problem, tracker, tracker.remaining())
    if status == "optimal":
        return status, "one hidden layer on R^n, every pattern realisable: pattern branch-and-bound"
    with tracker.stage("regions"):
        return region_search(problem, tracker, symbolic=options["symbolic"], prune=options["prune"])
