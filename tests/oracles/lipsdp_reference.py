"""Plain-numpy twins of the core's LipSDP model and certificate (cpp/lipsdp_model.cpp), for the tests only: the
same algorithm with numpy's products, eigensolver and Cholesky factor, so that the core's results can be compared
with an independent float64 computation (never shipped)."""
from __future__ import annotations

from typing import List, Optional

import numpy as np
from lipmiq.sdp.model import FREE, SlopeModel
from lipmiq.tolerances import UNIT_ROUNDOFF


def build(weights: List[np.ndarray], slopes: List[np.ndarray]) -> SlopeModel:
    """LipSDP's model of the network `weights` with these hidden slope codes (see lipmiq.sdp.model)."""
    n0 = weights[0].shape[1]
    free = [np.flatnonzero(s == FREE) for s in slopes]
    N = n0 + sum(f.size for f in free)
    R = np.zeros((n0, N))
    R[:, :n0] = np.eye(n0)
    R_abs = R.copy()
    rows, rows_abs, index, neuron = [], [], [], []
    offset = n0
    for k, (W, s, f) in enumerate(zip(weights[:-1], slopes, free)):
        U, U_abs = W @ R, np.abs(W) @ R_abs
        rows.append(U[f])
        rows_abs.append(U_abs[f])
        index.append(offset + np.arange(f.size))
        neuron += [(k, int(i)) for i in f]
        R, R_abs = np.zeros((W.shape[0], N)), np.zeros((W.shape[0], N))
        R[f, offset + np.arange(f.size)] = 1.0
        R_abs[f, offset + np.arange(f.size)] = 1.0
        on = s == 1
        R[on], R_abs[on] = U[on], U_abs[on]
        offset += f.size
    U, U_abs = weights[-1] @ R, np.abs(weights[-1]) @ R_abs
    rows, rows_abs = (np.vstack(r) if r else np.zeros((0, N)) for r in (rows, rows_abs))
    return SlopeModel(n0=n0, index=np.concatenate(index + [np.zeros(0)]).astype(np.intp), neuron=neuron,
                      rows=rows, gram=U.T @ U, rows_abs=rows_abs,
                      gram_abs=U_abs.T @ U_abs, depth=sum(W.shape[1] for W in weights) + weights[-1].shape[0] + 6)


def matrix(model: SlopeModel, rho: float, t: np.ndarray) -> np.ndarray:
    """M(rho, t) in float64."""
    M = model.gram.copy()
    M[: model.n0, : model.n0] -= rho * np.eye(model.n0)
    cross = np.zeros_like(M)
    cross[model.index] = t[:, None] * model.rows
    M += cross + cross.T
    M[model.index, model.index] -= 2.0 * t
    return M


def magnitude(model: SlopeModel, rho: float, t: np.ndarray) -> np.ndarray:
    """An entrywise majorant of |M(rho, t)| built from |W|."""
    M = model.gram_abs.copy()
    M[: model.n0, : model.n0] += abs(rho) * np.eye(model.n0)
    cross = np.zeros_like(M)
    cross[model.index] = np.abs(t)[:, None] * model.rows_abs
    M += cross + cross.T
    M[model.index, model.index] += 2.0 * np.abs(t)
    return M


def _frobenius(M: np.ndarray) -> float:
    """||M||_F scaled by its largest entry (as the core: no underflow to 0, no overflow), rounded up by 1e-12."""
    top = float(np.max(np.abs(M), initial=0.0))
    if top == 0.0 or not np.isfinite(top):
        return top
    return top * float(np.sqrt(np.sum((M / top) ** 2))) * (1.0 + 1e-12)


def certified_rho(model: SlopeModel, t: np.ndarray, steps: int = 80) -> Optional[float]:
    """The smallest rho (up to a small step) with M(rho, t) <= 0 proved in float64; None if none is."""
    t = np.maximum(np.asarray(t, dtype=np.float64), 0.0)
    n0 = model.n0
    M0 = matrix(model, 0.0, t)
    if not np.all(np.isfinite(M0)):
        return None
    C, D = M0[:n0, n0:], M0[n0:, n0:]
    if D.size and np.max(np.linalg.eigvalsh(D)) >= 0.0:
        return None
    S = M0[:n0, :n0] - (C @ np.linalg.solve(D, C.T) if D.size else 0.0)
    rho = max(float(np.max(np.linalg.eigvalsh((S + S.T) / 2.0))), 0.0)
    step = max(rho * 1e-9, 1e-14 * (float(np.linalg.norm(M0)) + 1e-300))
    gamma = 2.0 * model.depth * UNIT_ROUNDOFF / (1.0 - model.depth * UNIT_ROUNDOFF)
    for _ in range(steps):
        trial = rho + step
        M = matrix(model, trial, t)
        if not np.all(np.isfinite(M)):
            return None
        allowance = gamma * _frobenius(magnitude(model, trial, t)) + model.depth * M.shape[0] ** 2 * 2.0 ** -1073
        if _negative_definite_beyond(M, allowance):
            return trial
        step *= 4.0
    return None


def _negative_definite_beyond(M: np.ndarray, margin: float) -> bool:
    """-M positive definite beyond `margin`: Cholesky of -M - c I succeeds, c above its rounding (Higham, Thm 10.3)."""
    n = M.shape[0]
    diagonal = -np.diag(M)
    if not np.all(diagonal > 0.0):
        return False
    gamma = (2 * n + 4) * UNIT_ROUNDOFF / (1.0 - (2 * n + 4) * UNIT_ROUNDOFF)
    top = float(diagonal.max())
    c = 1.01 * (margin + gamma / (1.0 - gamma) * float(diagonal.sum()) * (1.0 + 2.0 * n * UNIT_ROUNDOFF)
                + UNIT_ROUNDOFF * top + 2.0 * n * (n + 1.0) * (2.0 + top) * 2.0 ** -1074)
    try:
        np.linalg.cholesky(-M - c * np.eye(n))
    except np.linalg.LinAlgError:
        return False
    return True
