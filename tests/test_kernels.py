"""Kernel tests: lipmiq._core (C++) against the numpy reference kernels (tests/oracles/kernels.py) and against first principles.

* C++ == reference to 1e-9 on random networks of several depths / widths;
* interval and symbolic bounds contain the pre-activations of many sampled inputs of the domain
  (box, and box intersected with a ball of norm 1, 2, inf); symbolic is never looser than interval;
* operator norms: closed forms / brute force, the returned direction achieves the returned value,
  heuristic values (dimension above max_enum) are lower bounds flagged exact=False.
"""
import itertools

import numpy as np
import pytest
from lipmiq import _core as core
from netgen import random_net
from oracles import kernels as ref

INF = np.inf
NORMS = [1.0, 2.0, INF]
TOL = dict(rtol=1e-9, atol=1e-9)

ARCHS = [
    (3, 1),
    (5, 3),
    (4, 8, 2),
    (10, 20, 20, 4),
    (6, 16, 16, 16, 3),
    (30, 40, 1),
    (3, 12, 12, 7),  # m > n: Jacobians built from the input side
    (64, 32, 32, 10),
]


def make_net(dims, seed, dead=False):
    """netgen's network with this module's scaling; dead: some hidden units stably dead / active near 0."""
    return random_net(seed, dims, bias_scale=0.3, fan_in=True, stable_units=dead)


def box_around(n, seed, half=0.5):
    rng = np.random.default_rng(seed + 1000)
    c = rng.standard_normal(n)
    return c - half, c + half, c


def assert_bounds_close(a, r):
    assert len(a) == len(r)
    for (la, ua), (lr, ur) in zip(a, r):
        np.testing.assert_allclose(la, lr, **TOL)
        np.testing.assert_allclose(ua, ur, **TOL)


def sample_ball(rng, center, radius, p, count):
    n = center.size
    if p == INF:
        d = rng.uniform(-1, 1, size=(count, n))
    elif p == 2.0:
        g = rng.standard_normal((count, n))
        g /= np.linalg.norm(g, axis=1, keepdims=True)
        d = g * rng.uniform(0, 1, size=(count, 1)) ** (1.0 / n)
    else:
        e = rng.exponential(size=(count, n + 1))
        d = (e[:, :n] / e.sum(axis=1, keepdims=True)) * rng.choice([-1.0, 1.0], size=(count, n))
    # push a share of the samples onto the sphere (extreme points matter most)
    k = count // 4
    nrm = np.linalg.norm(d[:k], ord=p, axis=1, keepdims=True)
    d[:k] = d[:k] / np.maximum(nrm, 1e-300)
    return center + radius * d


def sample_box(rng, lo, hi, count):
    x = rng.uniform(lo, hi, size=(count, lo.size))
    k = count // 4  # vertices
    x[:k] = np.where(rng.random((k, lo.size)) < 0.5, lo, hi)
    return x


# ------------------------------------------------------------------ C++ == reference
@pytest.mark.parametrize("dims", ARCHS)
@pytest.mark.parametrize("seed", [0, 1])
def test_interval_matches_reference(dims, seed):
    W, b = make_net(dims, seed, dead=seed == 1)
    lo, hi, _ = box_around(dims[0], seed)
    assert_bounds_close(core.interval_bounds(core.Net(W, b), lo, hi), ref.interval_bounds(W, b, lo, hi))


@pytest.mark.parametrize("dims", ARCHS)
@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("ball", [None, 1.0, 2.0, INF])
def test_symbolic_matches_reference(dims, seed, ball):
    W, b = make_net(dims, seed, dead=seed == 1)
    lo, hi, c = box_around(dims[0], seed)
    kw = {} if ball is None else dict(center=c + 0.1, radius=0.4, ball_norm=ball)
    assert_bounds_close(core.symbolic_bounds(core.Net(W, b), lo, hi, **kw), ref.symbolic_bounds(W, b, lo, hi, **kw))


