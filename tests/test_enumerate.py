"""method="enumerate" and the pattern branch-and-bound, against the brute-force oracle, exhaustive
enumeration of patterns and the published exact values of tests/data/reference.json."""
import itertools
import math
import re

import numpy as np
import pytest
from conftest import REFERENCE
from lipmiq import Ball, Box, Global, Network, _core, lipschitz
from lipmiq.methods.patterns import full_rank_rows, rank_one_max
from netgen import oracle_domain, random_net
from oracles.bruteforce import exact_lipschitz, exact_opnorm

INF = math.inf


def check_exact(weights, biases, domain, p, q, output=None):
    net = Network(weights, biases)
    res = lipschitz(net, domain, p, q, output=output, method="enumerate", time_limit=60)
    c = None if output is None else np.eye(net.output_dim)[output]
    truth = exact_lipschitz(weights, biases, oracle_domain(domain.resolve(net.input_dim)), p, q, c=c)
    assert res.status == "optimal", res
    assert res.lower <= truth * (1 + 1e-9) + 1e-12, (res, truth)
    assert res.upper >= truth * (1 - 1e-9), (res, truth)
    assert res.exact and abs(res.upper - truth) <= 2e-6 * max(1.0, truth), (res, truth)
    return res


CASES = [
    (0, [2, 4, 2], Box(-1, 1)),
    (2, [3, 4, 4, 2], Box(-0.5, 0.5)),
    (3, [2, 3, 3, 3, 2], Box(-1, 2)),
    (4, [3, 6, 2], Ball([0.2, -0.1, 0.3], 0.8, 2)),
    (5, [3, 5, 2], Ball([0.0, 0.5, -0.5], 1.0, 1)),
    (10, [3, 5, 4, 2], Ball([0.1, 0.0, -0.2], 0.7, INF)),
    (6, [2, 5, 3], Global()),
    (7, [3, 4, 3, 2], Global()),
]


@pytest.mark.parametrize("seed, sizes, domain", CASES)
@pytest.mark.parametrize("p, q", [(2, 2), (1, INF), (INF, 1), (INF, 2), (2, 1)])
def test_enumerate_equals_bruteforce(seed, sizes, domain, p, q):
    check_exact(*random_net(seed, sizes), domain, p, q)


@pytest.mark.parametrize("p", [1, 2, INF])
def test_enumerate_scalar_output(p):
    check_exact(*random_net(12, [3, 5, 4, 2]), Box(-1, 1), p, 2, output=1)


@pytest.mark.parametrize("p, q", [(2, 2), (1, 1), (INF, INF), (INF, 2), (2, 1), (INF, 1)])
def test_global_one_layer_pattern_bnb(p, q):
    """Independent rows on R^n: the pattern branch-and-bound answers without region enumeration."""
    weights, biases = random_net(21, [6, 5, 3])
    res = check_exact(weights, biases, Global(), p, q)
    if (p, q) != (2, 2) and not (q == 2 and p == INF):
        assert res.stats["closed_by"] == "patterns" and res.stats["regions"] == 0, res.stats


@pytest.mark.parametrize("p", [1, 2, INF])
def test_global_one_layer_scalar_bnb(p):
    weights, biases = random_net(22, [7, 6, 4])
    res = check_exact(weights, biases, Global(), p, 2, output=2)
    assert res.stats["closed_by"] == "patterns" and res.stats["regions"] == 0, res.stats


def test_dependent_rows_fall_back_to_regions():
    weights, biases = random_net(23, [2, 4, 2])  # 4 rows in R^2: dependent, not every pattern exists
    assert not full_rank_rows(weights[0])
    res = check_exact(weights, biases, Global(), 2, INF)
    assert res.stats["closed_by"] == "regions" and res.stats["regions"] > 0, res.stats


def test_full_rank_rows():
    rng = np.random.default_rng(0)
    W = rng.standard_normal((4, 6))
    assert full_rank_rows(W)
    W[3] = W[0] - 2.0 * W[1]
    assert not full_rank_rows(W)
    assert not full_rank_rows(rng.standard_normal((5, 3)))


def _reference(names):
    return [q for q in REFERENCE if q["network"] in names]


@pytest.mark.parametrize("query", _reference({"lipbab_iris_4-5-5-3", "lipbab_sdnet_10-15-10-3", "lipbab_sdnet_10-20-15-10-3"}),
                         ids=lambda q: f"{q['network']}-{q['p']}")
