"""Emptiness of a branch-and-bound node's set beyond its prefix region, proved on the triangle relaxation, and the
node's pre-activation bounds tightened by LP on it.

A node's splits in the layers after its prefix layer (`certify.partial`) are not linear in x: their pre-activations
still depend on open neurons. Relaxing each open neuron of the layers before the last split to its triangle
    a >= 0,  a >= z,  a <= u (z - l) / (u - l)        (l, u: the node's certified pre-activation bounds)
and keeping every decided neuron exact (a = z or a = 0) turns the node's set into a polyhedron over x, the
pre-activations z_k = W_k a_{k-1} + b_k within [l, u] and outputs a_k of the layers k < K before the last split,
and z of layer K's split neurons, with the split rows. With a margin s on the active splits (z_j >= s; inactive
splits z_j <= 0 stay closed: a neuron can be identically 0 on a region with interior), every region with interior
below the node puts a point of the polyhedron at s > 0 (its activations at an interior point). So max s <= 0,
or no point at all, proves the node empty; both are proved by weak duality with a rounding allowance on the
multipliers of the core's dense dual simplex (cpp/relaxed_lp.cpp, every variable bounded, the z of the layers before
K substituted into their neurons' rows), never on its verdict.
On [8, 20, 20, 1] (l2) the second layer's splits made while the first layer was open left 71 % of the prefix
checks after it to find empty regions; with this check (from RELAXED_MIN_SPLITS such splits, `methods.bab`) the
default pipeline closed it in 173 s on 81,000 engine calls, against 343 s on 316,000.

With every split closed (z_j >= 0) and the last hidden layer's open neurons in it too, the same polyhedron holds
every point of the node's set, so min and max of an open neuron's z over it are certified bounds on the node
(`relaxed_bounds`; the search's TIGHTEN_DEPTH in `methods.bab` says where they pay).
"""
from __future__ import annotations

import math
import time
from typing import Optional, Sequence, Tuple

import numpy as np

from .. import _core
from ..network import Network
from ..tolerances import INTERIOR_TOL

Bounds = Tuple[np.ndarray, np.ndarray]


def deep_layer(states: Sequence[np.ndarray], prefix: int) -> Optional[int]:
    """The last hidden layer after `prefix` with a split neuron (None: every split lies in the prefix region)."""
    deep = [k for k in range(prefix + 1, len(states)) if np.any(states[k] >= 0)]
    return deep[-1] if deep else None


def deep_splits(states: Sequence[np.ndarray], prefix: int) -> int:
    """How many neurons are split in the layers after `prefix`."""
    return sum(int(np.count_nonzero(s >= 0)) for s in states[prefix + 1:])


def splits_hold(network: Network, x: np.ndarray, states: Sequence[np.ndarray], last: int) -> bool:
    """True when x (the node's prefix point, inside the domain) has every split neuron of layers <= `last`
    strictly on its side: then the node's set has interior around x and needs no LP."""
    Z = _core.forward(network.core, np.ascontiguousarray(x[None, :], dtype=np.float64))
    for k in range(last + 1):
        split = np.flatnonzero(states[k] >= 0)
        side = np.where(states[k][split] > 0, 1.0, -1.0)
        if not np.all(side * Z[k][0][split] > INTERIOR_TOL):
            return False
    return True


def _cut(network: Network, forward: Sequence[Bounds]) -> list:
    """The engine's per-layer bounds cut to the hidden layers' widths (on R^n its arrays carry the t neuron too)."""
    return [(f[0][:w], f[1][:w]) for f, w in zip(forward, network.hidden_sizes)]


def relaxed_empty(network: Network, lo: np.ndarray, hi: np.ndarray, status: Sequence[np.ndarray],
                  states: Sequence[np.ndarray], forward: Sequence[Bounds], last: int,
                  deadline: float = math.inf) -> bool:
    """True only when the node (split `states`, neuron `status` as the search reads it, certified `forward`
    bounds on its set within the box [lo, hi]) provably has no region with interior, through the splits of
    layers <= `last`."""
    bounds = _cut(network, forward[:last + 1])
    return _core.relaxed_lp_empty(network.core, lo, hi, list(status), list(states), bounds, last, INTERIOR_TOL,
                                  max(deadline - time.perf_counter(), 0.0))["empty"]


def relaxed_bounds(network: Network, lo: np.ndarray, hi: np.ndarray, status: Sequence[np.ndarray],
                   states: Sequence[np.ndarray], forward: Sequence[Bounds], first: int, signs: bool,
                   deadline: float = math.inf) -> Optional[list]:
    """The node's certified pre-activation bounds `forward` (one pair per hidden layer, the engine's arrays: entries
    past a layer's width are kept) with its open neurons in the hidden layers >= `first` tightened to their min and
    max over the node's triangle relaxation with closed splits; None when the relaxation has no point.
    `signs`: only a neuron's sign is sought (cheaper, see the core's `relaxed_lp_bounds`)."""
    widths = network.hidden_sizes
    res = _core.relaxed_lp_bounds(network.core, lo, hi, list(status), list(states), _cut(network, forward), first,
                                  signs, max(deadline - time.perf_counter(), 0.0))
    if res["empty"]:
        return None
    return [(np.concatenate([l, f[0][w:]]), np.concatenate([h, f[1][w:]]))
            for (l, h), f, w in zip(res["bounds"], forward, widths)]
