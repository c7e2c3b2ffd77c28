"""The branch-and-bound on the gradient-bound engine (`method="bab"`, and the default pipeline's `gradient` and `bab`
stages) against the brute-force oracle: exact where it finishes, and every upper bound it ever reports (the whole
`history`, anytime) at least the exact constant. Profiles (tests/conftest.py): "ci" (default, bounded) and "long"
(`pytest -m fuzz --hypothesis-profile long`: 2,000 examples of the degenerate-network fuzz case)."""
from __future__ import annotations

import itertools
import math
import threading
import warnings

import numpy as np
import pytest
from conftest import ROUNDING_ATOL, TRUTH_RTOL, check_sound, magnitude, oracle_regions
from hypothesis import given, settings
from hypothesis import strategies as st
from lipmiq import Ball, Box, Global, Network, lipschitz
from lipmiq.bounds import root_bounds
from lipmiq.bounds.gradient import NODE_OPTIONS, bound_network, bound_problem
from lipmiq.methods import bab as bab_module
from lipmiq.methods.bab import GradientBaB
from lipmiq.methods.lipsdp import sdp_root
from lipmiq.problem import make_problem
from lipmiq.tracker import Tracker
from netgen import fuzz_domains, oracle_domain, random_net

INF = math.inf
NORMS = (1.0, 2.0, INF)
PAIRS = list(itertools.product(NORMS, NORMS))
DOMAINS = {"box": Box(-1.0, 1.0), "ball": Ball(np.array([0.3, -0.2, 0.1]), 1.0, 2.0), "global": Global()}
CI_EXAMPLES = 20  # the long profile runs its full 2,000


def _history_sound(res, truth: float, weights, c=None) -> None:
    """Every upper bound the run ever reported is at least the exact constant (anytime soundness)."""
    tol = TRUTH_RTOL * truth + ROUNDING_ATOL * magnitude(weights, c)
    for t, _, upper in res.history:
        assert upper >= truth - tol, f"upper {upper!r} < truth {truth!r} at {t} s"


@pytest.mark.parametrize("kind", sorted(DOMAINS))
@pytest.mark.parametrize("p,q", PAIRS)
def test_bab_exact_on_small_networks(kind, p, q):
    weights, biases = random_net(11, [3, 6, 5, 2])
    res, truth = check_sound(weights, biases, DOMAINS[kind], p, q, method="bab", time_limit=30.0)
    _history_sound(res, truth, weights)
    assert res.status == "optimal", res.message
    assert res.exact and res.stats["closed_by"] == "bab"


@pytest.mark.parametrize("seed", [0, 1, 3])
def test_bab_exact_on_scalar_outputs_with_splits(seed):
    """A margin output on a deeper network: the search must split (the root bound is above the truth).
    (Seed 2 does not finish in 30 s: thousands of split combinations with no region; see the test below.)"""
    weights, biases = random_net(100 + seed, [4, 8, 8, 6, 3], fan_in=True)
    res, truth = check_sound(weights, biases, Box(-1.0, 1.0), INF, INF, output=[1.0, -1.0, 0.0], method="bab",
                             time_limit=30.0)
    _history_sound(res, truth, weights, np.array([1.0, -1.0, 0.0]))
    assert res.status == "optimal", res.message


def test_bab_time_limit_is_honest_and_sound():
    """Stopped early on a network it cannot finish in the time: status time_limit, within the time, every
    upper bound of the history sound, and the last one no worse than the engine's root bound."""
    weights, biases = random_net(102, [4, 12, 12, 8, 3], fan_in=True)  # beyond 8 s (4-8-8-6-3 now closes in 0.6 s)
    c = np.array([1.0, -1.0, 0.0])
    res, truth = check_sound(weights, biases, Box(-1.0, 1.0), INF, INF, output=c, method="bab", time_limit=2.0)
    _history_sound(res, truth, weights, c)
    assert res.status == "time_limit", res.message
    assert res.stats["stages"]["bab"] < 3.0
    problem = make_problem(Network(weights, biases), Box(-1.0, 1.0), INF, INF, c)
    assert res.upper <= bound_problem(problem).upper