def test_lipbab_reference(query, data_dir):
    res = lipschitz(str(data_dir / f"{query['network']}.npz"), Box(*query["domain"]["box"]), query["p"], query["q"],
                    method="enumerate", time_limit=60)
    assert res.status == "optimal" and res.exact, res
    # published values have 4 decimals
    assert abs(res.upper - query["exact"]) <= 5e-5 * max(1.0, query["exact"]) + 5e-5, (res.upper, query["exact"])


def test_time_limit_keeps_sound_bounds():
    weights, biases = random_net(30, [6, 30, 30, 2])
    net = Network(weights, biases)
    res = lipschitz(net, Box(-1, 1), 2, 2, method="enumerate", time_limit=0.3)
    assert res.status == "time_limit" and math.isfinite(res.upper) and res.lower <= res.upper


# ---- the pattern branch-and-bound against exhaustive enumeration --------------------------------
@pytest.mark.parametrize("r", [1.0, 2.0, INF])
def test_pattern_max_exhaustive(r):
    rng = np.random.default_rng(int(r) if math.isfinite(r) else 9)
    for trial in range(12):
        n, d = int(rng.integers(1, 13)), int(rng.integers(1, 6))
        A = rng.standard_normal((n, d)) * rng.uniform(0.1, 3.0, (n, 1))
        s0 = rng.standard_normal(d) * (trial % 3)
        G = np.array(list(itertools.product([0.0, 1.0], repeat=n)))
        truth = float(np.max(np.linalg.norm(s0 + G @ A, ord=r, axis=1)))
        value, g, complete, improved, nodes = _core.pattern_max(A, s0, r)
        assert complete and abs(value - truth) <= 1e-12 * max(1.0, truth), (value, truth)
        assert abs(np.linalg.norm(s0 + g @ A, ord=r) - value) <= 1e-12 * max(1.0, value)


def test_pattern_max_incumbent_and_limits():
    rng = np.random.default_rng(5)
    A, s0 = rng.standard_normal((10, 3)), np.zeros(3)
    truth = float(np.max(np.linalg.norm(np.array(list(itertools.product([0.0, 1.0], repeat=10))) @ A, axis=1)))
    value, g, complete, improved, _ = _core.pattern_max(A, s0, 2.0, truth * 2)
    assert complete and not improved and value == pytest.approx(truth * 2)  # nothing beats the incumbent
    value, g, complete, improved, _ = _core.pattern_max(A, s0, 2.0, truth * 0.5)
    assert complete and improved and value == pytest.approx(truth, rel=1e-12)
    with pytest.raises(ValueError):
        _core.pattern_max(A, s0, 3.0)


@pytest.mark.parametrize("p, q", [(1, 1), (1, 2), (1, INF), (2, INF), (INF, INF), (2, 1), (INF, 1)])
def test_rank_one_max_exhaustive(p, q):
    rng = np.random.default_rng(int(10 * (p if math.isfinite(p) else 3) + (q if math.isfinite(q) else 3)))
    m, h, n = 3, 9, 4
    C, R, J0 = rng.standard_normal((m, h)), rng.standard_normal((h, n)), 0.3 * rng.standard_normal((m, n))
    truth = max(exact_opnorm(J0 + C @ (np.array(g)[:, None] * R), p, q)
                for g in itertools.product([0.0, 1.0], repeat=h))
    value, g, complete = rank_one_max(C, R, J0, p, q, time_limit=10)
    assert complete and abs(value - truth) <= 1e-10 * max(1.0, truth), (value, truth)
    assert abs(exact_opnorm(J0 + C @ (g[:, None] * R), p, q) - value) <= 1e-10 * max(1.0, value)


def test_rank_one_max_declines_matrix_pairs():
    rng = np.random.default_rng(0)
    C, R = rng.standard_normal((3, 5)), rng.standard_normal((5, 4))
    assert rank_one_max(C, R, np.zeros((3, 4)), 2, 2, 1.0) is None
    assert rank_one_max(C, R, np.zeros((3, 4)), INF, 2, 1.0) is None


@pytest.mark.parametrize("p", [1, 2, INF])
def test_miqcqp_uses_pattern_bnb_on_global_one_layer(p):
    """The MIQCQP method answers one-layer global queries with independent rows exactly, before SCIP."""
    weights, biases = random_net(31, [9, 7, 3])
    net = Network(weights, biases)
    # without the engine's first bound, which is exact here for p = 1 and would let sampling close the query
    res = lipschitz(net, Global(), p, 2, output=1, time_limit=60, gradient_share=0.0)
    truth = exact_lipschitz(weights, biases, ("global",), p, 2, c=np.eye(3)[1])
    assert res.status == "optimal" and res.exact, res
    assert abs(res.upper - truth) <= 2e-6 * max(1.0, truth) and res.lower <= truth * (1 + 1e-9)
    assert res.stats["closed_by"] == "patterns" and "scip" not in res.stats["stages"], res.stats


