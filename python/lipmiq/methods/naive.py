"""Upper bound by the product of layer operator norms, with the best chain of intermediate norms.

||J(g)||_{p->q} <= prod_k ||W_k||_{r_{k-1} -> r_k} for any norms r_k, since ||diag(g)||_{r->r} <= 1;
a small dynamic programme picks r_k in {1, 2, inf}. Neurons proved inactive on the domain are dropped
first (their rows never reach J).
"""
from __future__ import annotations

import math
import time
from typing import List, Optional, Tuple

import numpy as np

from ..bounds import NetworkBounds, root_bounds
from ..network import Network
from ..norms import NORMS, opnorm_upper, spectral_seconds, spectral_upper
from ..options import Options
from ..problem import Problem
from ..tolerances import ROUNDING_RTOL
from ..tracker import Tracker

SPECTRAL_SHARE = 0.1  # of the time left, at most, for the exact spectral norms


def live_weights(network: Network, active: Optional[List[np.ndarray]]) -> List[np.ndarray]:
    """The weight matrices with the stably inactive neurons removed."""
    weights = list(network.weights)
    if active is None:
        return weights
    for k, keep in enumerate(active):
        weights[k] = weights[k][keep]
        weights[k + 1] = weights[k + 1][:, keep]
    return weights


def product_bound(weights: List[np.ndarray], p: float, q: float, exact_spectral: bool = True) -> float:
    """min over chains of intermediate norms of prod_k ||W_k||_{r_{k-1} -> r_k}; `exact_spectral` False uses
    the cheap spectral-norm bounds instead of eigenvalues."""
    sigmas = [spectral_upper(W, exact_spectral) for W in weights]
    best = {r: opnorm_upper(weights[0], p, r, sigmas[0]) for r in NORMS} if len(weights) > 1 else \
        {q: opnorm_upper(weights[0], p, q, sigmas[0])}
    for k, W in enumerate(weights[1:], start=1):
        targets = NORMS if k < len(weights) - 1 else (q,)
        best = {s: min(best[r] * opnorm_upper(W, r, s, sigmas[k]) for r in best) for s in targets}
    return best[q] * (1.0 + ROUNDING_RTOL * len(weights))


def naive_upper(problem: Problem, bounds: Optional[NetworkBounds], deadline: float = math.inf) -> Tuple[float, int]:
    """The product bound and the number of neurons the domain's bounds (None on R^n) removed. Exact spectral
    norms are used only when they would take a small share of the time left before `deadline`."""
    active = None if bounds is None else [s >= 0 for s in bounds.stability()]
    weights = live_weights(problem.network, active)
    dropped = 0 if active is None else int(sum((~a).sum() for a in active))
    if any(W.size == 0 for W in weights):
        return 0.0, dropped
    exact = sum(spectral_seconds(W) for W in weights) <= SPECTRAL_SHARE * (deadline - time.perf_counter())
    return product_bound(weights, problem.p, problem.q, exact), dropped


OPTIONS = Options()


def run(problem: Problem, tracker: Tracker, options: dict) -> Tuple[str, str]:
    with tracker.stage("product"):
        value, dropped = naive_upper(problem, root_bounds(problem.network, problem.domain, tracker.deadline),
                                     tracker.deadline)
        tracker.offer_upper(value)
    return "finished", f"product of layer norms ({dropped} stably inactive neurons dropped)"
