"""Region LPs (lipmiq.certify.regions): interior points, and emptiness verdicts that must be proofs.

A region is declared empty only when a dual bound, checked in float64 with a rounding allowance or in
exact rational arithmetic, shows that no ball fits in it; thin but real regions must never be."""
import math

import numpy as np
import pytest
from lipmiq import Ball, Box, Global, Network
from lipmiq.certify.regions import empty_interior, interior_point, region_lp
from lipmiq.problem import make_problem

INF = math.inf


def sliver(delta):
    """z1 = x1 + x2, z2 = x1 + (1 + delta) x2, z3 = x1 - x2: the pattern (1, 0, 1) is a sliver of width
    about delta |x2| below x2 = 0 (delta > 0), a line (delta = 0), or nothing (delta < 0)."""
    W = [np.array([[1.0, 1.0], [1.0, 1.0 + delta], [1.0, -1.0]]), np.array([[5.0, -5.0, 1.0]])]
    return Network(W, [np.zeros(3), np.zeros(1)])


PATTERN = [np.array([1, 0, 1], dtype=np.uint8)]
DOMAINS = [Box(-1, 1), Ball([0.0, 0.0], 1.0, INF), Ball([0.0, 0.0], 1.0, 1), Global()]


@pytest.mark.parametrize("domain", DOMAINS, ids=["box", "ball-inf", "ball-1", "global"])
@pytest.mark.parametrize("delta", [1e-9, 1e-12])
def test_thin_real_region_is_never_declared_empty(domain, delta):
    """HiGHS's margin for these slivers is within its tolerances of 0 (it once returned s <= 0 and the
    enumeration pruned the region whose slope 7.21 is L); the verdict must be 'not proved empty'."""
    problem = make_problem(sliver(delta), domain, 2, 2)
    assert not empty_interior(problem, PATTERN)


@pytest.mark.parametrize("domain", DOMAINS, ids=["box", "ball-inf", "ball-1", "global"])
def test_face_and_empty_regions_are_proved_empty(domain):
    """delta = 0: the pattern's closure is the line x1 = -x2 (maximum margin exactly 0, a degenerate LP
    whose proof needs exact duals); delta = -0.5: no point at all."""
    for delta in (0.0, -0.5):
        problem = make_problem(sliver(delta), domain, 2, 2)
        x, s, empty = region_lp(problem, PATTERN)
        assert x is None and s <= 1e-9 and empty, (delta, s)


@pytest.mark.parametrize("domain", DOMAINS, ids=["box", "ball-inf", "ball-1", "global"])
def test_interior_point_is_inside_the_region_and_the_domain(domain):
    problem = make_problem(sliver(0.5), domain, 2, 2)
    for pattern in ([np.array([1, 1, 1], np.uint8)], [np.array([0, 0, 0], np.uint8)]):
        x, s = interior_point(problem, pattern)
        assert x is not None and s > 1e-9
        z = problem.network.weights[0] @ x
        assert np.all((z > 0) == pattern[0].astype(bool)) and np.all(np.abs(z) > 0)
        assert isinstance(domain, Global) or domain.contains(x)


def test_a_reused_model_whose_clock_passed_the_time_left_still_solves():
    """The one-shot region LPs share one HiGHS model per thread, and HiGHS's time limit counts its run time over all
    solves: a model that has run longer than the time a query has left must still solve that query's LP (review
    finding: it returned time_limit at once, so witnesses and emptiness proofs were lost)."""
    import time

    from lipmiq.solvers.highs import run, scratch_highs

    problem = make_problem(sliver(0.5), Box(-1, 1), 2, 2)
    pattern = [np.array([1, 1, 1], np.uint8)]
    while scratch_highs().getRunTime() < 0.05:  # the thread's model has run 50 ms in all
        interior_point(problem, pattern)
    x, s = interior_point(problem, pattern, deadline=time.perf_counter() + 0.04)
    assert x is not None and s > 1e-9
    run(scratch_highs(), time.perf_counter() + 0.04)  # the limit is on the model's clock, not below it
    assert scratch_highs().getOptionValue("time_limit")[1] > scratch_highs().getRunTime()


