"""LipSDP with slopes (lipmiq.sdp): the barrier's derivatives against finite differences, the certificate
against hand-built matrices, and the bounds against closed forms and the brute-force oracle."""
from __future__ import annotations

import math
import time

import numpy as np
import pytest
from conftest import ROUNDING_ATOL, TRUTH_RTOL, check_sound, magnitude, oracle_regions
from lipmiq import Ball, Box, Global, Network, _core, lipschitz
from lipmiq.sdp import barrier, search
from lipmiq.sdp.certify import certified_rho
from lipmiq.sdp.model import FREE, build
from netgen import mixed_net, oracle_domain, random_net
from oracles import lipsdp_reference


def _free(weights):
    return [np.full(W.shape[0], FREE, dtype=np.int8) for W in weights[:-1]]


def _barrier_value(model, y, mu):
    """rho / mu - log det(-M) - sum log t, in numpy: the function whose derivatives the core's Newton steps use."""
    sign, logdet = np.linalg.slogdet(-lipsdp_reference.matrix(model, y[0], y[1:]))
    return y[0] / mu - logdet - np.sum(np.log(y[1:])) if sign > 0 and np.all(y[1:] > 0) else math.inf


def _derivatives(model, y, mu):
    return _core.sdp_barrier_derivatives(model.n0, model.index, model.rows, model.gram, y[0], y[1:], mu)


def test_barrier_gradient_and_hessian_match_finite_differences():
    weights, _ = random_net(3, [3, 4, 3, 2], bias_scale=0.3, fan_in=True)
    slopes = _free(weights)
    slopes[1][0] = 1          # a fixed-active neuron: its output is eliminated as a linear function
    slopes[0][2] = 0
    model = build(weights, slopes)
    point = barrier.start(weights, model)
    mu = point.rho / 7.0
    y = np.concatenate([[point.rho], point.t])
    value, g, H = _derivatives(model, y, mu)
    assert value == pytest.approx(_barrier_value(model, y, mu), rel=1e-12)
    h = 1e-6 * np.maximum(np.abs(y), 1e-3)
    for i in range(y.size):
        e = np.zeros_like(y)
        e[i] = h[i]
        fd = (_barrier_value(model, y + e, mu) - _barrier_value(model, y - e, mu)) / (2 * h[i])
        assert fd == pytest.approx(g[i], rel=1e-4, abs=1e-6 * (1 + abs(g[i])))
        gp = _derivatives(model, y + e, mu)[1]
        gm = _derivatives(model, y - e, mu)[1]
        np.testing.assert_allclose((gp - gm) / (2 * h[i]), H[i], rtol=1e-3, atol=1e-6 * np.abs(H).max())
    assert _derivatives(model, np.concatenate([[0.0], y[1:]]), mu)[0] == math.inf   # rho = 0: -M is not > 0


def test_barrier_reaches_the_textbook_optimum_of_a_one_neuron_chain():
    """x -> relu(a x) -> c relu(.): LipSDP's value is |a c| (the slope set [0, 1] contains 1); the core's path
    ends within its gap of rho = (a c)^2 and the certificate proves a bound just above it."""
    a, c = 1.7, -0.6
    weights = [np.array([[a]]), np.array([[c]])]
    model = build(weights, _free(weights))
    solution = barrier.solve(model, barrier.start(weights, model))
    assert solution.point.rho == pytest.approx((a * c) ** 2, rel=1e-6)
    assert np.all(solution.point.t > 0) and solution.dual.shape == (2, 2)
    bound = math.sqrt(certified_rho(model, solution.point.t))
    assert abs(a * c) <= bound <= abs(a * c) * (1 + 1e-6)


def test_barrier_with_a_target_stops_once_the_comparison_is_decided():
    """A search only compares the bound with its lower bound: under a target above the optimum (a c)^2 the path
    stops at an iterate under it, whose multipliers prove a bound under it; under one below, it stops once its gap
    is barrier.COARSE_RTOL with the value above the target."""
    a, c = 1.7, -0.6
    weights = [np.array([[a]]), np.array([[c]])]
    model = build(weights, _free(weights))
    best = (a * c) ** 2
    exact = barrier.solve(model, barrier.start(weights, model))
    above = barrier.solve(model, barrier.start(weights, model), target=1.5 * best)
    assert best <= above.point.rho <= 1.5 * best and above.newton < exact.newton
    assert certified_rho(model, above.point.t) <= 1.5 * best
    below = barrier.solve(model, barrier.start(weights, model), target=0.5 * best)
    assert best * (1 - 1e-9) <= below.point.rho <= best * (1 + 2 * barrier.COARSE_RTOL)
    assert below.newton < exact.newton


