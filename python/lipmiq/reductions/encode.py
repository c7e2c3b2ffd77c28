"""The reduced problem the SCIP models are built from (`Plan`): stable neurons fixed, proportional neurons
tied, strict margins chosen, and bounds on every variable, including the direction ones.

Every activation region with non-empty interior survives (so the closed problem's optimum stays an upper
bound) while patterns without one are removed:
- neurons proved stable on the domain are fixed (inactive ones removed, active ones kept with g = 1);
- two neurons of a layer whose (W_i, b_i) rows are exactly proportional switch together (c > 0: g_i = g_j)
  or oppositely (c < 0: g_i + g_j = 1) on every full-dimensional region: tied by a constraint.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from fractions import Fraction
from typing import Dict, List, Optional, Tuple

import numpy as np

from ..bounds import NetworkBounds
from ..bounds.direction import (
    direction_bounds,
    engine_direction_bounds,
    forward_intervals,
    interval_chain,
    pattern_direction_bounds,
)
from ..network import Network
from ..tolerances import STRICT_RTOL
from .chain import Pattern, Reduction

ENGINE_DIRECTION_SHARE = 0.25  # of the tightening budget, for the engine's direction bounds


@dataclass(frozen=True)
class HiddenLayer:
    """One hidden layer as encoded: neurons kept, their bounds, fixed activity and ties."""

    W: np.ndarray                 # (kept, previous kept)
    b: np.ndarray
    lo: np.ndarray                # pre-activation bounds
    hi: np.ndarray
    active: np.ndarray            # bool: stably active (g fixed to 1); the others are unstable
    eps: np.ndarray               # strict margins of the unstable neurons
    ties: List[Tuple[int, int, bool]]   # (i, j, opposite)
    wlo: np.ndarray               # bounds of the direction pre-activation W u_{k-1}
    whi: np.ndarray


@dataclass(frozen=True)
class Plan:
    """A network reduced for encoding, on a box (plus an optional ball and exclusion constraint)."""

    layers: List[HiddenLayer]
    W_out: np.ndarray
    b_out: np.ndarray
    x_lo: np.ndarray              # box of the input variables (homogenised: t is the last one)
    x_hi: np.ndarray
    n_dir: int                    # the direction spans the first n_dir inputs
    homogenised: bool
    ball: Optional[Tuple[np.ndarray, float, float]]
    exclusion: Optional[float]    # ||(x, t)||_inf >= this (t only on its + side)
    ylo: np.ndarray               # bounds of the direction output y = W_out u
    yhi: np.ndarray

    @property
    def n_unstable(self) -> int:
        return int(sum((~layer.active).sum() for layer in self.layers))


class FixStable(Reduction):
    """Stable neurons fixed (inactive ones dropped): patterns map between kept and all neurons."""

    def __init__(self, kept: List[np.ndarray], sizes: List[int]):
        self.kept, self.sizes = kept, sizes

    def pattern(self, g: Pattern) -> Pattern:
        out = []
        for kept, size, layer_g in zip(self.kept, self.sizes, g):
            full = np.zeros(size, dtype=np.uint8)
            full[kept] = np.asarray(layer_g)
            out.append(full)
        return out

    def pattern_forward(self, g: Pattern) -> Pattern:
        return [np.asarray(gk)[kept].astype(np.uint8) for gk, kept in zip(g, self.kept)]


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


def _direction(Ws: List[np.ndarray], W_out: np.ndarray, active: List[np.ndarray], n_dir: int, p: float,
               direction: Optional[np.ndarray], exact_patterns: float,
               deadline: float) -> List[Tuple[np.ndarray, np.ndarray]]:
    """Bounds of w_k per hidden layer and of y last: for ||v||_p <= 1, intervals intersected with
    back-substitution (and, with a budget, exact maxima over the patterns); for a fixed direction
    (one Jacobian column), sign-exact intervals from the exact first layer."""
    first = Ws[0][:, :n_dir] if Ws else W_out[:, :n_dir]
    rest = Ws[1:] + [W_out] if Ws else []
    if direction is not None:
        w1 = first @ direction
        return interval_chain((w1, w1), rest, active, outward=True)
    out = forward_intervals(first, rest, active, p, deadline)
    if Ws:
        out = direction_bounds([None] + rest, active, first, p, out, deadline)
        if exact_patterns > 0:
            out = pattern_direction_bounds([None] + rest, active, first, p, out, time_budget=exact_patterns)
    return out


def encode(network: Network, bounds: NetworkBounds, x_lo: np.ndarray, x_hi: np.ndarray, n_dir: int, p: float,
           ball: Optional[Tuple[np.ndarray, float, float]] = None, exclusion: Optional[float] = None,
           homogenised: bool = False, direction: Optional[np.ndarray] = None,
           exact_patterns: float = 0.0, deadline: float = math.inf) -> Tuple[Plan, FixStable]:
    """The Plan of `network` on the box [x_lo, x_hi] (the domain's box hull) with pre-activation `bounds`.

    `direction` fixes v (a Jacobian column, for monotonicity); `exact_patterns` is the time budget of the
    exact direction bounds (tighten='lp')."""
    states = bounds.stability()
    layers: List[dict] = []
    kept_all: List[np.ndarray] = []
    prev_keep = np.arange(network.input_dim)
    for k, state in enumerate(states):
        W, b = network.layers[k].W, network.layers[k].b
        keep = np.flatnonzero(state >= 0)
        l, u = bounds.layers[k][0][keep], bounds.layers[k][1][keep]
        active = state[keep] == 1
        Wk = W[np.ix_(keep, prev_keep)]
        ties = find_ties(Wk, b[keep], np.flatnonzero(~active))
        eps = np.minimum(STRICT_RTOL * np.maximum(u - l, 1e-300), np.minimum(u, -l) / 2.0)
        layers.append(dict(W=Wk, b=b[keep].copy(), lo=l, hi=u, active=active, eps=np.where(active, 0.0, eps),
                           ties=ties))
        kept_all.append(keep)
        prev_keep = keep
    W_out = network.layers[-1].W[:, prev_keep]
    b_out = network.layers[-1].b.copy()
    dirs = _direction([layer["W"] for layer in layers], W_out, [layer["active"] for layer in layers], n_dir, p,
                      direction, exact_patterns, deadline)
    if direction is None and exact_patterns > 0 and n_dir > 0 and W_out.shape[1] > 0 and \
            all(layer["W"].shape[0] > 0 for layer in layers):
        # the engine bounds them over the regions, not over every pattern (an empty layer: L = 0, nothing to do)
        engine = engine_direction_bounds([layer["W"] for layer in layers] + [W_out],
                                         [layer["b"] for layer in layers] + [b_out],
                                         [(layer["lo"], layer["hi"]) for layer in layers],
                                         [layer["active"] for layer in layers], x_lo, x_hi, n_dir, p, ball,
                                         min(ENGINE_DIRECTION_SHARE * exact_patterns, deadline - time.perf_counter()))
        dirs = [d if r is None else (np.maximum(d[0], -r), np.minimum(d[1], r)) for d, r in zip(dirs, engine)]
    hidden = [HiddenLayer(**layer, wlo=lo, whi=hi) for layer, (lo, hi) in zip(layers, dirs)]
    plan = Plan(hidden, W_out, b_out, np.asarray(x_lo, dtype=np.float64), np.asarray(x_hi, dtype=np.float64), n_dir,
                homogenised, ball, exclusion, dirs[-1][0], dirs[-1][1])
    return plan, FixStable(kept_all, network.hidden_sizes)
