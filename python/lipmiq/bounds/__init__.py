"""Bounds over a domain, one `NetworkBounds` per query handed to every stage: interval and symbolic (CROWN)
propagation, LP tightening (OBBT), direction bounds of the encodings, and bounds on Jacobian norms (the
interval Jacobian bound, and the gradient-graph bound propagation of gradient.py)."""
from __future__ import annotations

import math
import time
from typing import Optional, Tuple

from ..domain import Domain
from ..network import Network
from . import propagation
from .network_bounds import NetworkBounds
from .obbt import TightenStats, lp_tighten

TIGHTEN = ("none", "symbolic", "lp")

__all__ = ["NetworkBounds", "TIGHTEN", "TightenStats", "root_bounds", "tightened"]

SYMBOLIC_SHARE = 0.5  # of the time left, at most, for the root symbolic bounds (else intervals)
SYMBOLIC_FLOPS = 1e9  # a loaded core's rate of the symbolic kernel, for the estimate


def symbolic_seconds(network: Network) -> float:
    """A generous estimate of the symbolic kernel's time: back-substitution of every layer to the input."""
    n = network.sizes
    return sum(2.0 * n[k + 1] * n[j + 1] * n[j] for k in range(len(n) - 1) for j in range(k + 1)) / SYMBOLIC_FLOPS


def pattern_norm_seconds(network: Network) -> float:
    """A generous estimate of the interval Jacobian bound's time (`jacobian.pattern_norm_bound`): four products
    per layer, n_k x n_(k-1) x n_0 (the CIFAR-sized CNN, 3072 inputs: 105 s estimated, 6.3 s measured)."""
    n = network.sizes
    return sum(4.0 * n[k + 1] * n[k] * n[0] for k in range(1, len(n) - 1)) / SYMBOLIC_FLOPS


def root_bounds(network: Network, domain: Domain, deadline: float = math.inf) -> Optional[NetworkBounds]:
    """The query's bounds, computed once and shared by every stage: symbolic, or intervals when the symbolic
    kernel would take more than its share of the time left (None on an unbounded domain)."""
    if symbolic_seconds(network) <= SYMBOLIC_SHARE * (deadline - time.perf_counter()):
        return propagation.symbolic(network, domain)
    return propagation.interval(network, domain)


def tightened(network: Network, domain: Domain, tighten: str, time_budget: float,
              root: Optional[NetworkBounds] = None) -> Tuple[NetworkBounds, Optional[TightenStats]]:
    """The bounds a `tighten` option asks for: 'none' (intervals), 'symbolic', or 'lp' (symbolic, then
    OBBT). `root`, the symbolic bounds of the same network and domain if a stage already has them, is
    reused instead of recomputed."""
    if tighten == "none":
        return propagation.interval(network, domain), None
    root = root if root is not None else propagation.symbolic(network, domain)
    if tighten == "symbolic" or len(network.layers) < 3:
        return root, None
    return lp_tighten(network, domain, root, time_budget)
