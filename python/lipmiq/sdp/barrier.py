"""A primal barrier method for the LipSDP multipliers: minimise rho subject to Z = -M(rho, t) > 0, t > 0.

The m + 1 unknowns are few and each A_j has rank two, so a Newton step costs one inverse of Z and a few
products (the Hessian entries tr(Z^-1 A_i Z^-1 A_j) come from 2 x 2 blocks of B^T Z^-1 B, B = [e_j, w_j]),
where a conic solver's generic KKT system holds the whole N(N+1)/2 cone block (22 s for N = 96 with
Clarabel, against well under a second here). The Newton steps run in the core (cpp/lipsdp_barrier.cpp: about
20x the numpy version's speed on 10 coordinates, 9x on 30, 3x on 100 and more); the constants below are its
parameters. The solver only proposes t: `certify` proves the bound.
"""
from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass
from typing import ContextManager, List, Optional

import numpy as np
from threadpoolctl import ThreadpoolController

from .. import _core
from .model import SlopeModel

SHRINK = 0.3          # mu's reduction between centerings (0.1 left lipsdp_mnist's t 10x off their optimum:
                      # Newton crawled, 24.62 against 24.37)
CENTERED = 1e-6       # Newton decrement^2 / 2 at which a centering stops
ARMIJO = 0.25
RTOL = 1e-9           # stop when the barrier's duality gap nu * mu is this small relative to rho (the
                      # Hessian's condition number reaches 1e12-1e14 there: float64's end)
ROUNDING_GAP = 1e-6   # past this gap, a centering that does not converge is stopped by rounding (digits_fnn3_seed5
                      # crawled 276 Newton steps at 1e-10)
WARM_GAP = 1e-2       # the path point kept for warm starts: gap this small relative to rho (digits_fnn3_seed0,
                      # 15 s of branching: 47 nodes to 9.6522 against 35 to 9.6623 at 1e-3, same load)
COARSE_RTOL = 1e-3    # with a target (a search's lower bound): the gap that suffices once the value is known to be
                      # above it; the node then stays open, its bound at most ~5e-4 (relative) above its LipSDP value,
                      # which orders the open nodes and is what an interrupted search reports if it is the largest
TARGET_MARGIN = 1e-6  # the target stays this far (relative, in rho) under the search's threshold, so the certificate
                      # (its first step adds 1e-9 rho, plus a rounding allowance) and ROUNDING_RTOL rarely lift a bound
                      # proved under it back above; when they do (badly scaled layers), the node merely stays open
MAX_NEWTON = 400
MAX_CENTERING = 40    # Newton steps per centering: more means rounding, not progress


@functools.lru_cache(maxsize=None)
def _blas_libraries() -> ThreadpoolController:
    """The process's thread pools, scanned once (a scan reads the loaded libraries: 0.43 ms, as much as a small
    query's LipSDP root; limiting through the scanned controller takes 0.02 ms). numpy's BLAS is loaded before
    lipmiq, so it is in the scan."""
    return ThreadpoolController()


def one_blas_thread() -> ContextManager:
    """numpy's BLAS on one thread: at these sizes its threads cost more than the products, and 50x more on a
    loaded machine (digits_fnn3, N = 96: 0.5 s alone, 25 s at load 3)."""
    return _blas_libraries().limit(limits=1, user_api="blas")


@dataclass
class Point:
    """A strictly feasible (rho, t), centred for mu."""
    rho: float
    t: np.ndarray
    mu: float


@dataclass
class Solution:
    point: Point                # the last iterate
    warm: Point                 # a well-centred iterate with a moderate gap, for the children's start
    dual: np.ndarray            # mu Z^-1: the dual (moment) matrix estimate, for branching
    newton: int


def _strictly_feasible(model: SlopeModel, rho: float, t: np.ndarray) -> bool:
    """Z = -M(rho, t) > 0 and t > 0, by the core's test (the one its solver applies to a start)."""
    return math.isfinite(_core.sdp_barrier_derivatives(model.n0, model.index, model.rows, model.gram, rho, t, 1.0)[0])


def start(weights: List[np.ndarray], model: SlopeModel) -> Point:
    """A strictly feasible point for the all-free network restricted to the model's free neurons.

    Layer multipliers s_k I make the block-tridiagonal M negative definite when each pair of neighbouring
    blocks is (halves of their diagonals against the coupling s_k W_k); fixing neurons keeps a point
    strictly feasible (a compression P^T Z P of Z), so the same t works for every slope set."""
    norms = [max(float(np.linalg.norm(W, 2)), 1e-150) for W in weights]
    L = len(weights)
    s = [0.0] * L
    s[L - 1] = norms[-1] ** 2
    margin = [0.0] * L
    margin[L - 1] = s[L - 1]                     # 2 s - ||W_L||^2
    for k in range(L - 1, 1, -1):                # pair (k-1, k), coupling s_k W_k
        s[k - 1] = 4.0 * s[k] ** 2 * norms[k - 1] ** 2 / margin[k]
        margin[k - 1] = 2.0 * s[k - 1]
    rho = 8.0 * s[1] ** 2 * norms[0] ** 2 / margin[1]
    t = np.array([s[k + 1] for k, _ in model.neuron])
    for _ in range(60):
        if _strictly_feasible(model, rho, t):
            return Point(rho, t, rho / (model.size + t.size))
        rho *= 4.0
        t = t * 2.0
    raise ArithmeticError("no strictly feasible LipSDP start found")


@dataclass(frozen=True)
class Stop:
    """Where the central path stops: at a gap of rtol * rho or after max_newton Newton steps; with a target, also
    once the value is shown above it at a gap of coarse_rtol * rho (see `solve`)."""
    rtol: float = RTOL
    coarse_rtol: float = COARSE_RTOL
    max_newton: int = MAX_NEWTON


def solve(model: SlopeModel, point: Point, deadline: float = math.inf, stop: Stop = Stop(),
          target: float = -math.inf) -> Optional[Solution]:
    """Follow the central path from a strictly feasible point until `stop` or the deadline, or (with a `target` rho)
    until an iterate is under it or the value is above it to stop.coarse_rtol (the core's Newton steps:
    cpp/lipsdp_barrier.cpp); None when the point is not strictly feasible (a warm start that fell outside)."""
    out = _core.sdp_barrier(model.n0, model.index, model.rows, model.gram, point.rho, point.t, point.mu,
                            rtol=stop.rtol, shrink=SHRINK, centered=CENTERED, armijo=ARMIJO, rounding_gap=ROUNDING_GAP,
                            warm_gap=WARM_GAP, max_newton=stop.max_newton, max_centering=MAX_CENTERING,
                            target=target, coarse_rtol=stop.coarse_rtol,
                            time_limit=deadline - time.perf_counter())
    if not out["started"]:
        return None
    return Solution(Point(*out["point"]), Point(*out["warm"]), out["dual"], out["newton"])
