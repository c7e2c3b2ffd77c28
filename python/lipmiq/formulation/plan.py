"""What the MIQCQP encodes: the network after preprocessing, its variable bounds and side constraints.

Preprocessing keeps every activation region with non-empty interior (so the closed problem's optimum
stays an upper bound) while removing patterns that have none:
- neurons proved stable on the domain are fixed (inactive ones removed);
- two neurons of a layer whose (W_i, b_i) rows are exactly proportional switch together (c > 0: g_i = g_j)
  or oppositely (c < 0: g_i + g_j = 1) on every full-dimensional region: tied by a constraint;
- global domain, by homogenisation: F(x, t) = network with every bias scaled by t >= 0 equals
  t f(x / t) for t > 0, so the pattern of F at (x, t) is the pattern of f at x / t; every region of f
  with non-empty interior contains a point y, and (y, 1) / max(1, ||y||_inf) lies on
  S = {t in [0, 1], x in [-1, 1]^n, max(t, ||x||_inf) = 1} with an open neighbourhood on S in the same
  region, so max over S of the closed problem >= L. F is a bias-free network on the box
  [-1, 1]^n x [0, 1] (t is carried by an extra always-active neuron per layer) and the direction
  never moves t. Points of S with t = 0 and strict margins are patterns of f at R x for large R.
  When f has no bias at all, t is dropped and S = {||x||_inf = 1}.
- bias-free network on a bounded domain containing 0: every region is a cone, and a cone region that
  meets int(X) does so at points of infinity-norm >= delta, with delta half the smallest nonzero
  distance from 0 to a face of the box (the ray from 0 through an interior point leaves X through a
  face not containing 0, and the open segment before it stays in int(X)); so ||x||_inf >= delta is added.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Dict, List, Optional, Tuple

import numpy as np

from ..bounds.propagation import stability
from ..domain import Ball, Box, Global
from ..bounds.jacobian import interval_matmul
from ..network import Network
from ..norms import dual
from ..problem import Problem

STRICT_RTOL = 1e-5  # strict-margin epsilon relative to a neuron's pre-activation range


@dataclass
class HiddenLayer:
    """One hidden layer as encoded: neurons kept, their bounds, fixed activity and ties."""

    W: np.ndarray                 # (kept, previous kept)
    b: np.ndarray
    lo: np.ndarray                # pre-activation bounds
    hi: np.ndarray
    active: np.ndarray            # bool: stably active (g fixed to 1); the others are unstable
    eps: np.ndarray               # strict margins of the unstable neurons
    ties: List[Tuple[int, int, bool]]   # (i, j, opposite)
    wlo: np.ndarray = field(default=None)  # bounds of the direction pre-activation W u_{k-1}
    whi: np.ndarray = field(default=None)


@dataclass
class Plan:
    layers: List[HiddenLayer]
    W_out: np.ndarray
    b_out: np.ndarray
    x_lo: np.ndarray              # box of the input variables (homogenised: t is the last one)
    x_hi: np.ndarray
    n_dir: int                    # the direction spans the first n_dir inputs
    homogenised: bool
    ball: Optional[Tuple[np.ndarray, float, float]]
    exclusion: Optional[float]    # ||(x, t)||_inf >= this (t only on its + side)
    kept: List[np.ndarray]        # per hidden layer: indices (in the problem network) of kept neurons
    ylo: np.ndarray = field(default=None)
    yhi: np.ndarray = field(default=None)

    @property
    def n_unstable(self) -> int:
        return int(sum((~layer.active).sum() for layer in self.layers))

    def full_pattern(self, net: Network, g: List[np.ndarray]) -> List[np.ndarray]:
        """The pattern of the problem network from the plan's (kept-neuron) pattern."""
        out = []
        for k, (kept, layer_g) in enumerate(zip(self.kept, g)):
            full = np.zeros(net.layers[k].W.shape[0], dtype=np.uint8)
            full[kept[kept < full.size]] = np.asarray(layer_g)[kept < full.size]
            out.append(full)
        return out