@pytest.mark.parametrize("dims", [(5, 3), (10, 20, 20, 4), (6, 16, 16, 16, 3)])
def test_symbolic_prior_matches_reference_and_is_applied(dims):
    W, b = make_net(dims, 3)
    lo, hi, _ = box_around(dims[0], 3)
    base = core.symbolic_bounds(core.Net(W, b), lo, hi)
    # shrink every layer's bounds a little towards the middle; None for the last layer
    prior = [(l + 0.1 * (u - l), u - 0.1 * (u - l)) for l, u in base[:-1]] + [None]
    a = core.symbolic_bounds(core.Net(W, b), lo, hi, prior=prior)
    assert_bounds_close(a, ref.symbolic_bounds(W, b, lo, hi, prior=prior))
    for (l, u), (pl, pu) in zip(a[:-1], prior[:-1]):
        assert np.all(l >= pl - 1e-12) and np.all(u <= pu + 1e-12)
    for (l, u), (bl, bu) in zip(a, base):  # a tighter prior never loosens later layers
        assert np.all(l >= bl - 1e-9) and np.all(u <= bu + 1e-9)


@pytest.mark.parametrize("dims", ARCHS)
def test_forward_matches_reference_and_numpy(dims):
    W, b = make_net(dims, 7)
    X = np.random.default_rng(7).standard_normal((13, dims[0]))
    a, r = core.forward(core.Net(W, b), X), ref.forward(W, b, X)
    assert len(a) == len(W)
    for za, zr, Wk in zip(a, r, W):
        assert za.shape == (13, Wk.shape[0])
        np.testing.assert_allclose(za, zr, **TOL)
    x = X
    for k in range(len(W)):  # first principles
        z = x @ W[k].T + b[k]
        np.testing.assert_allclose(a[k], z, **TOL)
        x = np.maximum(z, 0)


@pytest.mark.parametrize("dims", ARCHS)
@pytest.mark.parametrize("dtype", [bool, np.uint8])
def test_jacobians_match_reference(dims, dtype):
    W, b = make_net(dims, 11, dead=True)
    X = np.random.default_rng(11).standard_normal((9, dims[0]))
    Z = ref.forward(W, b, X)
    masks = [(z > 0).astype(dtype) for z in Z[:-1]]
    batch = 9 if len(W) == 1 else None
    J = core.jacobians(core.Net(W), masks, batch=batch)
    assert J.shape == (9, dims[-1], dims[0])
    np.testing.assert_allclose(J, ref.jacobians(W, masks, batch=batch), **TOL)


@pytest.mark.parametrize("dims", [(4, 8, 2), (3, 12, 12, 7), (6, 16, 16, 16, 3)])
def test_jacobians_are_the_gradient(dims):
    """J from the activation pattern of x equals the finite-difference Jacobian at x."""
    W, b = make_net(dims, 5)
    rng = np.random.default_rng(5)
    x = rng.standard_normal(dims[0])
    Z = core.forward(core.Net(W, b), x[None])
    if min(np.abs(z).min() for z in Z[:-1]) < 1e-4:
        pytest.skip("a neuron is too close to its kink for finite differences")
    J = core.jacobians(core.Net(W), [z > 0 for z in Z[:-1]])[0]
    h = 1e-7
    E = np.eye(dims[0]) * h
    fd = (core.forward(core.Net(W, b), x + E)[-1] - core.forward(core.Net(W, b), x - E)[-1]).T / (2 * h)
    np.testing.assert_allclose(J, fd, rtol=1e-5, atol=1e-6)


def test_jacobians_big_batch_and_all_masks():
    W, b = make_net((20, 30, 30, 5), 2)
    rng = np.random.default_rng(2)
    masks = [rng.random((64, 30)) < 0.5 for _ in range(2)]
    masks[0][0] = False  # an all-inactive sample: zero Jacobian
    masks[1][1] = True
    J = core.jacobians(core.Net(W), masks)
    np.testing.assert_allclose(J, ref.jacobians(W, masks), **TOL)
    assert not np.any(J[0])


@pytest.mark.parametrize("p", NORMS)
@pytest.mark.parametrize("q", NORMS)
@pytest.mark.parametrize("shape", [(1, 1), (1, 6), (6, 1), (3, 5), (7, 4), (10, 12)])
def test_operator_norms_match_reference(p, q, shape):
    J = np.random.default_rng(hash(shape) % 1000).standard_normal((4,) + shape)
    a, r = core.operator_norms(J, p, q), ref.operator_norms(J, p, q)
    np.testing.assert_allclose(a[0], r[0], **TOL)
    np.testing.assert_array_equal(a[2], r[2])
    assert a[1].shape == (4, shape[1])