def test_bab_sign_splits_end_exact():
    """p = inf on 4 inputs: the search splits vertex signs before neurons and still ends at the exact constant
    (the maximum over sign branches), its upper bound never below it on the way."""
    weights, biases = random_net(100, [4, 8, 8, 6, 3], fan_in=True)
    c = np.array([1.0, -1.0, 0.0])
    problem = make_problem(Network(weights, biases), Box(-1.0, 1.0), INF, INF, c)
    truth, _ = oracle_regions(weights, biases, ("box", -np.ones(4), np.ones(4)), INF, INF, c)
    tracker = Tracker(60.0)
    bab = GradientBaB(problem, tracker)
    assert bab.run(time_limit=30.0), bab.note()
    assert bab.sign_splits > 0
    assert all(upper >= truth * (1 - TRUTH_RTOL) for _, _, upper in tracker.history)
    assert tracker.upper == pytest.approx(truth, rel=1e-9) and tracker.lower == pytest.approx(truth, rel=1e-9)


@pytest.mark.parametrize("seed", range(6))
def test_core_sign_excess_follows_the_gradient_bounds(seed):
    """The engine's `sign_excess` recomputed in numpy from its own gradient bounds: per direction input whose vertex
    sign is free, the largest over the output rows of 2 u (-l) / (u - l) where l < 0 < u, else 0; on a box and on
    R^n (the homogenised network, one more input than direction inputs)."""
    rng = np.random.default_rng(seed)
    weights, biases = random_net(100 + seed, [4, 8, 8, 6, 3 if seed % 2 else 1], fan_in=True)
    signs = np.where(rng.random(4) < 0.4, rng.choice([-1, 1], size=4), 0).astype(np.int8)
    domain = Global() if seed >= 4 else Box(-1.0, 1.0)
    res = bound_problem(make_problem(Network(weights, biases), domain, INF, INF), signs=signs)
    assert res.sign_excess.shape == (4,)
    expected = np.zeros(4)
    for lo, hi in res.gradient:
        loose = (signs == 0) & (lo < 0) & (hi > 0)
        expected[loose] = np.maximum(expected[loose], 2 * hi[loose] * -lo[loose] / (hi[loose] - lo[loose]))
    assert expected.max() > 0
    np.testing.assert_allclose(res.sign_excess, expected, rtol=1e-12)


def test_sign_branching_reads_infinite_gradient_bounds():
    """An engine call cut off by the time limit before its interval Jacobian leaves every gradient bound infinite:
    the core's secant excess is then infinite on each free vertex sign (2 / (1/u + 1/(-l)), where 2 u (-l) / (u - l)
    was inf / inf, a NaN that turned sign branching off for the node), and the search splits the first free sign
    without a warning on the way."""
    weights, biases = random_net(100, [4, 8, 8, 6, 3], fan_in=True)
    problem = make_problem(Network(weights, biases), Box(-1.0, 1.0), INF, INF, np.array([1.0, -1.0, 0.0]))
    bab = GradientBaB(problem, Tracker(60.0))
    signs = np.array([1, 0, 0, -1], dtype=np.int8)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = bound_problem(problem, time_limit=0.0, signs=signs)
        assert res.stopped and np.all(np.isinf(res.gradient[0][1]))
        assert np.array_equal(res.sign_excess, [0.0, INF, INF, 0.0])
        status = [np.full(n, -1, dtype=np.int8) for n in problem.network.hidden_sizes]  # neurons left to split
        assert bab._branching(bab_module.Evaluated(res, status, None), signs) == (bab_module.SIGN, 1)


