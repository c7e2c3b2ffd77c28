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

from .. import _core
from ..bounds import preactivation_bounds, stability
from ..domain import Ball, Box, Global
from ..network import Network
from ..norms import dual
from ..query import Problem

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


def _direction_bounds(plan_layers: List[HiddenLayer], W_first: np.ndarray, n_dir: int, p: float):
    """Interval bounds of w_k = W_k u_{k-1}, u_0 = v with ||v||_p <= 1 (v only on the first n_dir inputs)."""
    r = np.linalg.norm(W_first[:, :n_dir], ord=dual(p), axis=1)
    lo, hi = -r, r
    ulo, uhi = lo, hi
    for k, layer in enumerate(plan_layers):
        if k > 0:
            Wp, Wn = np.maximum(layer.W, 0), np.minimum(layer.W, 0)
            lo, hi = Wp @ ulo + Wn @ uhi, Wp @ uhi + Wn @ ulo
        layer.wlo, layer.whi = lo, hi
        ulo = np.where(layer.active, lo, np.minimum(lo, 0.0))
        uhi = np.where(layer.active, hi, np.maximum(hi, 0.0))
    return ulo, uhi


def build_plan(problem: Problem, bounds_kind: str = "symbolic") -> Plan:
    net, dom = problem.network, problem.domain
    n = net.input_dim
    ball = None
    exclusion = _exclusion_radius(problem)
    homogenised = False
    if isinstance(dom, Global):
        enc, homogenised = homogenise(net)
        x_lo = np.concatenate([-np.ones(n), np.zeros(enc.input_dim - n)])
        x_hi = np.ones(enc.input_dim)
        bounds = preactivation_bounds(enc, Box(x_lo, x_hi), bounds_kind)
        exclusion = 1.0
    else:
        enc = net
        bounds = preactivation_bounds(enc, dom, bounds_kind)
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
    W_first = layers[0].W if layers else W_out
    ulo, uhi = _direction_bounds(layers, W_first, n, problem.p)
    if layers:
        Wp, Wn = np.maximum(W_out, 0), np.minimum(W_out, 0)
        plan.ylo, plan.yhi = Wp @ ulo + Wn @ uhi, Wp @ uhi + Wn @ ulo
    else:
        plan.ylo, plan.yhi = ulo, uhi
    return plan
