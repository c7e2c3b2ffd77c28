"""The gradient-bound engine (lipmiq.bounds.gradient, cpp/gradient_*.cpp) against independent computations.

* upper >= the exact constant of the brute-force region enumeration (tests/oracles/bruteforce.py), also over the
  regions a partial pattern allows, on the global domain and for the gradient over the first n_dir inputs;
  upper >= sampled Jacobian norms;
* upper <= the interval Jacobian bound (`_core.pattern_norm_bound`) and <= the product of layer norms over the
  chains where it is implied (every link r -> s with r = 1 or s = inf, where ||W|| = || |W| ||);
* the C++ core == the plain-numpy reference of the same algorithm (tests/oracles) without slope optimisation;
* float64 rounding: on networks whose Jacobian float64 gets wrong, upper >= the exact rational value.
The long randomized profile is tests/test_gradient_bounds_fuzz.py (marker `fuzz`).
"""
from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest
from lipmiq import Global, Network, _core
from lipmiq.bounds.gradient import bound_network, bound_problem
from lipmiq.problem import make_problem
from netgen import random_net
from oracles.bruteforce import exact_opnorm, region_jacobians, sampled_lower
from oracles.gradient_reference import gradient_bound as reference_bound

INF = math.inf
NORMS = (1.0, 2.0, INF)
PAIRS = list(itertools.product(NORMS, NORMS))
# The oracle's own float64 norms can sit an ulp or so above the exact value the engine must cover.
ORACLE_RTOL = 1e-12
# C++ vs numpy reference: different summation orders, and the core's rounding allowances (~1e-14 relative).
REFERENCE_RTOL = 1e-9
# pattern_norm_bound and the product bound carry their own (non-rigorous) relative margins of this order.
COMPARE_RTOL = 1e-9
NO_OPTIMISATION = dict(forward_iterations=0, coordinate_iterations=0, iterations=0)


def degenerate_net(rng: np.random.Generator, max_hidden: int = 10, n_out: int | None = None):
    """Depth 1-4, widths <= 10 (at most max_hidden hidden neurons), with dead, duplicated and opposite neurons,
    zero or nonzero biases, and one layer scaled by 10^k, k in [-3, 3]."""
    depth = int(rng.integers(1, 5))
    sizes = [int(rng.integers(1, 5))]
    room = max_hidden
    for _ in range(depth - 1):
        w = int(rng.integers(1, max(2, min(10, room - 1) + 1)))
        sizes.append(w)
        room = max(room - w, 1)
    sizes.append(int(rng.integers(1, 4)) if n_out is None else n_out)
    weights = [rng.standard_normal((sizes[k + 1], sizes[k])) for k in range(len(sizes) - 1)]
    biases = [0.5 * rng.standard_normal(sizes[k + 1]) * (rng.random() < 0.7) for k in range(len(sizes) - 1)]
    for k in range(len(sizes) - 2):
        W, b = weights[k], biases[k]
        if W.shape[0] >= 2 and rng.random() < 0.4:
            W[1], b[1] = W[0], b[0]                      # duplicated neuron
        if W.shape[0] >= 3 and rng.random() < 0.4:
            W[2], b[2] = -W[0], -b[0]                    # opposite neuron
        if rng.random() < 0.3:
            W[-1], b[-1] = 0.0, -abs(b[-1])              # dead neuron
    weights[int(rng.integers(len(weights)))] *= 10.0 ** rng.uniform(-3, 3)
    return weights, biases


def random_domain(rng: np.random.Generator, n: int):
    """(engine keyword arguments, oracle domain tuple): a box, or a ball intersected with its box hull."""
    lo = -rng.random(n) - 0.1
    hi = rng.random(n) + 0.1
    if rng.random() < 0.5:
        return dict(lo=lo, hi=hi), ("box", lo, hi)
    c, r, norm = (lo + hi) / 2, float(rng.uniform(0.2, 1.0)), float(rng.choice(NORMS))
    return dict(lo=c - r, hi=c + r, center=c, radius=r, ball_norm=norm), ("ball", c, r, norm)


def regions(weights, biases, domain, states=None):
    """The oracle's (pattern, J) of the full-dimensional regions agreeing with the partial pattern."""
    return [(pattern, J) for pattern, J in region_jacobians(weights, biases, domain)
            if states is None or all(np.all((s < 0) | (g == (s == 1))) for g, s in zip(pattern, states))]


