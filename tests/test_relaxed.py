"""`certify.relaxed`: a node's splits beyond its prefix region on the triangle relaxation. It may call a node empty
only when no region with interior agrees with its splits: never for a node built around a point of the domain
(its splits on that point's sides), on random and degenerate networks; and it must find the emptiness the
relaxation shows (two opposite neurons both split active)."""
from __future__ import annotations

import math

import numpy as np
import pytest
from lipmiq import Ball, Box, Network, _core
from lipmiq.certify.partial import prefix_layer
from lipmiq.certify.relaxed import deep_layer, relaxed_empty
from lipmiq.methods.bab import GradientBaB
from lipmiq.problem import make_problem
from lipmiq.tolerances import INTERIOR_TOL
from lipmiq.tracker import Tracker
from netgen import mixed_net
from oracles.relaxation import max_s, neuron_ranges


def _node(weights, biases, domain, states):
    """The search's view of a node: its neurons' status and the engine's forward bounds on it (None if the
    engine proves it empty)."""
    problem = make_problem(Network(weights, biases), domain, 2.0, 2.0)
    search = GradientBaB(problem, Tracker(60.0))
    ev = search._evaluate(states, None, search.node_options)
    return search, ev


def _around(weights, biases, x, rng, share=0.6):
    """Splits of a random share of the neurons, each on the side x puts it (neurons within 1e-9 of 0 left
    open), with at least one split in the last hidden layer."""
    z = [np.asarray(zk[0]) for zk in _core.forward(Network(weights, biases).core, x[None, :])[:-1]]
    states = []
    for k, zk in enumerate(z):
        s = np.where(zk > 0, 1, 0).astype(np.int8)
        chosen = rng.random(zk.size) < share
        if k == len(z) - 1:
            chosen[rng.integers(zk.size)] = True
        s[~chosen | (np.abs(zk) <= 1e-9)] = -1
        states.append(s)
    return states