@pytest.mark.parametrize("seed", range(6))
def test_a_stopped_path_still_bounds_lipsdp_and_the_constant(seed):
    """The branch-and-bound's node rule (coarse gap inf, a Newton budget): the path stops at the first centred point
    shown above the target, or at the budget; its certified bound is still at least the global L of the brute-force
    oracle and at least LipSDP's value, which a centred point's rho - nu mu bounds from below (weak duality)."""
    weights, biases = random_net(seed, [3, 6, 5, 1], bias_scale=0.3, fan_in=True)
    truth, _ = oracle_regions(weights, biases, ("global",), 2.0, 2.0, None)
    model = build(weights, _free(weights))
    start = barrier.start(weights, model)
    full = barrier.solve(model, start)
    value_floor = full.point.rho - (model.size + full.point.t.size) * full.point.mu
    for stop in (barrier.Stop(coarse_rtol=math.inf), barrier.Stop(coarse_rtol=math.inf, max_newton=3)):
        for target in (0.5 * full.point.rho, 1.05 * full.point.rho):
            cut = barrier.solve(model, start, stop=stop, target=target)
            assert 0 < cut.newton <= min(stop.max_newton, full.newton)
            rho = certified_rho(model, cut.point.t)
            assert rho >= value_floor * (1 - 1e-9) and math.sqrt(rho) >= truth * (1 - TRUTH_RTOL)
            if target < full.point.rho and stop.max_newton > 3:  # decided at the first centred point above it
                assert cut.point.rho - (model.size + cut.point.t.size) * cut.point.mu > target


def test_certificate_refuses_zero_multipliers_and_proves_what_it_returns():
    """t = 0 leaves the hidden block U^T U >= 0, which no rho can fix; for t > 0 the returned rho must make
    the textbook block matrix negative definite, and 1e-7 less must not."""
    weights, _ = random_net(5, [3, 4, 2], bias_scale=0.3, fan_in=True)
    model = build(weights, _free(weights))
    assert certified_rho(model, np.zeros(4)) is None
    t = np.full(4, 10.0)
    rho = certified_rho(model, t)
    W1, W2 = weights
    def textbook(rho):
        return np.block([[-rho * np.eye(3), W1.T @ np.diag(t)], [np.diag(t) @ W1, -2 * np.diag(t) + W2.T @ W2]])
    assert np.max(np.linalg.eigvalsh(textbook(rho))) < 0
    assert np.max(np.linalg.eigvalsh(textbook(rho * (1 - 1e-7)))) > 0  # and it is tight: the proof's margin is small


@pytest.mark.parametrize("seed", range(12))
def test_core_model_and_certificate_match_the_numpy_reference(seed):
    """The core's model (cpp/lipsdp_model.cpp) against its numpy twin on random networks and slope codes (free,
    fixed, some layers fully fixed), and its certified rho against the twin's for the barrier's multipliers, the
    same multipliers scaled and arbitrary ones: both prove the same rho up to rounding, or neither proves one."""
    rng = np.random.default_rng(seed)
    sizes = [int(rng.integers(1, 9))] + [int(rng.integers(1, 12)) for _ in range(int(rng.integers(1, 4)))] + \
        [int(rng.integers(1, 4))]
    weights, _ = random_net(seed, sizes, bias_scale=0.3, fan_in=True)
    slopes = _core.sdp_settle(weights, [rng.integers(-1, 2, W.shape[0]).astype(np.int8) for W in weights[:-1]])
    if seed % 4 == 0:
        slopes[0][:] = 1
    core, ref = build(weights, slopes), lipsdp_reference.build(weights, slopes)
    assert (core.n0, core.neuron, core.depth) == (ref.n0, ref.neuron, ref.depth)
    np.testing.assert_array_equal(core.index, ref.index)
    for a, b in ((core.rows, ref.rows), (core.gram, ref.gram), (core.rows_abs, ref.rows_abs),
                 (core.gram_abs, ref.gram_abs)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14 * max(1.0, float(np.abs(b).max(initial=0.0))))
    if core.index.size == 0:
        assert certified_rho(core, np.zeros(0)) == pytest.approx(lipsdp_reference.certified_rho(ref, np.zeros(0)),
                                                                 rel=1e-9)
        return
    solution = barrier.solve(ref, barrier.start(weights, ref))
    for t in (solution.point.t, 1.5 * solution.point.t, rng.uniform(0.0, 3.0, core.index.size), np.zeros(core.index.size)):
        mine, theirs = certified_rho(core, t), lipsdp_reference.certified_rho(ref, t)
        assert (mine is None) == (theirs is None), (mine, theirs)
        if mine is not None:
            assert mine == pytest.approx(theirs, rel=1e-9)