def test_lipbab_deep_reference(data_dir):
    """A 3-hidden-layer network (747 regions): the incremental region LP keeps this to seconds."""
    query = _reference({"lipbab_sdnet_10-30-30-30-3"})[0]
    res = lipschitz(str(data_dir / "lipbab_sdnet_10-30-30-30-3.npz"), Box(*query["domain"]["box"]), query["p"],
                    query["q"], method="enumerate", time_limit=120)
    assert res.status == "optimal" and res.exact, res
    assert abs(res.upper - query["exact"]) <= 5e-5 * max(1.0, query["exact"]) + 5e-5, (res.upper, query["exact"])


def test_local_search_improves_soundly():
    """Pattern hill climbing from a sampled witness only offers certified values, never above the truth."""
    from lipmiq.bounds import propagation
    from lipmiq.certify.witness import certify
    from lipmiq.methods.patterns import local_search
    from lipmiq.problem import make_problem
    from lipmiq.tracker import Tracker

    weights, biases = random_net(40, [4, 8, 8, 3])
    net, dom = Network(weights, biases), Box(-1, 1)
    problem = make_problem(net, dom, 2, 2)
    truth = exact_lipschitz(weights, biases, ("box", -np.ones(4), np.ones(4)), 2, 2)
    tracker = Tracker(30)
    rng = np.random.default_rng(0)
    start = min((w for w in (certify(problem, x) for x in rng.uniform(-1, 1, (20, 4))) if w is not None), key=lambda w: w.value)
    tracker.offer_lower(start)
    local_search(problem, tracker, propagation.symbolic(net, dom.resolve(4)), 10.0)
    assert start.value <= tracker.lower <= truth * (1 + 1e-9)
    assert tracker.lower > start.value  # the worst sampled region is not a local optimum here


def test_sampling_stage_climbs_to_the_exact_value_from_several_starts():
    """The search methods' first lower bound (sampling, then hill climbs from the best sampled patterns) reaches
    the brute-force L on small networks: all 60 here, against 50 with the climb from the best witness alone; and
    it never exceeds L."""
    from lipmiq.bounds import root_bounds
    from lipmiq.methods.sample import sampling_stage
    from lipmiq.problem import make_problem
    from lipmiq.tracker import Tracker

    hits = 0
    for seed in range(20):
        weights, biases = random_net(seed, [3, 7, 7, 1])
        net = Network(weights, biases)
        for p in (INF, 2.0, 1.0):
            problem = make_problem(net, Box(-1, 1), p, p)
            tracker = Tracker(30)
            sampling_stage(problem, tracker, 0, root_bounds(problem.network, problem.domain, tracker.deadline))
            truth = exact_lipschitz(weights, biases, ("box", -np.ones(3), np.ones(3)), p, p)
            assert tracker.lower <= truth * (1 + 1e-9), (seed, p, tracker.lower, truth)
            hits += tracker.lower >= truth * (1 - 1e-8)
    assert hits >= 58, hits


def test_best_patterns_of_no_points_or_none_wanted_is_empty():
    from lipmiq.methods.sample import best_patterns
    from lipmiq.problem import make_problem

    weights, biases = random_net(0, [3, 4, 1])
    problem = make_problem(Network(weights, biases), Box(-1, 1), 2, 2)
    X = np.random.default_rng(0).uniform(-1, 1, (10, 3))
    assert best_patterns(problem, X, np.arange(10.0), 0) == []
    assert best_patterns(problem, X[:0], np.arange(0.0), 5) == []
    assert 1 <= len(best_patterns(problem, X, np.arange(10.0), 3)) <= 3


@pytest.mark.parametrize("seed, sizes, domain", [(2, [3, 6, 6, 2], Box(-0.5, 0.5)), (7, [3, 5, 5, 2], Global()),
                                                 (10, [3, 6, 5, 2], Ball([0.1, 0.0, -0.2], 0.7, INF))])
