"""Floating point: scale invariance, and SCIP's tolerances never pushing an upper bound below the truth.

The truth always comes from the brute-force oracle (tests/bruteforce.py) on the very network solved.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from bruteforce import exact_lipschitz
from lipmiq import Ball, Box, Global, Network, lipschitz
from lipmiq.solver.trace import DUAL_ATOL, UPPER_RTOL, inflate
from test_fuzz import check_sound, oracle_domain

INF = math.inf


def random_net(seed, sizes):
    rng = np.random.default_rng(seed)
    W = [rng.standard_normal((sizes[k + 1], sizes[k])) for k in range(len(sizes) - 1)]
    b = [rng.standard_normal(sizes[k + 1]) * 0.5 for k in range(len(sizes) - 1)]
    return W, b


SCALE_CASES = [
    (1, [3, 6, 6, 2], Box(-1, 1), 2, 2),
    (2, [2, 5, 5, 1], Global(), INF, 1),
    (3, [3, 8, 3], Ball([0.1, 0.0, 0.0], 1.0, 2), 2, 2),
]


_BASE: dict = {}
STAGES = {"default": {}, "scip": {"region_share": 0.0}}  # region branch-and-bound first, or SCIP alone


@pytest.fixture(params=sorted(STAGES))
def stage(request):
    return STAGES[request.param]


@pytest.mark.parametrize("seed, sizes, domain, p, q", SCALE_CASES)
@pytest.mark.parametrize("scale", [1e6, 1e-6])
def test_last_layer_scaling_scales_the_bounds(seed, sizes, domain, p, q, scale, stage):
    """L(s f) = s L(f): both runs are sound and their bounds agree after dividing by s (relative 1e-5)."""
    W, b = random_net(seed, sizes)
    key = (seed, p, q, tuple(stage.items()))
    if key not in _BASE:  # the unscaled run is shared by both scales
        _BASE[key] = check_sound(W, b, domain, p, q, time_limit=20, **stage)
    base, truth = _BASE[key]
    Ws, bs = W[:-1] + [W[-1] * scale], b[:-1] + [b[-1] * scale]
    scaled, truth_s = check_sound(Ws, bs, domain, p, q, time_limit=20, **stage)
    assert truth_s == pytest.approx(truth * scale, rel=1e-9)
    assert scaled.status != "error", scaled.message
    assert scaled.lower / scale == pytest.approx(base.lower, rel=1e-5)
    assert scaled.upper / scale == pytest.approx(base.upper, rel=1e-5)
    assert scaled.upper / scale <= truth * (1 + 1e-5)  # tight, not merely sound


@pytest.mark.parametrize("scale", [1e6, 1e-6])
def test_all_layers_scaled(scale, stage):
    """Every layer (weights and biases) scaled: f changes by scale^L on a box scaled along; still sound."""
    W, b = random_net(4, [2, 4, 4, 1])
    Ws = [Wk * scale for Wk in W]
    bs = [bk * scale ** (k + 1) for k, bk in enumerate(b)]
    res, truth = check_sound(Ws, bs, Box(-1, 1), 2, 2, time_limit=8, **stage)
    assert truth == pytest.approx(exact_lipschitz(W, b, ("box", -1.0, 1.0), 2, 2) * scale ** 3, rel=1e-9)
    assert res.upper < INF


def test_kink_exactly_on_the_box_boundary(stage):
    """Neurons switching exactly on faces of the box: the region beyond the face has no interior.
    relu(x0) on [0, 1] is linear (slope 1) and relu(x0 - 1) never has an interior active region."""
    W = [np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]), np.array([[1.0, 10.0, 1.0]])]
    b = [np.array([0.0, -1.0, 0.0]), np.zeros(1)]
    for p in (1, 2, INF):
        res, truth = check_sound(W, b, Box([0.0, -1.0], [1.0, 0.0]), p, 2, **stage)
        assert truth == pytest.approx(1.0)  # only relu(x0) is active inside: gradient (1, 0)
        assert res.exact and res.upper == pytest.approx(1.0, rel=1e-6)


@pytest.mark.parametrize("delta", [1e-9, 1e-12, 0.0])
def test_nearly_duplicated_neurons(delta, stage):
    """Two neurons whose rows differ by delta: the thin region between them has interior (delta > 0)
    but is thinner than SCIP's tolerances; the upper bound must still cover it."""
    W = [np.array([[1.0, 1.0], [1.0, 1.0 + delta], [1.0, -1.0]]), np.array([[5.0, -5.0, 1.0]])]
    b = [np.zeros(3), np.zeros(1)]
    for p, q in ((2, 2), (1, INF), (INF, 1)):
        check_sound(W, b, Box(-1, 1), p, q, **stage)


@pytest.mark.parametrize("tiny, huge", [(1e-7, 1e7), (1e-4, 1e4)])
def test_tiny_and_huge_weights_in_one_network(tiny, huge, stage):
    W = [np.array([[tiny, 1.0], [1.0, -tiny], [huge, 1.0]]), np.array([[1.0, huge, tiny], [tiny, 1.0, 1.0]])]
    b = [np.array([0.0, 0.5, -huge]), np.zeros(2)]
    for p, q in ((2, 2), (INF, 1), (1, 2)):
        res, truth = check_sound(W, b, Box(-2, 2), p, q, time_limit=10, **stage)
        assert res.status != "error", res.message


def test_inflation_covers_scip_tolerances():
    """inflate() adds UPPER_RTOL relatively; DUAL_ATOL is added in objective space before the norm."""
    assert inflate(1.0) == pytest.approx(1.0 + UPPER_RTOL)
    assert inflate(1.0) > 1.0 and inflate(0.0) == 0.0 and inflate(INF) == INF
    assert UPPER_RTOL >= 1e-7 and DUAL_ATOL >= 1e-9  # SCIP's dual tolerance and epsilon