def _interval_signs(weights, biases, lo, hi):
    """Per hidden neuron: 1 (pre-activation >= 0 on the box [lo, hi]), 0 (<= 0) or -1, by interval arithmetic."""
    signs = []
    for W, b in zip(weights[:-1], biases[:-1]):
        mid, rad = (lo + hi) / 2.0, (hi - lo) / 2.0
        zlo, zhi = W @ mid + b - np.abs(W) @ rad, W @ mid + b + np.abs(W) @ rad
        signs.append(np.where(zlo >= 0, 1, np.where(zhi <= 0, 0, -1)))
        lo, hi = np.maximum(zlo, 0.0), np.maximum(zhi, 0.0)
    return signs


BOX_SHAPED = {"box around 0": Box(-1.0, 1.0), "small box": Box([0.25, -0.5], [0.75, 0.0]),
              "inf-ball": Ball([0.5, -0.25], 0.4, INF)}


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("name", list(BOX_SHAPED))
def test_box_shaped_verdicts_are_the_oracles_with_stable_rows_skipped(name, seed):
    """Boxes and l-inf balls take the LP with x in the closed box (no rows for the distance to its faces), and
    `skip` leaves out the rows of neurons with the pattern's sign on the whole domain: every pattern of
    [2, 4, 4, 1] gets an interior point exactly when the brute-force oracle lists its region (the point has the
    pattern strictly and lies in the domain), else a proof, with and without skipping."""
    import itertools

    from lipmiq.certify.regions import region_point
    from netgen import oracle_domain, random_net
    from oracles.bruteforce import regions

    weights, biases = random_net(seed, [2, 4, 4, 1], stable_units=True)  # a dead and a live first-layer neuron
    domain = BOX_SHAPED[name].resolve(2)
    real = {tuple(tuple(bool(v) for v in g) for g in pattern)
            for pattern, _, _ in regions(weights, biases, oracle_domain(domain, 2))}
    signs = _interval_signs(weights, biases, *(np.asarray(a, float) for a in domain.box_hull()))
    skipped = proved = 0
    for bits in itertools.product([0, 1], repeat=8):
        pattern = [np.array(bits[:4], dtype=np.uint8), np.array(bits[4:], dtype=np.uint8)]
        skip = [(s >= 0) & (s == g) for s, g in zip(signs, pattern)]
        skipped += int(sum(s.sum() for s in skip))
        exists = tuple(tuple(bool(v) for v in g) for g in pattern) in real
        for rows in (None, skip):
            x, s, proof = region_point(weights, biases, domain, pattern, skip=rows)
            assert (x is not None) == exists and (proof is not None) == (not exists), (bits, rows, s)
            if x is not None:
                assert domain.contains(x) and s > 1e-9
                a = x
                for W, b, g in zip(weights[:-1], biases[:-1], pattern):
                    z = W @ a + b
                    assert np.all((z > 0) == g.astype(bool)) and np.all(z != 0), (bits, z)
                    a = np.maximum(z, 0.0)
        proved += not exists
    assert real and proved and skipped


def test_margin_lp_box_of_an_inf_ball_contains_the_ball_exactly():
    """The l-inf ball's box c -+ r is inexact in floats (to nearest, some endpoints fall inside the ball); the margin
    LP's x bounds (closed box and face rows alike) must still contain the exact ball, or a proof of emptiness would
    miss a strip of the domain."""
    from fractions import Fraction

    from lipmiq.certify.regions import margin_lp

    rng = np.random.default_rng(3)
    center, radius = rng.uniform(10.0, 1000.0, 64), 0.1  # c -+ r inexact: some round inward
    inward = [Fraction(float(c - radius)) > Fraction(float(c)) - Fraction(radius) for c in center]
    assert any(inward), "no coordinate rounds inward: pick other centres"
    dom = Ball(center, radius, math.inf)
    weights, biases = [np.ones((1, 64)), np.ones((1, 1))], [np.zeros(1), np.zeros(1)]
    for closed_box in (True, False):
        M, b, lo, hi, k, n, keys = margin_lp(weights, biases, dom, [np.array([1], dtype=np.uint8)],
                                             closed_box=closed_box)
        if closed_box:
            low, high = lo[:n], hi[:n]
        else:  # the face rows -x + s <= -lo and x + s <= hi follow the region's row
            low, high = -b[1:1 + n], b[1 + n:1 + 2 * n]
        for c, a, z in zip(center, low, high):
            assert Fraction(float(a)) <= Fraction(float(c)) - Fraction(radius)
            assert Fraction(float(z)) >= Fraction(float(c)) + Fraction(radius)


