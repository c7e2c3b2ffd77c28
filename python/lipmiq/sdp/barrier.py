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
    """A strictly feasible (rho, t) and its mu (a start's mu is a guess: the core first moves it to where the point
    is best centred)."""
    rho: float
    t: np.ndarray
    mu: float


@dataclass
class Solution:
    point: Point                # the last iterate
    warm: Point                 # a well-centred iterate with a moderate gap, for the children's start
    dual: np.ndarray            # mu Z^-1: the dual (moment) matrix estimate, for branching
    newton: int


def spectral_norms(weights: List[np.ndarray]) -> np.ndarray:
    """The layers' spectral norms, floored at 1e-150 (a zero layer would put 0 / 0 in `start`'s recursion)."""
    return np.array([max(float(np.linalg.norm(W, 2)), 1e-150) for W in weights])


def start(weights: List[np.ndarray], model: SlopeModel) -> Point:
    """A strictly feasible point for the network `weights` restricted to the model's free neurons (the core's
    `sdp_start`: layer multipliers s_k I that make the block-tridiagonal M negative definite pair by pair; fixing
    neurons keeps a point strictly feasible, a compression P^T Z P of Z, so the same t works for every slope set)."""
    layer = np.array([k for k, _ in model.neuron], dtype=np.int32)
    point = _core.sdp_start(model.n0, model.index, model.rows, model.gram, spectral_norms(weights), layer)
    if point is None:
        raise ArithmeticError("no strictly feasible LipSDP start found")
    return Point(*point)


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
    cpp/lipsdp_barrier.cpp, which first moves mu to where the point is best centred: a parent's warm point took
    dozens of damped steps to centre for the parent's mu); None when the point is not strictly feasible (a warm
    start that fell outside)."""
    out = _core.sdp_barrier(model.n0, model.index, model.rows, model.gram, point.rho, point.t, point.mu,
                            **path_options(stop, target, deadline))
    return solution_of(out) if out["started"] else None


def path_options(stop: Stop, target: float, deadline: float) -> dict:
    """The core's keyword arguments for a path (`_core.sdp_barrier`, `_core.sdp_node`)."""
    return dict(rtol=stop.rtol, shrink=SHRINK, centered=CENTERED, armijo=ARMIJO, rounding_gap=ROUNDING_GAP,
                warm_gap=WARM_GAP, max_newton=stop.max_newton, max_centering=MAX_CENTERING, target=target,
                coarse_rtol=stop.coarse_rtol, time_limit=deadline - time.perf_counter())


def solution_of(out: dict) -> Solution:
    """A core path's result as a Solution."""
    return Solution(Point(*out["point"]), Point(*out["warm"]), out["dual"], out["newton"])
