"""SCIP's node propagator (`solvers.propagator`): every bound the
engine gives a node covers the brute-force maximum over the plan network's regions that agree with the node's
fixed binaries, in the plan's own coordinates (boxes, balls, the homogenised global domain, scalar and vector outputs, squared objectives)."""
from __future__ import annotations

import math

import numpy as np
import pytest
from lipmiq import Ball, Box, Global, Network, lipschitz
from lipmiq.solvers import propagator
from netgen import random_net
from oracles.bruteforce import AmbiguousRegion, exact_opnorm, region_jacobians

INF = math.inf
SCIP_ONLY = dict(region_share=0.0, gradient_share=0.0, sdp_share=0.0, bab_share=0.0, pattern_time=0.0)
ORACLE_RTOL = 1e-9  # the oracle's float64 norms against the engine's outward-rounded bound


def _plan_regions(plan):
    weights = [layer.W for layer in plan.layers] + [plan.W_out]
    biases = [layer.b for layer in plan.layers] + [plan.b_out]
    domain = ("box", plan.x_lo, plan.x_hi) if plan.ball is None else ("ball", *plan.ball)
    return region_jacobians(weights, biases, domain)


@pytest.mark.parametrize("seed", range(12))
def test_engine_node_bounds_cover_the_regions(seed, monkeypatch):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 4))
    sizes = [n] + [int(rng.integers(2, 6)) for _ in range(int(rng.integers(1, 3)))] + [int(rng.integers(1, 3))]
    weights, biases = random_net(seed, sizes, bias_scale=[None, 0.5][seed % 2])
    if seed % 3 == 0 and weights[0].shape[0] >= 2:  # a duplicated neuron (a tie in the plan)
        weights[0][1], biases[0][1] = 2.0 * weights[0][0], 2.0 * biases[0][0]
    domain = [Box(-1.0, 1.0), Ball(np.zeros(n), 1.0, 2.0), Global()][seed % 3]
    p, q = [(INF, INF), (2.0, 2.0), (1.0, INF), (INF, 2.0)][seed % 4]
    seen = []
    engine = propagator.JacobianBoundProp._engine

    def record(self, states):
        value = engine(self, states)
        if math.isfinite(value):
            seen.append((self.form, [s.copy() for s in states], value, self.q))
        return value

    monkeypatch.setattr(propagator.JacobianBoundProp, "_engine", record)
    lipschitz(Network(weights, biases), domain, p, q, time_limit=10.0, **SCIP_ONLY)
    regions = {}
    for form, states, value, q_used in seen:
        plan = form.plan
        if id(plan) not in regions:
            try:
                regions[id(plan)] = _plan_regions(plan)
            except AmbiguousRegion:
                regions[id(plan)] = None
        if regions[id(plan)] is None:
            continue
        best = max((exact_opnorm(J[:, :plan.n_dir], form.p, q_used) for pattern, J in regions[id(plan)]
                    if all(np.all((s < 0) | (s == np.asarray(g))) for s, g in zip(states, pattern))), default=0.0)
        assert value >= best * (1 - ORACLE_RTOL) - 1e-12, (value, best, [s.tolist() for s in states])


def test_a_layer_of_dead_neurons_leaves_no_engine_network():
    """Every neuron of a hidden layer stably inactive: the plan keeps none, the engine has no network to bound
    (L = 0), and the SCIP stage still answers (review finding: it raised 'empty layer')."""
    W = [np.array([[620.5635], [0.0], [410.018], [-530.197], [-620.5635]]),
         np.array([[-0.2716, 0.5661, -0.7835, 1.7795, -1.7566], [-1.8191, -0.0656, -1.7074, -0.2266, -0.4400]]),
         np.array([[-0.0300, -0.5502], [0.7800, -0.6067]])]
    b = [np.array([4.58e-06, 0.0, 2.2576e-04, -3.1852e-04, -4.58e-06]), np.array([8.5e-07, -5.9e-07]), np.zeros(2)]
    res = lipschitz(Network(W, b), Ball([-1.0], 1.0, 2.0), INF, INF, time_limit=10.0, **SCIP_ONLY)
    assert res.status == "optimal" and res.lower == 0.0 and res.upper <= 1e-6


def test_scip_keeps_an_optimum_that_attains_an_engine_bound(monkeypatch):
    """lipbab_sdnet_10-20-15-10-3 (box, p = q = 1, L = 48.049): the optimum's direction attains the engine's
    direction bound exactly, and without SCIP_BOUND_ALLOWANCE SCIP's propagation cut it (45.757). The engine runs
    at every node here, so the run does not depend on the clock."""
    from conftest import DATA_DIR
    from lipmiq import load

    monkeypatch.setattr(propagator, "ENGINE_SHARE", 1e9)
    net = load(str(DATA_DIR / "lipbab_sdnet_10-20-15-10-3.npz"))
    res = lipschitz(net, Box(0.0, 0.1), 1.0, 1.0, time_limit=120.0, **SCIP_ONLY)
    assert res.upper >= 48.049 * (1 - 1e-4), res
    assert res.exact and res.lower == pytest.approx(48.049, rel=1e-4), res