@pytest.mark.parametrize("seed", range(40))
def test_relaxed_never_empties_a_node_around_a_point(seed):
    """Every node built around a point of the domain's interior has that point's region below it: the relaxed
    LP must not call it empty (on random networks, and on degenerate ones with dead, copied, opposite and
    dependent neurons, bias-free or with tiny biases)."""
    rng = np.random.default_rng(seed)
    sizes = [3, 6, 6, 5, 1]
    weights, biases = mixed_net(seed, sizes)
    ball = Ball(np.array([0.2, -0.1, 0.3]), 0.8, [1.0, 2.0, math.inf][(seed // 3) % 3])
    domain = (Box(-1.0, 1.0) if seed % 3 else ball).resolve(3)
    lo, hi = domain.box_hull()
    checked = 0
    for x in domain.sample(5, rng):
        x = (lo + hi) / 2.0 + 0.9 * (x - (lo + hi) / 2.0)  # pulled inside, off the boundary
        assert domain.contains(x)
        states = _around(weights, biases, x, rng)
        search, ev = _node(weights, biases, domain, states)
        assert ev is not None, "the engine called a node with a point of the domain empty"
        prefix = prefix_layer(ev.status)
        last = deep_layer(states, prefix)
        if last is None:
            continue
        checked += 1
        assert not relaxed_empty(search.net, lo, hi, ev.status, states, ev.result.forward, last)
        # every unsplit neuron called open, stable ones too (their triangle is then on [min(l, 0), max(u, 0)])
        status = [np.where(s >= 0, s, -1).astype(np.int8) for s in states]
        assert not relaxed_empty(search.net, lo, hi, status, states, ev.result.forward, last)
    assert checked >= 3  # most nodes have splits after their prefix layer


def test_relaxed_proves_infeasible_splits_empty_by_farkas():
    """Both inactive while z1 = -z0 + 0.2 (layer 1 open): the relaxation has no point at all, which only Farkas
    multipliers (verified) can prove; the engine keeps the node."""
    proved = 0
    for seed in range(10):
        rng = np.random.default_rng(seed)
        W1, b1 = rng.standard_normal((5, 2)), rng.standard_normal(5) * 0.3
        W2 = rng.standard_normal((3, 5))
        W2[1] = -W2[0]
        b2 = np.array([-0.1, 0.3, 0.0])
        weights, biases = [W1, W2, rng.standard_normal((1, 3))], [b1, b2, np.zeros(1)]
        states = [np.full(5, -1, dtype=np.int8), np.array([0, 0, -1], dtype=np.int8)]
        search, ev = _node(weights, biases, Box(-1.0, 1.0), states)
        if ev is None:
            continue
        forward = [(lo[:n], hi[:n]) for (lo, hi), n in zip(ev.result.forward, search.net.hidden_sizes)]
        verdict = _core.relaxed_lp_empty(search.net.core, np.full(2, -1.0), np.full(2, 1.0), ev.status, states,
                                         forward, 1, INTERIOR_TOL)
        assert verdict["empty"] == relaxed_empty(search.net, np.full(2, -1.0), np.full(2, 1.0), ev.status, states,
                                                 ev.result.forward, 1)
        proved += verdict["proof"] == "farkas"
    assert proved >= 5


@pytest.mark.parametrize("seed", range(30))
def test_relaxed_lp_max_matches_highs_and_proofs_hold(seed):
    """The core's dual simplex against HiGHS on the same polyhedron (tests/oracles/relaxation.py), on nodes with
    random splits of random and degenerate networks: the same max s where both solve it, a Farkas proof only
    where HiGHS finds no point, a bound proof only where HiGHS's max s is <= 0, and always where it is clearly
    below 0."""
    rng = np.random.default_rng(1000 + seed)
    sizes = [3, 6, 6, 5, 1]
    weights, biases = mixed_net(seed, sizes)
    domain = Box(-1.0, 1.0).resolve(3)
    lo, hi = domain.box_hull()
    for _ in range(6):
        states = [rng.choice(np.array([-1, -1, 0, 1], np.int8), size=W.shape[0]) for W in weights[:-1]]
        search, ev = _node(weights, biases, domain, states)
        last = None if ev is None else deep_layer(states, prefix_layer(ev.status))
        if last is None:
            continue
        forward = [(f[0][:n], f[1][:n]) for f, n in zip(ev.result.forward, search.net.hidden_sizes)]
        verdict = _core.relaxed_lp_empty(search.net.core, lo, hi, ev.status, states, forward[:last + 1], last,
                                         INTERIOR_TOL)
        reference = max_s(weights, biases, lo, hi, ev.status, states, forward, last)
        if reference is None:
            assert verdict["proof"] in ("farkas", "bound")  # HiGHS's tolerances may see a sliver as empty
            continue
        assert verdict["proof"] != "farkas", (verdict, reference)
        if reference < -1e-6:  # clearly below 0: the optimal multipliers prove it
            assert verdict["proof"] == "bound", (verdict, reference)
        if verdict["proof"] == "bound":
            assert reference <= 1e-9, (verdict, reference)
        else:
            assert verdict["s"] == pytest.approx(reference, abs=1e-7), (verdict, reference)


def test_relaxed_proves_opposite_splits_empty():
    """Layer 2's neuron 1 is minus neuron 0, shifted down: both split active while layer 1 is open is empty, a fact
    only the relaxation (not the prefix region, which stops at layer 1) can see; split on opposite sides they are
    not. A neuron identically 0 (zero weights and bias) split inactive keeps its regions."""
    rng = np.random.default_rng(7)
    W1 = rng.standard_normal((5, 2))
    b1 = rng.standard_normal(5) * 0.3
    W2 = rng.standard_normal((3, 5))
    W2[1] = -W2[0]
    W2[2] = 0.0
    b2 = np.array([-0.1, -0.1, 0.0])  # z2_1 = -z2_0 - 0.2: not both >= 0
    W3 = rng.standard_normal((1, 3))
    weights, biases = [W1, W2, W3], [b1, b2, np.zeros(1)]
    domain = Box(-1.0, 1.0)
    lo, hi = np.full(2, -1.0), np.full(2, 1.0)
    open1 = np.full(5, -1, dtype=np.int8)
    both = [open1, np.array([1, 1, -1], dtype=np.int8)]
    search, ev = _node(weights, biases, domain, both)
    assert ev is not None, "the engine saw it (it does not use a layer's splits on the same layer): update the test"
    assert prefix_layer(ev.status) == 0
    assert relaxed_empty(search.net, lo, hi, ev.status, both, ev.result.forward, 1)
    x = np.array([0.3, -0.4])
    z2 = W2 @ np.maximum(W1 @ x + b1, 0.0) + b2
    assert z2[2] == 0.0 and abs(z2[0]) > 1e-3
    sides = [open1, np.array([int(z2[0] > 0), int(z2[1] > 0), 0], dtype=np.int8)]
    search, ev = _node(weights, biases, domain, sides)
    assert ev is not None
    assert not relaxed_empty(search.net, lo, hi, ev.status, sides, ev.result.forward, 1)


@pytest.mark.parametrize("seed", range(30))
def test_relaxed_bounds_match_highs_and_hold_on_samples(seed):
    """`relaxed_lp_bounds` against HiGHS on the same polyhedron (closed splits, tests/oracles/relaxation.py), on
    nodes with random splits of random and degenerate networks, through every hidden layer and through the first
    alone (the core's substituted first-layer LP): every bound on the right side of HiGHS's min and max of the
    neuron (up to HiGHS's tolerance) and equal to them on almost all; with `signs`, every neuron HiGHS finds clearly
    stable called stable; and every sampled point of the box on the node's splits inside the bounds."""
    rng = np.random.default_rng(2000 + seed)
    sizes = [3, 6, 6, 5, 1]
    weights, biases = mixed_net(seed, sizes)
    domain = Box(-1.0, 1.0).resolve(3)
    lo, hi = domain.box_hull()
    X = domain.sample(4000, rng)
    Z = [np.asarray(z) for z in _core.forward(Network(weights, biases).core, X)[:-1]]
    total = close = 0
    for _ in range(6):
        states = [rng.choice(np.array([-1, -1, -1, 0, 1], np.int8), size=W.shape[0]) for W in weights[:-1]]
        search, ev = _node(weights, biases, domain, states)
        if ev is None:
            continue
        forward = [(f[0][:n], f[1][:n]) for f, n in zip(ev.result.forward, search.net.hidden_sizes)]
        for through in (forward, forward[:1]):
            on_splits = np.ones(len(X), dtype=bool)
            for z, s in zip(Z[:len(through)], states):
                on_splits &= np.all((s < 0) | ((s == 1) & (z >= 0)) | ((s == 0) & (z <= 0)), axis=1)
            reference = neuron_ranges(weights, biases, lo, hi, ev.status, states, through)
            runs = [_core.relaxed_lp_bounds(search.net.core, lo, hi, ev.status, states, through, 0, signs)
                    for signs in (False, True)]
            if on_splits.any():  # a point of the node's set: never empty, whatever HiGHS says
                assert not any(r["empty"] for r in runs)
            if reference is None:  # HiGHS's tolerances may see a sliver as empty
                continue
            assert not any(r["empty"] for r in runs)
            for (k, j), (smallest, largest) in reference.items():
                for signs, run in zip((False, True), runs):
                    l, u = run["bounds"][k][0][j], run["bounds"][k][1][j]
                    assert l <= smallest + 1e-7 and u >= largest - 1e-7, (k, j, l, u, smallest, largest)
                    assert np.all((Z[k][on_splits, j] >= l) & (Z[k][on_splits, j] <= u))
                    if signs:
                        assert smallest <= 1e-6 or l >= 0.0, (k, j, l, smallest)
                        assert largest >= -1e-6 or u <= 0.0, (k, j, u, largest)
                    else:
                        close += abs(l - smallest) <= 1e-6 and abs(u - largest) <= 1e-6
                total += 1
    assert total >= 5
    assert close >= 0.95 * total, (close, total)


def test_relaxed_bounds_prove_opposite_splits_empty():
    """Layer 2's neuron 1 is minus neuron 0 shifted down, both split active while layer 1 is open: the relaxation
    with closed splits has no point, and `relaxed_lp_bounds` says so (with and without `signs`); split on their
    own sides around a point, it is not empty and the point's pre-activations lie within the bounds."""
    rng = np.random.default_rng(7)
    W1 = rng.standard_normal((5, 2))
    b1 = rng.standard_normal(5) * 0.3
    W2 = rng.standard_normal((3, 5))
    W2[1] = -W2[0]
    b2 = np.array([-0.1, -0.1, 0.0])  # z2_1 = -z2_0 - 0.2: not both >= 0
    weights, biases = [W1, W2, rng.standard_normal((1, 3))], [b1, b2, np.zeros(1)]
    lo, hi = np.full(2, -1.0), np.full(2, 1.0)
    open1 = np.full(5, -1, dtype=np.int8)
    both = [open1, np.array([1, 1, -1], dtype=np.int8)]
    search, ev = _node(weights, biases, Box(-1.0, 1.0), both)
    assert ev is not None
    forward = [(f[0][:n], f[1][:n]) for f, n in zip(ev.result.forward, search.net.hidden_sizes)]
    for signs in (False, True):
        assert _core.relaxed_lp_bounds(search.net.core, lo, hi, ev.status, both, forward, 0, signs)["empty"]
    x = np.array([0.3, -0.4])
    z1 = W1 @ x + b1
    z2 = W2 @ np.maximum(z1, 0.0) + b2
    sides = [open1, np.array([int(z2[0] > 0), int(z2[1] > 0), -1], dtype=np.int8)]
    search, ev = _node(weights, biases, Box(-1.0, 1.0), sides)
    forward = [(f[0][:n], f[1][:n]) for f, n in zip(ev.result.forward, search.net.hidden_sizes)]
    for signs in (False, True):
        res = _core.relaxed_lp_bounds(search.net.core, lo, hi, ev.status, sides, forward, 0, signs)
        assert not res["empty"]
        for (l, u), z, status in zip(res["bounds"], (z1, z2), ev.status):
            assert np.all((status >= 0) | ((l <= z) & (z <= u)))
