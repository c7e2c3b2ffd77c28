"""Bound tightening: LP bounds contain sampled pre-activations and never lose to symbolic bounds;
direction bounds contain sampled Jacobian-vector products."""
import math
import sys

import numpy as np
import pytest
from lipmiq import Ball, Box, Global, Network, _core
from lipmiq.bounds import obbt, propagation, tightened
from lipmiq.bounds.direction import direction_bounds, engine_direction_bounds, pattern_direction_bounds
from lipmiq.bounds.obbt import lp_tighten
from lipmiq.errors import InputError
from lipmiq.problem import make_problem
from lipmiq.reductions import reduce
from lipmiq.reductions.domain import Homogenise
from netgen import random_net
from oracles.bruteforce import AmbiguousRegion, dual_norm, region_jacobians

INF = math.inf


def global_box(net):
    hom = Homogenise(net)
    return hom.network, hom.box.resolve(hom.network.input_dim)


def boundary_points(domain, rng, count):
    """Samples of the domain plus its box hull's vertices-ish extremes (clipped back in)."""
    X = domain.sample(count, rng)
    lo, hi = domain.box_hull()
    corners = np.where(rng.random((count // 4, X.shape[1])) < 0.5, lo, hi)
    return np.vstack([X, np.array([domain.project(c) for c in corners])])


DOMAINS = [
    ("box", lambda n: Box(-1, 1)),
    ("ball1", lambda n: Ball(np.full(n, 0.2), 1.5, 1)),
    ("ball2", lambda n: Ball(np.zeros(n), 1.2, 2)),
    ("ballinf", lambda n: Ball(np.full(n, -0.1), 0.8, INF)),
]


@pytest.mark.parametrize("seed, sizes", [(0, [4, 12, 10, 8, 2]), (1, [6, 20, 16, 3]), (2, [3, 8, 8, 8, 8, 1])])
@pytest.mark.parametrize("name, make", DOMAINS)
def test_lp_bounds_sound_and_tighter(seed, sizes, name, make):
    net = Network(*random_net(seed, sizes))
    dom = make(net.input_dim).resolve(net.input_dim)
    sym = propagation.symbolic(net, dom)
    tight, stats = tightened(net, dom, "lp", 30.0)
    assert stats.complete and stats.lps > 0
    Z = net.preactivations(boundary_points(dom, np.random.default_rng(seed), 4000))
    for k, (z, (l, u), (sl, su)) in enumerate(zip(Z, tight.layers, sym.layers)):
        assert np.all(l >= sl) and np.all(u <= su), f"layer {k}: looser than symbolic"
        assert np.all(z >= l - 1e-12) and np.all(z <= u + 1e-12), f"layer {k}: a sampled pre-activation escapes"
    assert tight.unstable_count() <= sym.unstable_count()


def test_lp_tightens_strictly_somewhere():
    net = Network(*random_net(1, [6, 20, 16, 3]))
    dom = Box(-1, 1).resolve(6)
    sym = propagation.symbolic(net, dom)
    tight, stats = tightened(net, dom, "lp", 30.0)
    assert stats.tightened > 0
    assert tight.mean_big_m() < sym.mean_big_m()


def test_lp_bounds_on_homogenised_global_box():
    net = Network(*random_net(3, [5, 10, 10, 2]))
    enc, box = global_box(net)
    sym = propagation.symbolic(enc, box)
    tight, _ = lp_tighten(enc, box, sym, 30.0)
    rng = np.random.default_rng(3)
    X = box.sample(4000, rng)
    for z, (l, u), (sl, su) in zip(enc.preactivations(X), tight.layers, sym.layers):
        assert np.all(z >= l - 1e-12) and np.all(z <= u + 1e-12)
        assert np.all(l >= sl) and np.all(u <= su)


def test_dual_bound_matches_lp_optimum(monkeypatch):
    """The rigorous bound from the row duals is the LP optimum up to the safety margin (not loose)."""
    pairs = []
    original = obbt._Relaxation.minimum

    def spy(self, cols, cost, fresh, deadline):
        value = original(self, cols, cost, fresh, deadline)
        if value is not None:
            pairs.append((self.h.getInfo().objective_function_value, value))
        return value

    monkeypatch.setattr(obbt._Relaxation, "minimum", spy)
    net = Network(*random_net(1, [6, 20, 16, 3]))
    tightened(net, Box(-1, 1).resolve(6), "lp", 30.0)
    assert pairs
    for primal, bound in pairs:
        assert bound <= primal + 1e-7 * max(1.0, abs(primal))
        assert primal - bound <= 1e-6 * max(1.0, abs(primal))


def test_time_budget_zero_keeps_symbolic():
    net = Network(*random_net(0, [4, 12, 10, 8, 2]))
    dom = Box(-1, 1).resolve(4)
    sym = propagation.symbolic(net, dom)
    tight, stats = lp_tighten(net, dom, sym, 0.0)
    assert not stats.complete and stats.lps == 0
    for (l, u), (sl, su) in zip(tight.layers, sym.layers):
        assert np.array_equal(l, sl) and np.array_equal(u, su)


def test_tighten_options():
    net = Network(*random_net(0, [4, 12, 10, 8, 2]))
    dom = Box(-1, 1).resolve(4)
    none, _ = tightened(net, dom, "none", 30.0)
    for (l, u), (il, iu) in zip(none.layers, _core.interval_bounds(net.core, -np.ones(4), np.ones(4))):
        # interval arithmetic, possibly widened outward for rounding
        assert np.all(l <= il) and np.all(u >= iu)
        assert np.all(il - l <= 1e-8 * (1 + np.abs(il))) and np.all(u - iu <= 1e-8 * (1 + np.abs(iu)))
    with pytest.raises(InputError):
        lp_tighten(net, Global(), none)


# ---- direction bounds ------------------------------------------------------------------------
def _sample_directions(rng, count, n, p):
    V = rng.standard_normal((count, n))
    if math.isinf(p):
        V = np.where(rng.random((count, n)) < 0.5, -1.0, 1.0)
    elif p == 1.0:
        V = np.zeros((count, n))
        V[np.arange(count), rng.integers(0, n, count)] = rng.choice([-1.0, 1.0], count)
        V = 0.5 * V + 0.5 * np.roll(V, 1, axis=0) * (rng.random((count, 1)) < 0.5)
        V /= np.maximum(np.abs(V).sum(axis=1, keepdims=True), 1.0)
    else:
        V /= np.linalg.norm(V, axis=1, keepdims=True)
    return V


def _check_plan_directions(plan, p, rng):
    """w_k = W_k u_{k-1}, u = g w with g the pattern at a sampled point of the plan's domain (the bounds hold on
    the regions, not on every pattern: the engine's need not), inside the plan's bounds."""
    n = plan.n_dir
    V = _sample_directions(rng, 3000, n, p)
    X = rng.uniform(plan.x_lo, plan.x_hi, (V.shape[0], plan.x_lo.size))
    if plan.ball is not None:
        center, radius, norm = plan.ball
        X = center + (X - center) * np.minimum(1.0, radius / np.maximum(np.linalg.norm(X - center, ord=norm, axis=1,
                                                                                      keepdims=True), 1e-300))
    U = np.hstack([V, np.zeros((V.shape[0], plan.x_lo.size - n))])
    for k, layer in enumerate(plan.layers):
        W = layer.W
        w = U @ W.T
        assert np.all(w >= layer.wlo - 1e-9) and np.all(w <= layer.whi + 1e-9), f"layer {k}"
        z = X @ W.T + layer.b
        g = np.where(layer.active, 1.0, (z > 0).astype(float))
        U, X = g * w, g * z
    y = U @ plan.W_out.T
    assert np.all(y >= plan.ylo - 1e-9) and np.all(y <= plan.yhi + 1e-9)


@pytest.mark.parametrize("p", [1, 2, INF])
@pytest.mark.parametrize("domain", [Box(-1, 1), Ball(np.zeros(4), 1.0, 2), Global()])
@pytest.mark.parametrize("tighten", ["none", "symbolic", "lp"])
def test_plan_direction_bounds_contain_samples(p, domain, tighten):
    net = Network(*random_net(7, [4, 10, 8, 6, 3]))
    problem = make_problem(net, domain, p, 2)
    plan, _ = reduce(problem, propagation.symbolic(problem.network, problem.domain), tighten, 30.0)
    _check_plan_directions(plan, float(p), np.random.default_rng(11))


@pytest.mark.parametrize("p", [1.0, 2.0, INF])
def test_direction_bounds_alone(p):
    """The back-substitution bounds by themselves (no prior) contain sampled products and beat intervals."""
    rng = np.random.default_rng(4)
    sizes = [5, 9, 7, 6, 2]
    Ws = [rng.standard_normal((sizes[k + 1], sizes[k])) for k in range(len(sizes) - 1)]
    active = [rng.random(s) < 0.3 for s in sizes[1:-1]]
    free = [(np.full(s, -np.inf), np.full(s, np.inf)) for s in sizes[1:]]
    out = direction_bounds([None] + Ws[1:], active, Ws[0], p, free)
    V = _sample_directions(rng, 5000, sizes[0], p)
    u = V
    interval_width = None
    for k, W in enumerate(Ws):
        w = u @ W.T
        lo, hi = out[k]
        assert np.all(w >= lo - 1e-9) and np.all(w <= hi + 1e-9), f"layer {k}"
        if k < len(active):
            u = np.where(active[k], 1.0, (rng.random(w.shape) < 0.5).astype(float)) * w
    # against plain interval propagation of the same quantities
    r = np.linalg.norm(Ws[0], ord={1.0: INF, 2.0: 2.0, INF: 1.0}[p], axis=1)
    ilo, ihi = -r, r
    for k in range(1, len(Ws)):
        ulo = np.where(active[k - 1], ilo, np.minimum(ilo, 0))
        uhi = np.where(active[k - 1], ihi, np.maximum(ihi, 0))
        Wp, Wn = np.maximum(Ws[k], 0), np.minimum(Ws[k], 0)
        ilo, ihi = Wp @ ulo + Wn @ uhi, Wp @ uhi + Wn @ ulo
    interval_width = float(np.sum(ihi - ilo))
    assert float(np.sum(out[-1][1] - out[-1][0])) < interval_width


@pytest.mark.parametrize("p", [1.0, 2.0, INF])
def test_pattern_direction_bounds_exact_over_patterns(p):
    """Layer-2 and output bounds equal the exhaustive max over all patterns of max_v |w| (a closed form per pattern)."""
    import itertools

    rng = np.random.default_rng(8)
    sizes = [4, 5, 4, 2]
    Ws = [rng.standard_normal((sizes[k + 1], sizes[k])) for k in range(len(sizes) - 1)]
    active = [np.array([True, False, False, True, False]), np.array([False, True, False, False])]
    free = [(np.full(s, -np.inf), np.full(s, np.inf)) for s in sizes[1:]]
    crown = direction_bounds([None] + Ws[1:], active, Ws[0], p, free)
    exact = pattern_direction_bounds([None] + Ws[1:], active, Ws[0], p, crown)
    pd = {1.0: INF, 2.0: 2.0, INF: 1.0}[p]
    for k in (1, 2):
        truth = np.zeros(sizes[k + 1])
        for g in itertools.product(*[itertools.product([0.0, 1.0], repeat=int((~a).sum())) for a in active[:k]]):
            M = Ws[0]
            for m in range(k):
                gm = active[m].astype(float)
                gm[~active[m]] = g[m]
                M = Ws[m + 1] @ (gm[:, None] * M)
            truth = np.maximum(truth, np.linalg.norm(M, ord=pd, axis=1))
        lo, hi = exact[k]
        assert np.all(hi >= truth * (1 - 1e-12)) and np.all(-lo >= truth * (1 - 1e-12))
        assert np.allclose(hi, np.minimum(truth, crown[k][1]), rtol=1e-9), (hi, truth)
        assert np.all(hi <= crown[k][1]) and np.all(lo >= crown[k][0])


def _region_row_norms(plan, k: int, p: float):
    """max over the regions with interior of the plan network cut after layer k of ||d z_kj / dx||_{p*} (the
    direction inputs): what |w_kj| reaches (None when the oracle cannot decide a region)."""
    weights = [layer.W for layer in plan.layers][:k] + [([layer.W for layer in plan.layers] + [plan.W_out])[k]]
    biases = [layer.b for layer in plan.layers][:k] + [([layer.b for layer in plan.layers] + [plan.b_out])[k]]
    domain = ("box", plan.x_lo, plan.x_hi) if plan.ball is None else ("ball", *plan.ball)
    best = np.zeros(weights[-1].shape[0])
    try:
        for _, J in region_jacobians(weights, biases, domain):
            best = np.maximum(best, [dual_norm(row[:plan.n_dir], p) for row in J])
    except AmbiguousRegion:
        return None
    return best


@pytest.mark.parametrize("seed", range(12))
def test_engine_direction_bounds_cover_the_regions(seed):
    """The engine's direction bounds (and so the plan's) cover |w_kj| on every region with interior: the
    brute-force maximum over the regions of the cut network's row norms, for boxes, 2-balls and R^n (the
    homogenised plan), every p, with vertex-sign enumeration for p = inf."""
    rng = np.random.default_rng(100 + seed)
    n = int(rng.integers(1, 4))
    sizes = [n] + [int(rng.integers(2, 6)) for _ in range(int(rng.integers(2, 4)))] + [int(rng.integers(1, 3))]
    net = Network(*random_net(seed, sizes, bias_scale=[None, 0.5][seed % 2]))
    domain = [Box(-1, 1), Ball(np.zeros(n), 1.0, 2), Global()][seed % 3]
    p = [1.0, 2.0, INF][seed % 3 if seed < 6 else (seed + 1) % 3]
    problem = make_problem(net, domain, p, 2)
    plan, _ = reduce(problem, None if isinstance(domain, Global) else propagation.symbolic(net, problem.domain), "lp", 10.0)
    Ws = [layer.W for layer in plan.layers] + [plan.W_out]
    bs = [layer.b for layer in plan.layers] + [plan.b_out]
    if any(W.shape[0] == 0 for W in Ws):
        pytest.skip("a layer of the plan is empty (L = 0)")
    engine = engine_direction_bounds(Ws, bs, [(layer.lo, layer.hi) for layer in plan.layers],
                                     [layer.active for layer in plan.layers], plan.x_lo, plan.x_hi, plan.n_dir, p,
                                     plan.ball, time_budget=30.0)
    planned = [(layer.wlo, layer.whi) for layer in plan.layers] + [(plan.ylo, plan.yhi)]
    for k in range(1, len(Ws)):
        truth = _region_row_norms(plan, k, p)
        if truth is None:
            continue
        assert engine[k] is not None
        assert np.all(engine[k] >= truth * (1 - 1e-9) - 1e-12), (k, engine[k], truth)
        lo, hi = planned[k]
        assert np.all(hi >= truth * (1 - 1e-9) - 1e-12) and np.all(-lo >= truth * (1 - 1e-9) - 1e-12), k


@pytest.mark.parametrize("p", [2.0, INF])
def test_engine_direction_bounds_tighten_deep_layers(p, monkeypatch):
    """On a deeper network the engine's bounds beat intervals, back-substitution and the pattern enumeration
    (which ignore the regions) on the later layers: the plan's deepest bound is strictly tighter with them."""
    import sys

    encode_module = sys.modules["lipmiq.reductions.encode"]
    net = Network(*random_net(2, [6, 10, 10, 10, 1], fan_in=True))
    problem = make_problem(net, Box(-1, 1), p, p)
    root = propagation.symbolic(net, problem.domain)
    with_engine, _ = reduce(problem, root, "lp", 10.0)
    monkeypatch.setattr(encode_module, "ENGINE_DIRECTION_SHARE", 0.0)
    without, _ = reduce(problem, root, "lp", 10.0)
    assert np.all(with_engine.yhi <= without.yhi) and np.all(with_engine.ylo >= without.ylo)
    assert with_engine.yhi.sum() < 0.95 * without.yhi.sum()


def test_engine_direction_bounds_leave_layers_whose_rows_exceed_the_budget(monkeypatch):
    """A layer whose rows cannot be bounded in its share (each row costs an interval pass through the weights
    whatever the time limit) gets no engine call and None; with a budget that fits, every layer gets its bound.
    On the CIFAR-sized CNN the call took 33-180 s of a 0.1 s budget before the estimate."""
    direction_module = sys.modules["lipmiq.bounds.direction"]
    calls = []
    monkeypatch.setattr(direction_module, "bound_network",
                        lambda net, *a, _f=direction_module.bound_network, **k: calls.append(len(net.weights))
                        or _f(net, *a, **k))
    net = Network(*random_net(3, [4, 30, 30, 1], fan_in=True))
    problem = make_problem(net, Box(-1, 1), 2.0, 2.0)
    plan, _ = reduce(problem, propagation.symbolic(net, problem.domain), "lp", 10.0)
    Ws = [layer.W for layer in plan.layers] + [plan.W_out]
    bs = [layer.b for layer in plan.layers] + [plan.b_out]
    args = (Ws, bs, [(layer.lo, layer.hi) for layer in plan.layers], [layer.active for layer in plan.layers],
            plan.x_lo, plan.x_hi, plan.n_dir, 2.0, plan.ball)
    rows = (Ws[1].shape[0] + direction_module.ENGINE_FORWARD_ROWS) * (Ws[0].size + Ws[1].size)
    monkeypatch.setattr(direction_module, "ENGINE_ROW_SECONDS_PER_WEIGHT", 10.0 / rows)  # layer 1: 10 s
    calls.clear()
    short = engine_direction_bounds(*args, time_budget=2.0)
    assert short[1] is None and 2 not in calls
    calls.clear()
    monkeypatch.setattr(direction_module, "ENGINE_ROW_SECONDS_PER_WEIGHT", 1e-12)
    full = engine_direction_bounds(*args, time_budget=30.0)
    assert all(r is not None for r in full[1:]) and 2 in calls
