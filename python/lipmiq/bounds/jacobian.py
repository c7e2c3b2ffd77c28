"""Bounds on ||J(g)||_{p->q} over the activation patterns a partial pattern still allows.

With some neurons decided (g_j in {0} or {1}) and the others open (g_j in [0, 1]), every completion's
Jacobian W_L D_{L-1} W_{L-1} ... D_1 W_1 lies in the interval matrix [Ml, Mu] obtained by multiplying
the layers in interval arithmetic. For a nonnegative A >= |M| entrywise, ||M||_{p->q} <= ||A||_{p->q},
and ||A||_{p->q} is tractable for every pair when A >= 0 (cpp/jacobian_bounds.cpp). Used by
SCIP's node propagator and by the region branch-and-bound to prune patterns that cannot beat an incumbent.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .. import _core

ROUNDING_RTOL = 1e-9  # relative inflation covering float64 rounding in the interval products and norms
UNIT_ROUNDOFF = 2.0 ** -53  # float64


def interval_matmul(W: np.ndarray, lo: np.ndarray, hi: np.ndarray):
    """Exact interval bounds of W M over lo <= M <= hi (vectors or matrices), entry by entry."""
    Wp, Wn = np.maximum(W, 0), np.minimum(W, 0)
    return Wp @ lo + Wn @ hi, Wp @ hi + Wn @ lo


def pattern_norm_bound(weights: Sequence[np.ndarray], states: Sequence[np.ndarray], p: float, q: float) -> float:
    """Upper bound on ||J(g)||_{p->q} over the patterns with g_kj = states[k][j] where that is 0 or 1 and
    free where it is -1 (int8 per hidden layer); `weights` are W_1 (columns = input directions) .. W_L.
    With every neuron decided, the exact norm of J(g) where it is computable. Computed by the C++ core,
    which adds the rounding allowance of the products (see `rounding_gamma`)."""
    return _core.pattern_norm_bound(list(weights), list(states), p, q) * (1.0 + ROUNDING_RTOL)


def rounding_gamma(weights: Sequence[np.ndarray]) -> float:
    """gamma with |fl(J v) - J v| <= gamma * |W_L| D ... D |W_1| |v| entrywise when J(g) is computed as a
    product of the layers and applied to v in float64 (Higham's gamma_n = n u per summation of n terms,
    summed over the products and doubled): when the entries of J cancel, |J| << |W_L| ... |W_1| and a
    relative allowance on ||J|| is not enough (review: a 5e-5 relative error on a cancelling network)."""
    terms = sum(W.shape[1] for W in weights) + weights[-1].shape[0]
    return 2.0 * UNIT_ROUNDOFF * terms


def rounding_allowance(weights: Sequence[np.ndarray], states: Sequence[np.ndarray], p: float, q: float) -> float:
    """Absolute allowance for float64 rounding in ||J(g)||_{p->q} over the patterns `states` allows:
    rounding_gamma * || |W_L| D ... D |W_1| ||_{p->q}."""
    return rounding_gamma(weights) * pattern_norm_bound([np.abs(W) for W in weights], states, p, q)
