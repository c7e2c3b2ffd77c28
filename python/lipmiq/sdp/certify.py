"""The float64 certificate of a LipSDP bound: whatever the solver's accuracy, the reported rho is the
smallest (up to a small step) for which M(rho, t) <= 0 is proved for the multipliers it proposed."""
from __future__ import annotations

import math
from typing import Optional

import numpy as np

from ..tolerances import ROUNDING_RTOL, UNIT_ROUNDOFF
from .model import SlopeModel

STEPS = 80  # bumps of rho (each 4x the last, from a relative 1e-9) before the multipliers are given up


def allowance(model: SlopeModel, M: np.ndarray, rho: float, t: np.ndarray) -> float:
    """A bound on ||M_exact - M_computed||_2 plus the eigensolver's error on M.

    Every entry of M is a sum of products along chains of at most `depth` float operations from the
    weights (the inputs of every layer, the outputs of U^T U, and the assembly of M), so its error is at most
    gamma_depth times the same sum in magnitudes (`model.magnitude`), doubled for second-order terms;
    eigvalsh is backward stable with an error of order N u ||M|| (4 N u ||M||_F: an allowance, not a
    proved constant)."""
    gamma = 2.0 * model.depth * UNIT_ROUNDOFF / (1.0 - model.depth * UNIT_ROUNDOFF)
    construction = gamma * float(np.linalg.norm(model.magnitude(rho, t)))
    return construction + 4.0 * M.shape[0] * UNIT_ROUNDOFF * float(np.linalg.norm(M))


def certified_rho(model: SlopeModel, t: np.ndarray) -> Optional[float]:
    """The smallest rho (up to a small margin) with M(rho, t) <= 0 proved in float64; None if none is."""
    t = np.maximum(np.asarray(t, dtype=np.float64), 0.0)
    n0 = model.n0
    M0 = model.matrix(0.0, t)
    if not np.all(np.isfinite(M0)):  # eigvalsh returns finite garbage on NaN
        return None
    C, D = M0[:n0, n0:], M0[n0:, n0:]
    if D.size and np.max(np.linalg.eigvalsh(D)) >= 0.0:
        return None
    S = M0[:n0, :n0] - (C @ np.linalg.solve(D, C.T) if D.size else 0.0)
    rho = max(float(np.max(np.linalg.eigvalsh((S + S.T) / 2.0))), 0.0)
    step = max(rho * 1e-9, 1e-14 * (float(np.linalg.norm(M0)) + 1e-300))
    for _ in range(STEPS):
        trial = rho + step
        M = model.matrix(trial, t)
        if not np.all(np.isfinite(M)):
            return None
        if float(np.max(np.linalg.eigvalsh(M))) <= -allowance(model, M, trial, t):
            return trial
        step *= 4.0
    return None


def certified_bound(model: SlopeModel, t: np.ndarray) -> float:
    """sqrt(rho), rounded up, for the multipliers t (inf when they certify nothing)."""
    rho = certified_rho(model, t)
    return math.inf if rho is None else math.sqrt(rho) * (1.0 + ROUNDING_RTOL)
