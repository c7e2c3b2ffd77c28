"""Pre-activation bounds over a domain (interval or symbolic, computed by the C++ core)."""
from __future__ import annotations

import math
from typing import List, Optional, Sequence, Tuple

import numpy as np

from .. import _core
from ..domain import Ball, Domain
from ..errors import InputError
from ..network import Network

Bounds = List[Tuple[np.ndarray, np.ndarray]]
KINDS = ("interval", "symbolic")


def preactivation_bounds(network: Network, domain: Domain, kind: str = "symbolic",
                         prior: Optional[Sequence[Tuple[np.ndarray, np.ndarray]]] = None) -> Optional[Bounds]:
    """(l_k, u_k) for every layer's pre-activation over the domain; None for an unbounded domain."""
    hull = domain.box_hull()
    if hull is None:
        return None
    lo, hi = (np.ascontiguousarray(a, dtype=np.float64) for a in hull)
    if kind == "interval":
        return widen(_core.interval_bounds(network.weights, network.biases, lo, hi))
    if kind != "symbolic":
        raise InputError(f"bounds kind must be one of {KINDS}, got {kind!r}")
    if isinstance(domain, Ball):
        return widen(_core.symbolic_bounds(network.weights, network.biases, lo, hi,
                                           np.ascontiguousarray(domain.center, dtype=np.float64),
                                           float(domain.radius), float(domain.norm), prior))
    return widen(_core.symbolic_bounds(network.weights, network.biases, lo, hi, None, 0.0, math.inf, prior))


def widen(bounds: Bounds, rtol: float = 1e-10) -> Bounds:
    """Outward allowance for float64 rounding in the core (which rounds to nearest): a neuron that is
    constant on the domain could otherwise get l > u by an ulp, or a stable sign it does not have."""
    out = []
    for l, u in bounds:
        pad = rtol * np.maximum(np.abs(l), np.abs(u))
        out.append((l - pad, u + pad))
    return out


def stability(bounds: Bounds) -> List[np.ndarray]:
    """Per hidden layer: +1 stably active (l >= 0), -1 stably inactive (u <= 0), 0 unstable."""
    out = []
    for l, u in bounds[:-1]:
        s = np.zeros(l.shape, dtype=np.int8)
        s[l >= 0] = 1
        s[u <= 0] = -1
        out.append(s)
    return out