@pytest.mark.parametrize("seed, sizes, domain, p", [
    (5, [3, 10, 10, 1], Box(-1.0, 1.0), 2.0),
    (6, [3, 10, 10, 1], Ball(np.zeros(3), 1.0, 2.0), INF),
    (7, [2, 12, 12, 1], Box(-1.0, 1.0), INF),
])
@pytest.mark.parametrize("relaxed", [False, True])
def test_bab_conflicts_keep_it_exact(seed, sizes, domain, p, relaxed, monkeypatch):
    """Prefix regions answered empty by an earlier proof's conflict (no LP), and (`relaxed`) nodes emptied by the
    triangle relaxation of their later splits (`certify.relaxed`, here on every node with a later split): the
    search still ends at the oracle's exact constant, and it did use them."""
    monkeypatch.setattr(bab_module, "RELAXED_MIN_SPLITS", 1)
    monkeypatch.setattr(bab_module, "RELAXED_MIN_RATE", 0.0)
    monkeypatch.setattr(bab_module, "TIGHTEN_DEPTH", math.inf)  # its LPs would empty these nodes first
    weights, biases = random_net(seed, sizes, fan_in=True)
    problem = make_problem(Network(weights, biases), domain, p, p)
    truth, _ = oracle_regions(weights, biases, oracle_domain(domain, sizes[0]), p, p, None)
    tracker = Tracker(60.0)
    bab = GradientBaB(problem, tracker)
    if not relaxed:
        bab.hull = None  # no relaxed checks (the gates above then do nothing): they empty most of these nodes first
    assert bab.run(time_limit=30.0), bab.note()
    assert bab.relaxed_emptied > 0 if relaxed else bab.conflicts.used > 0
    assert all(upper >= truth * (1 - TRUTH_RTOL) for _, _, upper in tracker.history)
    assert tracker.upper == pytest.approx(truth, rel=1e-9) and tracker.lower == pytest.approx(truth, rel=1e-9)


def test_default_pipeline_offers_the_engine_bound_early():
    """The default method's `gradient` stage: the engine's bound is in the history, before the stages after
    it, and below the product of layer norms on a network where the product is loose."""
    weights, biases = random_net(7, [10, 30, 30, 1], fan_in=True)
    net = Network(weights, biases)
    res = lipschitz(net, Box(-0.5, 0.5), p=INF, q=INF, time_limit=20.0, region_share=0.0)
    engine = bound_problem(make_problem(net, Box(-0.5, 0.5), INF, INF)).upper
    naive = lipschitz(net, Box(-0.5, 0.5), p=INF, q=INF, method="naive").upper
    assert engine < naive
    assert "gradient" in res.stats["stages"]
    first = next(t for t, _, u in res.history if u <= engine * (1 + 1e-9))
    assert first <= res.stats["stages"]["product"] + res.stats["stages"]["gradient"] + 0.5
    assert res.upper <= engine * (1 + 1e-9)


@pytest.mark.parametrize("p,q", [(2.0, 2.0), (INF, INF), (1.0, 2.0)])
def test_default_pipeline_bab_stage_is_sound(p, q):
    """The pipeline with its engine branch-and-bound stage forced on (bab_unstable=0) and no region stage."""
    weights, biases = random_net(21, [3, 6, 6, 2])
    res, truth = check_sound(weights, biases, Box(-1.0, 1.0), p, q, time_limit=30.0, bab_unstable=0,
                             region_share=0.0)
    _history_sound(res, truth, weights)
    assert "bab" in res.stats["stages"]
    assert res.exact


# --- fuzz: degenerate networks ------------------------------------------------------------------------

@st.composite
def degenerate_networks(draw):
    """Small networks with exact zeros, copied / opposite rows, dead neurons, zero biases and scaled layers."""
    n_in = draw(st.integers(1, 3), label="n_in")
    widths = draw(st.lists(st.integers(1, 5), min_size=1, max_size=3), label="widths")
    sizes = [n_in] + widths + [draw(st.integers(1, 2), label="n_out")]
    weights, biases = random_net(draw(st.integers(0, 2 ** 32 - 1), label="seed"), sizes,
                                 bias_scale=draw(st.sampled_from([None, 0.5, 1.0]), label="bias"))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1), label="edit seed"))
    for k, W in enumerate(weights):
        if draw(st.booleans(), label=f"zeros {k}"):
            W[rng.random(W.shape) < 0.4] = 0.0
        if W.shape[0] > 1 and draw(st.booleans(), label=f"copy row {k}"):
            factor = draw(st.sampled_from([1.0, -1.0, 2.0]), label="factor")
            W[1], biases[k][1] = factor * W[0], factor * biases[k][0]
        if k < len(weights) - 1 and draw(st.booleans(), label=f"dead {k}"):
            W[-1], biases[k][-1] = 0.0, -abs(biases[k][-1]) - 0.1
    k = draw(st.integers(0, len(weights) - 1), label="scaled layer")
    scale = draw(st.sampled_from([1.0, 1e-3, 1e3]), label="scale")
    weights[k], biases[k] = weights[k] * scale, biases[k] * scale
    return weights, biases


