"""Activation regions as polyhedra: does a pattern's region meet the domain's interior, and where?

Under a fixed pattern every pre-activation is affine in x, z = A x + c. The LP
    max s  s.t.  (2g - 1)(A_j x + c_j) >= s ||A_j||_2  for every neuron whose A_j != 0,
                 x at distance >= s inside the domain (box faces; an outer polyhedron for 2-balls),  s <= 1
has s > 0 exactly when the region meets the interior of the (polyhedral) domain. Solved with HiGHS.
"""
from __future__ import annotations

import math
from typing import List, Optional, Tuple

import highspy
import numpy as np

from .domain import Ball, Box, Global
from .query import Problem

INTERIOR_TOL = 1e-9


def affine_forms(weights: List[np.ndarray], biases: List[np.ndarray], pattern: List[np.ndarray]):
    """(A_k, c_k) with z_k = A_k x + c_k on the region of `pattern`, for every hidden layer."""
    forms = []
    A, c = weights[0], biases[0]
    for k, g in enumerate(pattern):
        forms.append((A, c))
        gm = np.asarray(g, dtype=np.float64)
        A = weights[k + 1] @ (gm[:, None] * A)
        c = weights[k + 1] @ (gm * c) + biases[k + 1]
    return forms


def interior_point(problem: Problem, pattern: List[np.ndarray]) -> Tuple[Optional[np.ndarray], float]:
    """A point of the region of `pattern` (problem network) deep inside the domain, and its margin s.

    Returns (None, s) with s <= 0 when the region has empty interior in the (outer-approximated) domain.
    """
    net, dom = problem.network, problem.domain
    n = net.input_dim
    rows, rhs = [], []  # rows . (x, s) <= rhs
    for (A, c), g in zip(affine_forms(net.weights, net.biases, pattern), pattern):
        sign = 2.0 * np.asarray(g, dtype=np.float64) - 1.0
        norms = np.linalg.norm(A, axis=1)
        flat = norms == 0
        if np.any(sign[flat] * c[flat] < 0):
            return None, -math.inf  # a constant pre-activation with the wrong sign
        live = ~flat
        rows.append(np.hstack([-sign[live, None] * A[live], norms[live, None]]))
        rhs.append(sign[live] * c[live])
    col_lo = np.full(n + 1, -highspy.kHighsInf)
    col_hi = np.full(n + 1, highspy.kHighsInf)
    col_hi[n] = 1.0
    extra_cols = 0
    hull = dom.box_hull()
    if hull is not None:
        eye = np.eye(n)
        rows.append(np.hstack([-eye, np.ones((n, 1))]))
        rhs.append(-np.asarray(hull[0], dtype=np.float64))
        rows.append(np.hstack([eye, np.ones((n, 1))]))
        rhs.append(np.asarray(hull[1], dtype=np.float64))
    if isinstance(dom, Ball) and not math.isinf(dom.norm):
        # ||x - c||_1 + s <= r (norm 1), or the outer ||x - c||_1 <= sqrt(n) r (norm 2), with d >= |x - c|
        extra_cols = n
        center = np.asarray(dom.center)
        scale = 1.0 if dom.norm == 1.0 else math.sqrt(n)
        rows = [np.hstack([r, np.zeros((r.shape[0], n))]) for r in rows]
        eye = np.eye(n)
        rows.append(np.hstack([eye, np.zeros((n, 1)), -eye]))
        rhs.append(center)
        rows.append(np.hstack([-eye, np.zeros((n, 1)), -eye]))
        rhs.append(-center)
        rows.append(np.hstack([np.zeros((1, n)), [[1.0 if dom.norm == 1.0 else 0.0]], np.ones((1, n))]))
        rhs.append(np.array([scale * dom.radius]))
        col_lo = np.concatenate([col_lo, np.zeros(n)])
        col_hi = np.concatenate([col_hi, np.full(n, highspy.kHighsInf)])
    M = np.vstack(rows) if rows else np.zeros((0, n + 1 + extra_cols))
    b = np.concatenate(rhs) if rhs else np.zeros(0)
    s, x = _solve_max_last(M, b, col_lo, col_hi, n)
    if x is None or s <= INTERIOR_TOL:
        return None, s
    return x[:n], s


def empty_interior(problem: Problem, pattern: List[np.ndarray]) -> bool:
    """True only when the LP shows the region has no interior in the domain (max margin <= 0).

    A region whose margin is positive but tiny is NOT empty: it may be a thin real region, so callers
    must keep it (no cut), even though no witness can be certified there.
    """
    _, s = interior_point(problem, pattern)
    return s <= 0.0


def _power_of_two(values: np.ndarray) -> np.ndarray:
    """Powers of two near 1 / values (1 where a value is 0): exact rescaling factors."""
    out = np.ones_like(values)
    nz = values > 0
    out[nz] = 2.0 ** -np.round(np.log2(values[nz]))
    return out


def _solve_max_last(M: np.ndarray, b: np.ndarray, lo: np.ndarray, hi: np.ndarray, n: int):
    """max x[n] s.t. M x <= b, lo <= x <= hi; returns (value, x) or (-inf, None) if infeasible.

    Columns and rows are scaled by powers of two first (an exact change of variables): HiGHS treats
    entries below 1e-9 as zero, which made real regions of badly scaled networks look empty.
    """
    col = _power_of_two(np.max(np.abs(M), axis=0)) if M.shape[0] else np.ones(M.shape[1])
    col[n] = 1.0  # x = col * x': the margin s keeps its meaning
    M = M * col
    row = _power_of_two(np.max(np.abs(M), axis=1)) if M.shape[1] else np.ones(M.shape[0])
    M, b = M * row[:, None], b * row
    value, y = _solve_scaled(M, b, lo / col, hi / col, n)
    return value, (None if y is None else y * col)


def _solve_scaled(M: np.ndarray, b: np.ndarray, lo: np.ndarray, hi: np.ndarray, n: int):
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    ncol = M.shape[1]
    h.addVars(ncol, lo, hi)
    cost = np.zeros(ncol)
    cost[n] = 1.0
    h.changeColsCost(ncol, np.arange(ncol, dtype=np.int32), cost)
    h.changeObjectiveSense(highspy.ObjSense.kMaximize)
    if M.shape[0]:
        nz = M != 0
        starts = np.concatenate([[0], np.cumsum(nz.sum(axis=1))[:-1]]).astype(np.int32)
        idx = np.nonzero(nz)[1].astype(np.int32)
        h.addRows(M.shape[0], np.full(M.shape[0], -highspy.kHighsInf), b, int(nz.sum()), starts, idx, M[nz])
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return -math.inf, None
    x = np.asarray(h.getSolution().col_value)
    return float(x[n]), x
