"""The MIQCQP method against the independent brute-force region enumeration (tests/oracles/bruteforce.py).

Unless a test says otherwise it runs SCIP's MIQCQP alone (region_share=0): the default pipeline's region
branch-and-bound would close most of these small queries before SCIP starts (tests/test_enumerate.py)."""
import math

import numpy as np
import pytest
from conftest import STAGES
from lipmiq import Ball, Box, Global, Network, lipschitz
from netgen import oracle_domain, random_net
from oracles.bruteforce import exact_lipschitz

INF = math.inf
PAIRS = [(p, q) for p in (1, 2, INF) for q in (1, 2, INF)]


SCIP_ONLY = STAGES["scip"]


def check(weights, biases, domain, p, q, output=None, encoding="quadratic", time_limit=60, options=SCIP_ONLY):
    net = Network(weights, biases)
    n = net.input_dim
    res = lipschitz(net, domain, p, q, output=output, encoding=encoding, time_limit=time_limit, **options)
    c = None
    if output is not None:
        c = np.eye(net.output_dim)[output] if isinstance(output, int) else np.asarray(output, float)
    dom = domain.resolve(n) if domain is not None else Global()
    truth = exact_lipschitz(weights, biases, oracle_domain(dom), p, q, c=c)
    tol = 1e-9 * max(1.0, truth)
    assert res.lower <= truth + tol, (res, truth)
    assert res.upper >= truth - tol, (res, truth)
    if res.status == "optimal":
        assert res.exact, res
        assert abs(res.upper - truth) <= 2e-6 * max(1.0, truth), (res, truth)
    return res, truth


CASES = [
    (0, [2, 4, 2], Box(-1, 1)),
    (1, [3, 5, 3], Box(0, 1)),
    (2, [3, 4, 4, 2], Box(-0.5, 0.5)),
    (3, [2, 3, 3, 3, 2], Box(-1, 2)),
    (4, [3, 6, 2], Ball([0.2, -0.1, 0.3], 0.8, 2)),
    (5, [3, 5, 2], Ball([0.0, 0.5, -0.5], 1.0, 1)),
    (6, [2, 5, 3], Global()),
    (7, [3, 4, 3, 2], Global()),
]


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("seed, sizes, domain", CASES)
@pytest.mark.parametrize("p, q", PAIRS)
def test_random_networks_all_norm_pairs(seed, sizes, domain, p, q, stage):
    weights, biases = random_net(seed, sizes)
    res, truth = check(weights, biases, domain, p, q, options=STAGES[stage])
    assert res.status == "optimal", res


@pytest.mark.parametrize("p", [1, 2, INF])
@pytest.mark.parametrize("output", [0, [1.0, -2.0]])
def test_scalar_outputs(p, output):
    weights, biases = random_net(11, [3, 6, 4, 2])
    res, truth = check(weights, biases, Box(-1, 1), p, 2, output=output)
    assert res.exact


@pytest.mark.parametrize("p, q", [(2, 2), (INF, INF), (1, 1), (INF, 2)])
@pytest.mark.parametrize("seed, sizes, domain", [CASES[2], CASES[4], CASES[6]])
def test_bigm_and_quadratic_agree(seed, sizes, domain, p, q):
    weights, biases = random_net(seed, sizes)
    quad, truth = check(weights, biases, domain, p, q, encoding="quadratic")
    bigm, _ = check(weights, biases, domain, p, q, encoding="bigm")
    assert quad.exact and bigm.exact
    assert abs(quad.upper - bigm.upper) <= 2e-6 * max(1.0, truth)


def test_identity_through_opposite_relus():
    """f(x) = relu(x) - relu(-x) = x: L = 1, while the closed problem at x = 0 admits slope 2."""
    weights, biases = [np.array([[1.0], [-1.0]]), np.array([[1.0, -1.0]])], [np.zeros(2), np.zeros(1)]
    for domain in (Box(-1, 1), Box(0, 1), Global(), Ball([0.1], 0.5, 2)):
        res, truth = check(weights, biases, domain, 2, 2)
        assert truth == pytest.approx(1.0)
        assert res.exact and res.upper == pytest.approx(1.0, rel=1e-6)


@pytest.mark.parametrize("p, q", [(2, 2), (INF, INF), (1, 2)])
def test_bias_free_network_on_box_around_zero(p, q):
    weights, _ = random_net(21, [2, 6, 5, 2])
    biases = [np.zeros(w.shape[0]) for w in weights]
    for domain in (Box(-1, 1), Box([0, -1], [1, 1]), Global()):
        res, truth = check(weights, biases, domain, p, q)
        assert res.exact, res