@pytest.mark.parametrize("p, q", [(2, 2), (1, 1), (INF, INF), (2, INF)])
def test_region_pruning_keeps_the_exact_value(seed, sizes, domain, p, q):
    """Subtrees skipped by the interval Jacobian bound never hold a better region: pruned and unpruned
    enumerations both equal the brute-force value, and pruning saves LPs."""
    weights, biases = random_net(seed, sizes)
    pruned = check_exact(weights, biases, domain, p, q)
    full = lipschitz(Network(weights, biases), domain, p, q, method="enumerate", time_limit=60, prune=False)
    assert full.exact and full.upper == pytest.approx(pruned.upper, rel=1e-9), (full, pruned)
    assert full.stats["pruned_subtrees"] == 0 and full.stats["regions"] >= pruned.stats["regions"]
    assert pruned.stats["region_lps"] <= full.stats["region_lps"]


ENGINE_DOMAINS = [Box(-1, 1), Ball([0.3, -0.2, 0.1, 0.0], 1.0, 2), Ball([0.3, -0.2, 0.1, 0.0], 1.5, 1),
                  Ball([0.3, -0.2, 0.1, 0.0], 0.8, INF), Global()]


@pytest.mark.parametrize("domain", ENGINE_DOMAINS)
@pytest.mark.parametrize("p, q", [(2, 2), (INF, INF), (1, 2)])
def test_engine_pruning_equals_bruteforce(domain, p, q):
    """Subtrees pruned by the gradient-bound engine (where the interval Jacobian bound fails) never hold a
    better region: the enumeration still equals the brute-force value, and the engine did prune."""
    weights, biases = random_net(31, [4, 8, 8, 2])
    net = Network(weights, biases)
    res = lipschitz(net, domain, p, q, method="enumerate", time_limit=60, engine_prune=True)
    truth = exact_lipschitz(weights, biases, oracle_domain(domain.resolve(net.input_dim)), p, q)
    assert res.status == "optimal", res
    assert res.lower <= truth * (1 + 1e-9) + 1e-12 and res.upper >= truth * (1 - 1e-9), (res, truth)
    assert res.exact and abs(res.upper - truth) <= 2e-6 * max(1.0, truth), (res, truth)
    engine = re.search(r"engine calls \(.*\) pruned (\d+) subtrees", res.message)
    assert engine is not None and int(engine.group(1)) > 0, res.message


@pytest.mark.parametrize("sizes, on", [([3, 20, 20, 1], False), ([3, 20, 21, 1], True)])
def test_engine_prunes_by_default_past_the_neuron_threshold(sizes, on):
    """engine_prune="auto" (the default, and the pipeline's region stage): the engine joins the interval bound
    only on networks with more than ENGINE_NEURONS (40) hidden neurons; True / False override it."""
    from lipmiq.methods.enumerate import ENGINE_NEURONS, RegionEnumerator
    from lipmiq.problem import make_problem
    from lipmiq.tracker import Tracker
    assert ENGINE_NEURONS == 40
    weights, biases = random_net(5, sizes)
    problem = make_problem(Network(weights, biases), Box(-1.0, 1.0), 2, 2, None)
    assert RegionEnumerator(problem, Tracker(60.0), None).engine is on
    assert RegionEnumerator(problem, Tracker(60.0), None, engine=not on).engine is (not on)


@pytest.mark.parametrize("seed, sizes, domain", CASES[:3] + CASES[6:])
@pytest.mark.parametrize("p, q", [(2, 2), (INF, 1)])
def test_miqcqp_region_stage_equals_bruteforce(seed, sizes, domain, p, q):
    """The default pipeline's region branch-and-bound (pruning from the sampled lower bound) is exact."""
    weights, biases = random_net(seed, sizes)
    net = Network(weights, biases)
    res = lipschitz(net, domain, p, q, time_limit=60)
    truth = exact_lipschitz(weights, biases, oracle_domain(domain.resolve(net.input_dim)), p, q)
    assert res.lower <= truth * (1 + 1e-9) + 1e-12 and res.upper >= truth * (1 - 1e-9), (res, truth)
    assert res.exact, res


def test_domain_thinner_than_the_margin_is_reported_as_such():
    """A box 1e-9 wide in one coordinate: no region can be certified; the enumeration says why (it once
    said 'stopped at the time limit' after 2 ms) and the default pipeline still ends with sound bounds."""
    weights, biases = random_net(1, [2, 4, 3, 1])
    net, dom = Network(weights, biases), Box([-1.0, 0.0], [1.0, 1e-9])
    res = lipschitz(net, dom, 2, 2, method="enumerate", time_limit=20)
    assert res.status == "error" and "thinner" in res.message, res
    default = lipschitz(net, dom, 2, 2, time_limit=20)
    assert default.lower <= default.upper and default.upper >= res.lower
