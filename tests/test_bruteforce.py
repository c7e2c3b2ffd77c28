"""Checks of the independent brute-force oracle (tests/oracles/bruteforce.py) itself.

Nothing here imports lipmiq.  Closed forms, published exact values and sampling
cross-checks (soundness: every enumerated region has a verified interior point;
completeness: every sampled pattern is enumerated).
"""

import itertools

import numpy as np
import oracles.bruteforce as bf
import pytest
from conftest import REFERENCE
from netgen import random_net
from oracles.bruteforce import (
    dual_norm,
    exact_lipschitz,
    exact_opnorm,
    forward_pattern,
    in_domain,
    jacobian,
    region_jacobians,
    regions,
    sampled_lower,
)

INF = np.inf
NORMS = [1, 2, INF]
PAIRS = list(itertools.product(NORMS, NORMS))


def flat(pattern):
    return tuple(np.concatenate([np.asarray(g, dtype=bool) for g in pattern]).tolist())


# --------------------------------------------------------------------- operator norms

def _vertex_norm(J, p, q):
    """||J||_{p->q} for p in {1, inf} by brute force over the vertices of the p-ball."""
    n = J.shape[1]
    if p == 1:
        V = np.vstack([np.eye(n), -np.eye(n)])
    else:
        V = np.array(list(itertools.product([-1.0, 1.0], repeat=n)))
    return max(np.linalg.norm(J @ v, ord=q) for v in V)


@pytest.mark.parametrize("shape", [(1, 1), (1, 4), (4, 1), (3, 4), (5, 3), (2, 6)])
def test_opnorm_against_vertices_and_duality(shape):
    rng = np.random.default_rng(sum(shape))
    for _ in range(5):
        J = rng.standard_normal(shape)
        for p, q in PAIRS:
            val = exact_opnorm(J, p, q)
            # duality ||J||_{p->q} = ||J^T||_{q*->p*} (different code paths for most pairs)
            assert val == pytest.approx(exact_opnorm(J.T, bf._dual(q), bf._dual(p)), rel=1e-12)
            if p in (1, INF):
                assert val == pytest.approx(_vertex_norm(J, p, q), rel=1e-12)
            # random directions on the p-sphere give lower bounds, and get close
            v = rng.standard_normal((20000, shape[1]))
            v /= np.linalg.norm(v, ord=p, axis=1, keepdims=True)
            low = np.max(np.linalg.norm(v @ J.T, ord=q, axis=1))
            assert low <= val * (1 + 1e-12)
            if shape[1] <= 4:
                assert low >= 0.9 * val


def test_opnorm_scalar_row_is_dual_norm():
    r = np.array([[3.0, -4.0, 1.0]])
    for p, q in PAIRS:
        assert exact_opnorm(r, p, q) == pytest.approx(dual_norm(r[0], p))
    assert dual_norm(r[0], 1) == 4.0
    assert dual_norm(r[0], 2) == pytest.approx(np.sqrt(26.0))
    assert dual_norm(r[0], INF) == 8.0
    assert exact_opnorm(r, "inf", "1") == 8.0


# --------------------------------------------------------------------- closed forms

DOMAINS_3 = [
    ("box", -np.ones(3), np.ones(3)),
    ("ball", np.array([0.1, -0.2, 0.3]), 0.7, 1),
    ("ball", np.array([0.1, -0.2, 0.3]), 0.7, 2),
    ("ball", np.array([0.1, -0.2, 0.3]), 0.7, INF),
    ("global",),
]


def test_single_linear_layer():
    W, b = random_net(0, [3, 4], fan_in=True)
    for dom in DOMAINS_3:
        assert len(list(regions(W, b, dom))) == 1
        for p, q in PAIRS:
            assert exact_lipschitz(W, b, dom, p, q) == pytest.approx(exact_opnorm(W[0], p, q), rel=1e-12)
            assert sampled_lower(W, b, dom, p, q, n=50) == pytest.approx(exact_opnorm(W[0], p, q), rel=1e-12)
        assert exact_lipschitz(W, b, dom, 2, 2, c=1) == pytest.approx(np.linalg.norm(W[0][1]))