def exact(regions_, p, q, n_dir=None) -> float:
    """max ||J||_{p->q} over the regions, J over the first n_dir inputs (0 when there is none)."""
    return max((exact_opnorm(J[:, :n_dir], p, q) for _, J in regions_), default=0.0)


def implied_product(weights, p: float, q: float) -> float:
    """min over chains p = r_0 -> r_1 -> ... -> r_L = q of prod ||W_k||_{r_{k-1} -> r_k}, links with r_{k-1} = 1 or
    r_k = inf only (there the norm depends on |W_k| alone, so it also bounds the interval majorant)."""
    best = {p: 1.0}
    for k, W in enumerate(weights):
        targets = NORMS if k < len(weights) - 1 else (q,)
        best = {s: min((v * exact_opnorm(W, r, s) for r, v in best.items() if r == 1.0 or s == INF), default=INF)
                for s in targets}
    return best[q]


@pytest.mark.parametrize("seed", range(10))
def test_upper_covers_the_exact_constant_and_stays_below_cheaper_bounds(seed):
    rng = np.random.default_rng(seed)
    weights, biases = degenerate_net(rng)
    dom, odom = random_domain(rng, weights[0].shape[1])
    free = [np.full(W.shape[0], -1, np.int8) for W in weights[:-1]]
    truth = regions(weights, biases, odom)
    for p, q in PAIRS:
        res = bound_network(Network(weights, biases), p=p, q=q, **dom)
        L = exact(truth, p, q)
        assert res.upper >= L * (1 - ORACLE_RTOL), (p, q, res.upper, L)
        assert res.upper >= sampled_lower(weights, biases, odom, p, q, n=100, seed=seed) * (1 - ORACLE_RTOL)
        interval = _core.pattern_norm_bound(weights, free, p, q)
        assert res.upper <= interval * (1 + COMPARE_RTOL) + 1e-300, (p, q, res.upper, interval)
        assert res.upper <= implied_product(weights, p, q) * (1 + COMPARE_RTOL) + 1e-300
    for _pattern, J in truth:  # each row's gradient enclosure holds
        for (lo, hi), row in zip(res.gradient, J):
            slack = ORACLE_RTOL * np.abs(row).max(initial=0.0)
            assert np.all(lo <= row + slack) and np.all(row <= hi + slack)


@pytest.mark.parametrize("seed", range(6))
def test_scalar_outputs_and_partial_patterns(seed):
    rng = np.random.default_rng(100 + seed)
    weights, biases = degenerate_net(rng, n_out=1)
    dom, odom = random_domain(rng, weights[0].shape[1])
    states = [rng.choice(np.array([-1, -1, 0, 1], np.int8), size=W.shape[0]) for W in weights[:-1]]
    truth = regions(weights, biases, odom, states)
    for p in NORMS:
        res = bound_network(Network(weights, biases), p=p, q=INF, states=states, **dom)
        L = exact(truth, p, INF)
        assert res.upper >= L * (1 - ORACLE_RTOL), (p, res.upper, L)
        if res.empty:
            assert not truth and res.upper == 0.0
        else:
            assert res.upper <= _core.pattern_norm_bound(weights, states, p, INF) * (1 + COMPARE_RTOL) + 1e-300


def test_a_pattern_contradicting_the_domain_is_empty():
    # z = x on [1, 2] is positive everywhere: no region has it inactive.
    weights, biases = [np.array([[1.0], [2.0]]), np.array([[1.0, 1.0]])], [np.zeros(2), np.zeros(1)]
    res = bound_network(Network(weights, biases), np.array([1.0]), np.array([2.0]), 2.0, 2.0, states=[np.array([0, -1], np.int8)])
    assert res.empty and res.upper == 0.0
    res = bound_network(Network(weights, biases), np.array([1.0]), np.array([2.0]), 2.0, 2.0, states=[np.array([1, -1], np.int8)])
    assert not res.empty and res.upper == pytest.approx(3.0, rel=1e-12) and res.upper >= 3.0


