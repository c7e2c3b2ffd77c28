"""HiGHS for lipmiq: the one place that constructs models (silent from birth, whatever the HiGHS version),
the LP builders shared by every stage, and one rigorous weak-duality bound.

HiGHS 1.16 prints a two-line banner on the process's stdout from C++ when the first model of a
process is constructed, before any option can be set (SOLVER-NOTES.md). A library must not write to
its caller's stdout (it broke `--json` pipelines), so every construction runs with file descriptors
1 and 2 pointed at /dev/null, and the model's own output is switched off before it is returned.
"""
from __future__ import annotations

import contextlib
import ctypes
import math
import os
import sys
import threading
import time
from typing import Iterator, Optional

import highspy
import numpy as np

from ..tolerances import UNIT_ROUNDOFF

_FDS_LOCK = threading.Lock()  # one redirection at a time: threads must restore the descriptors in order


def _flush_c_streams() -> None:
    """Flush C stdio buffers, so nothing printed while redirected is written after the restore."""
    try:
        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError, TypeError):  # no C library handle on this platform
        pass


@contextlib.contextmanager
def _silenced_fds() -> Iterator[None]:
    """Point file descriptors 1 and 2 at /dev/null for the duration (C-level output included)."""
    with _FDS_LOCK:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        try:
            saved = (os.dup(1), os.dup(2))
        except OSError:  # a descriptor is closed: there is nothing to protect
            yield
            return
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            yield
        finally:
            _flush_c_streams()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in (*saved, devnull):
                os.close(fd)


def new_highs() -> highspy.Highs:
    """An empty HiGHS model with all output off (the only `highspy.Highs()` call in lipmiq)."""
    with _silenced_fds():
        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
    return h


INF = highspy.kHighsInf


