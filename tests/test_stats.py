"""Result.stats against independent facts: the regions the brute-force oracle finds, the neurons seen
with both signs or left open by plain interval arithmetic, which stages ran, and the bounds' own
exactness (docs/conventions.md, "stats")."""
import json
import math
import os

import lipmiq
import numpy as np
import pytest
from oracles.bruteforce import regions

NET = os.path.join(os.path.dirname(__file__), "data", "lipbab_iris_4-5-5-3.npz")  # 4 inputs, 3 outputs; tests/ alone suffices
with open(os.path.join(os.path.dirname(lipmiq.__file__), "result.schema.json")) as fh:  # the documented stage names
    STAGES = set(json.load(fh)["$defs"]["stage"]["enum"])


def random_net(seed, sizes):
    rng = np.random.default_rng(seed)
    weights = [rng.standard_normal((sizes[k + 1], sizes[k])) for k in range(len(sizes) - 1)]
    biases = [rng.standard_normal(sizes[k + 1]) * 0.5 for k in range(len(sizes) - 1)]
    return weights, biases


def assert_consistent(res):
    """What every result's stats must satisfy, whatever the method."""
    stats = res.stats
    assert set(stats["stages"]) <= STAGES
    assert all(t >= 0 for t in stats["stages"].values())
    assert sum(stats["stages"].values()) <= res.time_s + 1e-3
    for key in ("lower_by", "upper_by", "closed_by"):
        assert stats[key] is None or stats[key] in stats["stages"], (key, stats)
    assert (stats["lower_by"] is None) == (res.lower == 0.0)
    assert (stats["upper_by"] is None) == math.isinf(res.upper)
    assert (stats["closed_by"] is not None) == res.exact
    for key in ("regions", "region_lps", "pruned_subtrees", "scip_nodes"):
        assert isinstance(stats[key], int) and stats[key] >= 0
    assert stats["scip_nodes"] == 0 or "scip" in stats["stages"]
    assert stats["regions"] == 0 or "regions" in stats["stages"]


@pytest.mark.parametrize("seed, sizes", [(0, [3, 6, 2]), (1, [2, 5, 4, 2]), (2, [3, 4, 4, 1])])
@pytest.mark.parametrize("kind", ["box", "ball", "global"])
def test_regions_visited_equals_the_oracle_count(seed, sizes, kind):
    """Without pruning the enumeration visits every region with interior: the oracle counts them too."""
    weights, biases = random_net(seed, sizes)
    n = sizes[0]
    domain, oracle = {"box": (lipmiq.Box(-1, 1), ("box", -1.0, 1.0)),
                      "ball": (lipmiq.Ball(np.zeros(n), 1.0, 2), ("ball", np.zeros(n), 1.0, 2)),
                      "global": (lipmiq.Global(), ("global",))}[kind]
    res = lipmiq.lipschitz(lipmiq.Network(weights, biases), domain, method="enumerate", prune=False, time_limit=60)
    assert res.status == "optimal"
    assert res.stats["regions"] == sum(1 for _ in regions(weights, biases, oracle))
    assert res.stats["pruned_subtrees"] == 0 and res.stats["closed_by"] == "regions"
    assert_consistent(res)


def _sign_and_interval_counts(weights, biases, lo, hi, samples=20000):
    """(neurons seen with both signs at random points of the box, neurons open under interval arithmetic)."""
    rng = np.random.default_rng(0)
    x = lo + rng.random((samples, lo.size)) * (hi - lo)
    seen, opened = 0, 0
    l, u = lo, hi
    for W, b in zip(weights[:-1], biases[:-1]):
        z = x @ W.T + b
        seen += int(np.sum((z.min(axis=0) < 0) & (z.max(axis=0) > 0)))
        x = np.maximum(z, 0.0)
        Wp, Wn = np.maximum(W, 0.0), np.minimum(W, 0.0)
        zl, zu = Wp @ l + Wn @ u + b, Wp @ u + Wn @ l + b
        opened += int(np.sum((zl < 0) & (zu > 0)))
        l, u = np.maximum(zl, 0.0), np.maximum(zu, 0.0)
    return seen, opened


