"""Reference for `_core.relaxed_lp_empty` and `_core.relaxed_lp_bounds`: the triangle relaxation of a node's splits
built in numpy, row by row as python/lipmiq/certify/relaxed.py states it, and its max s or a neuron's min and max
solved by HiGHS (no certificate: values to compare)."""
from __future__ import annotations

import math
from typing import List, Optional, Sequence, Tuple

import highspy
import numpy as np


def relaxation(weights, biases, lo, hi, status: Sequence[np.ndarray], states: Sequence[np.ndarray],
               forward: Sequence[Tuple[np.ndarray, np.ndarray]], last: int, margin: bool = True):
    """(M, row_lo, row_hi, col_lo, col_hi, s, layout): columns x, then z_k and a_k per layer k < last, then z of
    layer last's split neurons (and its open ones without the margin), then s (without the margin: a column fixed
    at 0). layout[k] = (input column, z columns, a columns or None, the neurons of the z columns)."""
    n = weights[0].shape[1]
    col_lo: List[np.ndarray] = [np.asarray(lo, float)]
    col_hi: List[np.ndarray] = [np.asarray(hi, float)]
    layout, cols, inputs = [], n, 0
    for k in range(last + 1):
        width = weights[k].shape[0]
        l, u = forward[k][0][:width], forward[k][1][:width]
        neurons = (np.arange(width) if k < last else np.flatnonzero(states[k] >= 0) if margin
                   else np.flatnonzero((states[k] >= 0) | (status[k] < 0)))
        z = cols + np.arange(neurons.size)
        cols += neurons.size
        col_lo.append(l[neurons])
        col_hi.append(u[neurons])
        a = None
        if k < last:
            a = cols + np.arange(width)
            cols += width
            g = status[k]
            col_lo.append(np.where(g == 1, np.maximum(l, 0.0), 0.0))
            col_hi.append(np.where(g == 0, 0.0, np.maximum(u, 0.0)))
        layout.append((inputs, z, a, neurons))
        inputs = a[0] if a is not None else inputs
    s = cols
    cols += 1
    col_lo.append(np.array([-1.0 if margin else 0.0]))
    col_hi.append(np.array([1.0 if margin else 0.0]))
    rows = []  # (coefficients over all columns, lo, hi)

    def row(lo_: float, hi_: float) -> np.ndarray:
        r = np.zeros(cols)
        rows.append((r, lo_, hi_))
        return r

    for k, (inputs, z, a, neurons) in enumerate(layout):
        W, b = weights[k], biases[k]
        for t, j in enumerate(neurons):
            r = row(b[j], b[j])
            r[inputs:inputs + W.shape[1]] = -W[j]
            r[z[t]] = 1.0
        if a is not None:
            g, (l, u) = status[k], forward[k]
            for j in range(W.shape[0]):
                if g[j] != 0:
                    r = row(0.0, 0.0 if g[j] == 1 else math.inf)
                    r[a[j]], r[z[j]] = 1.0, -1.0
                if g[j] < 0:
                    slope = u[j] / (u[j] - l[j])
                    r = row(-math.inf, -slope * l[j])
                    r[a[j]], r[z[j]] = 1.0, -slope
        for t, j in enumerate(neurons):
            if states[k][j] > 0:
                r = row(0.0, math.inf)
                r[z[t]], r[s] = 1.0, -1.0
            elif states[k][j] == 0:
                row(-math.inf, 0.0)[z[t]] = 1.0
    M = np.array([r for r, _, _ in rows])
    return (M, np.array([r for _, r, _ in rows]), np.array([r for _, _, r in rows]), np.concatenate(col_lo),
            np.concatenate(col_hi), s, layout)


def _solve(M, row_lo, row_hi, col_lo, col_hi, c) -> Optional[np.ndarray]:
    """HiGHS's optimal point of min c.x over the polyhedron; None when it reports no feasible point."""
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    inf = highspy.kHighsInf
    h.addVars(M.shape[1], col_lo, col_hi)
    h.changeColsCost(M.shape[1], np.arange(M.shape[1], dtype=np.int32), c)
    for r, a, b in zip(M, row_lo, row_hi):
        idx = np.flatnonzero(r).astype(np.int32)
        h.addRow(max(a, -inf), min(b, inf), idx.size, idx, r[idx])
    h.run()
    status = h.getModelStatus()
    if status == highspy.HighsModelStatus.kInfeasible:
        return None
    assert status == highspy.HighsModelStatus.kOptimal, status
    return np.array(h.getSolution().col_value)


def max_s(weights, biases, lo, hi, status, states, forward, last) -> Optional[float]:
    """max s over the relaxation by HiGHS; None when it reports no feasible point."""
    M, row_lo, row_hi, col_lo, col_hi, s, _ = relaxation(weights, biases, lo, hi, status, states, forward, last)
    c = np.zeros(M.shape[1])
    c[s] = -1.0
    x = _solve(M, row_lo, row_hi, col_lo, col_hi, c)
    return None if x is None else float(x[s])


def neuron_ranges(weights, biases, lo, hi, status, states, forward) -> Optional[dict]:
    """{(k, j): (min z, max z)} over the relaxation with closed splits through the last hidden layer, for every
    open neuron (status -1), by HiGHS; None when it reports no feasible point."""
    last = len(forward) - 1
    M, row_lo, row_hi, col_lo, col_hi, _, layout = relaxation(weights, biases, lo, hi, status, states, forward, last,
                                                               margin=False)
    out = {}
    for k, (_, z, _, neurons) in enumerate(layout):
        for t, j in enumerate(neurons):
            if status[k][j] >= 0:
                continue
            ends = []
            for sign in (1.0, -1.0):
                c = np.zeros(M.shape[1])
                c[z[t]] = sign
                x = _solve(M, row_lo, row_hi, col_lo, col_hi, c)
                if x is None:
                    return None
                ends.append(float(x[z[t]]))
            out[(k, int(j))] = tuple(ends)
    return out