# ---- the core's closed-box LP (`_core.region_lp_box`, the branch-and-bound's prefix regions) ------------------
def _core_verdict(network, domain, layers, skip=None):
    from lipmiq import _core
    from lipmiq.tolerances import INTERIOR_TOL

    lo, hi = domain.box_hull()
    return _core.region_lp_box(network.core, lo, hi, [np.asarray(g, dtype=np.int8) for g in layers], INTERIOR_TOL,
                               skip)


def _strictly_on_sides(weights, biases, x, layers):
    """True when the network's own forward pass puts every row neuron of `layers` (side 0/1; -1: no row) strictly
    on its side at x; a neuron at exactly 0 passes only if it is 0 at random points within 1e-7 of x too
    (identically 0 there: no hyperplane, relu 0 on either side)."""
    near = x + 1e-7 * np.random.default_rng(0).uniform(-1, 1, size=(6, x.size))

    def pre(points):
        out, a = [], points
        for W, b in zip(weights, biases):
            out.append(a @ W.T + b)
            a = np.maximum(out[-1], 0.0)
        return out

    for z, zs, g in zip(pre(x[None, :]), pre(near), layers):
        z = z[0]
        flat = (z == 0) & np.all(zs == 0, axis=0)
        rows = (g >= 0) & ~flat
        if not np.all(np.where(g[rows] > 0, z[rows] > 0, z[rows] < 0)):
            return False
    return True


@pytest.mark.parametrize("delta", [1e-9, 1e-12, 0.0, -0.5])
@pytest.mark.parametrize("domain", DOMAINS[:2], ids=["box", "ball-inf"])
def test_core_box_lp_never_empties_a_thin_region(domain, delta):
    """The slivers above through the core's LP: a real region 1e-12 wide is never 'empty' (the weak-duality
    allowance leaves it undecided, and HiGHS with the exact decision takes it), a line (delta = 0) or the apex of
    a cone (delta = -0.5: max s is exactly 0) never 'interior'; two opposite half-lines x1 > 0.5, x1 < -0.5 are
    proved empty by their two rows."""
    out = _core_verdict(sliver(delta), domain.resolve(2), PATTERN)
    assert out["verdict"] != ("empty" if delta > 0 else "interior"), out
    apart = Network([np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0]]), np.ones((1, 3))],
                    [np.array([-0.5, -0.5, 0.0]), np.zeros(1)])
    out = _core_verdict(apart, domain.resolve(2), [np.array([1, 1, -1])])
    assert out["verdict"] == "empty" and sorted(out["rows"]) == [(0, 0), (0, 1)], out


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("name", list(BOX_SHAPED))
def test_core_box_lp_verdicts_are_the_oracles(name, seed):
    """Every pattern of [2, 4, 4, 1] through the core's LP, with and without the stable neurons' rows: 'interior'
    only for regions the brute-force oracle lists, with a point of the domain that the forward pass puts strictly in
    the region; 'empty' only for the others; on these networks (random biases) every verdict is decided."""
    import itertools

    from netgen import oracle_domain, random_net
    from oracles.bruteforce import regions

    weights, biases = random_net(seed, [2, 4, 4, 1], stable_units=True)
    net = Network(weights, biases)
    domain = BOX_SHAPED[name].resolve(2)
    real = {tuple(tuple(bool(v) for v in g) for g in pattern)
            for pattern, _, _ in regions(weights, biases, oracle_domain(domain, 2))}
    signs = _interval_signs(weights, biases, *(np.asarray(a, float) for a in domain.box_hull()))
    counts = {"interior": 0, "empty": 0}
    for bits in itertools.product([0, 1], repeat=8):
        pattern = [np.array(bits[:4], dtype=np.int8), np.array(bits[4:], dtype=np.int8)]
        exists = tuple(tuple(bool(v) for v in g) for g in pattern) in real
        for skip in (None, [((s >= 0) & (s == g)).astype(np.uint8) for s, g in zip(signs, pattern)]):
            out = _core_verdict(net, domain, pattern, skip)
            assert out["verdict"] == ("interior" if exists else "empty"), (bits, skip, out)
            if exists:
                assert domain.contains(out["x"]) and out["margin"] > 1e-9
                assert _strictly_on_sides(weights[:-1], biases[:-1], out["x"], pattern)
            counts[out["verdict"]] += 1
    assert counts["interior"] and counts["empty"]