@pytest.mark.parametrize("seed", range(12))
def test_forward_bounds_hold_on_the_split_set(seed):
    """With forced signs (splits), the forward bounds contain every pre-activation at sampled points of the
    domain that satisfy the splits, also after long slope and split-multiplier optimisation (beta-CROWN)."""
    rng = np.random.default_rng(500 + seed)
    weights, biases = degenerate_net(rng, n_out=1)
    if len(weights) < 3:
        weights, biases = degenerate_net(np.random.default_rng(900 + seed), n_out=1)
    dom, odom = random_domain(rng, weights[0].shape[1])
    net = Network(weights, biases)
    X = rng.uniform(dom["lo"], dom["hi"], (20000, weights[0].shape[1]))
    if odom[0] == "ball":
        X = X[np.linalg.norm(X - odom[1], ord=odom[3], axis=1) <= odom[2]]
    # splits taken from the pattern at a sampled point, so that the split set is not empty
    states = [np.where(rng.random(z.size) < 0.6, (z > 0).astype(np.int8), -1).astype(np.int8)
              for z in net.preactivations(X[:1])[:-1]]
    res = bound_network(net, p=2.0, q=INF, states=[s.ravel() for s in states], forward_iterations=60, **dom)
    states = [s.ravel() for s in states]
    Z = net.preactivations(X)[:-1]
    keep = np.ones(X.shape[0], dtype=bool)
    for z, s in zip(Z, states):
        keep &= np.all(np.where(s == 1, z >= 0, True) & np.where(s == 0, z <= 0, True), axis=1)
    assert keep.any() and not res.empty  # the first point is in the set
    for k, (z, (lo, hi)) in enumerate(zip(Z, res.forward)):
        z = z[keep]
        slack = 1e-12 * (1.0 + np.abs(z).max(initial=0.0))
        assert np.all(z >= lo - slack) and np.all(z <= hi + slack), k


def test_split_constraints_tighten_later_layers():
    """z1 = (x, -x) on [-1, 1] with z1_0 >= 0 forced, z2 = relu(z1_1) - 0.6: on the split set x >= 0, so
    relu(-x) = 0 and z2 = -0.6 < 0. The relu relaxation alone (max 0.4 on the box) leaves z2 unstable; with the
    split's multiplier (beta-CROWN) the bound proves it inactive."""
    net = Network([np.array([[1.0], [-1.0]]), np.array([[0.0, 1.0]]), np.array([[1.0]])],
                  [np.zeros(2), np.array([-0.6]), np.zeros(1)])
    states = [np.array([1, -1], np.int8), np.array([-1], np.int8)]
    plain = bound_network(net, np.array([-1.0]), np.array([1.0]), 2.0, 2.0, states=states, forward_iterations=0)
    beta = bound_network(net, np.array([-1.0]), np.array([1.0]), 2.0, 2.0, states=states, forward_iterations=50)
    assert plain.forward[1][1][0] > 0.3
    assert beta.forward[1][1][0] < 0.0 and beta.forward[1][1][0] >= -0.6 - 1e-12


@pytest.mark.parametrize("seed", range(4))
def test_global_domain_and_directions(seed):
    rng = np.random.default_rng(200 + seed)
    weights, biases = degenerate_net(rng, max_hidden=8)
    net = Network(weights, biases)
    n = weights[0].shape[1]
    dom, odom = random_domain(rng, n)
    n_dir = int(rng.integers(1, n + 1))
    everywhere, local = regions(weights, biases, ("global",)), regions(weights, biases, odom)
    for p, q in PAIRS:
        res = bound_problem(make_problem(net, Global(), p, q))
        assert res.upper >= exact(everywhere, p, q) * (1 - ORACLE_RTOL)
        res = bound_network(Network(weights, biases), p=p, q=q, n_dir=n_dir, **dom)
        assert res.upper >= exact(local, p, q, n_dir) * (1 - ORACLE_RTOL)


@pytest.mark.parametrize("seed", range(8))
def test_core_matches_the_numpy_reference(seed):
    rng = np.random.default_rng(300 + seed)
    weights, biases = degenerate_net(rng)
    dom, _ = random_domain(rng, weights[0].shape[1])
    states = None
    if rng.random() < 0.5 and len(weights) > 1:
        states = [rng.choice(np.array([-1, -1, 0, 1], np.int8), size=W.shape[0]) for W in weights[:-1]]
    tau = float(rng.choice([0.0, 0.5, 1.0]))
    n_dir = int(rng.integers(1, weights[0].shape[1] + 1))
    for p, q in PAIRS:
        got = bound_network(Network(weights, biases), p=p, q=q, states=states, n_dir=n_dir, step_init=tau,
                            **NO_OPTIMISATION, **dom)
        want = reference_bound(weights, biases, p=p, q=q, states=states, n_dir=n_dir, tau=tau, **dom)
        assert got.empty == want["empty"]
        assert got.upper == pytest.approx(want["upper"], rel=REFERENCE_RTOL, abs=1e-300)
        if not got.empty:
            for (gl, gu), (rl, ru) in zip(got.forward, want["forward"]):
                np.testing.assert_allclose(gl, rl, rtol=REFERENCE_RTOL, atol=1e-12 * np.abs(rl).max(initial=1.0))
                np.testing.assert_allclose(gu, ru, rtol=REFERENCE_RTOL, atol=1e-12 * np.abs(ru).max(initial=1.0))


