"""Bounds on the Jacobian-product variables of the encodings: the direction w_k = W_k u_{k-1} of the forward
mode (u_0 = v with ||v||_p <= 1, or a fixed v = e_i), and the gradient d_k of the backward mode from an output
vertex c. All are products of the layers with the ReLU derivatives g_j in {0, 1} (fixed to 1 on stably
active neurons), so one interval chain serves every mode; back-substitution through the convex hull of
{(w, g w)} (`direction_bounds`, as in CROWN) and exact enumeration of patterns (`pattern_direction_bounds`)
tighten the forward direction further, and the gradient-bound engine (`engine_direction_bounds`) bounds it over
the activation regions themselves, not over every pattern.
"""
from __future__ import annotations

import math
import time
from itertools import product
from typing import List, Optional, Sequence, Tuple

import numpy as np

from .. import _core
from ..errors import check_deadline
from ..network import Network
from ..norms import dual
from ..tolerances import NORM_RTOL
from .gradient import NODE_OPTIONS, bound_network
from .jacobian import interval_matmul
from .network_bounds import Interval

MATMUL_FLOPS = 2e9  # a conservative rate of numpy matrix products here, for time estimates
# p = inf: vertex signs of the first direction inputs enumerated for the engine's direction bounds, at most this
# many (2^n calls per layer; fewer when the budget is short). On [8, 16, 16, 1] (l-inf) all 8 bring the output
# y's bound from 31.3 (back-substitution) and 25.8 (the engine unsigned) to 13.6 in 0.07 s.
DIRECTION_SIGN_INPUTS = 8
# The engine bounds a cut network's rows one at a time, and each row costs at least one interval pass back
# through the weights however short its time limit: measured 0.047 s per row on the CIFAR-sized CNN's first two
# layers (12.6 M weights, 3.7 ns per weight). A layer whose rows times weights at this rate exceed its share of
# the budget is left to the other bounds: there 1,017 rows would have taken 33-180 s of a 0.1 s budget. The
# call's forward pass costs about ENGINE_FORWARD_ROWS rows more (0.67 s there).
ENGINE_ROW_SECONDS_PER_WEIGHT = 4e-9
ENGINE_FORWARD_ROWS = 16


def relu_switch(lo: np.ndarray, hi: np.ndarray, active: np.ndarray) -> Interval:
    """Bounds of u = g w for w in [lo, hi]: g = 1 on `active` neurons, g in {0, 1} on the others."""
    return np.where(active, lo, np.minimum(lo, 0.0)), np.where(active, hi, np.maximum(hi, 0.0))


def interval_chain(first: Interval, Ws: Sequence[np.ndarray], active: Sequence[np.ndarray],
                   outward: bool = False) -> List[Interval]:
    """Intervals of w_1 = `first`, w_k = Ws[k-2] u_{k-1} with u = g w switched by `active[k-1]`.

    `outward` rounds every interval product outward (sign-exact), for callers that read signs."""
    out = [first]
    for W, act in zip(Ws, active):
        ulo, uhi = relu_switch(*out[-1], act)
        out.append(interval_matmul(W, ulo, uhi, outward))
    return out


def forward_intervals(W_first_dir: np.ndarray, Ws: Sequence[np.ndarray], active: Sequence[np.ndarray],
                      p: float, deadline: float = math.inf) -> List[Interval]:
    """Bounds of w_k (and of y = W_out u last, when Ws ends with W_out) for ||v||_p <= 1, from two valid
    bounds intersected: intervals propagated on w, and intervals on the entries of the partial Jacobian
    M_k = W_k D_{k-1} ... W_1 (D_j in {0, 1} on unstable neurons), which keep the input-coordinate
    structure: |w_kj| <= || max(|Ml_kj|, |Mu_kj|) ||_{p*}. The matrix products of the second are dropped
    when they would take more than a tenth of the time left (large layers, a short limit)."""
    q_dual = dual(p)
    r = np.linalg.norm(W_first_dir, ord=q_dual, axis=1)
    out = [(-r, r)]
    Ml = Mu = W_first_dir
    for W, act in zip(Ws, active):
        check_deadline(deadline, "bounding the direction variables")
        lo, hi = interval_matmul(W, *relu_switch(*out[-1], act))
        if Ml is not None and 4.0 * W.size * Ml.shape[1] / MATMUL_FLOPS > 0.1 * (deadline - time.perf_counter()):
            Ml = Mu = None  # the entrywise bound costs more than its share of the time left
        if Ml is not None:
            on = act[:, None]
            Ml, Mu = interval_matmul(W, np.where(on, Ml, np.minimum(Ml, 0.0)), np.where(on, Mu, np.maximum(Mu, 0.0)))
            r = np.linalg.norm(np.maximum(np.abs(Ml), np.abs(Mu)), ord=q_dual, axis=1)
            lo, hi = np.maximum(lo, -r), np.minimum(hi, r)
        out.append((lo, hi))
    return out