ABS_NET = ([np.array([[1.0], [-1.0]]), np.array([[1.0, -1.0]])], [np.zeros(2), np.zeros(1)])


@pytest.mark.parametrize("dom", [("box", -1.0, 1.0), ("box", -0.01, 2.0), ("ball", [0.0], 1.0, 2),
                                 ("ball", [0.0], 3.0, 1), ("global",)])
def test_identity_as_two_relus(dom):
    # relu(x) - relu(-x) = x: L = 1, not 2 (pattern (1,1) only exists at the point 0)
    W, b = ABS_NET
    pats = sorted(flat(g) for g, _x, _m in regions(W, b, dom))
    assert pats == [(False, True), (True, False)]
    for p, q in PAIRS:
        assert exact_lipschitz(W, b, dom, p, q) == pytest.approx(1.0, rel=1e-12)


def test_identity_on_one_side_only():
    W, b = ABS_NET
    assert [flat(g) for g, _x, _m in regions(W, b, ("box", 0.0, 1.0))] == [(True, False)]
    assert [flat(g) for g, _x, _m in regions(W, b, ("box", -1.0, 0.0))] == [(False, True)]


@pytest.mark.parametrize("dom", DOMAINS_3)
def test_one_hidden_neuron(dom):
    w = np.array([0.5, -2.0, 1.0])
    u = np.array([1.5, -0.5])
    W = [w[None, :], u[:, None]]
    b = [np.array([0.05]), np.array([3.0, -1.0])]
    for p, q in PAIRS:
        # J = u w^T (rank one): ||u w^T||_{p->q} = ||u||_q ||w||_{p*}
        expect = np.linalg.norm(u, ord=q) * dual_norm(w, p)
        assert exact_lipschitz(W, b, dom, p, q) == pytest.approx(expect, rel=1e-12)
        assert exact_lipschitz(W, b, dom, p, q, c=1) == pytest.approx(0.5 * dual_norm(w, p), rel=1e-12)
        assert exact_lipschitz(W, b, dom, p, q, c=[1.0, 2.0]) == pytest.approx(0.5 * dual_norm(w, p), rel=1e-12)


def test_one_hidden_neuron_dead_and_alive_boxes():
    W = [np.array([[1.0, 1.0]]), np.array([[2.0]])]
    b = [np.array([-3.0]), np.array([0.0])]
    assert exact_lipschitz(W, b, ("box", 0.0, 1.0), 2, 2) == 0.0            # always inactive
    assert exact_lipschitz(W, b, ("box", 2.0, 3.0), 2, 2) == pytest.approx(2 * np.sqrt(2))
    assert exact_lipschitz(W, b, ("box", 0.0, 1.5), 2, 2) == 0.0            # kink only at a corner
    assert exact_lipschitz(W, b, ("box", 0.0, 1.6), INF, 1) == pytest.approx(4.0)


def test_duplicated_neurons():
    # two identical neurons: the mixed patterns have empty interior; (1,0) would give 2
    W = [np.array([[1.0], [1.0]]), np.array([[1.0, -2.0]])]
    b = [np.array([0.3, 0.3]), np.zeros(1)]
    for dom in [("box", -1.0, 1.0), ("ball", [0.0], 5.0, INF), ("global",)]:
        assert sorted(flat(g) for g, _x, _m in regions(W, b, dom)) == [(False, False), (True, True)]
        assert exact_lipschitz(W, b, dom, 2, 2) == pytest.approx(1.0)
    # also in 2-D and one layer deeper
    W = [np.array([[1.0, 2.0], [1.0, 2.0], [0.0, 1.0]]), np.array([[1.0, -1.0, 0.0], [1.0, -1.0, 0.0]]),
         np.array([[1.0, -3.0]])]
    b = [np.zeros(3), np.zeros(2), np.zeros(1)]
    for g, x, m in regions(W, b, ("box", -1.0, 1.0)):
        assert g[0][0] == g[0][1]
        assert not g[1][0] and not g[1][1]  # z = relu(a) - relu(a) = 0: constant, inactive
    assert exact_lipschitz(W, b, ("box", -1.0, 1.0), 1, 1) == 0.0