@pytest.mark.parametrize("seed", range(3))
def test_blocks_of_forms_change_no_bound(seed):
    """block_entries sets only the peak memory: passes cut into blocks of a few rows (the backward graph) and
    columns (the interval Jacobian), down to one, give the bounds of whole passes (to rounding: a product's
    summation order may change with its shape, each order within the allowance the core pays)."""
    rng = np.random.default_rng(900 + seed)
    weights, biases = random_net(900 + seed, [12, 10, 9, 8, 3])
    net = Network(weights, biases)
    x0 = rng.uniform(-1.0, 1.0, 12)
    states = [rng.choice(np.array([-1, -1, -1, 0, 1], np.int8), size=W.shape[0]) for W in weights[:-1]]
    for p, q in [(INF, INF), (2.0, 2.0), (1.0, 2.0)]:
        whole = bound_network(net, x0 - 0.5, x0 + 0.5, p, q, states=states if seed else None)
        for entries in (1, 60, 500):
            part = bound_network(net, x0 - 0.5, x0 + 0.5, p, q, states=states if seed else None,
                                 block_entries=entries)
            assert part.empty == whole.empty and part.upper == pytest.approx(whole.upper, rel=1e-12)
            pairs = list(zip(part.forward + part.gradient, whole.forward + whole.gradient))
            pairs += [(a, b) for rows_a, rows_b in zip(part.backward, whole.backward) for a, b in zip(rows_a, rows_b)]
            pairs += [((a, a), (b, b)) for a, b in zip(part.sensitivity or [], whole.sensitivity or [])]
            assert len(pairs) > 2 * len(weights)
            for a, b in pairs:
                np.testing.assert_allclose(a[0], b[0], rtol=1e-12, atol=1e-300)
                np.testing.assert_allclose(a[1], b[1], rtol=1e-12, atol=1e-300)


def test_optimisation_only_tightens():
    rng = np.random.default_rng(7)
    weights, biases = degenerate_net(rng, max_hidden=10, n_out=1)
    dom, _ = random_domain(rng, weights[0].shape[1])
    for p in NORMS:
        plain = bound_network(Network(weights, biases), p=p, q=INF, **NO_OPTIMISATION, **dom).upper
        assert bound_network(Network(weights, biases), p=p, q=INF, **dom).upper <= plain


@pytest.mark.parametrize("seed", range(6))
def test_a_target_stops_the_slope_steps_once_the_bound_is_below_it(seed):
    """target = the bound without slope steps: the first evaluated slopes meet it, so that bound is returned; a
    target between it and the optimised bound gives a bound at most the target; every one covers L."""
    rng = np.random.default_rng(300 + seed)
    weights, biases = degenerate_net(rng, n_out=1)
    dom, odom = random_domain(rng, weights[0].shape[1])
    net, truth = Network(weights, biases), regions(weights, biases, odom)
    for p in (2.0, INF):
        L = exact(truth, p, INF)
        plain = bound_network(net, p=p, q=INF, iterations=0, **dom).upper
        full = bound_network(net, p=p, q=INF, **dom).upper
        assert bound_network(net, p=p, q=INF, target=plain, **dom).upper == plain
        assert bound_network(net, p=p, q=INF, target=INF, **dom).upper >= plain  # the interval bound may do
        middle = (plain + full) / 2
        stopped = bound_network(net, p=p, q=INF, target=middle, **dom).upper
        assert L * (1 - ORACLE_RTOL) <= full <= stopped <= max(middle, full), (p, L, full, stopped, middle, plain)