def add_rows(h: highspy.Highs, M: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> None:
    """Rows lo <= M x <= hi of a dense M over the model's columns (+-inf for a free side)."""
    r, c = np.nonzero(M)
    add_sparse_rows(h, M.shape[0], r, c, M[r, c], lo, hi)


def add_sparse_rows(h: highspy.Highs, count: int, rows: np.ndarray, cols: np.ndarray, vals: np.ndarray,
                    lo: np.ndarray, hi: np.ndarray) -> None:
    """`count` rows lo <= A x <= hi, A given by triplets (row, col, value) with rows in 0..count-1, sent as CSR."""
    if count == 0:
        return
    order = np.argsort(rows, kind="stable")
    rows, cols, vals = rows[order], cols[order], vals[order]
    starts = np.searchsorted(rows, np.arange(count)).astype(np.int32)
    h.addRows(count, np.where(np.isinf(lo), -INF, lo), np.where(np.isinf(hi), INF, hi), int(vals.size), starts,
              cols.astype(np.int32), np.asarray(vals, dtype=np.float64))


# HiGHS's presolve costs more than it saves on the region LPs of small inputs (the branch-and-bound's prefix
# LPs, side by side at load 4: 7.3 -> 6.1 ms with 9 columns, 20.6 -> 16.3 ms with 65) and saves at 785 (394 ms
# with it, 516 without): it runs only from this many columns on.
PRESOLVE_MIN_COLUMNS = 256


_SCRATCH = threading.local()


def scratch_highs() -> highspy.Highs:
    """This thread's model for one-shot LPs, for `max_lp(..., into=)`: a new model costs 0.1-0.2 ms (the silenced
    construction), as much as solving a branch-and-bound's prefix LP, and clearing one 1 us. Its caller must be
    done with it before its next one-shot LP in the thread."""
    h = getattr(_SCRATCH, "model", None)
    if h is None:
        h = _SCRATCH.model = new_highs()
    return h


def max_lp(M: np.ndarray, b: np.ndarray, lo: np.ndarray, hi: np.ndarray, k: int,
           into: Optional[highspy.Highs] = None, row_lo: Optional[np.ndarray] = None) -> highspy.Highs:
    """An unsolved model of max x[k] s.t. M x <= b (and row_lo <= M x where given), lo <= x <= hi: a new one, or
    `into` cleared (its options other than presolve and the time limit are lipmiq's defaults: `new_highs`)."""
    h = new_highs() if into is None else into
    h.clearModel()
    h.setOptionValue("presolve", "off" if M.shape[1] < PRESOLVE_MIN_COLUMNS else "choose")
    ncol = M.shape[1]
    h.addVars(ncol, lo, hi)
    cost = np.zeros(ncol)
    cost[k] = 1.0
    h.changeColsCost(ncol, np.arange(ncol, dtype=np.int32), cost)
    h.changeObjectiveSense(highspy.ObjSense.kMaximize)
    add_rows(h, M, np.full(M.shape[0], -np.inf) if row_lo is None else row_lo, b)
    return h


def run(h: highspy.Highs, deadline: float = math.inf) -> None:
    """Solve, stopping at `deadline` (time.perf_counter() seconds): a model stopped early is simply not
    optimal, which every caller treats as "undecided". HiGHS compares its time limit with the model's run time
    over all its solves (clearing the model keeps that clock), so the limit is set on that clock: a reused model
    (`scratch_highs`, RegionLP, OBBT's) otherwise stops at once when it has run longer than the time left
    (review finding: region LPs returned time_limit and lost witnesses once a model's clock passed it)."""
    budget = max(deadline - time.perf_counter(), 1e-3) if math.isfinite(deadline) else INF
    h.setOptionValue("time_limit", h.getRunTime() + budget if budget < INF else INF)
    h.run()


def optimal(h: highspy.Highs) -> bool:
    return h.getModelStatus() == highspy.HighsModelStatus.kOptimal


def infeasible(h: highspy.Highs) -> bool:
    return h.getModelStatus() == highspy.HighsModelStatus.kInfeasible


def row_duals(h: highspy.Highs) -> np.ndarray:
    return np.asarray(h.getSolution().row_dual, dtype=np.float64)


def dual_bound(c: np.ndarray, rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, row_lo: np.ndarray,
               row_hi: np.ndarray, col_lo: np.ndarray, col_hi: np.ndarray, y: np.ndarray) -> float:
    """A rigorous lower bound on min c.x over {row_lo <= A x <= row_hi, col_lo <= x <= col_hi} (A given by
    its (rows, cols, vals) triplets) from ANY multipliers y, by weak duality:
        c.x = y.(A x) + r.x >= sum_i (y_i row_lo_i if y_i > 0 else y_i row_hi_i) + sum_j min(r_j col_lo_j, r_j col_hi_j)
    with r = c - A^T y, so the solver's duals need not be exact. A multiplier on an infinite side is
    dropped; r_j != 0 on an infinite column bound gives -inf. The float64 evaluation is covered by
    4 u (m + n + 4) times the sum of the magnitudes of the terms (Higham's gamma for the sums in r and
    in the total, doubled)."""
    y = np.where((y > 0) & np.isinf(row_lo), 0.0, y)
    y = np.where((y < 0) & np.isinf(row_hi), 0.0, y)
    side = np.where(y > 0, row_lo, row_hi)
    side = np.where(y != 0, side, 0.0)
    products = vals * y[rows]
    r = c - np.bincount(cols, weights=products, minlength=c.size)
    edge = np.where(r > 0, col_lo, col_hi)
    if np.any((r != 0) & ~np.isfinite(edge)):
        return -math.inf
    col_terms = np.where(r != 0, r * np.where(np.isfinite(edge), edge, 0.0), 0.0)
    value = float(np.sum(y * side) + np.sum(col_terms))
    reach = np.abs(c) + np.bincount(cols, weights=np.abs(products), minlength=c.size)
    size = np.maximum(np.abs(np.where(np.isfinite(col_lo), col_lo, 0.0)), np.abs(np.where(np.isfinite(col_hi), col_hi, 0.0)))
    scale = float(np.abs(y) @ np.abs(side) + reach @ size)
    return value - 4.0 * UNIT_ROUNDOFF * (row_lo.size + c.size + 4) * scale