def _examples() -> settings:
    budget = settings.default.max_examples
    return settings(max_examples=budget if budget >= 2000 else min(budget, CI_EXAMPLES))


def _degenerate_case(data) -> None:
    weights, biases = data.draw(degenerate_networks(), label="network")
    domain = data.draw(fuzz_domains(weights[0].shape[1]), label="domain")
    p, q = data.draw(st.sampled_from(PAIRS), label="norms")
    output = data.draw(st.sampled_from([None, 0]), label="output")
    c = None if output is None else np.eye(weights[-1].shape[0])[output]
    res, truth = check_sound(weights, biases, domain, p, q, output=output, method="bab")
    _history_sound(res, truth, weights, c)


@pytest.mark.fuzz
@given(data=st.data())
@_examples()
def test_bab_sound_on_degenerate_networks(data):
    _degenerate_case(data)


@pytest.mark.fuzz
@given(data=st.data())
@_examples()
def test_bab_relaxed_checks_sound_on_degenerate_networks(data):
    """The same with a relaxed LP (`certify.relaxed`) on every node with a split after its prefix layer: the
    default gates (6 such splits, the emptied share) rarely open on networks this small."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(bab_module, "RELAXED_MIN_SPLITS", 1)
        patch.setattr(bab_module, "RELAXED_MIN_RATE", 0.0)
        _degenerate_case(data)


@pytest.mark.parametrize("workers, round_nodes", [(1, 6), (2, 1), (2, 6)])
def test_bab_rounds_side_by_side_or_not_end_exact(workers, round_nodes, monkeypatch):
    """Nodes handled one by one on one thread, or in rounds of one or ROUND_NODES nodes whose calls two threads run
    (ENGINE_WORKERS), FLIGHTS rounds out at once: the same exact constant as the oracle, and the upper bound never
    below it on the way."""
    monkeypatch.setattr(bab_module, "ENGINE_WORKERS", workers)
    monkeypatch.setattr(bab_module, "ROUND_NODES", round_nodes)
    monkeypatch.setattr(bab_module, "PAIR_MIN_WORK", 0)  # the network is below the gate
    monkeypatch.setattr(bab_module, "usable_cores", lambda: 2)  # as on a machine with 2 cores
    weights, biases = random_net(8, [3, 10, 10, 1], fan_in=True)
    problem = make_problem(Network(weights, biases), Box(-1.0, 1.0), 2.0, 2.0)
    truth, _ = oracle_regions(weights, biases, ("box", -np.ones(3), np.ones(3)), 2.0, 2.0, None)
    tracker = Tracker(60.0)
    bab = GradientBaB(problem, tracker)
    assert bab.workers == workers
    paired, rounds, flying = [], [], []
    monkeypatch.setattr(bab, "_engine", lambda *a, _f=bab._engine: paired.append(threading.current_thread()) or _f(*a))

    def launch(batch, dive, _f=bab._launch):
        rounds.append(len(batch))
        flying.append(len(bab.flights))
        return _f(batch, dive)

    monkeypatch.setattr(bab, "_launch", launch)
    assert bab.run(time_limit=30.0), bab.note()
    assert any(t is not threading.main_thread() for t in paired) == (workers == 2)
    assert max(rounds) == (round_nodes if workers == 2 else 1)
    # with a pool a round is launched while the one before it is still out (FLIGHTS), never without one
    assert max(flying) == (bab_module.FLIGHTS - 1 if workers == 2 else 0)
    assert all(upper >= truth * (1 - TRUTH_RTOL) for _, _, upper in tracker.history)
    assert tracker.upper == pytest.approx(truth, rel=1e-9) and tracker.lower == pytest.approx(truth, rel=1e-9)


@pytest.mark.parametrize("time_limit", [0.02, 0.1, 0.4])
def test_bab_rounds_stopped_early_stay_above_the_constant(time_limit, monkeypatch):
    """Rounds of ROUND_NODES nodes on two threads stopped by the time limit mid-search (calls started past the
    deadline leave their nodes open, dives included): every upper bound offered is at least the oracle's constant."""
    monkeypatch.setattr(bab_module, "PAIR_MIN_WORK", 0)
    monkeypatch.setattr(bab_module, "usable_cores", lambda: 2)
    monkeypatch.setattr(bab_module, "TIGHTEN_DEPTH", 2)
    weights, biases = random_net(11, [4, 12, 12, 1], fan_in=True)
    problem = make_problem(Network(weights, biases), Box(-1.0, 1.0), 2.0, 2.0)
    truth, _ = oracle_regions(weights, biases, ("box", -np.ones(4), np.ones(4)), 2.0, 2.0, None)
    tracker = Tracker(60.0)
    bab = GradientBaB(problem, tracker)
    assert bab.workers == 2
    bab.run(time_limit=time_limit)
    assert bab.upper() >= truth * (1 - TRUTH_RTOL)
    assert all(upper >= truth * (1 - TRUTH_RTOL) for _, _, upper in tracker.history)
    assert tracker.lower <= truth * (1 + TRUTH_RTOL)