def homogenise(net: Network) -> Tuple[Network, bool]:
    """The bias-free network F(x, t) of the global domain; t is dropped when f has no bias."""
    if all(not np.any(b) for b in net.biases):
        return net, False
    weights = []
    for k, layer in enumerate(net.layers):
        Wt = np.hstack([layer.W, layer.b[:, None]])
        if k < len(net.layers) - 1:
            t_row = np.zeros((1, Wt.shape[1]))
            t_row[0, -1] = 1.0
            Wt = np.vstack([Wt, t_row])
        weights.append(Wt)
    return Network(weights, None, name=net.name + "[homogenised]"), True


def _exclusion_radius(problem: Problem) -> Optional[float]:
    """delta for ||x||_inf >= delta when the network is bias-free and 0 lies in the domain."""
    net, dom = problem.network, problem.domain
    if any(np.any(b) for b in net.biases):
        return None
    if isinstance(dom, Box):
        lo, hi = np.asarray(dom.lo), np.asarray(dom.hi)
        if np.any(lo > 0) or np.any(hi < 0):
            return None
        faces = np.concatenate([-lo[lo < 0], hi[hi > 0]])
        return float(faces.min()) / 2.0
    if isinstance(dom, Ball):
        c = np.asarray(dom.center)
        slack = dom.radius - float(np.linalg.norm(c, ord=dom.norm))
        if slack <= 0:
            return None  # 0 outside or on the sphere: no cone trick (the pattern check still guards)
        n = c.size
        to_inf = 1.0 if math.isinf(dom.norm) else n ** (1.0 / dom.norm)
        return slack / to_inf / 2.0
    return None


def _proportional(r1: np.ndarray, r2: np.ndarray) -> int:
    """+1 / -1 if r1 = c r2 exactly (rational arithmetic) with c > 0 / c < 0, else 0."""
    nz = np.flatnonzero(r2)
    if nz.size == 0 or not np.array_equal(nz, np.flatnonzero(r1)):
        return 0
    k0 = nz[0]
    c = Fraction(float(r1[k0])) / Fraction(float(r2[k0]))
    for k in nz[1:]:
        if Fraction(float(r1[k])) != c * Fraction(float(r2[k])):
            return 0
    return 1 if c > 0 else -1


def find_ties(W: np.ndarray, b: np.ndarray, candidates: np.ndarray) -> List[Tuple[int, int, bool]]:
    """Pairs of neurons (among `candidates`) with exactly proportional (W, b) rows."""
    rows = np.hstack([W, b[:, None]])
    groups: Dict[bytes, List[int]] = {}
    for i in candidates:
        r = rows[i]
        nz = np.flatnonzero(r)
        if nz.size == 0:
            continue
        key = np.round(r / abs(r[nz[0]]) * np.sign(r[nz[0]]), 9) + 0.0
        groups.setdefault(key.tobytes(), []).append(int(i))
    ties = []
    for members in groups.values():
        head = members[0]
        for other in members[1:]:
            s = _proportional(rows[other], rows[head])
            if s:
                ties.append((head, other, s < 0))
    return ties