@pytest.mark.parametrize("a,bb", [(2.0, 0.5), (-1.0, 3.0), (1.0, -1.0)])
def test_opposite_neurons(a, bb):
    W = [np.array([[1.0], [-1.0]]), np.array([[a, bb]])]
    # zero biases: both active / both inactive only at 0
    b0 = [np.zeros(2), np.zeros(1)]
    assert exact_lipschitz(W, b0, ("box", -1.0, 1.0), 2, 2) == pytest.approx(max(abs(a), abs(bb)))
    # biases 1: (0,1) on x < -1, (1,1) on (-1, 1), (1,0) on x > 1
    b1 = [np.ones(2), np.zeros(1)]
    assert exact_lipschitz(W, b1, ("box", -2.0, 2.0), 1, 1) == pytest.approx(max(abs(a), abs(bb), abs(a - bb)))
    assert exact_lipschitz(W, b1, ("box", -0.5, 0.5), 1, 1) == pytest.approx(abs(a - bb))
    # biases -1: nothing active on (-1, 1)
    bm = [-np.ones(2), np.zeros(1)]
    assert exact_lipschitz(W, bm, ("box", -0.5, 0.5), INF, INF) == 0.0
    assert exact_lipschitz(W, bm, ("global",), INF, INF) == pytest.approx(max(abs(a), abs(bb)))


def test_box_not_containing_the_kink():
    # f = relu(x) + 2 relu(x - 1): slope 1 on (0, 1), 3 on (1, inf)
    W = [np.array([[1.0], [1.0]]), np.array([[1.0, 2.0]])]
    b = [np.array([0.0, -1.0]), np.zeros(1)]
    cases = [(("box", 0.1, 0.5), 1.0, 1), (("box", 0.0, 1.0), 1.0, 1),  # kink on the boundary
             (("box", 1.5, 2.0), 3.0, 1), (("box", 0.0, 2.0), 3.0, 2),
             (("ball", [0.5], 0.5, 2), 1.0, 1), (("ball", [0.5], 0.51, 1), 3.0, 3),
             (("ball", [-2.0], 1.0, INF), 0.0, 1)]
    for dom, expect, nreg in cases:
        assert len(list(regions(W, b, dom))) == nreg, dom
        for p, q in PAIRS:
            assert exact_lipschitz(W, b, dom, p, q) == pytest.approx(expect), dom


@pytest.mark.parametrize("bn", [1, 2, INF])
def test_ball_reaches_the_kink_or_not(bn):
    # f = 1.5 relu(w.x - t), ball around 0: the kink is at distance t / ||w||_{bn*}
    w = np.array([1.0, -2.0, 0.5])
    t = 0.8
    W = [w[None, :], np.array([[1.5]])]
    b = [np.array([-t]), np.zeros(1)]
    d = t / dual_norm(w, bn)
    center = np.zeros(3)
    for p in NORMS:
        assert exact_lipschitz(W, b, ("ball", center, d * (1 - 1e-4), bn), p, 2) == 0.0
        got = exact_lipschitz(W, b, ("ball", center, d * (1 + 1e-4), bn), p, 2)
        assert got == pytest.approx(1.5 * dual_norm(w, p), rel=1e-12)


def test_zero_width_box_coordinates():
    W, b = random_net(7, [3, 5, 4, 2], fan_in=True)
    lo = np.array([-0.5, 0.2, -1.0])
    hi = np.array([0.5, 0.2, 1.0])
    # hand-made reduced network: drop column 1, fold x_1 = 0.2 into b_1
    Wr = [W[0][:, [0, 2]]] + W[1:]
    br = [b[0] + 0.2 * W[0][:, 1]] + b[1:]
    for p, q in PAIRS:
        got = exact_lipschitz(W, b, ("box", lo, hi), p, q)
        assert got == pytest.approx(exact_lipschitz(Wr, br, ("box", lo[[0, 2]], hi[[0, 2]]), p, q), rel=1e-12)
        assert sampled_lower(W, b, ("box", lo, hi), p, q, n=500) <= got + 1e-9
    for g, x, m in regions(W, b, ("box", lo, hi)):
        assert x[1] == 0.2 and in_domain(x, ("box", lo, hi), tol=1e-9)
        assert flat(forward_pattern(W, b, x)) == flat(g)
    # a single point: no direction at all
    assert exact_lipschitz(W, b, ("box", lo, lo), 2, 2) == 0.0
    assert exact_lipschitz(W, b, ("ball", lo, 0.0, 2), 2, 2) == 0.0
    assert sampled_lower(W, b, ("box", lo, lo), 2, 2) == 0.0