@pytest.mark.parametrize("pq", [(INF, 2.0), (INF, 1.0), (2.0, 1.0)])
@pytest.mark.parametrize("shape", [(30, 40), (40, 30), (25, 25)])
def test_operator_norm_heuristic_matches_reference(pq, shape):
    J = np.random.default_rng(sum(shape)).standard_normal((3,) + shape)
    a = core.operator_norms(J, *pq, max_enum=6, restarts=4, seed=5)
    r = ref.operator_norms(J, *pq, max_enum=6, restarts=4, seed=5)
    np.testing.assert_allclose(a[0], r[0], **TOL)
    np.testing.assert_allclose(a[1], r[1], **TOL)
    assert not a[2].any() and not r[2].any()


# ------------------------------------------------------------------ gemm_gather, threads
def gemm_reference(R, M, out, rows=None, ridx=None, midx=None, accumulate=False):
    rows = np.arange(R.shape[0]) if rows is None else rows
    nidx = len(ridx) if ridx is not None else len(midx) if midx is not None else R.shape[1]
    ridx = np.arange(nidx) if ridx is None else ridx
    midx = np.arange(nidx) if midx is None else midx
    res = out.copy()
    res[rows] = (res[rows] if accumulate else 0.0) + R[np.ix_(rows, ridx)] @ M[midx]
    return res


