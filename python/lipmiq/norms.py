"""Norm names, dual norms and operator-norm upper bounds used by the cheap methods."""
from __future__ import annotations

import math
from typing import Optional

import numpy as np

from .errors import InputError
from .tolerances import NORM_RTOL

NORMS = (1.0, 2.0, math.inf)


def parse_norm(value: object, what: str = "norm") -> float:
    """Map 1, 2, inf (int, float or string such as '2', 'inf', 'Linf') to 1.0, 2.0 or math.inf."""
    text = str(value).strip().lower()
    if text.startswith("l"):
        text = text[1:]
    try:
        p = float(text)
    except ValueError:
        raise InputError(f"{what} must be 1, 2 or inf, got {value!r}") from None
    if p not in NORMS:
        raise InputError(f"{what} must be 1, 2 or inf, got {value!r}")
    return p


def dual(p: float) -> float:
    """Hölder conjugate: 1 <-> inf, 2 <-> 2."""
    return {1.0: math.inf, 2.0: 2.0, math.inf: 1.0}[p]


def norm_name(p: float) -> str:
    return "inf" if math.isinf(p) else str(int(p))


def vector_norm(x: np.ndarray, p: float) -> float:
    return float(np.linalg.norm(np.asarray(x, dtype=np.float64).ravel(), ord=p))


def spectral_upper(W: np.ndarray, exact: bool = True) -> float:
    """An upper bound on ||W||_2 before rounding: the largest singular value (sqrt of the top eigenvalue of the
    smaller Gram matrix; its rounding, ~ min(m, n) u relative, is far below NORM_RTOL) when `exact`, else the
    cheaper min(||W||_F, sqrt(||W||_1 ||W||_inf)), both upper bounds (for a large W when time is short)."""
    if W.size == 0:
        return 0.0
    if exact:
        G = W @ W.T if W.shape[0] <= W.shape[1] else W.T @ W
        return math.sqrt(max(float(np.linalg.eigvalsh(G)[-1]), 0.0))
    A = np.abs(W)
    return min(float(np.linalg.norm(W)), math.sqrt(float(A.sum(axis=0).max()) * float(A.sum(axis=1).max())))


def spectral_seconds(W: np.ndarray) -> float:
    """A generous estimate of the time of `spectral_upper(W)`: the Gram product and a dense eigensolver
    (2 m n k + 10 k^3 flops, k = min(m, n)) at 2e8 flop/s, a loaded core's rate for these shapes."""
    m, n = W.shape
    k = min(m, n)
    return (2.0 * m * n * k + 10.0 * k ** 3) / 2e8


def opnorm_upper(W: np.ndarray, p: float, q: float, sigma: Optional[float] = None) -> float:
    """A certified upper bound on ||W||_{p->q}: exact for the tractable pairs, Hölder-type bounds otherwise.
    `sigma`, an upper bound on ||W||_2 the caller already has (`spectral_upper`), saves an SVD."""
    W = np.asarray(W, dtype=np.float64)
    if W.size == 0:
        return 0.0
    A = np.abs(W)
    if p == 1.0:
        value = float(np.max(np.linalg.norm(W, ord=q, axis=0)))
    elif math.isinf(q):
        value = float(np.max(np.linalg.norm(W, ord=dual(p), axis=1)))
    else:
        sigma = spectral_upper(W) if sigma is None else sigma
        m, n = W.shape
        if p == 2.0 and q == 2.0:
            value = sigma
        elif math.isinf(p) and q == 2.0:
            value = min(float(np.linalg.norm(A.sum(axis=1))), math.sqrt(n) * sigma)
        elif math.isinf(p) and q == 1.0:
            value = min(float(A.sum()), math.sqrt(m * n) * sigma)
        else:  # p == 2, q == 1
            value = min(float(np.linalg.norm(W, axis=1).sum()), math.sqrt(m) * sigma)
    # LAPACK and summation rounding are far below this relative margin.
    return value * (1.0 + NORM_RTOL)