@pytest.mark.parametrize("limit", [0.0, 1e-5, 1e-4, 1e-3, 1e-2])
def test_rows_left_at_the_deadline_keep_sound_enclosures(limit):
    """Output rows reached after the time limit get the forward interval Jacobian's enclosure (or none) instead
    of a backward pass each; every row's enclosure and the bound still cover the sampled Jacobians."""
    rng = np.random.default_rng(11)
    sizes = [5, 12, 12, 30]
    weights = [rng.standard_normal((sizes[k + 1], sizes[k])) for k in range(3)]
    biases = [0.3 * rng.standard_normal(sizes[k + 1]) for k in range(3)]
    lo, hi = -np.ones(5), np.ones(5)
    res = bound_network(Network(weights, biases), lo, hi, 2.0, INF, time_limit=limit)
    assert len(res.gradient) == 30 and all(len(b) == 2 for b in res.backward)
    assert res.upper >= sampled_lower(weights, biases, ("box", lo, hi), 2.0, INF, n=200, seed=1) * (1 - ORACLE_RTOL)
    for x in rng.uniform(lo, hi, size=(200, 5)):  # the Jacobian at x (interior of its region almost surely)
        J, a = np.eye(5), x
        for W, b in zip(weights[:-1], biases[:-1]):
            z = W @ a + b
            J, a = (z > 0)[:, None] * (W @ J), np.maximum(z, 0.0)
        for (glo, ghi), row in zip(res.gradient, weights[-1] @ J):
            assert np.all(glo <= row + 1e-12 * np.abs(row).max()) and np.all(row <= ghi + 1e-12 * np.abs(row).max())


@pytest.mark.parametrize("p", NORMS)
def test_forward_steps_leave_the_backward_pass_its_time(p):
    """Forward slope steps that would outlast a timed call stop at their share of it, so the call still ends with
    a finite certified bound (before: the steps used the whole time, the interval Jacobian and the backward pass
    were skipped, and the bound was infinite, as on the CIFAR-sized CNN at the pipeline's time limits)."""
    weights, biases = random_net(5, [6, 40, 40, 40, 1], fan_in=True)
    lo, hi = -np.ones(6), np.ones(6)
    res = bound_network(Network(weights, biases), lo, hi, p, INF, forward_iterations=10**7, time_limit=0.5)
    assert res.stopped and math.isfinite(res.upper)
    # the backward pass ran: a row reached after the deadline keeps only the interval Jacobian's enclosure and
    # no backward bounds (see test_rows_left_at_the_deadline_keep_sound_enclosures)
    assert all(np.isfinite(lo).all() and np.isfinite(hi).all() for lo, hi in res.backward[0])
    assert res.upper >= sampled_lower(weights, biases, ("box", lo, hi), p, INF, n=500, seed=2) * (1 - ORACLE_RTOL)


def test_rounding_is_covered_where_float64_gets_the_jacobian_wrong():
    """One hidden layer, every neuron stably active on the box: L = ||W_2 W_1||_{p*} exactly, computed in rationals
    from the stored floats; its float64 evaluation falls below it for about half of these networks."""
    rng = np.random.default_rng(11)
    below = 0
    for _ in range(60):
        W1 = rng.standard_normal((6, 3)) * 10.0 ** rng.uniform(-3, 3, size=(6, 1))
        W2 = rng.standard_normal((1, 6))
        b1 = np.abs(W1).sum(axis=1) * 2 + 1.0  # z > 0 on [-1, 1]^3
        g = [sum(Fraction(W2[0, i]) * Fraction(W1[i, j]) for i in range(6)) for j in range(3)]
        exact = {INF: sum(abs(x) for x in g), 1.0: max(abs(x) for x in g)}
        float64 = {INF: float(np.abs(W2 @ W1).sum()), 1.0: float(np.abs(W2 @ W1).max())}
        for p in (1.0, INF):
            res = bound_network(Network([W1, W2], [b1, np.zeros(1)]), -np.ones(3), np.ones(3), p, INF)
            assert Fraction(res.upper) >= exact[p]
            assert res.upper <= float(exact[p]) * (1 + 1e-12)
            below += Fraction(float64[p]) < exact[p]
    assert below > 0  # the test exercises rounding that plain float64 gets wrong