def gemm_operands(kind, rng, m=120, k=90, n=600, group=6):
    """'dense' goes to dgemm; 'masked' (each group of rows sharing 10% of the inner indices, as the
    rows of one sample in jacobians) and 'sparse' (a few nonzeros) to the tiled kernel.  Big enough for
    two threads: more than 4e6 multiply-adds in more than one chunk (512 columns, 144-column panels)."""
    R = rng.standard_normal((m, k))
    if kind == "masked":
        R *= np.repeat(rng.random((m // group, k)) < 0.1, group, axis=0)
    elif kind == "sparse":
        R *= rng.random((m, k)) < 0.03
    R[:, 5] = 0.0  # an inner index that is zero in every row
    return R, rng.standard_normal((k + 7, n)), rng.standard_normal((m + 3, n))


@pytest.mark.parametrize("kind", ["dense", "masked", "sparse"])
@pytest.mark.parametrize("gather", ["none", "rows", "inner", "both"])
@pytest.mark.parametrize("accumulate", [False, True])
def test_gemm_gather_matches_numpy_on_any_thread_count(kind, gather, accumulate):
    rng = np.random.default_rng(hash((kind, gather)) % 1000)
    R, M, out = gemm_operands(kind, rng)
    kw = {}
    if gather in ("rows", "both"):
        kw["rows"] = np.sort(rng.choice(R.shape[0], 70, replace=False)).astype(np.int32)
    if gather in ("inner", "both"):
        kw["ridx"] = rng.permutation(R.shape[1])[:60]
        kw["midx"] = rng.choice(M.shape[0], 60, replace=False)
    elif gather == "none":
        M = M[: R.shape[1]]
    group = 6 if kind == "masked" and gather in ("none", "inner") else 0
    one = core.gemm_gather(R, M, out, accumulate=accumulate, group=group, threads=1, **kw)
    np.testing.assert_allclose(one, gemm_reference(R, M, out, accumulate=accumulate, **kw), **TOL)
    for threads in (2, 3):  # chunks are fixed by the shapes: the same result, bit for bit
        np.testing.assert_array_equal(
            core.gemm_gather(R, M, out, accumulate=accumulate, group=group, threads=threads, **kw), one)


def test_gemm_gather_empty_inner_and_all_zero_coefficients():
    R, M, out = np.zeros((4, 3)), np.ones((3, 5)), np.full((4, 5), 7.0)
    np.testing.assert_array_equal(core.gemm_gather(R, M, out), 0.0)
    np.testing.assert_array_equal(core.gemm_gather(R, M, out, accumulate=True), 7.0)
    empty = np.zeros(0, dtype=np.int32)
    np.testing.assert_array_equal(core.gemm_gather(np.ones((4, 3)), M, out, ridx=empty, midx=empty), 0.0)


def test_gemm_gather_validation():
    R, M, out = np.ones((4, 3)), np.ones((3, 5)), np.zeros((4, 5))
    with pytest.raises(ValueError, match=r"rows\[1\] = 4"):
        core.gemm_gather(R, M, out, rows=[0, 4])
    with pytest.raises(ValueError, match="inner indices"):
        core.gemm_gather(R, M, out, ridx=[0, 1], midx=[0])
    with pytest.raises(ValueError, match="out has shape"):
        core.gemm_gather(R, M, np.zeros((4, 4)))
    with pytest.raises(ValueError, match="threads must be >= 1"):
        core.gemm_gather(R, M, out, threads=0)


@pytest.mark.parametrize("dims", [(60, 600, 600, 10), (40, 200, 200, 200, 3), (8, 150, 150, 20)])
def test_kernels_at_blas_sizes_match_reference_on_any_thread_count(dims):
    """Products big enough for dgemm and for two threads (and, at 600 x 600, the row loops of symbolic
    bounds too): still the reference, and the same bits on 1 or 2 threads; the last architecture has
    m > n (Jacobians from the input side)."""
    W, b = make_net(dims, 4, dead=True)
    lo, hi, _ = box_around(dims[0], 4, half=0.2)
    X = np.random.default_rng(4).uniform(lo, hi, size=(64, dims[0]))
    Z = core.forward(core.Net(W, b), X, threads=1)
    masks = [z > 0 for z in Z[:-1]]
    S = core.symbolic_bounds(core.Net(W, b), lo, hi, threads=1)
    J = core.jacobians(core.Net(W), masks, threads=1)
    assert_bounds_close(S, ref.symbolic_bounds(W, b, lo, hi))
    for za, zr in zip(Z, ref.forward(W, b, X)):
        np.testing.assert_allclose(za, zr, **TOL)
    np.testing.assert_allclose(J, ref.jacobians(W, masks), **TOL)
    for (l1, u1), (l2, u2) in zip(S, core.symbolic_bounds(core.Net(W, b), lo, hi, threads=2)):
        np.testing.assert_array_equal(l1, l2)
        np.testing.assert_array_equal(u1, u2)
    for z1, z2 in zip(Z, core.forward(core.Net(W, b), X, threads=2)):
        np.testing.assert_array_equal(z1, z2)
    np.testing.assert_array_equal(J, core.jacobians(core.Net(W), masks, threads=2))


def test_forward_with_mostly_inactive_units_matches_reference():
    """90% of the first layer's units dead for every input: the next product goes to the tiled kernel
    (zero blocks skipped) instead of dgemm, with the same values and the same bits on 2 threads."""
    W, b = make_net((60, 600, 600, 10), 6)
    b[0][:540] = -1e3
    X = np.random.default_rng(6).standard_normal((64, 60))
    Z = core.forward(core.Net(W, b), X, threads=1)
    assert np.mean(Z[0] > 0) < 0.11
    for za, zr in zip(Z, ref.forward(W, b, X)):
        np.testing.assert_allclose(za, zr, **TOL)
    for z1, z2 in zip(Z, core.forward(core.Net(W, b), X, threads=2)):
        np.testing.assert_array_equal(z1, z2)


def test_thread_count_from_the_environment(monkeypatch):
    W, b = make_net((4, 5, 3), 0)
    X = np.ones((2, 4))
    monkeypatch.setenv("LIPMIQ_THREADS", "3")
    np.testing.assert_array_equal(core.forward(core.Net(W, b), X)[-1], core.forward(core.Net(W, b), X, threads=1)[-1])
    for bad in ("0", "two", "-1"):
        monkeypatch.setenv("LIPMIQ_THREADS", bad)
        with pytest.raises(ValueError, match="LIPMIQ_THREADS"):
            core.forward(core.Net(W, b), X)
    with pytest.raises(ValueError, match="threads must be >= 1"):
        core.symbolic_bounds(core.Net(W, b), 0.0, 1.0, threads=0)


# ------------------------------------------------------------------ soundness of bounds
def check_contains(bounds, Z, tol=1e-9):
    for k, ((l, u), z) in enumerate(zip(bounds, Z)):
        scale = 1.0 + np.abs(z)
        assert np.all(z >= l - tol * scale), f"layer {k}: lower bound violated by {np.max(l - z)}"
        assert np.all(z <= u + tol * scale), f"layer {k}: upper bound violated by {np.max(z - u)}"


@pytest.mark.parametrize("dims", ARCHS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bounds_sound_on_box(dims, seed):
    W, b = make_net(dims, seed, dead=seed == 2)
    lo, hi, _ = box_around(dims[0], seed, half=0.3 + 0.3 * seed)
    X = sample_box(np.random.default_rng(seed), lo, hi, 2000)
    Z = core.forward(core.Net(W, b), X)
    I = core.interval_bounds(core.Net(W, b), lo, hi)
    S = core.symbolic_bounds(core.Net(W, b), lo, hi)
    check_contains(I, Z)
    check_contains(S, Z)
    for (li, ui), (ls, us) in zip(I, S):  # never looser than intervals
        assert np.all(ls >= li - 1e-12 * (1 + np.abs(li)))
        assert np.all(us <= ui + 1e-12 * (1 + np.abs(ui)))


@pytest.mark.parametrize("dims", ARCHS)
@pytest.mark.parametrize("ball", [1.0, 2.0, INF])
@pytest.mark.parametrize("seed", [0, 1])
def test_bounds_sound_on_box_and_ball(dims, ball, seed):
    W, b = make_net(dims, seed)
    n = dims[0]
    lo, hi, c = box_around(n, seed, half=0.6)
    center = c + 0.2  # the ball sticks out of the box on one side
    radius = 0.5 if ball != 1.0 else 0.9
    rng = np.random.default_rng(seed)
    X = sample_ball(rng, center, radius, ball, 3000)
    # Clipping into the box keeps the points in the ball: the center is in the box, so every
    # coordinate moves towards it.  Half the points are clipped, half kept only if inside.
    inside = np.all((X >= lo) & (X <= hi), axis=1)
    X = np.concatenate([np.clip(X[:1500], lo, hi), X[1500:][inside[1500:]]])
    assert np.all(np.linalg.norm(X - center, ord=ball, axis=1) <= radius * (1 + 1e-12))
    Z = core.forward(core.Net(W, b), X)
    S = core.symbolic_bounds(core.Net(W, b), lo, hi, center=center, radius=radius, ball_norm=ball)
    check_contains(S, Z)
    hl, hu = np.maximum(lo, center - radius), np.minimum(hi, center + radius)
    I = core.interval_bounds(core.Net(W, b), hl, hu)  # intervals over the box hull of the same set
    check_contains(I, Z)
    for (li, ui), (ls, us) in zip(I, S):
        assert np.all(ls >= li - 1e-12 * (1 + np.abs(li)))
        assert np.all(us <= ui + 1e-12 * (1 + np.abs(ui)))


def test_symbolic_tighter_than_interval_somewhere():
    W, b = make_net((10, 20, 20, 4), 0)
    lo, hi, _ = box_around(10, 0, half=0.5)
    I = core.interval_bounds(core.Net(W, b), lo, hi)
    S = core.symbolic_bounds(core.Net(W, b), lo, hi)
    gap_i = sum(np.sum(u - l) for l, u in I[1:])
    gap_s = sum(np.sum(u - l) for l, u in S[1:])
    assert gap_s < 0.9 * gap_i


def test_first_layer_ball_bound_is_exact():
    """Layer 1 over a ball inside the box: c^T center +- r ||c||_{p*} exactly."""
    W, b = make_net((6, 5, 2), 1)
    center = np.zeros(6)
    for p, dual in [(1.0, INF), (2.0, 2.0), (INF, 1.0)]:
        S = core.symbolic_bounds(core.Net(W, b), -10.0, 10.0, center=center, radius=0.3, ball_norm=p)
        rad = 0.3 * np.linalg.norm(W[0], ord=dual, axis=1)
        np.testing.assert_allclose(S[0][0], b[0] - rad, **TOL)
        np.testing.assert_allclose(S[0][1], b[0] + rad, **TOL)


def test_interval_with_scalar_and_infinite_box():
    W, b = make_net((4, 6, 2), 0)
    a = core.interval_bounds(core.Net(W, b), -1.0, 1.0)
    assert_bounds_close(a, ref.interval_bounds(W, b, -np.ones(4), np.ones(4)))
    Wz = [w.copy() for w in W]
    Wz[0][:, 0] = 0.0  # zero weights against an infinite coordinate contribute 0, not nan
    lo, hi = -np.ones(4), np.ones(4)
    lo[0], hi[0] = -INF, INF
    a, r = core.interval_bounds(core.Net(Wz, b), lo, hi), ref.interval_bounds(Wz, b, lo, hi)
    assert all(np.all(np.isfinite(x)) for lu in a for x in lu)
    assert_bounds_close(a, r)


# ------------------------------------------------------------------ operator norms
def exhaustive(J, p, q):
    """Operator norm by enumeration of the extreme points of the unit p-ball where possible."""
    m, n = J.shape
    if p == INF:  # vertices of the cube
        return max(np.linalg.norm(J @ np.array(s), ord=q) for s in itertools.product([-1, 1], repeat=n))
    if p == 1.0:
        return max(np.linalg.norm(J[:, j], ord=q) for j in range(n))
    if q == 1.0:  # 2->1 = max_t ||J^T t||_2
        return max(np.linalg.norm(J.T @ np.array(t)) for t in itertools.product([-1, 1], repeat=m))
    if q == INF:
        return np.max(np.linalg.norm(J, ord=2, axis=1))
    return np.linalg.norm(J, 2)


def achieved(J, v, p, q):
    return np.linalg.norm(J @ v, ord=q) / np.linalg.norm(v, ord=p)


@pytest.mark.parametrize("p", NORMS)
@pytest.mark.parametrize("q", NORMS)
@pytest.mark.parametrize("shape", [(1, 1), (2, 7), (7, 2), (4, 6), (6, 4), (9, 9)])
def test_operator_norms_exact_values(p, q, shape):
    rng = np.random.default_rng(42 + shape[0] * 10 + shape[1])
    J = rng.standard_normal((3,) + shape)
    J[2] = np.round(J[2])  # ties and zeros
    norms, V, exact = core.operator_norms(J, p, q)
    assert exact.dtype == bool and exact.all()
    for k in range(3):
        true = exhaustive(J[k], p, q)
        assert norms[k] == pytest.approx(true, rel=1e-9, abs=1e-12)
        assert np.any(V[k] != 0)
        assert achieved(J[k], V[k], p, q) == pytest.approx(norms[k], rel=1e-12, abs=1e-14)


def test_operator_norm_closed_forms():
    J = np.random.default_rng(0).standard_normal((5, 8, 13))
    for k in range(5):
        assert core.operator_norms(J[k : k + 1], 2.0, 2.0)[0][0] == pytest.approx(np.linalg.norm(J[k], 2), rel=1e-12)
        for q in NORMS:
            assert core.operator_norms(J[k : k + 1], 1.0, q)[0][0] == pytest.approx(
                np.max(np.linalg.norm(J[k], ord=q, axis=0)), rel=1e-12)
        for p, dual in [(1.0, INF), (2.0, 2.0), (INF, 1.0)]:
            assert core.operator_norms(J[k : k + 1], p, INF)[0][0] == pytest.approx(
                np.max(np.linalg.norm(J[k], ord=dual, axis=1)), rel=1e-12)


@pytest.mark.parametrize("shape", [(3, 40), (40, 3), (60, 50)])
def test_two_two_large_and_rank_deficient(shape):
    rng = np.random.default_rng(1)
    J = rng.standard_normal((2,) + shape)
    J[1] = np.outer(rng.standard_normal(shape[0]), rng.standard_normal(shape[1]))  # rank one
    norms, V, exact = core.operator_norms(J, 2.0, 2.0)
    assert exact.all()
    for k in range(2):
        assert norms[k] == pytest.approx(np.linalg.norm(J[k], 2), rel=1e-10)
        assert achieved(J[k], V[k], 2.0, 2.0) == pytest.approx(norms[k], rel=1e-12)


@pytest.mark.parametrize("pq,dim", [((INF, 2.0), "n"), ((INF, 1.0), "min"), ((2.0, 1.0), "m")])
def test_enumeration_dimension_and_max_enum(pq, dim):
    """Exact iff the enumerated dimension <= max_enum; otherwise a lower bound, exact=False."""
    rng = np.random.default_rng(3)
    J = rng.standard_normal((4, 6, 9))  # m = 6, n = 9
    d = {"n": 9, "m": 6, "min": 6}[dim]
    true = np.array([exhaustive(J[k], *pq) for k in range(4)])
    norms, V, exact = core.operator_norms(J, *pq, max_enum=d)
    assert exact.all()
    np.testing.assert_allclose(norms, true, rtol=1e-10)
    norms, V, exact = core.operator_norms(J, *pq, max_enum=d - 1, restarts=3)
    assert not exact.any()
    assert np.all(norms <= true * (1 + 1e-12))
    assert np.all(norms >= 0.5 * true)  # ascent from good starts is never that bad here
    for k in range(4):
        assert np.any(V[k] != 0)
        assert achieved(J[k], V[k], *pq) == pytest.approx(norms[k], rel=1e-12)


def test_heuristic_large_dimension_is_lower_bound():
    rng = np.random.default_rng(9)
    J = rng.standard_normal((2, 10, 64))
    norms, V, exact = core.operator_norms(J, INF, 2.0, max_enum=20, restarts=8, seed=1)
    assert not exact.any()
    # upper bound: ||J||_{inf->2} <= sqrt(n) ||J||_2
    for k in range(2):
        assert norms[k] <= np.sqrt(64) * np.linalg.norm(J[k], 2) + 1e-9
        assert norms[k] >= np.max(np.abs(J[k]).sum(axis=1))  # >= the best row start
        assert set(np.unique(V[k])) <= {-1.0, 1.0}
        assert achieved(J[k], V[k], INF, 2.0) == pytest.approx(norms[k], rel=1e-12)
    # deterministic: same seed same answer; different seeds still valid
    again = core.operator_norms(J, INF, 2.0, max_enum=20, restarts=8, seed=1)
    np.testing.assert_array_equal(again[0], norms)
    np.testing.assert_array_equal(again[1], V)


def test_gray_code_enumeration_at_depth():
    """16-dimensional enumeration (32768 Gray-code steps) against a vectorised brute force."""
    rng = np.random.default_rng(4)
    J = rng.standard_normal((1, 5, 16))
    S = np.array(list(itertools.product([-1.0, 1.0], repeat=16)))
    true = np.max(np.linalg.norm(S @ J[0].T, axis=1))
    norms, V, exact = core.operator_norms(J, INF, 2.0)
    assert exact[0] and norms[0] == pytest.approx(true, rel=1e-12)


@pytest.mark.parametrize("p", NORMS)
@pytest.mark.parametrize("q", NORMS)
def test_zero_matrix(p, q):
    J = np.zeros((2, 3, 4))
    norms, V, exact = core.operator_norms(J, p, q, max_enum=0)
    np.testing.assert_array_equal(norms, 0.0)
    np.testing.assert_array_equal(V, np.tile(np.eye(4)[0], (2, 1)))
    assert exact.all()


def test_operator_norms_empty_batch_and_validation():
    norms, V, exact = core.operator_norms(np.zeros((0, 3, 4)), 2.0, 2.0)
    assert norms.shape == (0,) and V.shape == (0, 4) and exact.shape == (0,)
    J = np.ones((1, 2, 2))
    for bad in [(3.0, 2.0), (2.0, 0.5), (-INF, 1.0), (np.nan, 1.0)]:
        with pytest.raises(ValueError):
            core.operator_norms(J, *bad)
        with pytest.raises(ValueError):
            ref.operator_norms(J, *bad)
    with pytest.raises(ValueError, match="J has shape"):
        core.operator_norms(np.ones((2, 2)), 2.0, 2.0)


# ------------------------------------------------------------------ validation
def test_shape_errors_name_the_argument():
    W, b = make_net((4, 5, 3), 0)
    bad = [W[0], np.ones((3, 4))]
    with pytest.raises(ValueError, match=r"weights\[1\].*\(3, 4\)"):
        core.interval_bounds(core.Net(bad, b), np.zeros(4), np.ones(4))
    with pytest.raises(ValueError, match=r"biases\[0\]"):
        core.interval_bounds(core.Net(W, [np.ones(4), b[1]]), np.zeros(4), np.ones(4))
    with pytest.raises(ValueError, match="lo"):
        core.symbolic_bounds(core.Net(W, b), np.zeros(3), np.ones(4))
    with pytest.raises(ValueError, match="empty box"):
        core.symbolic_bounds(core.Net(W, b), np.ones(4), np.zeros(4))
    with pytest.raises(ValueError, match="ball_norm"):
        core.symbolic_bounds(core.Net(W, b), np.zeros(4), np.ones(4), center=np.zeros(4), radius=1.0, ball_norm=3.0)
    with pytest.raises(ValueError, match="bounded"):
        core.symbolic_bounds(core.Net(W, b), -INF, INF)
    with pytest.raises(ValueError, match="prior"):
        core.symbolic_bounds(core.Net(W, b), np.zeros(4), np.ones(4), prior=[None])
    with pytest.raises(ValueError, match="X has shape"):
        core.forward(core.Net(W, b), np.ones((2, 5)))
    with pytest.raises(ValueError, match=r"masks\[0\]"):
        core.jacobians(core.Net(W), [np.ones((2, 4), bool)])
    with pytest.raises(ValueError, match="masks"):
        core.jacobians(core.Net(W), [])
    with pytest.raises(ValueError, match="batch"):
        core.jacobians(core.Net([W[0]]), [])
    with pytest.raises(ValueError, match=r"masks\[0\]"):
        core.jacobians(core.Net(W), [np.ones((2, 5))])  # float masks are refused
    J1 = core.jacobians(core.Net([W[0]]), [], batch=3)
    assert J1.shape == (3, 5, 4) and np.all(J1 == W[0])


# ---- pattern_norm_bound: interval Jacobian bounds over partial patterns ---------------------------
def _states(dims, rng, open_share):
    return [np.where(rng.random(h) < open_share, -1, rng.integers(0, 2, h)).astype(np.int8) for h in dims[1:-1]]


def _completions(states):
    """Every full pattern that agrees with `states` (open entries take both values)."""
    slots = [(k, j) for k, st in enumerate(states) for j in np.flatnonzero(st < 0)]
    for bits in itertools.product((0, 1), repeat=len(slots)):
        g = [np.where(st < 0, 0, st).astype(np.uint8) for st in states]
        for (k, j), b in zip(slots, bits):
            g[k][j] = b
        yield g


def _true_norm(J, p, q):
    """||J||_{p->q} by first principles: the maximum over the vertices of the p-ball (p = 1, inf), else the
    closed forms (q = inf: dual row norms; p = q = 2: largest singular value; 2->1: sign vectors of rows)."""
    m, n = J.shape
    if p == 1.0:
        return max(np.linalg.norm(J[:, j], ord=q) for j in range(n))
    if p == INF:
        return max(np.linalg.norm(J @ np.array(s), ord=q) for s in itertools.product((-1.0, 1.0), repeat=n))
    if q == INF:
        return float(np.max(np.linalg.norm(J, axis=1)))
    if q == 2.0:
        return float(np.linalg.norm(J, 2))
    return max(np.linalg.norm(np.array(s) @ J) for s in itertools.product((-1.0, 1.0), repeat=m))


@pytest.mark.parametrize("p,q", list(itertools.product(NORMS, NORMS)))
@pytest.mark.parametrize("dims", [(4, 5, 3), (5, 6, 4, 2), (3, 4, 4, 4, 1), (64, 32, 32, 10)])
def test_pattern_norm_bound_matches_reference(p, q, dims):
    rng = np.random.default_rng(len(dims))
    W, _ = make_net(dims, 7)
    for share in (0.0, 0.3, 1.0):
        states = _states(dims, rng, share)
        np.testing.assert_allclose(core.pattern_norm_bound(W, states, p, q), ref.pattern_norm_bound(W, states, p, q), **TOL)


@pytest.mark.parametrize("p,q", list(itertools.product(NORMS, NORMS)))
@pytest.mark.parametrize("dims", [(4, 5, 3), (3, 4, 4, 2), (5, 3, 3, 3, 1)])
def test_pattern_norm_bound_covers_every_completion(p, q, dims):
    """The bound is at least ||J(g)|| for every pattern the partial pattern allows, and equals it when every
    neuron is decided (exact pairs)."""
    rng = np.random.default_rng(11)
    for trial in range(6):
        W, _ = make_net(dims, trial)
        states = _states(dims, rng, 0.5 if trial else 0.0)
        bound = core.pattern_norm_bound(W, states, p, q)
        norms = []
        for g in _completions(states):
            J = core.jacobians(core.Net(W), [gk[None] for gk in g])[0]
            norms.append(_true_norm(J, p, q))
        assert max(norms) <= bound * (1 + 1e-12)
        if all(np.all(st >= 0) for st in states):
            assert bound == pytest.approx(norms[0], rel=1e-9)


def test_pattern_norm_bound_no_hidden_layer_and_validation():
    W = np.array([[3.0, -4.0]])
    assert core.pattern_norm_bound([W], [], 2, 2) == pytest.approx(5.0)
    W2 = [np.ones((3, 2)), np.ones((1, 3))]
    with pytest.raises(ValueError, match="state vectors"):
        core.pattern_norm_bound(W2, [], 2, 2)
    with pytest.raises(ValueError, match=r"states\[0\]\[1\] = 2"):
        core.pattern_norm_bound(W2, [np.array([1, 2, 0], dtype=np.int8)], 2, 2)
    with pytest.raises(ValueError, match=r"weights\[1\] has shape"):
        core.pattern_norm_bound([np.ones((3, 2)), np.ones((1, 4))], [np.zeros(3, dtype=np.int8)], 2, 2)