@pytest.mark.parametrize("seed", range(24))
def test_core_prefix_lp_agrees_with_highs_and_its_proof_rows_suffice(seed):
    """Partial patterns (decided layers before K, some of layer K's neurons with a side) of random and degenerate
    networks (dead, copied, opposite neurons; bias-free or tiny biases) on a box: an interior point is strictly in
    the region by the forward pass, and HiGHS finds no proof there; 'empty' never where HiGHS finds a point, and the
    proof's rows alone (the conflict the search remembers) leave HiGHS no point either."""
    from lipmiq.certify.regions import region_point
    from netgen import mixed_net

    rng = np.random.default_rng(2000 + seed)
    sizes = [3, 6, 6, 5, 1]
    weights, biases = mixed_net(seed, sizes)
    net = Network(weights, biases)
    domain = Box(-1.0, 1.0).resolve(3)

    def highs(layers):
        K = len(layers) - 1
        rows = np.flatnonzero(layers[K] >= 0)
        W, b = list(weights[:K]) + [weights[K][rows]], list(biases[:K]) + [biases[K][rows]]
        return region_point(W, b, domain, [g.astype(np.uint8) for g in layers[:K]] + [layers[K][rows].astype(np.uint8)])

    decided = 0
    for _ in range(25):
        K = int(rng.integers(0, 3))
        layers = [rng.integers(0, 2, size=W.shape[0]).astype(np.int8) for W in weights[:K]]
        layers.append(rng.choice(np.array([-1, 0, 1], np.int8), size=weights[K].shape[0]))
        out = _core_verdict(net, domain, layers)
        x, _, proof = highs(layers)
        if out["verdict"] == "interior":
            assert domain.contains(out["x"]) and _strictly_on_sides(weights, biases, out["x"], layers)
            assert proof is None
        elif out["verdict"] == "empty":
            assert x is None
            cut = [np.where([(k, j) in set(out["rows"]) for j in range(g.size)], g, -1).astype(np.int8)
                   if k == K else g for k, g in enumerate(layers)]
            for k, j in out["rows"]:
                assert layers[k][j] >= 0
            if all(k == K for k, _ in out["rows"]):  # the conflict's shape: layer-K rows under the earlier pattern
                assert highs(cut)[0] is None
        decided += out["verdict"] != ""
    assert decided >= (3 if seed % 4 == 1 else 15)  # bias-free: most regions are cones (max s = 0 exactly)


def test_core_box_lp_gives_no_verdict_on_overflowed_forms():
    """Forms that overflow and cancel (1e200 weights: inf - inf = NaN) leave the core undecided: a NaN row was once
    read as a constant neuron of the wrong sign, a false 'empty' for z1 = 5e399 x - 1 > 0 on most of [0, 1]
    (review finding); a NaN offset must not give a point either."""
    net = Network([np.array([[1e200], [1e200]]), np.array([[1e200, -0.5e200]]), np.array([[1.0]])],
                  [np.zeros(2), np.array([-1.0]), np.zeros(1)])
    out = _core_verdict(net, Box(0.0, 1.0).resolve(1), [[1, 1], [1]])
    assert out["verdict"] == "", out
    net = Network([np.array([[1.0], [0.5]]), np.array([[1e200, -1e200]]), np.array([[1.0]])],
                  [np.array([1e200, 1e200]), np.zeros(1), np.zeros(1)])
    out = _core_verdict(net, Box(0.1, 1.0).resolve(1), [[1, 1], [0]])
    assert out["verdict"] == "", out