@pytest.mark.parametrize("scale", [1e-100, 1e-160, 1e-170])
def test_underflow_is_covered_where_products_fall_below_the_smallest_float(scale):
    """Two hidden layers with weights of order `scale`: the Jacobian (order scale^3) and the second layer's
    pre-activations underflow in float64, so only the underflow allowances keep the bounds above the exact values,
    computed in rationals: every pre-activation bound contains the exact pre-activation at sampled points, and the
    upper bound is at least the exact Jacobian norm of each sampled point's pattern."""
    s = scale
    W = [np.array([[s, -s], [2 * s, s]]), np.array([[s, s], [-s, 3 * s]]), np.array([[s, 2 * s]])]
    b = [np.array([0.5, -0.25]) * s, np.array([0.1, 0.2]) * s * s, np.zeros(1)]
    exact_w = [[[Fraction(v) for v in row] for row in M] for M in W]
    exact_b = [[Fraction(v) for v in vec] for vec in b]
    rng = np.random.default_rng(3)
    points = [[Fraction(v) for v in x] for x in rng.uniform(-1.0, 1.0, size=(40, 2))]
    for p in NORMS:
        res = bound_network(Network(W, b), -np.ones(2), np.ones(2), p, INF)
        for x in points:
            h, masks = x, []
            for k in range(2):
                z = [sum(w * v for w, v in zip(row, h)) + c for row, c in zip(exact_w[k], exact_b[k])]
                lo, hi = res.forward[k]
                assert all(Fraction(lo[j]) <= z[j] <= Fraction(hi[j]) for j in range(2))
                masks.append([v > 0 for v in z])
                h = [max(v, Fraction(0)) for v in z]
            g = [w * m for w, m in zip(exact_w[2][0], masks[1])]  # d f / d x_1, then back to the input
            g = [sum(g[i] * exact_w[1][i][j] for i in range(2)) * masks[0][j] for j in range(2)]
            g = [sum(g[i] * exact_w[0][i][j] for i in range(2)) for j in range(2)]
            norm = max(abs(v) for v in g) if p == 1.0 else sum(abs(v) for v in g)  # dual norms; p = 2 below
            if p == 2.0:
                assert Fraction(res.upper) ** 2 >= sum(v * v for v in g)
            else:
                assert Fraction(res.upper) >= norm
        assert res.upper > 0.0


@pytest.mark.parametrize("kwargs, message", [
    (dict(n_dir=5), "n_dir"),
    (dict(states=[np.zeros(3, np.int8)]), "states"),
    (dict(step_init=2.0), "step_init"),
    (dict(p=3.0), "p must be"),
    (dict(block_entries=0), "block_entries"),
])
def test_bad_arguments_are_refused(kwargs, message):
    args = dict(network=Network([np.ones((2, 2)), np.ones((1, 2))]), lo=-np.ones(2), hi=np.ones(2), p=2.0, q=2.0)
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        bound_network(**args)


@pytest.mark.parametrize("seed", range(8))
def test_sign_branches_bound_their_vertices(seed):
    """p = inf with the vertex signs fixed (all or some): each bound is at least max g^T v over the regions'
    rows g and the vertices v agreeing with the signs, so the branches' maximum covers the exact constant."""
    rng = np.random.default_rng(300 + seed)
    weights, biases = degenerate_net(rng, n_out=None if seed % 2 else 1)
    n = weights[0].shape[1]
    dom, odom = random_domain(rng, n)
    truth = regions(weights, biases, odom)
    net = Network(weights, biases)
    branches = []
    for full in itertools.product((-1, 1), repeat=n):
        signs = np.array(full, np.int8)
        signs[rng.random(n) < 0.3] = 0  # some left free
        res = bound_network(net, p=INF, q=INF, signs=signs, **dom)
        free = signs == 0
        for _, J in truth:
            best = float(np.max(J[:, ~free] @ signs[~free] + np.abs(J[:, free]).sum(axis=1)))
            assert res.upper >= best - ORACLE_RTOL * np.abs(J).sum(), (signs, res.upper, best)
        branches.append(res.upper)
    assert max(branches) >= exact(truth, INF, INF) * (1 - ORACLE_RTOL)


@pytest.mark.parametrize("kwargs, message", [
    (dict(p=2.0, q=INF), "signs need p = inf"),
    (dict(p=INF, q=1.0), "signs need p = inf"),   # two outputs: ||J||_{inf->1} is no maximum of rows
    (dict(p=INF, q=INF, signs=np.array([1, 0, 1], np.int8)), "signs must be a vector of 2"),
    (dict(p=INF, q=INF, signs=np.array([2, 0], np.int8)), "signs must be in"),
])
def test_bad_signs_are_refused(kwargs, message):
    args = dict(network=Network([np.ones((2, 2)), np.ones((2, 2))]), lo=-np.ones(2), hi=np.ones(2),
                signs=np.array([1, -1], np.int8))
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        bound_network(**args)
