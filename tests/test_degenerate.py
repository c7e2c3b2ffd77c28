"""Degenerate ReLU networks (issue 14) against the brute-force oracle (tests/oracles/bruteforce.py).

Bias-free networks are positively homogeneous: every region is a cone, and faces where a layer's output
vanishes, or where a neuron is the sum of two others, are whole rays of patterns without interior. The
default pipeline must still certify them exact (docs/reliability.md, "Bias-free networks"). With biases 1e-6
relative to the weights the faces become real but thin regions: there it must be sound, and exact whenever
it says `optimal`. `check_sound` (conftest.py) also re-checks each witness by an independent forward pass.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import check_sound
from lipmiq import Ball, Box, Global
from netgen import FEATURES, degenerate_net

INF = math.inf
PAIRS = [(p, q) for p in (1, 2, INF) for q in (1, 2, INF)]
LIMIT = 120.0  # generous: these close in a few seconds; a slow shared machine must not turn them into a gap

# (seed, layer sizes, domain): 2-4 hidden layers, widths <= 9, one case per kind of domain first
CASES = {
    "box around 0": (1, [2, 6, 5, 3, 2], Box(-1.0, 1.0)),
    "box without 0": (2, [3, 5, 4, 2], Box([0.2, -0.5, 0.1], [1.2, 0.7, 0.9])),
    "2-ball": (3, [3, 4, 6, 2], Ball([0.3, -0.2, 0.5], 0.8, 2.0)),
    "global": (4, [2, 5, 5, 4, 2], Global()),
    "1-ball around 0": (5, [2, 9, 9, 2], Ball([0.1, -0.2], 0.5, 1.0)),
    "inf-ball without 0": (6, [3, 4, 3, 4, 3, 2], Ball([1.0, 0.5, -0.5], 0.4, INF)),
    "box with 0 on its face": (7, [2, 8, 4, 3, 3], Box([0.0, -1.0], [1.5, 0.5])),
}
FIRST_FOUR = list(CASES)[:4]
PAIRS_OF_THE_REST = [(1, 1), (2, 2), (INF, INF), (2, 1)]


def _net(name: str, bias):
    seed, sizes, domain = CASES[name]
    weights, biases, planted = degenerate_net(seed, sizes, bias)
    return weights, biases, domain, planted


def test_cases_plant_every_feature_and_the_relations_hold_exactly():
    """The cases carry all four features, and the planted rows are what they claim to be, exactly in float64
    (the test would not test degeneracy otherwise)."""
    seen = {entry.split(": ")[1] for name in CASES for entry in _net(name, None)[3]}
    assert seen == set(FEATURES)
    for name in CASES:
        for bias in (None, 1e-6):
            weights, biases, _, planted = _net(name, bias)
            for k, W in enumerate(weights[:-1]):
                n_dead = sum(1 for r in W if np.all(r <= 0) and (k > 0 or not np.any(r)))
                assert n_dead >= planted.count(f"layer {k}: dead")
                copies = sum(1 for i in range(len(W)) for j in range(i) if np.linalg.matrix_rank(W[[i, j]]) < 2)
                assert copies >= planted.count(f"layer {k}: duplicate") + planted.count(f"layer {k}: opposite")
                sums = sum(1 for i in range(len(W)) for j in range(len(W)) for h in range(j)
                           if len({i, j, h}) == 3 and (np.array_equal(W[i], W[j] + W[h]) or
                                                       np.array_equal(W[i], W[j] - W[h]) or
                                                       np.array_equal(W[i], W[h] - W[j])))
                assert sums >= planted.count(f"layer {k}: sum")
            if bias is None:
                assert all(not np.any(b) for b in biases)


def _exact_case(name: str, p, q):
    weights, biases, domain, _ = _net(name, None)
    res, truth = check_sound(weights, biases, domain, p, q, time_limit=LIMIT)
    assert res.status == "optimal" and res.exact, (res, truth)


@pytest.mark.parametrize("p, q", PAIRS)
@pytest.mark.parametrize("name", FIRST_FOUR)
def test_bias_free_exact_all_pairs(name, p, q):
    _exact_case(name, p, q)


@pytest.mark.parametrize("p, q", PAIRS_OF_THE_REST)
@pytest.mark.parametrize("name", list(CASES)[4:])
def test_bias_free_exact_wider_deeper(name, p, q):
    _exact_case(name, p, q)


@pytest.mark.parametrize("p, q", [(1, 2), (2, 2), (INF, 1)])
@pytest.mark.parametrize("name", list(CASES))
def test_tiny_biases_sound_and_honest(name, p, q):
    """Biases 1e-6 relative to the weights: thin but real regions. Sound always; `optimal` means exact."""
    weights, biases, domain, _ = _net(name, 1e-6)
    res, truth = check_sound(weights, biases, domain, p, q, time_limit=LIMIT)
    assert res.status != "optimal" or res.exact, (res, truth)


@pytest.mark.parametrize("share", [0.0, 1.0])
def test_scip_alone_and_regions_alone_close_a_bias_free_case(share):
    """Both engines of the pipeline are exact on a bias-free network: SCIP's closed problem (no-goods from
    emptiness proofs remove the patterns without interior) and the region branch-and-bound (thin regions
    decided exactly)."""
    weights, biases, domain, _ = _net("box around 0", None)
    res, truth = check_sound(weights, biases, domain, 2, 1, time_limit=LIMIT, region_share=share)
    assert res.status == "optimal" and res.exact, (res, truth)