def test_bab_worker_failure_reaches_the_caller(monkeypatch):
    """An error in the worker thread's engine call is raised by the search, as one in the main thread would be
    (the api turns it into status `error` with the bounds so far)."""
    monkeypatch.setattr(bab_module, "usable_cores", lambda: 2)
    monkeypatch.setattr(bab_module, "PAIR_MIN_WORK", 0)
    weights, biases = random_net(8, [3, 10, 10, 1], fan_in=True)
    problem = make_problem(Network(weights, biases), Box(-1.0, 1.0), 2.0, 2.0)
    bab = GradientBaB(problem, Tracker(60.0))

    def engine(*args, _f=bab._engine):
        if threading.current_thread() is not threading.main_thread():
            raise FloatingPointError("worker failed")
        return _f(*args)

    monkeypatch.setattr(bab, "_engine", engine)
    with pytest.raises(FloatingPointError, match="worker failed"):
        bab.run(time_limit=30.0)
    assert bab.pool is None
    assert bab.upper() == math.inf and not bab.complete  # nodes out at the failure bound nothing now


def test_bab_one_core_evaluates_children_in_turn(monkeypatch):
    """On one core no worker thread is started; without CPU affinity (macOS, Windows) the machine's count is used."""
    cores = bab_module.usable_cores
    monkeypatch.setattr(bab_module, "usable_cores", lambda: 1)
    weights, biases = random_net(8, [3, 10, 10, 1], fan_in=True)
    bab = GradientBaB(make_problem(Network(weights, biases), Box(-1.0, 1.0), 2.0, 2.0), Tracker(60.0))
    assert bab.workers == 1
    monkeypatch.delattr(bab_module.os, "sched_getaffinity", raising=False)
    assert cores() == (bab_module.os.cpu_count() or 1)


def test_fewer_forward_steps_only_beside_the_lps():
    """A node gets RELAXED_FORWARD_STEPS forward steps where the relaxed LPs run (a box or a ball's hull, at most
    RELAXED_MAX_INPUTS inputs), TIGHTENED_FORWARD_STEPS where only the tightening LPs run and LipSDP does not bound
    the nodes; NODE_OPTIONS' on R^n, and beside LipSDP (bab.py measures why)."""
    small = random_net(3, [3, 6, 1], fan_in=True)
    wide = random_net(3, [bab_module.RELAXED_MAX_INPUTS + 1, 6, 1], fan_in=True)

    def steps(net, domain, sdp=None):
        problem = make_problem(Network(*net), domain, 2.0, 2.0)
        if sdp:
            sdp = sdp_root(problem, Tracker(60.0), root_bounds(problem.network, problem.domain, math.inf), 5.0)
            assert sdp is not None
        return GradientBaB(problem, Tracker(60.0), sdp).node_options["forward_iterations"]

    relaxed, tightened = bab_module.RELAXED_FORWARD_STEPS, bab_module.TIGHTENED_FORWARD_STEPS
    assert steps(small, Box(-1.0, 1.0)) == steps(small, Ball(np.zeros(3), 1.0, 2.0)) == relaxed
    assert steps(wide, Box(-1.0, 1.0)) == tightened
    full = NODE_OPTIONS["forward_iterations"]
    assert steps(small, Global()) == steps(wide, Global()) == steps(wide, Box(-1.0, 1.0), sdp=True) == full
    assert relaxed < tightened < full