@pytest.mark.parametrize("p, q", [(2, 2), (INF, INF), (1, 1), (INF, 1)])
def test_duplicated_and_opposite_neurons(p, q):
    weights, biases = random_net(31, [3, 4, 3])
    W0, b0 = weights[0], biases[0]
    # neuron 4 duplicates neuron 0 (scaled by 2), neuron 5 is the opposite of neuron 1
    W0 = np.vstack([W0, 2 * W0[0], -W0[1]])
    b0 = np.concatenate([b0, [2 * b0[0], -b0[1]]])
    rng = np.random.default_rng(5)
    W1 = np.hstack([weights[1], rng.standard_normal((3, 2))])
    for domain in (Box(-1, 1), Global()):
        res, truth = check([W0, W1], [b0, biases[1]], domain, p, q)
        assert res.exact, res


def test_zero_width_box_coordinates():
    weights, biases = random_net(41, [3, 5, 2])
    res, truth = check(weights, biases, Box([0, 0.5, -1], [1, 0.5, 1]), 2, 2)
    assert res.exact
    assert res.witness.x[1] == 0.5 and res.witness.v[1] == 0.0


def test_single_point_domain_is_zero():
    weights, biases = random_net(42, [3, 5, 2])
    res = lipschitz(Network(weights, biases), Box([0.1, 0.2, 0.3], [0.1, 0.2, 0.3]), 2, 2)
    assert res.lower == 0.0 and res.upper == 0.0 and res.exact


def test_linear_network_closed_form():
    W = np.array([[1.0, 2.0, -1.0], [0.5, 0.0, 3.0]])
    for p, q in PAIRS:
        res, truth = check([W], [np.zeros(2)], Box(-1, 1), p, q)
        assert res.exact


def test_warm_start_keeps_upper_bound_sound():
    """Regression: with the sampled witness as a starting solution, SCIP's presolve dual reductions
    once discarded the optimal pattern and reported upper = 15.4331 < L = 15.6490 (p = q = 1)."""
    weights, biases = random_net(3, [2, 3, 3, 3, 2])
    for encoding in ("quadratic", "bigm"):
        res, truth = check(weights, biases, Box(-1, 2), 1, 1, encoding=encoding)
        assert truth == pytest.approx(15.648987677681102, rel=1e-9)
        assert res.exact


@pytest.mark.parametrize("stage", STAGES)
def test_numerical_extremes_from_review(stage):
    """Regressions of a soundness review: a 1e-9-wide real region must not be cut as empty; tiny first-layer
    weights must not make a real region look empty to HiGHS; an upper bound contradicting a certified
    lower bound is never reported."""
    d = 1e-9
    thin = lipschitz(Network([[[1.0], [1.0]], [[1 / d, -1 / d]]], [[-0.5, -0.5 - d], [0.0]]), Box(0.0, 1.0), 2, 2,
                     time_limit=20, **STAGES[stage])
    assert thin.upper >= 1e9 * (1 - 1e-6)
    tiny = lipschitz(Network([[[1.0, 1e-10], [-1.0, 1e-10]], [[1.0, -1.0]]], [[0.0, 0.0], [0.0]]), Global(), 2, 2,
                     time_limit=20, **STAGES[stage])
    assert tiny.upper >= 2.0 * (1 - 1e-9)
    dropped = lipschitz(Network([[[1e-10], [-1e-10]], [[1e10, 2e10]], [[1.0]]], [[0, 0], [0.5], [0.0]]),
                        Box(-1.0, 1.0), 2, 2, time_limit=20, **STAGES[stage])
    assert dropped.upper >= 2.0 * (1 - 1e-9) and dropped.lower <= dropped.upper


def test_constant_chain_bounds_do_not_prune_everything():
    """Review R3: interval and symbolic rounding once gave l > u by an ulp on a constant neuron."""
    W = [[[0.0], [1.0]], [[0.59, 0], [0, 1.0]], [[0.83, 0], [0, 1.0]], [[1.0, 1.0]]]
    b = [[0.76, 0], [0.94, 0], [-0.1, 0], [0.0]]
    for method, options in (("miqcqp", SCIP_ONLY), ("miqcqp", {}), ("enumerate", {})):
        res = lipschitz(Network(W, b), Box(-1.0, 1.0), 2, 2, method=method, time_limit=20, **options)
        assert res.exact and res.upper == pytest.approx(1.0, rel=1e-6)
