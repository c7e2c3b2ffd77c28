"""certify/exact_regions.py against independent computations: every pattern's verdict (interior in the domain
or a proof of none) against the brute-force oracle's full-dimensional regions, and the Motzkin certificates
against scipy's LP on small integer systems."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from lipmiq import Ball, Box, Global
from lipmiq.certify.exact_regions import ExactRegions, strict_certificate
from netgen import degenerate_net, oracle_domain
from oracles.bruteforce import regions
from scipy.optimize import linprog

INF = math.inf
# domains where the decision is complete (polyhedral, or a 2-ball whose closure holds the cones' apex 0);
# centres and radii are dyadic so that "0 on the sphere" is exact
COMPLETE = {
    "box around 0": Box(-1.0, 1.0),
    "box without 0": Box([0.25, -0.5], [1.25, 0.75]),
    "1-ball without 0": Ball([0.75, 0.0], 0.5, 1.0),  # its radius row once lacked the 2**e scale: 4x too large
    "1-ball around 0": Ball([0.25, -0.125], 1.5, 1.0),
    "inf-ball without 0": Ball([-0.75, 0.5], 0.25, INF),
    "2-ball around 0": Ball([0.25, -0.5], 1.0, 2.0),
    "2-ball with 0 on its sphere": Ball([0.75, 0.0], 0.75, 2.0),
    "R^n": Global(),
}


def _patterns(sizes):
    hidden = sizes[1:-1]
    for bits in itertools.product([0, 1], repeat=sum(hidden)):
        cuts = np.cumsum([0] + hidden)
        yield [np.array(bits[a:b], dtype=np.int8) for a, b in zip(cuts[:-1], cuts[1:])]


def _canonical(weights, pattern):
    """The pattern with neurons of identically zero pre-activation (bias-free: exactly zero gradient) inactive,
    as the oracle lists them. Two hidden layers of 2**-20-grid weights: these float64 forms are exact."""
    out, H = [], np.eye(weights[0].shape[1])
    for W, g in zip(weights[:-1], pattern):
        Z = W @ H
        g = np.where(np.any(Z != 0, axis=1), g, 0).astype(bool)
        out.append(tuple(bool(v) for v in g))
        H = Z * g[:, None]
    return tuple(out)


@pytest.mark.parametrize("seed", [0, 3])
@pytest.mark.parametrize("name", list(COMPLETE))
def test_verdicts_are_the_oracles_regions(name, seed):
    sizes = [2, 4, 4, 1]
    weights, biases, _ = degenerate_net(seed, sizes)
    domain = COMPLETE[name].resolve(2)  # as a Problem holds it
    real = {tuple(tuple(bool(v) for v in g) for g in pattern)
            for pattern, _, _ in regions(weights, biases, oracle_domain(domain, 2))}
    exact = ExactRegions(weights, biases, domain)
    proved = 0
    for pattern in _patterns(sizes):
        interior = exact.decide(pattern) is None
        assert interior == (_canonical(weights, pattern) in real), (pattern, interior)
        proved += not interior
    assert real and proved  # both verdicts occur


def test_a_2_ball_away_from_0_proves_only_emptiness():
    """Its box hull is used: a proof is still a proof (the hull contains the ball), 'interior' is not concluded."""
    weights, biases, _ = degenerate_net(0, [2, 4, 4, 1])
    domain = Ball([1.0, 0.75], 0.5, 2.0)
    real = {tuple(tuple(bool(v) for v in g) for g in pattern)
            for pattern, _, _ in regions(weights, biases, oracle_domain(domain, 2))}
    exact = ExactRegions(weights, biases, domain)
    for pattern in _patterns([2, 4, 4, 1]):
        if exact.decide(pattern) is not None:
            assert _canonical(weights, pattern) not in real, pattern


def _strictly_feasible(rows: np.ndarray) -> bool:
    """max t s.t. rows . (x, 1) >= t, t <= 1, by scipy's LP: small integer systems are feasible by a wide margin
    or not at all."""
    n = rows.shape[1] - 1
    res = linprog(np.r_[np.zeros(n), -1.0], A_ub=np.c_[-rows[:, :-1], np.ones(len(rows))], b_ub=rows[:, -1],
                  bounds=[(None, None)] * n + [(None, 1.0)], method="highs")
    assert res.status in (0, 3)
    return res.status == 3 or -res.fun > 1e-7


@pytest.mark.parametrize("seed", range(40))
def test_motzkin_certificates_match_an_lp(seed):
    rng = np.random.default_rng(seed)
    m, n = int(rng.integers(1, 7)), int(rng.integers(1, 4))
    rows = rng.integers(-2, 3, size=(m, n + 1))
    if m >= 3 and seed % 2:  # a dependent row: the sum of two others, as in degenerate networks
        rows[0] = rows[1] + rows[2]
    support = strict_certificate(rows.tolist())
    assert (support is None) == _strictly_feasible(rows.astype(float))
    if support is not None:  # the certificate's rows alone are infeasible
        assert not _strictly_feasible(rows[support].astype(float))
