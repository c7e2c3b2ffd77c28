"""Pre-activation bounds over a domain by propagation in the C++ core: interval arithmetic, or symbolic
(DeepPoly / CROWN back-substitution) intersected with intervals and with an optional prior."""
from __future__ import annotations

import math
from typing import Optional, Sequence

import numpy as np

from .. import _core
from ..domain import Ball, Domain
from ..network import Network
from ..tolerances import PROPAGATION_RTOL
from .network_bounds import Interval, NetworkBounds


def interval(network: Network, domain: Domain) -> Optional[NetworkBounds]:
    """Interval bounds over the domain's box hull; None for an unbounded domain."""
    hull = domain.box_hull()
    if hull is None:
        return None
    lo, hi = (np.ascontiguousarray(a, dtype=np.float64) for a in hull)
    return NetworkBounds.of(widen(_core.interval_bounds(network.core, lo, hi)), "interval")


def symbolic(network: Network, domain: Domain, prior: Optional[Sequence[Interval]] = None) -> Optional[NetworkBounds]:
    """Symbolic bounds over the domain (a ball is intersected with its box hull), within `prior` if given;
    None for an unbounded domain."""
    hull = domain.box_hull()
    if hull is None:
        return None
    lo, hi = (np.ascontiguousarray(a, dtype=np.float64) for a in hull)
    if isinstance(domain, Ball):
        center, radius, norm = np.ascontiguousarray(domain.center, dtype=np.float64), float(domain.radius), float(domain.norm)
    else:
        center, radius, norm = None, 0.0, math.inf
    prior = None if prior is None else [(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)) for a, b in prior]
    layers = _core.symbolic_bounds(network.core, lo, hi, center, radius, norm, prior)
    return NetworkBounds.of(widen(layers), "symbolic")


def widen(layers: Sequence[Interval], rtol: float = PROPAGATION_RTOL) -> list:
    """Outward allowance for float64 rounding in the core (which rounds to nearest): a neuron that is
    constant on the domain could otherwise get lo > hi by an ulp, or a stable sign it does not have."""
    out = []
    for lo, hi in layers:
        pad = rtol * np.maximum(np.abs(lo), np.abs(hi))
        out.append((lo - pad, hi + pad))
    return out
