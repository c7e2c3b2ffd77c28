"""Bound tightening: pre-activation bounds by LP (OBBT) and direction (Jacobian-vector) bounds.

OBBT: for every unstable neuron of hidden layer k >= 2, min and max of z_kj over the LP relaxation of the
network on the domain (exact affine layers, the triangle relaxation of every unstable ReLU of the earlier,
already tightened layers). One HiGHS model per run: a layer is appended (addVars + addRows) once its
bounds are final, and only the objective changes between solves. An LP bound is made rigorous from the
row duals y (whatever the solver's tolerances): for min c.x with L <= A x <= U, lo <= x <= hi,
    c.x = y.(A x) + (c - A^T y).x >= sum_i min(y_i L_i, y_i U_i) + sum_j min(r_j lo_j, r_j hi_j),
evaluated in float64 with an outward margin; it is used only when HiGHS reports an optimal solve, and
always intersected with the symbolic bounds. The remaining layers are re-propagated symbolically with the
tightened bounds as priors. Domains: boxes, balls (norm inf: the box; norm 1: polyhedral; norm 2: the box
hull, an outer set) and the homogenised global box that `formulation.plan` builds.

Direction bounds (w_k = W_k u_{k-1}, u_0 = v, u_j = g_j w_j): `direction_bounds` back-substitutes through the
exact convex hull of {(w, g w)} per unstable neuron; `pattern_direction_bounds` (tighten="lp") is exact over
all patterns where enumerating the earlier layers' patterns is affordable. Both intersect their prior.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import List, Optional, Tuple

import highspy
import numpy as np

from .. import _core
from .propagation import Bounds, preactivation_bounds
from ..domain import Ball, Box, Domain
from ..errors import InputError
from ..network import Network
from ..norms import dual
from ..solvers.highs import new_highs

TIGHTEN = ("none", "symbolic", "lp")
SAFETY_RTOL = 1e-9   # outward margin of LP bounds, relative to the sum of magnitudes of the dual bound's terms
SAFETY_ATOL = 1e-9
INF = highspy.kHighsInf


@dataclass
class TightenStats:
    """What OBBT did: LPs solved, candidate neurons, bounds improved, neurons newly proved stable."""

    candidates: int = 0
    lps: int = 0
    tightened: int = 0
    fixed: int = 0
    time_s: float = 0.0
    complete: bool = True


def unstable_count(bounds: Bounds) -> int:
    return int(sum(np.sum((l < 0) & (u > 0)) for l, u in bounds[:-1]))


def mean_big_m(bounds: Bounds) -> float:
    """Mean of u - l over the unstable hidden neurons (0 when there are none)."""
    widths = [u[(l < 0) & (u > 0)] - l[(l < 0) & (u > 0)] for l, u in bounds[:-1]]
    widths = np.concatenate(widths) if widths else np.zeros(0)
    return float(widths.mean()) if widths.size else 0.0


class _LP:
    """The growing LP relaxation: columns and rows kept both in HiGHS and densely for the dual bound."""

    def __init__(self, lo: np.ndarray, hi: np.ndarray):
        self.h = new_highs()
        self.col_lo, self.col_hi = np.zeros(0), np.zeros(0)
        self.nrows = 0
        self.entries: List[Tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # (row, col, value) triplets
        self.row_lo, self.row_hi = np.zeros(0), np.zeros(0)
        self.add_cols(lo, hi)

    @property
    def ncols(self) -> int:
        return self.col_lo.size

    def add_cols(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        first = self.ncols
        self.h.addVars(lo.size, np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64))
        self.col_lo = np.concatenate([self.col_lo, lo])
        self.col_hi = np.concatenate([self.col_hi, hi])
        return np.arange(first, self.ncols)

    def add_rows(self, M: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> None:
        """Rows lo <= M x <= hi (M dense over the current columns; +-inf for a free side)."""
        if M.shape[0] == 0:
            return
        nz = M != 0
        starts = np.concatenate([[0], np.cumsum(nz.sum(axis=1))[:-1]]).astype(np.int32)
        idx = np.nonzero(nz)[1].astype(np.int32)
        self.h.addRows(M.shape[0], np.where(np.isinf(lo), -INF, lo), np.where(np.isinf(hi), INF, hi),
                       int(nz.sum()), starts, idx, M[nz])
        r, c = np.nonzero(nz)
        self.entries.append((r + self.nrows, c, M[nz]))
        self.nrows += M.shape[0]
        self.row_lo = np.concatenate([self.row_lo, lo])
        self.row_hi = np.concatenate([self.row_hi, hi])

    def minimum(self, cols: np.ndarray, cost: np.ndarray, fresh: bool) -> Optional[float]:
        """A rigorous lower bound on min cost . x[cols] over the LP, or None if not solved to optimality."""
        h = self.h
        full = np.zeros(self.ncols)
        full[cols] = cost
        h.changeColsCost(self.ncols, np.arange(self.ncols, dtype=np.int32), full)
        if fresh:
            h.clearSolver()
        h.run()
        if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return None
        y = np.asarray(h.getSolution().row_dual, dtype=np.float64)
        return self._dual_bound(full, y)

    def _dual_bound(self, c: np.ndarray, y: np.ndarray) -> float:
        L, U = self.row_lo, self.row_hi
        y = np.where((y > 0) & np.isinf(L), 0.0, y)
        y = np.where((y < 0) & np.isinf(U), 0.0, y)
        row_terms = np.where(y > 0, y * np.where(np.isinf(L), 0.0, L), y * np.where(np.isinf(U), 0.0, U))
        if len(self.entries) > 1:  # merge the triplets once per layer, not once per LP
            self.entries = [tuple(np.concatenate(parts) for parts in zip(*self.entries))]
        rows, cols, vals = self.entries[0] if self.entries else (np.zeros(0, np.int64),) * 3
        r = c - np.bincount(cols, weights=vals * y[rows], minlength=self.ncols)
        col_terms = np.minimum(r * self.col_lo, r * self.col_hi)
        value = float(row_terms.sum() + col_terms.sum())
        scale = float(np.abs(row_terms).sum() + np.abs(col_terms).sum())
        return value - SAFETY_RTOL * scale - SAFETY_ATOL


def _input_lp(domain: Domain, n: int) -> Tuple[_LP, np.ndarray]:
    """The LP over the domain: x in the box hull, plus |x - c|_1 <= r for 1-balls."""
    lo, hi = (np.asarray(a, dtype=np.float64) for a in domain.box_hull())
    lp = _LP(lo, hi)
    x = np.arange(n)
    if isinstance(domain, Ball) and domain.norm == 1.0:
        c, r = np.asarray(domain.center, dtype=np.float64), float(domain.radius)
        d = lp.add_cols(np.zeros(n), np.full(n, r))
        eye = np.eye(n)
        M = np.zeros((2 * n + 1, lp.ncols))
        M[:n, x], M[:n, d] = eye, -eye          # x - d <= c
        M[n:2 * n, x], M[n:2 * n, d] = -eye, -eye  # -x - d <= -c
        M[2 * n, d] = 1.0
        lp.add_rows(M, np.full(2 * n + 1, -np.inf), np.concatenate([c, -c, [r]]))
    return lp, x


def _add_layer(lp: _LP, prev: np.ndarray, W: np.ndarray, b: np.ndarray, l: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Append z = W a_prev + b and a = relu(z) relaxed (triangle) on [l, u]; returns the columns of a."""
    h = W.shape[0]
    z = lp.add_cols(l.copy(), u.copy())
    a = lp.add_cols(np.zeros(h), np.maximum(u, 0.0))
    M = np.zeros((h, lp.ncols))
    M[:, z] = np.eye(h)
    M[:, prev] = -W
    lp.add_rows(M, b.copy(), b.copy())
    active, unstable = l >= 0, (l < 0) & (u > 0)
    rows, rlo, rhi = [], [], []
    for j in np.flatnonzero(active):             # a = z
        r = np.zeros(lp.ncols); r[a[j]], r[z[j]] = 1.0, -1.0
        rows.append(r); rlo.append(0.0); rhi.append(0.0)
    for j in np.flatnonzero(unstable):           # a >= z, a <= u (z - l) / (u - l)
        slope = u[j] / (u[j] - l[j])
        r = np.zeros(lp.ncols); r[a[j]], r[z[j]] = 1.0, -1.0
        rows.append(r); rlo.append(0.0); rhi.append(np.inf)
        r = np.zeros(lp.ncols); r[a[j]], r[z[j]] = 1.0, -slope
        rows.append(r); rlo.append(-np.inf); rhi.append(-slope * l[j])
    if rows:
        lp.add_rows(np.array(rows), np.array(rlo), np.array(rhi))
    return a


