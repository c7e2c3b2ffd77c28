"""The random test networks of the suite, and the translation of lipmiq domains to the brute-force oracle's tuples.

One generator serves every test module; its options reproduce, draw for draw, the networks each module used
before they shared it (same seeds, same order of draws: all weights, then all biases).
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, List, Optional, Sequence, Tuple

import numpy as np

if TYPE_CHECKING:
    from lipmiq.domain import Domain


def random_net(seed: int, sizes: Sequence[int], bias_scale: Optional[float] = 0.5, fan_in: bool = False,
               stable_units: bool = False) -> Tuple[List[np.ndarray], List[np.ndarray]]:
    """(weights, biases) of a network with layer sizes `sizes`, W_k of shape (out, in), from default_rng(seed).

    Weights are standard Gaussian, divided by sqrt(fan-in) when `fan_in` (unit-scale pre-activations in deep
    nets); biases are standard Gaussian times `bias_scale`, or zero (and not drawn) when it is None.
    `stable_units` sets the first hidden layer's biases so that its first third of units is dead and the
    next sixth active for every input near 0 (-50 / +50), for tests of stable neurons.
    """
    rng = np.random.default_rng(seed)
    weights = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        W = rng.standard_normal((n_out, n_in))
        weights.append(W / math.sqrt(n_in) if fan_in else W)
    biases = [np.zeros(n) if bias_scale is None else rng.standard_normal(n) * bias_scale for n in sizes[1:]]
    if stable_units and len(weights) > 1:
        biases[0][: sizes[1] // 3] = -50.0
        biases[0][sizes[1] // 3: sizes[1] // 2] = 50.0
    return weights, biases


def oracle_domain(domain: Domain, n: Optional[int] = None) -> tuple:
    """A lipmiq domain, resolved for n inputs when n is given, as the oracle's ("box", lo, hi),
    ("ball", center, radius, norm) or ("global",)."""
    from lipmiq import (  # here, so that generating networks never loads lipmiq (test_bruteforce.py)
        Ball,
        Box,
    )

    dom = domain if n is None else domain.resolve(n)
    if isinstance(dom, Box):
        return ("box", np.asarray(dom.lo, float), np.asarray(dom.hi, float))
    if isinstance(dom, Ball):
        return ("ball", np.asarray(dom.center, float), float(dom.radius), dom.norm)
    return ("global",)