def _settled(weights, slopes):
    """The settling rule in numpy: a free neuron none of whose inputs is reached (through a nonzero weight from
    x_0 or from a neuron that is not fixed at 0) is fixed at 0."""
    reach = np.ones(weights[0].shape[1], dtype=bool)
    out = []
    for W, s in zip(weights[:-1], slopes):
        live = (np.abs(W) @ reach.astype(np.float64)) > 0.0
        s = np.where((s == FREE) & ~live, 0, s).astype(np.int8)
        reach = live & (s != 0)
        out.append(s)
    return out


@pytest.mark.parametrize("seed", range(16))
def test_core_settle_matches_the_rule_on_random_and_degenerate_networks(seed):
    rng = np.random.default_rng(seed)
    weights, _ = mixed_net(seed, [3, 5, 4, 1])
    weights = [W * (rng.random(W.shape) < 0.6) for W in weights]   # zero entries, rows and columns
    slopes = [rng.integers(-1, 2, W.shape[0]).astype(np.int8) for W in weights[:-1]]
    for got, want in zip(_core.sdp_settle(weights, slopes), _settled(weights, slopes)):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("seed", range(8))
def test_core_start_is_strictly_feasible_for_every_slope_set(seed):
    """The start (`barrier.start`, the core's sdp_start) makes -M(rho, t) positive definite and t > 0, checked in
    numpy on the model of random slope codes, and the barrier accepts it."""
    rng = np.random.default_rng(seed)
    weights, _ = random_net(seed, [4, 6, 5, 2], bias_scale=0.3, fan_in=seed % 2 == 0)
    slopes = _core.sdp_settle(weights, [rng.integers(-1, 2, W.shape[0]).astype(np.int8) for W in weights[:-1]])
    model = build(weights, slopes)
    if model.index.size == 0:
        return
    point = barrier.start(weights, model)
    assert np.all(point.t > 0) and point.mu > 0
    assert np.max(np.linalg.eigvalsh(lipsdp_reference.matrix(model, point.rho, point.t))) < 0
    assert barrier.solve(model, point) is not None


@pytest.mark.parametrize("seed", range(6))
def test_node_from_a_warm_parent_agrees_with_a_cold_solve(seed):
    """A child solved from its parent's warm point (the core restricts it to the child's free neurons and re-centres
    it: the mu at which it is best centred) proves a bound at least the LipSDP value (weak duality: at least the cold
    solve's rho - nu mu) and reaches it as the cold solve does; a parent whose free neurons do not include the
    child's is ignored (the cold start, to the same value as the root's solve); the root's bound is at least the
    oracle's L."""
    rng = np.random.default_rng(seed)
    weights, biases = random_net(seed, [3, 6, 5, 1], bias_scale=0.3, fan_in=True)
    net = search.Instance.of(weights)
    root = search.root(net, _free(weights), math.inf)
    truth, _ = oracle_regions(weights, biases, ("global",), 2.0, 2.0, None)
    assert root.bound >= truth * (1 - TRUTH_RTOL)
    layer, row = int(rng.integers(0, 2)), 0
    child = [s.copy() for s in root.slopes]
    child[layer][row] = 1
    free, warm, bound = search.evaluate(net, child, math.inf, root)
    _, cold, cold_bound = search.evaluate(net, child, math.inf)
    assert warm is not None and cold is not None and warm.newton > 0
    floor = cold.point.rho - (free.rows.shape[1] + cold.point.t.size) * cold.point.mu   # in the solver's rho
    assert bound ** 2 >= floor * net.rho_scale * (1 - 1e-9)
    assert bound == pytest.approx(cold_bound, rel=1e-6)   # from a parent's point, the path once stalled 2.6 % above
    assert warm.point.rho <= root.solution.warm.rho   # it started there (fixing a slope only compresses Z)
    # the child as a parent of the root: its free neurons miss the root's fixed one, so the root starts cold
    as_parent = search.Node(-bound, 0, net, child, free, warm)
    _, again, again_bound = search.evaluate(net, _free(weights), math.inf, as_parent)
    assert again is not None and again_bound == pytest.approx(root.bound, rel=1e-6)