FRESH_COLS = 1000  # clearSolver() before each LP above this many columns (warm starts won below, measured)


def lp_tighten(network: Network, domain: Domain, bounds: Bounds, time_budget: float = 30.0,
               fresh: Optional[bool] = None) -> Tuple[Bounds, TightenStats]:
    """OBBT of every unstable hidden pre-activation (layers 2..L-1), starting from valid `bounds`.

    fresh=None chooses: warm starts on small LPs (0.30 s vs 0.52 s for digits_fnn3, 0.18 vs 0.22 s for
    exlipbab_bike), fresh solves on large ones (SOLVER-NOTES: 2.5-3 s vs 5-8 s per LP at 2,000 x 3,000)."""
    if not isinstance(domain, (Box, Ball)):
        raise InputError(f"LP tightening needs a box or a ball (the global domain is homogenised first), got {type(domain).__name__}")
    start = time.perf_counter()
    stop = start + max(time_budget, 0.0)
    stats = TightenStats()
    out = [(np.array(l, dtype=np.float64), np.array(u, dtype=np.float64)) for l, u in bounds]
    layers = network.layers
    lp, prev = _input_lp(domain, network.input_dim)
    for k in range(len(layers) - 1):
        if k > 0:
            l, u = out[k]
            before_unstable = (l < 0) & (u > 0)
            order = _core.obbt_order(l, u)
            stats.candidates += order.size
            W, b = layers[k].W, layers[k].b
            for j in order:
                if time.perf_counter() > stop:
                    stats.complete = False
                    break
                for sense in (1.0, -1.0):
                    if (sense > 0 and l[j] >= 0) or (sense < 0 and u[j] <= 0):
                        continue
                    value = lp.minimum(prev, sense * W[j], lp.ncols > FRESH_COLS if fresh is None else fresh)
                    stats.lps += 1
                    if value is None:
                        continue
                    bound = value + b[j] if sense > 0 else b[j] - value
                    if sense > 0 and bound > l[j]:
                        l[j] = bound
                        stats.tightened += 1
                    elif sense < 0 and bound < u[j]:
                        u[j] = bound
                        stats.tightened += 1
            stats.fixed += int(np.sum(before_unstable & ~((l < 0) & (u > 0))))
            out[k] = (l, u)
            if k + 1 < len(layers):
                prior = [(lo, hi) for lo, hi in out]
                refreshed = preactivation_bounds(network, domain, "symbolic", prior)
                out = [(np.maximum(a, c), np.minimum(bb, d)) for (a, bb), (c, d) in zip(out, refreshed)]
        if stats.complete is False:
            break
        l, u = out[k]
        prev = _add_layer(lp, prev, layers[k].W, layers[k].b, l, u)
    stats.time_s = time.perf_counter() - start
    return out, stats