@pytest.mark.parametrize("seed", [3, 4])
def test_unstable_neurons_between_observed_and_interval_counts(seed):
    weights, biases = random_net(seed, [3, 8, 6, 2])
    lo, hi = np.full(3, -0.5), np.full(3, 0.5)
    res = lipmiq.lipschitz(lipmiq.Network(weights, biases), lipmiq.Box(lo, hi), region_share=0.0, pattern_time=0.0, bab_share=0.0,
                           time_limit=30)
    seen, opened = _sign_and_interval_counts(weights, biases, lo, hi)
    assert res.stats["unstable_neurons"] is not None, res.stats
    assert seen <= res.stats["unstable_neurons"] <= opened
    assert_consistent(res)


def test_stages_that_ran_and_what_they_did():
    net = lipmiq.load(NET)
    box = lipmiq.Box(0, 1)
    naive = lipmiq.lipschitz(net, box, method="naive")
    assert naive.stats["stages"].keys() == {"product"} and naive.stats["upper_by"] == "product"
    sample = lipmiq.lipschitz(net, box, method="sample", time_limit=2)
    assert sample.stats["stages"].keys() == {"sampling"} and sample.stats["lower_by"] == "sampling"
    scip = lipmiq.lipschitz(net, box, region_share=0.0, time_limit=30)
    assert "regions" not in scip.stats["stages"] and scip.stats["regions"] == 0
    if "scip" in scip.stats["stages"]:  # unless sampling or the pattern stage closed it first
        assert scip.stats["scip_nodes"] >= 1 and scip.stats["unstable_neurons"] is not None
    regions_first = lipmiq.lipschitz(net, box, region_share=1.0, time_limit=30)
    assert regions_first.exact and "scip" not in regions_first.stats["stages"]
    assert regions_first.stats["scip_nodes"] == 0
    for res in (naive, sample, scip, regions_first):
        assert_consistent(res)


def test_single_point_domain():
    res = lipmiq.lipschitz(NET, lipmiq.Box(0.5, 0.5))
    assert res.exact and res.upper == 0.0 and res.stats["closed_by"] == "trivial"
    assert_consistent(res)


def test_tracker_stage_attribution():
    from lipmiq.tracker import Tracker

    tracker = Tracker(10.0)
    with tracker.stage("product"):
        tracker.offer_upper(3.0)
    with tracker.stage("scip"):
        tracker.offer_upper(2.0)
        with tracker.stage("regions"):
            tracker.offer_upper(2.5)  # not an improvement: no credit
    stats = tracker.stats()
    assert stats["upper_by"] == "scip" and stats["lower_by"] is None and stats["closed_by"] is None
    assert set(stats["stages"]) == {"product", "scip", "regions"}


def test_pattern_time_zero_skips_every_search_over_patterns():
    """`pattern_time=0` means no hill climbs after sampling and no pattern branch-and-bound (it left the latter
    on, which then closed the query in place of SCIP: review finding)."""
    rng = np.random.default_rng(3)
    net = lipmiq.Network([rng.standard_normal((6, 3)), rng.standard_normal((1, 6))], [rng.standard_normal(6), rng.standard_normal(1)])
    res = lipmiq.lipschitz(net, lipmiq.Box(-1, 1), 1, 1, time_limit=20, pattern_time=0.0, region_share=0.0,
                           sdp_share=0.0, bab_share=0.0, gradient_share=0.0)
    assert_consistent(res)
    assert res.exact and not {"patterns", "climbs"} & set(res.stats["stages"]), res.stats
    assert res.stats["closed_by"] == "scip", res.stats


@pytest.mark.parametrize("time_limit, pattern_time, expected", [(300.0, 10.0, 6.0), (300.0, 5.0, 5.0), (60.0, 5.0, 2.0),
                                                                (20.0, 5.0, 1.0)])
def test_climbs_get_more_time_on_long_runs(monkeypatch, time_limit, pattern_time, expected):
    """The hill climbs get 2 s, 2 % of the time on long runs (a longer run gets its better lower bound), at most 5 %
    of it and at most `pattern_time`."""
    from lipmiq.methods import sample
    seen = []
    monkeypatch.setattr(sample, "local_search", lambda problem, tracker, bounds, limit, starts: seen.append(limit))
    rng = np.random.default_rng(5)
    sizes = [4, 6, 6, 6, 1]
    net = lipmiq.Network([rng.standard_normal((o, i)) for i, o in zip(sizes, sizes[1:])],
                         [rng.standard_normal(o) for o in sizes[1:]])
    res = lipmiq.lipschitz(net, lipmiq.Box(-1, 1), 2, 2, time_limit=time_limit, pattern_time=pattern_time)
    assert_consistent(res)
    assert len(seen) == 1 and seen[0] == pytest.approx(expected, rel=0.02), seen