@pytest.mark.parametrize("domain, steps", [(Box(-1.0, 1.0), "relaxed"), (Global(), "node")])
def test_engine_calls_run_the_search_node_steps(domain, steps, monkeypatch):
    """The engine calls of a search get those steps: the root the engine's defaults, a node its search's steps, or
    none after a split in the last hidden layer (which tightens no hidden layer's bounds but its own neuron's), and
    SLOPE_STEPS final slope steps."""
    seen, slopes = [], []

    def recording(problem, **options):
        seen.append(options.get("forward_iterations"))
        slopes.append(options.get("iterations"))
        return bound_problem(problem, **options)

    monkeypatch.setattr(bab_module, "bound_problem", recording)
    weights, biases = random_net(4, [3, 8, 8, 1], fan_in=True)
    bab = GradientBaB(make_problem(Network(weights, biases), domain, 2.0, 2.0), Tracker(60.0))
    bab.run(time_limit=10.0)
    node = bab_module.RELAXED_FORWARD_STEPS if steps == "relaxed" else NODE_OPTIONS["forward_iterations"]
    assert seen[0] is None and len(seen) > 3, seen  # the root: no node option at all
    assert set(seen[1:]) <= {node, 0} and node in seen[1:] and 0 in seen[1:], seen
    assert slopes[0] is None and set(slopes[1:]) == {bab_module.SLOPE_STEPS}  # the nodes' final slope steps


@pytest.mark.parametrize("width", [20, 33, 70, 130])
def test_conflicts_answer_exactly_the_supersets_of_their_rows(width):
    """`Conflicts` (bit masks in 64-bit words) against the plain rule: a node with the same earlier pattern is empty
    when its layer-k rows (neuron, side) include some conflict's rows; a conflict without rows covers every node
    with that pattern; other earlier patterns are never answered."""
    from lipmiq.certify.exact_regions import Proof
    from lipmiq.certify.partial import Conflicts

    rng = np.random.default_rng(width)
    earlier = [[np.array([1, 0, 1], dtype=np.int8)], [np.array([0, 0, 1], dtype=np.int8)]]
    conflicts, known = Conflicts(), {0: [], 1: []}
    for c in range(60):
        e = c % 2
        sides = rng.choice(np.array([-1, 0, 1], dtype=np.int8), size=width)
        rows = np.flatnonzero(sides >= 0)
        used = rng.choice(rows, size=min(rows.size, int(rng.integers(2, 5))), replace=False) if c else rows[:0]
        conflicts.add(earlier[e] + [sides], sides, 1, Proof(frozenset((1, int(j)) for j in used)))
        known[e].append({(int(j), int(sides[j])) for j in used})
    matched = 0
    for _ in range(400):
        e = int(rng.integers(2))
        sides = rng.choice(np.array([-1, 0, 1], dtype=np.int8), size=width, p=[0.5, 0.25, 0.25])
        rows = {(int(j), int(sides[j])) for j in np.flatnonzero(sides >= 0)}
        expected = any(c <= rows for c in known[e])
        assert conflicts.empty(earlier[e] + [sides], sides, 1) == expected
        other = [np.array([1, 1, 1], dtype=np.int8)]
        assert not conflicts.empty(other + [sides], sides, 1)
        matched += expected
    assert 0 < matched < 400
    with pytest.raises(ValueError):
        conflicts.add(earlier[0] + [sides], np.full(width, -1, dtype=np.int8), 1, Proof(frozenset([(1, 0)])))


