"""Certified upper bounds on the Lipschitz constant by linear bound propagation through the network and its
backward (gradient) graph (Shi, Wang, Zhang, Kolter and Hsieh, NeurIPS 2022), computed by the C++ core with
float64 rounding covered, so the bound holds as printed; cheap enough for every node of a branch and bound.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, List, Optional, Sequence, Tuple

import numpy as np

from .. import _core
from ..domain import Ball, Box, Global
from ..network import Network
from ..problem import Problem
from ..reductions.domain import Homogenise

Bounds = Tuple[np.ndarray, np.ndarray]

# The engine's settings on a branch-and-bound node: the per-coordinate slope optimisation (the root's largest
# cost) is left out (methods/bab.py measures it). The forward steps move the split constraints' multipliers
# (beta-CROWN) with the slopes, so more of them pay on nodes: engine search alone, 5 -> 20 steps, [8, 16, 16, 1]
# l-inf 16.1 -> 5.2 s (33,000 -> 6,400 nodes), l2 7.7 -> 4.2 s; 60 s on digitsdeep pt1 l-inf 133.6 -> 129.4; but
# [8, 14, 14, 1] l2 3.6 -> 5.5 s and [8, 20, 20, 1] l2 3.62 -> 3.85 at 60 s (10 steps sat between). The
# branch-and-bound runs fewer where its relaxed LPs run (`methods.bab.RELAXED_FORWARD_STEPS`).
NODE_OPTIONS = {"coordinate_iterations": 0, "forward_iterations": 20, "iterations": 10}


@dataclass
class GradientBounds:
    """What the engine proved, with the per-layer data a caller can reuse.

    `upper` bounds max ||J||_{p->q} over the activation regions with interior that meet the domain and agree
    with the partial pattern (0 when `empty`: the pattern contradicts the domain). `forward[k]` bounds the
    pre-activation of hidden layer k; for output row i, `gradient[i]` bounds d f_i / dx over the direction
    inputs and `backward[i][k]` bounds d f_i / d x_k (x_k the output of hidden layer k); `row_upper[i]`
    bounds ||d f_i / dx||_{p*}. On the global domain these refer to the homogenised network. `stopped`: the
    time limit, or the forward steps' share of it (half), cut the optimisation short (the bound holds, but a
    longer run would be tighter).
    `sensitivity[k][j]` (a heuristic, not certified; None when the time limit came first) is the dual norm of
    the interval enclosure of d z_kj / dx: how far the gradient moves per unit of d f / d x_kj when neuron j's
    derivative flips (branching scores). `status[k]` and `scores[k]` are the node's view of hidden layer k
    (`node_scores` in cpp/gradient_bounds.cpp): each neuron's status (a split's side, else 1 / 0 where the
    bounds prove it active / inactive, -1 open) and the branching score of the open ones (-1 for the others).
    `sign_excess[i]`: how far the secant of |g_i| on its bounds can exceed |g_i|, the largest over the rows, for
    the direction inputs whose vertex sign is free (0 for the others and where the bounds fix the sign; empty
    when `empty`); the p = inf search branches the largest (methods/bab.py), other norms ignore it.
    """

    upper: float
    empty: bool
    forward: List[Bounds]
    gradient: List[Bounds]
    backward: List[List[Bounds]]
    row_upper: np.ndarray
    status: List[np.ndarray]
    scores: List[np.ndarray]
    sign_excess: np.ndarray
    stopped: bool = False
    sensitivity: Optional[List[np.ndarray]] = None


def bound_network(network: Network, lo: np.ndarray, hi: np.ndarray, p: float, q: float,
                  states: Optional[Sequence[np.ndarray]] = None,
                  center: Optional[np.ndarray] = None, radius: float = 0.0, ball_norm: float = math.inf,
                  n_dir: Optional[int] = None, **options: Any) -> GradientBounds:
    """Bound over the box [lo, hi] (intersected with the ball around `center`), J over the first `n_dir`
    inputs (all by default); `states` per hidden layer: -1 free, 0 inactive, 1 active. `options` are the
    core's (forward_iterations, coordinate_iterations, max_coordinates, coordinate_work, iterations, step,
    decay, max_sign_outputs, step_init, block_entries: the size of a pass's blocks of forms, which sets only the
    peak memory, time_limit: seconds after which the optimisation stops, the forward steps at half of it, prior:
    certified pre-activation bounds per hidden layer valid on this set, e.g. a parent node's `forward`)."""
    res = _core.gradient_bounds(network.core, lo, hi, float(p), float(q),
                                n_dir=n_dir, states=None if states is None else list(states), center=center,
                                radius=float(radius), ball_norm=float(ball_norm), **options)
    rows = res["rows"]
    return GradientBounds(upper=float(res["upper"]), empty=bool(res["empty"]), forward=list(res["forward"]),
                          gradient=[row["gradient"] for row in rows], backward=[list(row["backward"]) for row in rows],
                          row_upper=np.array([row["upper"] for row in rows]), stopped=bool(res["stopped"]),
                          sensitivity=list(res["sensitivity"]) or None, status=list(res["status"]),
                          scores=list(res["scores"]), sign_excess=res["sign_excess"])


def bound_problem(problem: Problem, states: Optional[Sequence[np.ndarray]] = None, **options: Any) -> GradientBounds:
    """Bound for a normalised query: its box or ball directly; the global domain through the homogenised
    network F(x, t) on [-1, 1]^n x [0, 1] with the direction on x only (every region of f is a region of F
    at (y, 1) / max(1, ||y||_inf), where d F / dx = J_f(y); see reductions/domain.py)."""
    net, dom = problem.network, problem.domain
    n = net.input_dim
    n_dir = 0 if problem.trivial else None  # a single point: no direction, L = 0
    if isinstance(dom, Box):
        return bound_network(net, np.asarray(dom.lo, float), np.asarray(dom.hi, float),
                             problem.p, problem.q, states, n_dir=n_dir, **options)
    if isinstance(dom, Ball):
        c = np.asarray(dom.center, float)
        return bound_network(net, c - dom.radius, c + dom.radius, problem.p, problem.q, states,
                             center=c, radius=dom.radius, ball_norm=dom.norm, n_dir=n_dir, **options)
    if not isinstance(dom, Global):
        raise TypeError(f"unsupported domain {type(dom).__name__}")
    hom = Homogenise(net)
    if hom.with_t and states is not None:  # the neuron carrying t is always active
        states = [np.append(np.asarray(s, dtype=np.int8), np.int8(1)) for s in states]
    return bound_network(hom.network, np.asarray(hom.box.lo, float), np.asarray(hom.box.hi, float),
                         problem.p, problem.q, states, n_dir=n, **options)
