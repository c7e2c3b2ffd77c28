"""Interior points of partial activation regions, carried down a branch-and-bound tree over neuron splits.

A node of the tree fixes some neurons (split) and knows others to be stable on its set. Let k be the first
hidden layer that still has open neurons: the layers before it are fully decided, so every pre-activation of
layer k is affine in x there, and the split neurons of layers <= k cut out a polyhedron (the node's *prefix
region*; splits in later layers are left out, their forms still depend on open neurons). If that polyhedron
has no interior in the domain, neither has any region below the node. The region LP decides it
(`certify.regions.region_point`: an interior point, a proof of emptiness, or neither); a child whose new
constraints already hold at its parent's point with margin keeps that point and needs no LP.
"""
from __future__ import annotations

import math
from typing import List, Optional, Sequence, Set, Tuple

import numpy as np

from ..domain import Domain
from ..network import Network
from ..tolerances import INTERIOR_TOL
from .regions import affine_forms, region_point

Rows = Set[Tuple[int, int]]


def prefix_layer(status: Sequence[np.ndarray]) -> int:
    """The first hidden layer with an open neuron (status -1); the number of hidden layers if none."""
    for k, s in enumerate(status):
        if np.any(s < 0):
            return k
    return len(status)


def prefix_rows(states: Sequence[np.ndarray], k: int) -> Rows:
    """The split neurons (layer, index) of layers <= k: the constraints of the prefix region."""
    return {(layer, int(j)) for layer in range(min(k + 1, len(states))) for j in np.flatnonzero(states[layer] >= 0)}


def _pattern(status: Sequence[np.ndarray]) -> List[np.ndarray]:
    return [np.where(s > 0, 1, 0).astype(np.uint8) for s in status]


def keeps_point(network: Network, x: np.ndarray, status: Sequence[np.ndarray], states: Sequence[np.ndarray],
                rows: Rows) -> bool:
    """True when every constraint in `rows` holds at x with margin: sign * (a.x + c) > INTERIOR_TOL * ||a||_2,
    the region LP's own interior test, with (a, c) the affine form of the neuron under the decided layers
    before it (which `status` gives in full)."""
    if not rows:
        return True
    top = max(layer for layer, _ in rows)
    forms = affine_forms(network.weights, network.biases, _pattern(status[:top + 1]))
    for layer, j in rows:
        A, c = forms[layer]
        a = A[j]
        sign = 1.0 if states[layer][j] > 0 else -1.0
        if not sign * (float(a @ x) + float(c[j])) > INTERIOR_TOL * float(np.linalg.norm(a)):
            return False
    return True


def prefix_point(network: Network, domain: Domain, status: Sequence[np.ndarray], states: Sequence[np.ndarray],
                 k: int, deadline: float = math.inf) -> Tuple[Optional[np.ndarray], bool]:
    """(x, empty) for the prefix region of layer k: an interior point (None if there is none with margin
    INTERIOR_TOL), and whether the region is proved to have no interior (`region_point`)."""
    W, b = network.weights, network.biases
    pattern = _pattern(status)
    if k >= len(status):  # every neuron decided: the region itself
        x, _, empty = region_point(W, b, domain, pattern, deadline)
        return x, empty
    rows = np.flatnonzero(states[k] >= 0)
    weights = list(W[:k]) + [W[k][rows]]
    biases = list(b[:k]) + [b[k][rows]]
    x, _, empty = region_point(weights, biases, domain, pattern[:k] + [states[k][rows].astype(np.uint8)], deadline)
    return x, empty