@pytest.mark.parametrize("seed", range(6))
def test_core_status_and_scores_follow_the_bounds(seed):
    """The engine's `status` and `scores` (cpp/gradient_bounds.cpp node_scores) recomputed in numpy from its own
    bounds: a split's side, else 1 / 0 where the forward bounds prove the sign, -1 open; an open neuron scores
    U * sensitivity * gap * (1 - gap)^P, gap = min(-l, u) / (u - l), with U the largest |backward bound| over the
    output rows and P = 8 with at most two hidden layers, 4 deeper (three and four hidden layers checked); the
    others -1."""
    from netgen import random_net

    rng = np.random.default_rng(seed)
    hidden = {3: [8, 8, 8, 8], 4: [8, 8, 8]}.get(seed, [8, 8])
    weights, biases = random_net(seed, [3, *hidden, 2 if seed % 2 else 1])
    net = Network(weights, biases)
    x = rng.uniform(-0.5, 0.5, size=3)  # splits on the sides this point puts them: the node is not empty
    states, a = [], x
    for W, b in zip(weights[:-1], biases[:-1]):
        z = W @ a + b
        states.append(np.where(rng.random(z.size) < 0.4, (z > 0).astype(np.int8), np.int8(-1)))
        a = np.maximum(z, 0.0)
    res = bound_network(net, -np.ones(3), np.ones(3), 2.0, 2.0, states=states if seed % 3 else None)
    assert not res.empty
    assert any(np.any(s < 0) for s in res.status)  # open neurons, whose scores carry the power
    for k, (lo, hi) in enumerate(res.forward):
        status = np.full(lo.size, -1, dtype=np.int8)
        status[hi <= 0] = 0
        status[lo >= 0] = 1
        if seed % 3:
            status[states[k] >= 0] = states[k][states[k] >= 0]
        assert np.array_equal(res.status[k], status)
        U = np.max([np.maximum(np.abs(row[k][0]), np.abs(row[k][1])) for row in res.backward], axis=0)
        gap = np.minimum(-lo, hi) / np.maximum(hi - lo, 1e-300)
        score = U * res.sensitivity[k] * gap * (1.0 - gap) ** (8 if len(hidden) <= 2 else 4)
        np.testing.assert_allclose(res.scores[k][status < 0], score[status < 0], rtol=1e-12)
        assert np.all(res.scores[k][status >= 0] == -1.0)


@pytest.mark.parametrize("seed, sizes, domain, p", [
    (5, [3, 10, 10, 1], Box(-1.0, 1.0), 2.0),
    (6, [3, 10, 10, 1], Ball(np.zeros(3), 1.0, 2.0), INF),
    (15, [3, 8, 8, 8, 1], Box(-1.0, 1.0), 2.0),
])
@pytest.mark.parametrize("workers", [1, 2])
def test_bab_lp_tightened_nodes_keep_it_exact(seed, sizes, domain, p, workers, monkeypatch):
    """Every node tightened by LP when popped (TIGHTEN_DEPTH 0; in rounds on two threads): the search still ends
    at the oracle's exact constant, every upper bound on the way at least it, and nodes were tightened (on the
    three-layer network some dropped: the two-layer ones close too soon for that to be certain with two threads,
    whose timing moves the lower bound)."""
    monkeypatch.setattr(bab_module, "TIGHTEN_DEPTH", 0)
    monkeypatch.setattr(bab_module, "TIGHTEN_PERIOD", 1)
    monkeypatch.setattr(bab_module, "ENGINE_WORKERS", workers)
    monkeypatch.setattr(bab_module, "PAIR_MIN_WORK", 0)
    monkeypatch.setattr(bab_module, "usable_cores", lambda: 2)
    weights, biases = random_net(seed, sizes, fan_in=True)
    problem = make_problem(Network(weights, biases), domain, p, p)
    truth, _ = oracle_regions(weights, biases, oracle_domain(domain, sizes[0]), p, p, None)
    tracker = Tracker(60.0)
    bab = GradientBaB(problem, tracker)
    assert bab.run(time_limit=30.0), bab.note()
    assert bab.tightenings > 0 and (len(sizes) < 5 or bab.tighten_kills > 0), bab.note()
    assert all(upper >= truth * (1 - TRUTH_RTOL) for _, _, upper in tracker.history)
    assert tracker.upper == pytest.approx(truth, rel=1e-9) and tracker.lower == pytest.approx(truth, rel=1e-9)


@pytest.mark.fuzz
@given(data=st.data())
@_examples()
def test_bab_lp_tightening_sound_on_degenerate_networks(data):
    """The degenerate-network case with every node tightened by LP when popped (TIGHTEN_DEPTH 0): the default
    depth rarely reaches networks this small."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(bab_module, "TIGHTEN_DEPTH", 0)
        patch.setattr(bab_module, "TIGHTEN_PERIOD", 1)
        _degenerate_case(data)