def test_core_node_refuses_mismatched_inputs():
    weights, _ = random_net(1, [3, 4, 2], bias_scale=0.3)
    net = search.Instance.of(weights)
    other = _core.Net([np.ones((5, 3)), np.ones((2, 5))])
    options = barrier.path_options(barrier.Stop(), -math.inf, math.inf)
    with pytest.raises(ValueError, match="another shape"):
        _core.sdp_node(net.core, other, net.scale, net.norms, _free(weights), None, **options)
    with pytest.raises(ValueError, match=r"warm must be \(layer, row, rho, t, mu\)"):
        _core.sdp_node(net.core, net.solving_core, net.scale, net.norms, _free(weights), (1, 2), **options)
    with pytest.raises(ValueError, match="slopes has 2 layers"):
        _core.sdp_node(net.core, net.solving_core, net.scale, net.norms, _free(weights) * 2, None, **options)
    root = search.root(net, _free(weights), math.inf)
    w = root.solution.warm
    layer, row = root.free.layer, root.free.row
    for warm, message in (((layer + 0.5, row, w.rho, w.t, w.mu), "warm's layer must be an integer vector"),
                          ((layer.astype(np.int64) + 2 ** 32, row, w.rho, w.t, w.mu), "warm's layer holds 4294967296"),
                          ((layer, row[:-1], w.rho, w.t, w.mu), "differ in length"),
                          ((layer, row, w.rho, w.t[:-1], w.mu), "warm's t"),
                          ((layer, row, w.rho, w.t, 0.0), "warm's mu must be positive and finite")):
        with pytest.raises(ValueError, match=message):
            _core.sdp_node(net.core, net.solving_core, net.scale, net.norms, _free(weights), warm, **options)
    model = build(weights, _free(weights))
    with pytest.raises(ValueError, match="mu must be positive and finite"):
        _core.sdp_barrier(model.n0, model.index, model.rows, model.gram, w.rho, w.t, math.nan,
                          **barrier.path_options(barrier.Stop(), -math.inf, math.inf))
    with pytest.raises(ValueError, match="layer must be an integer vector"):
        _core.sdp_start(model.n0, model.index, model.rows, model.gram, barrier.spectral_norms(weights),
                        np.zeros(model.index.size))


def test_core_model_refuses_bad_slope_codes():
    weights, _ = random_net(1, [3, 4, 2], bias_scale=0.3)
    with pytest.raises(ValueError, match="slopes has 2 layers, expected 1"):
        _core.sdp_slope_model(weights, [np.zeros(4, np.int8)] * 2)
    with pytest.raises(ValueError, match=r"slopes\[0\] has shape \(3,\), expected \(4,\)"):
        _core.sdp_slope_model(weights, [np.zeros(3, np.int8)])
    with pytest.raises(ValueError, match="outside -1, 0, 1"):
        _core.sdp_slope_model(weights, [np.full(4, 2, np.int8)])
    with pytest.raises(ValueError, match="integer vector"):
        _core.sdp_slope_model(weights, [np.zeros(4)])
    for wide in (np.full(4, 255, np.uint8), np.full(4, 256, np.int16)):  # refused, not wrapped into int8
        with pytest.raises(ValueError, match="outside -1, 0, 1"):
            _core.sdp_slope_model(weights, [wide])


