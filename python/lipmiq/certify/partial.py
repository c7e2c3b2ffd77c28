"""Interior points of partial activation regions, carried down a branch-and-bound tree over neuron splits.

A node of the tree fixes some neurons (split) and knows others to be stable on its set. Let k be the first
hidden layer that still has open neurons: the layers before it are fully decided, so every pre-activation of
layer k is affine in x there, and the split neurons of layers <= k cut out a polyhedron (the node's *prefix
region*; splits in later layers are left out, their forms still depend on open neurons). If that polyhedron
has no interior in the domain, neither has any region below the node. The region LP decides it: on box-shaped
domains first the core's dense closed-box LP (`_core.region_lp_box`, cpp/region_lp.cpp: 0.1 ms against HiGHS's
1.5 ms on [8, 20, 20, 1]), and where it decides nothing `certify.regions.region_point` (HiGHS with the exact
decision behind it): an interior point, a proof of emptiness, or neither. A child whose new constraints already
hold at its parent's point with margin keeps that point and needs no LP.
"""
from __future__ import annotations

import math
import time
from typing import Dict, List, Optional, Sequence, Set, Tuple

import numpy as np

from .. import _core
from ..domain import Domain
from ..network import Network, pattern_key
from ..tolerances import INTERIOR_TOL
from .exact_regions import Proof
from .regions import affine_forms, box_shaped, region_point

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
                 k: int, deadline: float = math.inf,
                 skip: Optional[Sequence[np.ndarray]] = None) -> Tuple[Optional[np.ndarray], Optional[Proof]]:
    """(x, proof) for the prefix region of layer k: an interior point (None if there is none with margin
    INTERIOR_TOL), and a proof that the region has no interior (`region_point`, whose `skip` names neurons with
    the status's sign on the whole domain), its neurons (layer, index) in the network's numbering."""
    W, b = network.weights, network.biases
    pattern = _pattern(status)
    if box_shaped(domain):
        found = _core_point(network, domain, pattern, states, k, deadline, skip)
        if found is not None:
            return found
    if k >= len(status):  # every neuron decided: the region itself
        x, _, proof = region_point(W, b, domain, pattern, deadline, skip=skip)
        return x, proof
    rows = np.flatnonzero(states[k] >= 0)
    weights = list(W[:k]) + [W[k][rows]]
    biases = list(b[:k]) + [b[k][rows]]
    x, _, proof = region_point(weights, biases, domain, pattern[:k] + [states[k][rows].astype(np.uint8)], deadline,
                               skip=None if skip is None else skip[:k])
    if proof is not None:  # layer k's rows were only the split ones
        proof = Proof(frozenset((layer, int(rows[j]) if layer == k else j) for layer, j in proof.neurons))
    return x, proof


def _core_point(network: Network, domain: Domain, pattern: List[np.ndarray], states: Sequence[np.ndarray], k: int,
                deadline: float, skip: Optional[Sequence[np.ndarray]]) -> Optional[Tuple[Optional[np.ndarray],
                                                                                         Optional[Proof]]]:
    """`prefix_point` by the core's closed-box LP on the domain's box hull; None when it decides nothing."""
    lo, hi = domain.box_hull()
    if k >= len(pattern):
        layers, off = pattern, skip
    else:
        layers, off = pattern[:k] + [states[k]], None if skip is None else list(skip[:k])
    out = _core.region_lp_box(network.core, lo, hi, layers, INTERIOR_TOL, off,
                              max(deadline - time.perf_counter(), 0.0))
    if out["verdict"] == "interior":
        return out["x"], None
    if out["verdict"] == "empty":
        return None, Proof(frozenset((int(layer), int(j)) for layer, j in out["rows"]))
    return None


class Conflicts:
    """Prefix regions proved empty, remembered as conflicts: the pattern of the decided layers before k and the
    split neurons of layer k (with their sides) whose rows a proof used. A proof certifies that those rows with the
    domain's leave no interior; a node with the same earlier pattern has the same rows for those layers (the same
    affine forms), so if its layer-k splits include the conflict's, its prefix region has no interior either,
    whatever its other rows (up to the last-bit rounding of the float forms, which a prefix LP and a leaf compute
    from different row sets: docs/reliability.md). On [8, 16, 16, 1] l-inf 88 % of the branch-and-bound's empty
    prefix checks (11,400 of 13,000) repeated an earlier conflict.

    A set of layer-k rows is a bit mask (bit 2 j + side for neuron j on `side`), in 64-bit words; the conflicts of
    one earlier pattern are the rows of one array, so a check is one vectorised subset test (c & ~rows == 0). As
    Python sets the checks took 9 s of [8, 20, 20, 1] l-inf's 130 s (13 million subset tests)."""

    LIMIT = 200_000  # conflicts kept (a few hundred bytes each)

    def __init__(self):
        self.known: Dict[Tuple[int, bytes], List] = {}  # key -> [masks (capacity, words) uint64, count]
        self.count = self.used = 0

    @staticmethod
    def _key(status: Sequence[np.ndarray], k: int) -> Tuple[int, bytes]:
        return k, pattern_key(_pattern(status[:k]))

    @staticmethod
    def _mask(sides: np.ndarray, neurons: np.ndarray) -> np.ndarray:
        """The bit mask of `neurons` on their `sides`, in words of 64 bits."""
        bits = np.zeros(-(-2 * sides.size // 64) * 64, dtype=bool)
        bits[2 * neurons + sides[neurons]] = True
        return np.packbits(bits, bitorder="little").view(np.uint64)

    def empty(self, status: Sequence[np.ndarray], sides: np.ndarray, k: int) -> bool:
        """True when a known conflict proves empty the region with the decided layers before k (`status`) and
        layer k's rows `sides` (0 or 1 per neuron with a row, -1 without: the splits for a prefix region, every
        neuron's status for a leaf, whose region has all of them)."""
        known = self.known.get(self._key(status, k))
        if known is None:
            return False
        masks, count = known
        outside = ~self._mask(sides, np.flatnonzero(sides >= 0))
        if np.any(np.all((masks[:count] & outside) == 0, axis=1)):
            self.used += 1
            return True
        return False

    def add(self, status: Sequence[np.ndarray], sides: np.ndarray, k: int, proof: Proof) -> None:
        """Remember the layer-k rows a proof used (`sides` as for `empty`)."""
        if self.count >= self.LIMIT:
            return
        neurons = np.array(sorted(j for layer, j in proof.neurons if layer == k), dtype=np.int64)
        if np.any(sides[neurons] < 0):  # a proof's rows all have a side (bit 2 j - 1 would be another neuron's)
            raise ValueError("a conflict's neurons must all have a side (0 or 1)")
        mask = self._mask(sides, neurons)
        key = self._key(status, k)
        known = self.known.get(key)
        if known is None:
            known = self.known[key] = [np.zeros((4, mask.size), dtype=np.uint64), 0]
        if known[1] == known[0].shape[0]:
            known[0] = np.vstack([known[0], np.zeros_like(known[0])])
        known[0][known[1]] = mask
        known[1] += 1
        self.count += 1
