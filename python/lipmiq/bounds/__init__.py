"""Bounds over a domain, one `NetworkBounds` per query handed to every stage: interval and symbolic (CROWN)
propagation, LP tightening (OBBT), direction bounds of the encodings, and bounds on Jacobian norms (the
interval Jacobian bound, and the gradient-graph bound propagation of gradient.py)."""
from __future__ import annotations

from typing import Optional, Tuple

from ..domain import Domain
from ..network import Network
from . import propagation
from .network_bounds import NetworkBounds
from .obbt import TightenStats, lp_tighten

TIGHTEN = ("none", "symbolic", "lp")

__all__ = ["NetworkBounds", "TIGHTEN", "TightenStats", "tightened"]


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