def tightened_bounds(network: Network, domain: Domain, tighten: str = "symbolic",
                     time_budget: float = 30.0) -> Tuple[Bounds, Optional[TightenStats]]:
    """Pre-activation bounds by `tighten`: 'none' (intervals), 'symbolic', or 'lp' (symbolic, then OBBT)."""
    if tighten not in TIGHTEN:
        raise InputError(f"tighten must be one of {', '.join(TIGHTEN)}, got {tighten!r}")
    if tighten == "none":
        return preactivation_bounds(network, domain, "interval"), None
    bounds = preactivation_bounds(network, domain, "symbolic")
    if tighten == "symbolic" or len(network.layers) < 3:
        return bounds, None
    return lp_tighten(network, domain, bounds, time_budget)


# ---- direction bounds ------------------------------------------------------------------------
def direction_bounds(Ws: List[np.ndarray], active: List[np.ndarray], W_first_dir: np.ndarray, p: float,
                     prior: List[Tuple[np.ndarray, np.ndarray]]) -> List[Tuple[np.ndarray, np.ndarray]]:
    """Back-substitution bounds of w_k = W_k u_{k-1}, u_0 = v (||v||_p <= 1), u_j = g_j w_j with g_j = 1 for
    stably active neurons and g_j in {0, 1} otherwise, intersected with `prior` (valid bounds per layer).

    Ws[0] is unused (w_1 = W_first_dir v); Ws[k] maps u_{k-1} to w_k. For an unstable neuron with w in
    [wl, wu], wl < 0 < wu, the set {(w, g w)} has the convex hull between the lines through (wl, 0), (wu, wu)
    (above) and (wl, wl), (wu, 0) (below), which relax u in the back-substitution (as in CROWN).
    """
    pd = dual(p)
    out: List[Tuple[np.ndarray, np.ndarray]] = []
    for k in range(len(Ws)):
        if k == 0:
            r = np.linalg.norm(W_first_dir, ord=pd, axis=1)
            lo, hi = np.maximum(-r, prior[0][0]), np.minimum(r, prior[0][1])
            out.append((lo, hi))
            continue
        bounds_k = []
        for sign in (1.0, -1.0):  # upper bound of sign * w_k
            Lam = sign * Ws[k]
            const = np.zeros(Lam.shape[0])
            for m in range(k - 1, -1, -1):
                wl, wu = out[m]
                act = active[m] if active[m] is not None else np.zeros(wl.size, dtype=bool)
                unst = ~act & (wl < 0) & (wu > 0)
                neg_only = ~act & ~unst & (wu <= 0)  # u = g w with w <= 0: u in [w, 0]
                pos_only = ~act & ~unst & (wl >= 0)  # u in [0, w]
                width = np.where(unst, wu - wl, 1.0)
                up_s, up_c = np.where(unst, wu / width, 0.0), np.where(unst, -wu * wl / width, 0.0)
                lo_s, lo_c = np.where(unst, -wl / width, 0.0), np.where(unst, wl * wu / width, 0.0)
                # slopes for the one-signed cases: upper envelope / lower envelope
                up_s = np.where(pos_only, 1.0, np.where(neg_only, 0.0, up_s))
                lo_s = np.where(pos_only, 0.0, np.where(neg_only, 1.0, lo_s))
                up_s, lo_s = np.where(act, 1.0, up_s), np.where(act, 1.0, lo_s)
                pos = Lam > 0
                slope = np.where(pos, up_s[None, :], lo_s[None, :])
                inter = np.where(pos, up_c[None, :], lo_c[None, :])
                const = const + (Lam * inter).sum(axis=1)
                Lam = Lam * slope
                Lam = Lam @ (Ws[m] if m > 0 else W_first_dir)
            bounds_k.append(np.linalg.norm(Lam, ord=pd, axis=1) + const)
        hi_k, lo_k = bounds_k[0], -bounds_k[1]
        lo, hi = np.maximum(lo_k, prior[k][0]), np.minimum(hi_k, prior[k][1])
        out.append((lo, hi))
    return out