def direction_bounds(Ws: List[np.ndarray], active: List[np.ndarray], W_first_dir: np.ndarray, p: float,
                     prior: List[Tuple[np.ndarray, np.ndarray]], deadline: float = math.inf) -> List[Tuple[np.ndarray, np.ndarray]]:
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
        check_deadline(deadline, "bounding the direction variables")
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
        r = best * (1.0 + NORM_RTOL) + 1e-300
        out[k] = (np.maximum(out[k][0], -r), np.minimum(out[k][1], r))
    return out


def engine_direction_bounds(Ws: Sequence[np.ndarray], bs: Sequence[np.ndarray], forward: Sequence[Interval],
                            active: Sequence[np.ndarray], x_lo: np.ndarray, x_hi: np.ndarray, n_dir: int, p: float,
                            ball: Optional[Tuple[np.ndarray, float, float]] = None,
                            time_budget: float = 1.0) -> List[Optional[np.ndarray]]:
    """r_k >= |w_kj| on every activation region with interior in the box (and ball), for w_2 .. w_L (w_L = y):
    the engine's bound on ||d z_kj / dx||_{p*} (the first n_dir inputs) on the network cut after layer k, one per
    row (q = inf). For p = inf it is the maximum over branches of the vertex signs of the first inputs (`signs`),
    since ||g||_1 = max over vertices s of g^T s. Ws[k], bs[k] map x_{k-1} to z_k (the last pair is the output);
    `forward` are certified pre-activation bounds of the hidden layers, `active` their stably active neurons.
    Only regions with interior are covered: points of patterns without one may be cut, real ones never. None for
    a layer past the budget or whose rows would not fit in its share (ENGINE_ROW_SECONDS_PER_WEIGHT): it keeps its
    other bounds."""
    stop = time.perf_counter() + time_budget
    extra = {} if ball is None else dict(center=ball[0], radius=ball[1], ball_norm=ball[2])
    out: List[Optional[np.ndarray]] = [None] * len(Ws)
    for k in range(1, len(Ws)):
        until = time.perf_counter() + (stop - time.perf_counter()) / (len(Ws) - k)  # this layer's share
        if until <= time.perf_counter():
            break
        cost = (Ws[k].shape[0] + ENGINE_FORWARD_ROWS) * sum(W.size for W in Ws[:k + 1]) * ENGINE_ROW_SECONDS_PER_WEIGHT
        if cost > until - time.perf_counter():
            continue  # a deeper layer may have fewer rows (the output has one), and gets this layer's share too
        net = Network(list(Ws[:k + 1]), list(bs[:k + 1]))
        states = [np.where(a, 1, -1).astype(np.int8) for a in active[:k]]
        prior = list(forward[:k])

        def rows(**options: object) -> np.ndarray:
            res = bound_network(net, x_lo, x_hi, p, math.inf, states, n_dir=n_dir, prior=prior,
                                time_limit=max(until - time.perf_counter(), 0.0), **extra, **options)
            return np.zeros(Ws[k].shape[0]) if res.empty else np.fmax(np.nan_to_num(res.row_upper, nan=math.inf), 0.0)

        t0 = time.perf_counter()
        r = rows()
        if math.isinf(p) and n_dir > 0:
            each = max(time.perf_counter() - t0, 1e-4)  # the signed calls run NODE_OPTIONS: cheaper than this
            m = min(n_dir, DIRECTION_SIGN_INPUTS, int(math.log2(max(until - time.perf_counter(), 0.0) / each + 1)))
            best: Optional[np.ndarray] = np.zeros_like(r)
            for s in product((-1, 1), repeat=m) if m > 0 else ():
                if time.perf_counter() > until:
                    best = None  # an unfinished enumeration bounds nothing
                    break
                signs = np.zeros(n_dir, dtype=np.int8)
                signs[:m] = s
                best = np.maximum(best, rows(signs=signs, **NODE_OPTIONS))
            if m > 0 and best is not None:
                r = np.minimum(r, best)
        out[k] = r
    return out
