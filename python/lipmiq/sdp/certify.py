"""The float64 certificate of a LipSDP bound: whatever the solver's accuracy, the reported rho is the
smallest (up to a small step) for which M(rho, t) <= 0 is proved for the multipliers it proposed.

The core proves it (cpp/lipsdp_model.cpp): from the Schur complement's largest eigenvalue it bumps rho (80 steps,
each 4x the last from a relative 1e-9) until the largest eigenvalue of M(rho, t) is at most minus an allowance for
the rounding of M's construction (gamma_depth times the |W| chains' majorant of |M|, doubled for second-order
terms, and depth N^2 2^-1073 for products that underflow) and for the symmetric eigensolver (4 N u ||M||_F: an
allowance, not a proved constant)."""
from __future__ import annotations

import math
from typing import Optional

import numpy as np

from .. import _core
from ..tolerances import ROUNDING_RTOL
from .model import SlopeModel


def certified_rho(model: SlopeModel, t: np.ndarray) -> Optional[float]:
    """The smallest rho (up to a small margin) with M(rho, t) <= 0 proved in float64; None if none is."""
    rho = _core.sdp_certified_rho(model.n0, model.index, model.rows, model.gram, model.rows_abs, model.gram_abs,
                                  model.depth, t)
    return None if math.isnan(rho) else rho


def bound_of(rho: float) -> float:
    """The Lipschitz bound of a certified rho: sqrt(rho) rounded up."""
    return math.sqrt(rho) * (1.0 + ROUNDING_RTOL)