def _direction_bounds(plan_layers: List[HiddenLayer], W_out: np.ndarray, n_dir: int, p: float,
                      exact_patterns: float = 0.0):
    """Bounds of w_k = W_k u_{k-1} (u_0 = v, ||v||_p <= 1, v on the first n_dir inputs) and of y = W_out u.

    Two valid bounds, intersected: intervals propagated on w, and intervals on the entries of the
    partial Jacobian M_k = W_k D_{k-1} ... W_1 (D_j in {0, 1} for unstable neurons), which keep the
    input-coordinate structure: |w_kj| <= || max(|Ml_kj|, |Mu_kj|) ||_{p*}.
    """
    q_dual = dual(p)

    def bound(W, lo, hi, Ml, Mu, first):
        if first:
            Ml = Mu = W[:, :n_dir]
            r = np.linalg.norm(Ml, ord=q_dual, axis=1)
            return -r, r, Ml, Mu
        lo, hi = interval_matmul(W, lo, hi)
        Ml, Mu = interval_matmul(W, Ml, Mu)
        r = np.linalg.norm(np.maximum(np.abs(Ml), np.abs(Mu)), ord=q_dual, axis=1)
        return np.maximum(lo, -r), np.minimum(hi, r), Ml, Mu

    ulo = uhi = Ml = Mu = None
    for k, layer in enumerate(plan_layers):
        lo, hi, Ml, Mu = bound(layer.W, ulo, uhi, Ml, Mu, k == 0)
        layer.wlo, layer.whi = lo, hi
        on = layer.active[:, None]
        ulo, uhi = np.where(layer.active, lo, np.minimum(lo, 0.0)), np.where(layer.active, hi, np.maximum(hi, 0.0))
        Ml, Mu = np.where(on, Ml, np.minimum(Ml, 0.0)), np.where(on, Mu, np.maximum(Mu, 0.0))
    ylo, yhi, _, _ = bound(W_out, ulo, uhi, Ml, Mu, not plan_layers)
    if plan_layers:  # intersect with back-substitution (CROWN-style) bounds of every w_k and of y
        from ..bounds.tightening import direction_bounds

        Ws = [None] + [layer.W for layer in plan_layers[1:]] + [W_out]
        prior = [(layer.wlo, layer.whi) for layer in plan_layers] + [(ylo, yhi)]
        tight = direction_bounds(Ws, [layer.active for layer in plan_layers], plan_layers[0].W[:, :n_dir], p, prior)
        if exact_patterns > 0:  # tighten="lp": exact maxima over all patterns (budget in s) where affordable
            from ..bounds.tightening import pattern_direction_bounds

            tight = pattern_direction_bounds(Ws, [layer.active for layer in plan_layers], plan_layers[0].W[:, :n_dir], p,
                                             tight, time_budget=exact_patterns)
        for layer, (lo, hi) in zip(plan_layers, tight):
            layer.wlo, layer.whi = lo, hi
        ylo, yhi = tight[-1]
    return ylo, yhi


def build_plan(problem: Problem, tighten: str = "symbolic", tighten_time: float = 30.0) -> Plan:
    """tighten: 'none' (interval bounds), 'symbolic', or 'lp' (symbolic, then LP bound tightening)."""
    from ..bounds.tightening import tightened_bounds

    tighten = "none" if tighten == "interval" else tighten
    net, dom = problem.network, problem.domain
    n = net.input_dim
    ball = None
    exclusion = _exclusion_radius(problem)
    homogenised = False
    if isinstance(dom, Global):
        enc, homogenised = homogenise(net)
        x_lo = np.concatenate([-np.ones(n), np.zeros(enc.input_dim - n)])
        x_hi = np.ones(enc.input_dim)
        bounds, _ = tightened_bounds(enc, Box(x_lo, x_hi), tighten, tighten_time)
        exclusion = 1.0
    else:
        enc = net
        bounds, _ = tightened_bounds(enc, dom, tighten, tighten_time)
        x_lo, x_hi = (np.asarray(a, dtype=np.float64) for a in dom.box_hull())
        if isinstance(dom, Ball) and not math.isinf(dom.norm):
            ball = (np.asarray(dom.center, dtype=np.float64), float(dom.radius), float(dom.norm))
    states = stability(bounds)
    layers: List[HiddenLayer] = []
    kept_all: List[np.ndarray] = []
    prev_keep = np.arange(enc.input_dim)
    for k, state in enumerate(states):
        W, b = enc.layers[k].W, enc.layers[k].b
        keep = np.flatnonzero(state >= 0)
        l, u = bounds[k][0][keep], bounds[k][1][keep]
        active = state[keep] == 1
        Wk = W[np.ix_(keep, prev_keep)]
        ties = find_ties(Wk, b[keep], np.flatnonzero(~active))
        eps = np.minimum(STRICT_RTOL * np.maximum(u - l, 1e-300), np.minimum(u, -l) / 2.0)
        layers.append(HiddenLayer(Wk, b[keep].copy(), l, u, active, np.where(active, 0.0, eps), ties))
        kept_all.append(keep)
        prev_keep = keep
    W_out = enc.layers[-1].W[:, prev_keep]
    b_out = enc.layers[-1].b.copy()
    plan = Plan(layers, W_out, b_out, x_lo, x_hi, n, homogenised, ball, exclusion, kept_all)
    plan.ylo, plan.yhi = _direction_bounds(layers, W_out, n, problem.p, exact_patterns=tighten_time if tighten == "lp" else 0.0)
    return plan