def test_barrier_refuses_a_start_that_is_not_strictly_feasible():
    """A warm start that falls outside -M > 0 (rho far too small, a t_j <= 0) or whose barrier is not finite is
    reported, not followed."""
    weights, _ = random_net(5, [3, 4, 2], bias_scale=0.3, fan_in=True)
    model = build(weights, _free(weights))
    point = barrier.start(weights, model)
    assert barrier.solve(model, barrier.Point(1e-12, point.t, point.mu)) is None
    assert barrier.solve(model, barrier.Point(point.rho, -point.t, point.mu)) is None
    # a barrier that is not finite, which the Cholesky factor alone let through (NaN passes dpotrf)
    assert barrier.solve(model, barrier.Point(math.inf, point.t, point.mu)) is None
    assert barrier.solve(model, barrier.Point(math.nan, point.t, point.mu)) is None
    assert barrier.solve(model, barrier.Point(point.rho, np.where(np.arange(point.t.size) == 0, math.inf, point.t),
                                              point.mu)) is None
    assert barrier.solve(model, point) is not None


def test_fully_fixed_slopes_give_the_pattern_spectral_norm():
    weights, _ = random_net(7, [4, 5, 3, 2], bias_scale=0.3, fan_in=True)
    g = [np.array([1, 0, 1, 1, 0], np.int8), np.array([0, 1, 1], np.int8)]
    J = weights[2] @ np.diag(g[1]) @ weights[1] @ np.diag(g[0]) @ weights[0]
    node = search.root(search.Instance.of(weights), g, math.inf)
    exact = np.linalg.norm(J, 2)
    assert exact <= node.bound <= exact * (1 + 1e-8)


def test_one_hidden_layer_with_no_free_neuron_and_no_hidden_layer():
    W = np.array([[3.0, 4.0]])
    assert search.root(search.Instance.of([W]), [], math.inf).bound == pytest.approx(5.0, rel=1e-9)
    assert search.root(search.Instance.of([W]), [], math.inf).bound >= 5.0


def test_branching_goes_below_the_published_bound_and_stays_above_the_truth():
    weights, biases = random_net(11, [4, 6, 6, 1], bias_scale=0.3, fan_in=True)
    truth, _ = oracle_regions(weights, biases, ("global",), 2.0, 2.0, None)
    node = search.root(search.Instance.of(weights), _free(weights), math.inf)
    offered = []
    search.branch_and_bound(node, time.perf_counter() + 2.0, offered.append, lambda: 0.0)
    assert offered and min(offered) < node.bound * (1 - 1e-6)      # the slopes' branching paid
    assert all(u >= truth * (1 - 1e-12) for u in offered + [node.bound]), (truth, offered)


@pytest.mark.parametrize("seed, sizes, domain", [
    (0, [3, 8, 2], Global()), (1, [4, 6, 6, 1], Box(-1, 1)), (2, [3, 5, 4, 3], Box(0, 0.5)),
    (3, [2, 7, 5, 4, 2], Global())])
def test_default_pipeline_with_the_sdp_stage_brackets_the_truth(seed, sizes, domain):
    weights, biases = random_net(seed, sizes, bias_scale=0.3, fan_in=True)
    net = Network(weights, biases)
    # on small boxes the engine's search comes before LipSDP and closes them: it is left out there
    search = {} if isinstance(domain, Global) else {"bab_share": 0.0}
    res = lipschitz(net, domain, 2, 2, time_limit=5, region_share=0.0, pattern_time=0.0, **search)
    truth, _ = oracle_regions(weights, biases, oracle_domain(domain, sizes[0]), 2.0, 2.0, None)
    assert res.lower <= truth * (1 + 1e-9) and res.upper >= truth * (1 - 1e-12), (res, truth)
    assert "sdp" in res.to_dict()["stats"]["stages"]


@pytest.mark.parametrize("seed, domain", [(0, Box(-1, 1)), (1, Box(-1, 1)), (2, Ball(np.zeros(3), 1.0, 2.0)),
                                          (4, Box(0, 0.5))])
