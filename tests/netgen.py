"""The random test networks of the suite, and the translation of lipmiq domains to the brute-force oracle's tuples.

One generator serves every test module; its options reproduce, draw for draw, the networks each module used
before they shared it (same seeds, same order of draws: all weights, then all biases). `degenerate_net` draws
the degenerate networks (bias-free or with tiny biases, planted dead / duplicated / opposite / dependent
neurons) of tests/test_degenerate.py, the fuzz profile and bench/bench_degenerate.py.
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


FEATURES = ("dead", "duplicate", "opposite", "sum")
GRID = 2.0 ** -20  # weights on this grid (|w| < 8: at most 23 significant bits), so sums of two rows are exact


def degenerate_net(seed: int, sizes: Sequence[int], bias: Optional[float] = None,
                   features: Sequence[str] = FEATURES) -> Tuple[List[np.ndarray], List[np.ndarray], List[str]]:
    """(weights, biases, planted) of a network with layer sizes `sizes` whose hidden layers carry exact
    degeneracies, from default_rng(seed).

    Weights are standard Gaussian rounded to multiples of GRID, so that the planted relations hold exactly in
    float64. Each hidden layer plants each of `features` with probability 1/2 where it has room (distinct
    rows): "dead" a neuron never active (a zero row in the first layer; a row of nonpositive weights later,
    whose inputs are >= 0), "duplicate" a copy of another row (or twice it), "opposite" minus another row (or
    -1/2 of it), "sum" the sum (or difference) of two other rows: a linear dependence that is not a multiple.
    `bias` None: bias-free (every region is a cone); otherwise hidden biases `bias` * ||W_j||_2 * N(0, 1),
    "1e-6 relative to the weights", where the degenerate faces become real but thin regions (planted rows
    get the same relation on their biases, as the weights). `planted` lists "layer k: feature" entries.
    """
    rng = np.random.default_rng(seed)
    weights, biases, planted = [], [], []
    for k, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        W = np.round(rng.standard_normal((n_out, n_in)) / GRID) * GRID
        b = np.zeros(n_out)
        if bias is not None and k < len(sizes) - 2:
            step = 2.0 ** (math.floor(math.log2(bias)) - 20)  # a grid again: planted sums of biases stay exact
            b = np.round(bias * np.linalg.norm(W, axis=1) * rng.standard_normal(n_out) / step) * step
        if k < len(sizes) - 2:
            free = list(rng.permutation(n_out))
            for feature in features:
                if rng.random() < 0.5:
                    continue
                need = {"dead": 1, "duplicate": 2, "opposite": 2, "sum": 3}[feature]
                if len(free) < need:
                    continue
                j, *src = (int(free.pop()) for _ in range(need))
                if feature == "dead":
                    W[j] = 0.0 if k == 0 else -np.abs(W[j])
                    b[j] = 0.0 if k == 0 else -abs(b[j])
                elif feature in ("duplicate", "opposite"):
                    factor = rng.choice([1.0, 2.0]) * (1.0 if feature == "duplicate" else -rng.choice([1.0, 0.5]))
                    W[j], b[j] = factor * W[src[0]], factor * b[src[0]]
                else:
                    sign = rng.choice([1.0, -1.0])
                    W[j], b[j] = W[src[0]] + sign * W[src[1]], b[src[0]] + sign * b[src[1]]
                planted.append(f"layer {k}: {feature}")
        weights.append(W)
        biases.append(b)
    return weights, biases, planted


def mixed_net(seed: int, sizes: Sequence[int]) -> tuple:
    """(weights, biases): a random network for even seeds; for odd ones a degenerate one (`degenerate_net`),
    bias-free when seed % 4 == 1 (its regions are cones: faces where the float LPs cannot decide), else with
    biases of 1e-6."""
    if seed % 2 == 0:
        return random_net(seed, sizes)
    weights, biases, _ = degenerate_net(seed, sizes, bias=None if seed % 4 == 1 else 1e-6)
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


def fuzz_domains(n: int):
    """A hypothesis strategy of domains on n inputs for the fuzz modules: boxes (half of the draws; coordinates
    of width 0 included), balls of each norm, R^n."""
    from hypothesis import strategies as st
    from lipmiq import Ball, Box, Global

    @st.composite
    def draw_domain(draw):
        kind = draw(st.sampled_from(["box", "box", "ball", "global"]), label="domain")
        coord = st.sampled_from([-1.0, -0.5, 0.0, 0.5])
        if kind == "box":
            lo = np.array(draw(st.lists(coord, min_size=n, max_size=n), label="lo"))
            width = draw(st.lists(st.sampled_from([0.0, 0.5, 1.0, 2.0]), min_size=n, max_size=n), label="width")
            return Box(lo, lo + np.array(width))
        if kind == "ball":
            c = np.array(draw(st.lists(coord, min_size=n, max_size=n), label="center"))
            r = draw(st.sampled_from([0.25, 1.0, 2.0]), label="radius")
            return Ball(c, r, draw(st.sampled_from([1.0, 2.0, math.inf]), label="norm"))
        return Global()

    return draw_domain()