def pattern_direction_bounds(Ws: List[np.ndarray], active: List[np.ndarray], W_first_dir: np.ndarray, p: float,
                             prior: List[Tuple[np.ndarray, np.ndarray]], max_patterns: int = 1 << 14,
                             time_budget: float = 10.0) -> List[Tuple[np.ndarray, np.ndarray]]:
    """Exact bounds max |w_kj| over v and over ALL patterns of the unstable neurons, where affordable.

    w_kj = sum_i W_k[j, i] g_i M_i(g_earlier) v with M the partial Jacobian of layer k-1: for each pattern of
    the layers before k-1 (enumerated when there are at most `max_patterns`), the maximum over the pattern
    of layer k-1 and over ||v||_p <= 1 is a vector problem max ||s0 + sum g_i a_i||_{p*} solved exactly by
    the C++ branch-and-bound. Layers where enumeration is too large keep `prior`. Same layout as
    `direction_bounds`; the result is intersected with `prior`.
    """
    from itertools import product

    pd = dual(p)
    stop = time.perf_counter() + time_budget
    out = [(lo.copy(), hi.copy()) for lo, hi in prior]
    unstable = [np.flatnonzero(~a) for a in active]
    for k in range(1, len(Ws)):
        earlier = unstable[:k - 1]
        count = int(sum(u.size for u in earlier))
        if count > math.log2(max_patterns):
            break
        free, fixed_on = unstable[k - 1], np.flatnonzero(active[k - 1])
        best = np.zeros(Ws[k].shape[0])
        for bits in product((0.0, 1.0), repeat=count):
            if time.perf_counter() > stop:
                return out  # this layer and the later ones keep `prior`
            M = W_first_dir
            pos = 0
            for m in range(k - 1):
                g = active[m].astype(np.float64)
                g[unstable[m]] = bits[pos:pos + unstable[m].size]
                pos += unstable[m].size
                M = Ws[m + 1] @ (g[:, None] * M)
            for j in range(Ws[k].shape[0]):
                row = Ws[k][j]
                s0 = row[fixed_on] @ M[fixed_on]
                A = row[free][:, None] * M[free]
                if free.size:
                    value, _, complete, _, _ = _core.pattern_max(A, s0, pd, best[j], time_limit=max(stop - time.perf_counter(), 0.0))
                    if not complete:
                        return out
                else:
                    value = float(np.linalg.norm(s0, ord=pd))
                best[j] = max(best[j], value)
        r = best * (1.0 + 1e-10) + 1e-300
        out[k] = (np.maximum(out[k][0], -r), np.minimum(out[k][1], r))
    return out