def test_small_networks_get_lipsdp_before_and_the_climbs_after_an_unfinished_search(monkeypatch, seed, domain):
    """On small shallow networks over boxes and balls LipSDP's root comes before the engine's search (its nodes
    are bounded by LipSDP too where its root bound is the lower) and the hill climbs wait for the search, running when it does not close (here it
    is cut short at once); the bounds still bracket the truth."""
    from lipmiq.methods import miqcqp

    roots, given = [], []
    lipsdp = miqcqp._lipsdp

    def recorded(*args):
        roots.append(lipsdp(*args))
        return roots[-1]

    def unfinished(problem, tracker, share, engine, sdp, engine_search):
        given.append((engine.upper, sdp))
        with tracker.stage("bab"):
            return "time_limit", "cut short by the test"

    monkeypatch.setattr(miqcqp, "_lipsdp", recorded)
    monkeypatch.setattr(miqcqp, "_branch_and_bound", unfinished)
    weights, biases = random_net(seed, [3, 6, 6, 1], bias_scale=0.3, fan_in=True)
    res, _ = check_sound(weights, biases, domain, 2.0, 2.0, time_limit=10.0)
    stages = list(res.to_dict()["stats"]["stages"])
    assert stages.index("sdp") < stages.index("bab") < stages.index("climbs"), stages
    (engine_upper, sdp), = given  # the search's nodes are bounded by LipSDP too where its root bound is the lower
    assert sdp is (roots[0] if roots[0].bound < engine_upper else None)


def test_small_network_closed_by_lipsdps_root_skips_the_search():
    """When LipSDP's root bound meets the sampled lower bound, the small network is closed there and says so."""
    weights, biases = random_net(3, [3, 6, 6, 1], bias_scale=0.3, fan_in=True)
    res, _ = check_sound(weights, biases, Box(0, 0.5), 2.0, 2.0, time_limit=10.0)
    assert res.status == "optimal" and "LipSDP" in res.message
    assert "bab" not in res.to_dict()["stats"]["stages"]


def test_node_solves_with_a_threshold_on_a_compressed_scaled_network():
    """`below` is converted to the solver's form (first layer compressed to its row space, layers scaled to unit
    norm): just above the LipSDP value the solve stops early with a bound under it; just below, it stops with the
    value known above it, within the coarse gap."""
    rng = np.random.default_rng(5)
    weights = [100.0 * rng.standard_normal((3, 6)), 0.01 * rng.standard_normal((4, 3)), rng.standard_normal((1, 4))]
    net = search.Instance.of(weights)
    slopes = _free(weights)
    _, full, value = search.evaluate(net, slopes, math.inf)
    _, above, bound = search.evaluate(net, slopes, math.inf, below=1.01 * value)
    assert bound <= 1.01 * value and above.newton < full.newton
    _, under, bound = search.evaluate(net, slopes, math.inf, below=0.99 * value)
    assert value * (1 - 1e-9) <= bound <= value * (1 + barrier.COARSE_RTOL) and under.newton < full.newton


def test_lipsdp_method_matches_closed_form_on_one_neuron_chain():
    """x -> 2 relu(3 x): L = 6 and LipSDP is exact on it."""
    net = Network([np.array([[3.0]]), np.array([[2.0]])], [np.zeros(1), np.zeros(1)])
    res = lipschitz(net, Global(), 2, 2, method="lipsdp", time_limit=10)
    assert 6.0 <= res.upper <= 6.0 * (1 + 1e-7)


@pytest.mark.parametrize("domain", [Box(-1, 1), Ball(np.array([0.3, -0.2, 0.1]), 1.0, 2.0)])
@pytest.mark.parametrize("output", [None, 1])
def test_engine_branch_and_bound_with_sdp_node_bounds_is_exact(domain, output):
    """bab_unstable=0 sends the pipeline to the branch-and-bound first; with p = 2 LipSDP's root bound is the
    lower one there, so the engine's nodes are bounded by LipSDP too. Its leaves are still closed by region
    LPs, so the search ends exact, and every bound it offered is at least the truth."""
    weights, biases = random_net(21, [3, 6, 5, 2], fan_in=True)
    res, truth = check_sound(weights, biases, domain, 2.0, 2.0, output=output, time_limit=30.0, bab_unstable=0,
                             region_share=0.0, pattern_time=0.0)
    assert res.exact and res.stats["closed_by"] == "bab", res.message
    assert "LipSDP" in res.message, res.message
    c = None if output is None else np.eye(2)[output]
    tol = TRUTH_RTOL * truth + ROUNDING_ATOL * magnitude(weights, c)
    assert all(upper >= truth - tol for _, _, upper in res.history)


