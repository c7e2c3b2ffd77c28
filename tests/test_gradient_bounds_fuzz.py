"""Property-based soundness of the gradient-bound engine (lipmiq.bounds.gradient) against the brute-force oracle.

Each example draws a degenerate small network (exact zeros, copied / opposite / proportional rows with or
without the same bias, dead neurons, zero biases, one layer scaled by 1e-6 ... 1e6, width-1 layers), a domain
(box with zero-width coordinates, ball of each norm, R^n), an output (whole vector, one row, or a weight vector
c of `c^T f` with integer or Gaussian entries, zeros and margins among them) and a partial
pattern, and checks all 9 (p, q): upper >= the exact constant over the regions the pattern allows, the gradient
enclosures hold at every region, and upper <= the interval Jacobian bound. Profiles (tests/conftest.py): "ci"
(default, bounded) and "long" (`pytest -m fuzz --hypothesis-profile long`: 2,000 examples x 9 norm pairs).
"""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import assume, given, note, settings
from hypothesis import strategies as st
from lipmiq import Global, Network, _core
from lipmiq.bounds.gradient import bound_problem
from lipmiq.problem import make_problem
from netgen import fuzz_domains, oracle_domain
from oracles.bruteforce import AmbiguousRegion, exact_opnorm, region_jacobians

pytestmark = pytest.mark.fuzz

INF = math.inf
NORMS = (1.0, 2.0, INF)
PAIRS = list(itertools.product(NORMS, NORMS))
MAX_HIDDEN = 12          # keeps the brute-force enumeration well under a second
# The oracle multiplies the layers in float64: an entry of J that cancels is off by about u * prod ||W_k||,
# which can exceed any relative allowance (the engine's bound covers the exact value, not the oracle's).
ORACLE_ATOL = 1e-12
ORACLE_RTOL = 1e-12
# pattern_norm_bound is not rounded outward (its callers inflate it by 1e-9); the engine's bound is.
INTERVAL_RTOL = 1e-9
# The ci profile keeps this file to seconds; the long profile runs its full 2,000 examples.
CI_EXAMPLES = 30


def _examples() -> settings:
    budget = settings.default.max_examples
    return settings(max_examples=budget if budget >= 2000 else min(budget, CI_EXAMPLES))


@st.composite
def networks(draw):
    n_in = draw(st.integers(1, 4), label="n_in")
    depth = draw(st.integers(1, 4), label="depth")
    widths, room = [], MAX_HIDDEN
    for _ in range(depth - 1):
        w = draw(st.integers(1, max(1, min(10, room - (depth - 2 - len(widths))))), label="width")
        widths.append(w)
        room -= w
    n_out = draw(st.integers(1, 3), label="n_out")
    sizes = [n_in] + widths + [n_out]
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1), label="seed"))
    integer = draw(st.booleans(), label="integer weights")
    zeros = draw(st.sampled_from([0.0, 0.0, 0.3, 0.6]), label="zero fraction")
    weights, biases = [], []
    for k in range(len(sizes) - 1):
        shape = (sizes[k + 1], sizes[k])
        W = rng.integers(-2, 3, size=shape).astype(float) if integer else rng.standard_normal(shape)
        W[rng.random(shape) < zeros] = 0.0
        b = 0.5 * rng.standard_normal(sizes[k + 1]) * (not draw(st.booleans(), label=f"zero bias {k}"))
        if sizes[k + 1] > 1 and draw(st.booleans(), label=f"copy row {k}"):
            i, j = rng.permutation(sizes[k + 1])[:2]
            factor = draw(st.sampled_from([1.0, -1.0, 2.0, -0.5]), label="factor")
            W[j] = factor * W[i]
            if draw(st.booleans(), label="same bias"):
                b[j] = factor * b[i]
        if k < len(sizes) - 2 and draw(st.booleans(), label=f"dead neuron {k}"):
            W[-1], b[-1] = 0.0, -abs(b[-1])
        weights.append(W)
        biases.append(b)
    k = draw(st.integers(0, len(weights) - 1), label="scaled layer")
    scale = draw(st.sampled_from([1.0, 1e-6, 1e-3, 1e3, 1e6]), label="scale")
    weights[k], biases[k] = weights[k] * scale, biases[k] * scale
    return weights, biases


def magnitude(weights) -> float:
    out = 1.0
    for W in weights:
        out *= float(np.linalg.norm(W))
    return out


@given(data=st.data())
@_examples()
def test_engine_is_sound_on_degenerate_networks(data):
    weights, biases = data.draw(networks(), label="network")
    n = weights[0].shape[1]
    domain = data.draw(fuzz_domains(n), label="domain")
    odom = oracle_domain(domain)
    m = weights[-1].shape[0]
    kind = data.draw(st.sampled_from(["all", "row", "vector"]), label="output kind")
    output, c = None, None
    if kind == "row":
        output = 0
        c = np.eye(m)[0]
    elif kind == "vector":
        rng = np.random.default_rng(data.draw(st.integers(0, 2 ** 32 - 1), label="output seed"))
        c = rng.integers(-1, 2, size=m).astype(float) if data.draw(st.booleans(), label="integer c") \
            else rng.standard_normal(m)
        output = c
    net = Network(weights, biases)
    pattern = data.draw(st.booleans(), label="partial pattern")
    states = None
    if pattern and len(weights) > 1:
        rng = np.random.default_rng(data.draw(st.integers(0, 2 ** 32 - 1), label="pattern seed"))
        states = [rng.choice(np.array([-1, -1, 0, 1], np.int8), size=W.shape[0]) for W in weights[:-1]]
    try:
        regions = [(g, J) for g, J in region_jacobians(weights, biases, odom, c)
                   if states is None or all(np.all((s < 0) | (h == (s == 1))) for h, s in zip(g, states))]
    except AmbiguousRegion:
        assume(False)  # a region of inradius ~1e-9: no ground truth
    atol = ORACLE_ATOL * magnitude(weights)
    for p, q in PAIRS:
        problem = make_problem(net, domain, p, q, output)
        res = bound_problem(problem, states)
        truth = max((exact_opnorm(J, p, problem.q) for _, J in regions), default=0.0)
        note(f"p={p} q={q} upper={res.upper!r} truth={truth!r} empty={res.empty}")
        assert res.upper >= truth * (1 - ORACLE_RTOL) - atol
        if res.empty:
            assert not regions
            continue
        if isinstance(domain, Global) or problem.trivial:
            continue  # the homogenised network, or no direction: the enclosures and cheaper bounds refer to others
        for _, J in regions:  # oracle J is over the free coordinates, as the problem's network
            for (lo, hi), row in zip(res.gradient, J):
                assert np.all(lo <= row + atol) and np.all(row <= hi + atol)
        free = [np.full(W.shape[0], -1, np.int8) for W in problem.network.weights[:-1]]
        interval = _core.pattern_norm_bound(problem.network.weights, states if states is not None else free, p,
                                            problem.q)
        assert res.upper <= interval * (1 + INTERVAL_RTOL) + atol
