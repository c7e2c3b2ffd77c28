"""The baselines against independent values: published exact constants (reference.json), the brute-force
region enumeration (tests/oracles/bruteforce.py) and sampled lower bounds."""
import math

import numpy as np
import pytest
from conftest import REFERENCE, load_npz_network
from lipmiq import Ball, Box, Global, Network, lipschitz
from lipmiq.errors import InputError
from netgen import oracle_domain, random_net
from oracles.bruteforce import exact_lipschitz, sampled_lower

INF = math.inf
def reference(network: str, p: str):
    return next(q for q in REFERENCE if q["network"] == network and q["p"] == p)


# --- milp (LipMIP) ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("network", ["lipbab_iris_4-5-5-3", "lipbab_sdnet_10-15-10-3"])
@pytest.mark.parametrize("p", ["1", "inf"])
def test_milp_matches_published_exact_values(network, p):
    q = reference(network, p)
    lo, hi = q["domain"]["box"]
    weights, biases = load_npz_network(network)
    res = lipschitz(Network(weights, biases), Box(lo, hi), p, p, method="milp", time_limit=60)
    assert res.status == "optimal", res
    # the published values have 4-6 significant digits
    assert res.lower == pytest.approx(q["exact"], rel=1e-4, abs=1e-4)
    assert res.upper == pytest.approx(q["exact"], rel=1e-4, abs=1e-4) and res.upper >= q["exact"] - 1e-4


MILP_CASES = [
    (0, [3, 6, 4, 2], Box(-1, 1), 1, 1, None),
    (1, [2, 5, 5, 3], Box(0, 1), INF, INF, None),
    (2, [3, 5, 2], Box(-1, 1), INF, 1, None),
    (3, [3, 5, 3], Box(-0.5, 1.0), 1, INF, None),
    (4, [3, 6, 3, 2], Ball([0.1, 0.2, -0.3], 0.7, 2), INF, INF, None),
    (5, [4, 6, 3], Box(-1, 1), INF, 2, 1),   # scalar output: q is irrelevant
    (6, [4, 6, 4, 3], Ball([0.0, 0.5, -0.5, 0.2], 1.0, INF), 1, 2, [1.0, -2.0, 0.5]),
]


@pytest.mark.parametrize("seed, sizes, domain, p, q, output", MILP_CASES)
def test_milp_equals_bruteforce(seed, sizes, domain, p, q, output):
    weights, biases = random_net(seed, sizes, bias_scale=0.3, fan_in=True)
    net = Network(weights, biases)
    res = lipschitz(net, domain, p, q, output=output, method="milp", time_limit=60)
    c = None if output is None else (np.eye(net.output_dim)[output] if isinstance(output, int) else np.asarray(output))
    truth = exact_lipschitz(weights, biases, oracle_domain(domain, sizes[0]), p, q, c=c)
    tol = 1e-9 * max(1.0, truth)
    assert res.lower <= truth + tol and res.upper >= truth - tol, (res, truth)
    assert res.status == "optimal" and res.stats["scip_nodes"] >= 1, (res, truth)  # the MILP ran and closed it
    assert res.lower == pytest.approx(truth, rel=1e-8, abs=1e-8)
    # SCIP's default feasibility tolerance (1e-6) lets the closed big-M model settle a few 1e-6 above L
    assert res.upper == pytest.approx(truth, rel=5e-5, abs=5e-5)


@pytest.mark.parametrize("scale", [1e-6, 1e5])
@pytest.mark.parametrize("p", [1, INF])
def test_milp_exact_at_extreme_scales(scale, p):
    """SCIP's tolerances are absolute: a first layer scaled by 1e-6 or 1e5 must neither lose soundness
    (an upper bound below L) nor leave a gap (the per-layer power-of-two scaling of the model)."""
    weights, biases = random_net(3, [3, 5, 4, 2], bias_scale=0.3, fan_in=True)
    weights[0], biases[0] = weights[0] * scale, biases[0] * scale
    res = lipschitz(Network(weights, biases), Box(-1, 1), p, p, method="milp", time_limit=60)
    truth = exact_lipschitz(weights, biases, ("box", -np.ones(3), np.ones(3)), p, p)
    assert res.lower <= truth * (1 + 1e-9) and res.upper >= truth * (1 - 1e-9), (res, truth)
    assert res.upper <= truth * (1 + 5e-5), (res, truth)


@pytest.mark.parametrize("p, q, domain", [(2, 2, Box(0, 1)), (INF, 2, Box(0, 1)), (1, INF, Global())])
def test_milp_rejects_unsupported_queries(p, q, domain):
    weights, biases = random_net(0, [3, 4, 2], bias_scale=0.3, fan_in=True)
    with pytest.raises(InputError, match="milp"):
        lipschitz(Network(weights, biases), domain, p, q, method="milp", time_limit=5)


# --- lipsdp (LipSDP-Neuron) ------------------------------------------------------------------------------

@pytest.mark.parametrize("network", ["exlipbab_iris_4-6-6-3", "exlipbab_wine_11-12-12-1", "exlipbab_abalone_9-16-16-1"])
def test_lipsdp_never_below_exact_global_value(network):
    exact = reference(network, "2")["exact"]
    weights, biases = load_npz_network(network)
    res = lipschitz(Network(weights, biases), Global(), 2, 2, method="lipsdp", time_limit=60)
    assert res.lower == 0.0 and math.isfinite(res.upper), res
    assert res.upper >= exact * (1 - 1e-12), (res.upper, exact)
    assert res.upper <= 1.2 * exact, (res.upper, exact)  # LipSDP is tight-ish on these nets: a sanity check


@pytest.mark.parametrize("seed, sizes, output", [(0, [3, 8, 2], None), (1, [4, 6, 6, 1], None),
                                                  (2, [3, 5, 4, 3], 1), (3, [2, 7, 5, 4, 2], None)])
def test_lipsdp_above_bruteforce_global_value(seed, sizes, output):
    weights, biases = random_net(seed, sizes, bias_scale=0.3, fan_in=True)
    net = Network(weights, biases)
    res = lipschitz(net, Global(), 2, 2, output=output, method="lipsdp", time_limit=60)
    c = None if output is None else np.eye(net.output_dim)[output]
    truth = exact_lipschitz(weights, biases, ("global",), 2, 2, c=c)
    assert res.upper >= truth * (1 - 1e-12), (res.upper, truth)
    # any domain: the global bound also dominates a sampled local value
    assert res.upper >= sampled_lower(weights, biases, ("box", -np.ones(sizes[0]), np.ones(sizes[0])), 2, 2, c=c)


@pytest.mark.parametrize("p, q", [(INF, INF), (2, 1)])
def test_lipsdp_rejects_other_norms(p, q):
    weights, biases = random_net(0, [3, 4, 2], bias_scale=0.3, fan_in=True)
    with pytest.raises(InputError, match="lipsdp"):
        lipschitz(Network(weights, biases), Global(), p, q, method="lipsdp", time_limit=5)