def test_pipeline_branches_on_slopes_on_rn():
    """On R^n the branch-and-bound is LipSDP's own (sdp_bab); every bound of the run brackets the truth."""
    weights, biases = random_net(21, [3, 6, 5, 2], fan_in=True)
    res, truth = check_sound(weights, biases, Global(), 2.0, 2.0, time_limit=10.0, bab_unstable=0,
                             region_share=0.0, pattern_time=0.0)
    assert "sdp_bab" in res.stats["stages"] and "bab" not in res.stats["stages"]
    tol = TRUTH_RTOL * truth + ROUNDING_ATOL * magnitude(weights, None)
    assert all(upper >= truth - tol for _, _, upper in res.history)


@pytest.mark.parametrize("domain", [Global(), Box(-1, 1)])
def test_slope_branch_and_bound_alone_is_exact_on_small_networks(domain):
    """method='lipsdp', branch=True: single-pattern leaves are decided by region LPs (a witness where the region
    exists, dropped where it provably has none), so the search ends on the exact constant."""
    weights, biases = random_net(4, [3, 5, 4, 1], fan_in=True)
    res, truth = check_sound(weights, biases, domain, 2.0, 2.0, method="lipsdp", time_limit=60.0, branch=True)
    assert res.status == "optimal" and res.exact, res.message


@pytest.mark.parametrize("norm", [1.0, 2.0])
def test_huge_gradient_on_a_ball_keeps_its_region(norm):
    """Review finding: the region LP's column scaling shrank a ball's rows x - d <= c below HiGHS's zero
    threshold next to 1e9-scale gradients, so the one region of this fully stable network read as empty and
    the slope search offered an upper bound of 0 (L = 1e9: the neuron is active on the whole ball)."""
    net = Network([np.array([[1e9, 0.0]]), np.array([[1.0]])], [np.zeros(1), np.zeros(1)])
    dom = Ball(np.array([0.5, -1.0]), 0.25, norm)
    for options in (dict(method="lipsdp", branch=True), dict()):
        res = lipschitz(net, dom, 2, 2, time_limit=10, **options)
        assert res.lower <= 1e9 * (1 + 1e-9) and res.upper >= 1e9 * (1 - 1e-12), res


def test_zero_first_layer_row_with_wide_input_on_rn():
    """Review finding: the solver's SVD form turns an exactly zero row into noise, so settling the slopes on it
    left one more free neuron than on the network and the certificate got multipliers of the wrong length."""
    W1 = np.array([[0, 0, 0, 0, 0], [0.625, -0.75, -0.375, -0.5, -0.125], [-0.25, 0.25, 0.125, -0.5, -2.0]])
    weights, biases = [W1, np.ones((1, 3))], [np.zeros(3), np.zeros(1)]
    truth, _ = oracle_regions(weights, biases, ("global",), 2.0, 2.0, None)
    for options in (dict(method="lipsdp"), dict()):
        res = lipschitz(Network(weights, biases), Global(), 2, 2, time_limit=10, **options)
        assert res.status != "error" and res.upper >= truth * (1 - 1e-12), res


def test_ctrl_c_stops_a_long_barrier_solve():
    """A LipSDP solve on 360 free slopes takes seconds in the core with the GIL released: a SIGINT during it must
    raise KeyboardInterrupt within a Newton step, not when the solve ends (the CLI's Ctrl-C waited for it)."""
    import os
    import signal
    import threading
    import time

    weights, _ = random_net(0, [10, 120, 120, 120, 1], fan_in=True)
    start = time.perf_counter()
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # a background suite may ignore SIGINT
    try:
        timer = threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGINT))
        timer.start()
        with pytest.raises(KeyboardInterrupt):
            search.root(search.Instance.of(weights), _free(weights), math.inf)  # about 2.5 s uninterrupted
        timer.join()
    finally:
        signal.signal(signal.SIGINT, previous)
    assert time.perf_counter() - start < 1.5