def test_constant_neurons_do_not_branch():
    # neuron 2 of layer 1: zero row, bias 1 (constant, active); layer-2 neuron 1 reads only
    # neuron 3 which is dead on the box, so its form is constant there (value -0.5: inactive)
    W = [np.array([[1.0, 0.0], [0.0, 0.0], [1.0, 1.0]]),
         np.array([[0.0, 0.0, 1.0], [1.0, 2.0, 0.0]]),
         np.array([[1.0, 1.0]])]
    b = [np.array([0.0, 1.0, -10.0]), np.array([-0.5, 0.0]), np.zeros(1)]
    regs = list(regions(W, b, ("box", -1.0, 1.0)))
    assert sorted(flat(g) for g, _x, _m in regs) == [
        (False, True, False, False, True), (True, True, False, False, True)]
    assert exact_lipschitz(W, b, ("box", -1.0, 1.0), 2, 2) == pytest.approx(1.0)
    assert exact_lipschitz(W, b, ("global",), 2, 2) == pytest.approx(np.sqrt(5.0))


def test_jacobian_and_output_selection():
    W, b = random_net(3, [3, 4, 4, 3], fan_in=True)
    dom = ("box", -1.0, 1.0)
    for k in range(3):
        e = np.zeros(3)
        e[k] = 1.0
        # scalar network c^T f
        Wk = W[:-1] + [W[-1][k][None, :]]
        bk = b[:-1] + [b[-1][k:k + 1]]
        for p in NORMS:
            v = exact_lipschitz(W, b, dom, p, 2, c=k)
            assert v == pytest.approx(exact_lipschitz(W, b, dom, p, INF, c=e), rel=1e-12)
            assert v == pytest.approx(exact_lipschitz(Wk, bk, dom, p, 1), rel=1e-12)
            assert v <= exact_lipschitz(W, b, dom, p, INF) * (1 + 1e-12)
    for g, J in region_jacobians(W, b, dom):
        assert np.allclose(J, jacobian(W, g))


# --------------------------------------------------------------------- published exact values

def _check_published(load_net, name):
    """The oracle reproduces the published exact values of tests/data/reference.json."""
    W, b = load_net(name)
    queries = [q for q in REFERENCE if q["network"] == name and q["output"] == "all"]
    assert queries
    for qy in queries:
        d = qy["domain"]
        dom = ("global",) if d == "global" else ("box", float(d["box"][0]), float(d["box"][1]))
        val = exact_lipschitz(W, b, dom, qy["p"], qy["q"])
        assert val == pytest.approx(qy["exact"], rel=1e-3), (name, dom, qy["p"], qy["q"])
        assert sampled_lower(W, b, dom, qy["p"], qy["q"], n=2000) <= val + 1e-9


def test_published_iris_4_5_5_3(load_net):
    _check_published(load_net, "lipbab_iris_4-5-5-3")


def test_published_sdnet_10_15_10_3(load_net):
    _check_published(load_net, "lipbab_sdnet_10-15-10-3")


def test_published_exlipbab_iris_global(load_net):
    W, b = load_net("exlipbab_iris_4-6-6-3")
    val = exact_lipschitz(W, b, ("global",), 2, 2)
    assert val == pytest.approx(11.634355134114875, rel=1e-3)
    assert val == pytest.approx(11.634355134114875, rel=1e-9)  # published to full precision


def test_data_files_are_small(data_dir):
    files = sorted(data_dir.glob("*.npz"))
    assert files
    for f in files:
        assert f.stat().st_size < 100_000, f


# --------------------------------------------------------------------- random networks

RANDOM_NETS = [((2, 10, 2), 11), ((3, 5, 5, 2), 12), ((2, 4, 4, 4, 3), 13), ((4, 3, 3, 1), 14)]


