"""Bounds on ||J(g)||_{p->q} over the activation patterns a partial pattern still allows.

With some neurons decided (g_j in {0} or {1}) and the others open (g_j in [0, 1]), every completion's
Jacobian W_L D_{L-1} W_{L-1} ... D_1 W_1 lies in the interval matrix [Ml, Mu] obtained by multiplying
the layers in interval arithmetic. For a nonnegative A >= |M| entrywise, ||M||_{p->q} <= ||A||_{p->q},
and ||A||_{p->q} is tractable for every pair when A >= 0 (cpp/jacobian_bounds.cpp). Used by
SCIP's node propagator and by the region branch-and-bound to prune patterns that cannot beat an incumbent.
"""
from __future__ import annotations

from typing import Sequence, Tuple

import numpy as np

from .. import _core
from ..network import Network
from ..norms import opnorm_upper
from ..tolerances import INTERVAL_SUM_RTOL, JACOBIAN_BOUND_RTOL, NORM_RTOL, UNIT_ROUNDOFF


def interval_matmul(W: np.ndarray, lo: np.ndarray, hi: np.ndarray, outward: bool = False):
    """Interval bounds of W M over lo <= M <= hi (vectors or matrices), entry by entry: exact in real
    arithmetic; with `outward`, widened for the float64 sums (INTERVAL_SUM_RTOL of the sum of |terms|) and
    sign-exact (a sum whose terms are all <= 0 keeps an upper bound <= 0, and symmetrically)."""
    Wp, Wn = np.maximum(W, 0), np.minimum(W, 0)
    if not outward:
        return Wp @ lo + Wn @ hi, Wp @ hi + Wn @ lo
    if lo.ndim != 1:
        raise ValueError("outward interval products are implemented for vectors")
    out = []
    for T in (Wp * hi[None, :] + Wn * lo[None, :], Wp * lo[None, :] + Wn * hi[None, :]):  # upper, lower terms
        total = T.sum(axis=1)
        err = INTERVAL_SUM_RTOL * np.abs(T).sum(axis=1)
        pos = np.maximum(T, 0.0).sum(axis=1) * (1.0 + INTERVAL_SUM_RTOL)
        neg = np.minimum(T, 0.0).sum(axis=1) * (1.0 + INTERVAL_SUM_RTOL)
        out.append((total, err, pos, neg))
    (hs, he, hp, _), (ls, le, _, ln) = out
    return np.maximum(ls - le, ln), np.minimum(hs + he, hp)


def pattern_norm_bound(weights: Sequence[np.ndarray], states: Sequence[np.ndarray], p: float, q: float) -> float:
    """Upper bound on ||J(g)||_{p->q} over the patterns with g_kj = states[k][j] where that is 0 or 1 and
    free where it is -1 (int8 per hidden layer); `weights` are W_1 (columns = input directions) .. W_L.
    With every neuron decided, the exact norm of J(g) where it is computable. Computed by the C++ core,
    which adds the rounding allowance of the products (see `rounding_gamma`)."""
    return _core.pattern_norm_bound(list(weights), list(states), p, q) * (1.0 + JACOBIAN_BOUND_RTOL)


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


def pattern_norm(network: Network, pattern: Sequence[np.ndarray], p: float, q: float) -> Tuple[float, float, np.ndarray]:
    """(value, upper, v) for the full pattern g: value = ||J(g) v||_q / ||v||_p as computed (the exact
    operator norm where the core computes it exactly), upper >= ||J(g)||_{p->q} despite float64 rounding
    (NORM_RTOL on the norm, or a Hoelder-type bound where it is not exact, plus `rounding_allowance`)."""
    J = network.jacobian(pattern)
    norms, V, exact = _core.operator_norms(np.ascontiguousarray(J[None]), p, q)
    value = float(norms[0])
    upper = value * (1.0 + NORM_RTOL) if exact[0] else opnorm_upper(J, p, q)
    upper += rounding_allowance(network.weights, [np.asarray(g).astype(np.int8) for g in pattern], p, q)
    return value, upper, V[0]