def _domains(n):
    c = np.linspace(-0.3, 0.4, n)
    return [("box", -np.ones(n), np.linspace(0.5, 1.5, n)),
            ("ball", c, 1.0, 1), ("ball", c, 1.0, 2), ("ball", c, 1.0, INF), ("global",)]


@pytest.mark.parametrize("sizes,seed", RANDOM_NETS)
def test_random_networks_sound_and_complete(sizes, seed):
    W, b = random_net(seed, sizes, fan_in=True)
    for dom in _domains(sizes[0]):
        regs = list(regions(W, b, dom))
        pats = {flat(g) for g, _x, _m in regs}
        assert len(pats) == len(regs)                       # no duplicates
        # soundness: each region has an interior point with that pattern in the domain
        for g, x, m in regs:
            assert m > bf.MARGIN_TOL
            assert in_domain(x, dom, tol=1e-9)
            assert flat(forward_pattern(W, b, x)) == flat(g)
        # completeness: every pattern seen at random points of the domain is enumerated
        rng = np.random.default_rng(seed)
        X = bf.sample_domain(dom, sizes[0], 3000, rng)
        seen = {tuple(r) for r in np.hstack(forward_pattern(W, b, X)).tolist()}
        assert seen <= pats, dom
        # value = max over regions; sampled lower bound below it, for all 9 (p, q)
        jacs = [J for _g, J in region_jacobians(W, b, dom)]
        for p, q in PAIRS:
            exact = max(exact_opnorm(J, p, q) for J in jacs)
            low = sampled_lower(W, b, dom, p, q, n=1000, seed=seed)
            assert low <= exact + 1e-9, (dom, p, q)
            assert low >= 0.5 * exact  # sanity (not a theorem): sampling gets close
        assert exact_lipschitz(W, b, dom, INF, 1) == pytest.approx(
            max(exact_opnorm(J, INF, 1) for J in jacs), rel=1e-12)


@pytest.mark.parametrize("seed", [21, 22, 23])
def test_one_dimensional_against_dense_grid(seed):
    # in 1-D the regions are intervals; a dense grid sees every piece longer than its step
    W, b = random_net(seed, [1, 6, 6, 1], bias_scale=1.0, fan_in=True)
    x = np.linspace(-3, 3, 200001)[:, None]
    grid = {tuple(r) for r in np.hstack(forward_pattern(W, b, x)).tolist()}
    enum = {flat(g) for g, _x, _m in regions(W, b, ("box", -3.0, 3.0))}
    assert grid == enum
    slopes = np.diff((np.maximum(x @ W[0].T + b[0], 0) @ W[1].T + b[1]).clip(0) @ W[2].T, axis=0)[:, 0] / 3e-5
    assert exact_lipschitz(W, b, ("box", -3.0, 3.0), 2, 2) == pytest.approx(np.max(np.abs(slopes)), rel=1e-6)


def test_lp_backends_agree(monkeypatch):
    W, b = random_net(31, [3, 5, 5, 2], fan_in=True)
    for dom in [("box", -1.0, 1.0), ("ball", np.zeros(3), 1.0, 2), ("ball", np.zeros(3), 1.0, 1)]:
        a = {flat(g) for g, _x, _m in regions(W, b, dom)}
        monkeypatch.setattr(bf, "LP_BACKEND", "linprog")
        c = {flat(g) for g, _x, _m in regions(W, b, dom)}
        monkeypatch.setattr(bf, "LP_BACKEND", "highspy" if bf._highspy is not None else "linprog")
        assert a == c


def test_bad_inputs():
    W, b = ABS_NET
    with pytest.raises(ValueError):
        exact_lipschitz(W, b, ("box", 1.0, -1.0), 2, 2)
    with pytest.raises(ValueError):
        exact_lipschitz(W, b, ("box", -1.0, 1.0), 3, 2)
    with pytest.raises(ValueError):
        exact_lipschitz(W, b, ("cube", -1.0, 1.0), 2, 2)
    with pytest.raises(ValueError):
        exact_lipschitz(W, b, ("box", -1.0, 1.0), 2, 2, c=5)
