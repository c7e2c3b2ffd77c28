"""Statuses mean what they say: `optimal` exactly when the bounds meet, `gap_limit` only within the
requested gap, `finished` for a method that ran to completion with a gap left (docs/conventions.md)."""
import math
import os

import lipmiq
import lipmiq.methods.naive
import numpy as np
import pytest
from lipmiq.status import STATUSES, settle

NET = os.path.join(os.path.dirname(__file__), "data", "lipbab_iris_4-5-5-3.npz")  # 4 inputs, 3 outputs; tests/ alone suffices
naive = lipmiq.methods.naive


def random_net(seed, sizes, bias=True):
    rng = np.random.default_rng(seed)
    weights = [rng.standard_normal((sizes[k + 1], sizes[k])) for k in range(len(sizes) - 1)]
    biases = [rng.standard_normal(sizes[k + 1]) * (0.3 if bias else 0.0) for k in range(len(sizes) - 1)]
    return lipmiq.Network(weights, biases)


def relative_gap(res):
    return (res.upper - res.lower) / res.upper if res.upper > 0 else 0.0


def assert_truthful(res):
    """The invariant every result keeps, checked from its bounds alone."""
    assert res.status in STATUSES
    if res.status not in ("error", "interrupted"):
        assert (res.status == "optimal") == (math.isfinite(res.upper) and res.upper - res.lower <= 1e-6 * max(1.0, res.upper))
    if res.status == "gap_limit":
        assert relative_gap(res) <= res.options["gap"]


def test_statuses_are_exported_and_documented():
    assert set(lipmiq.STATUSES) == {"optimal", "gap_limit", "finished", "time_limit", "interrupted", "error"}
    assert all(isinstance(text, str) and len(text) > 20 for text in lipmiq.STATUSES.values())
    with pytest.raises(TypeError):
        lipmiq.STATUSES["optimal"] = "anything"  # read-only


@pytest.mark.parametrize("method", ["naive", "sample", "miqcqp", "enumerate", "milp"])
@pytest.mark.parametrize("seed, sizes, bias", [(0, [3, 6, 4, 2], True), (1, [2, 8, 1], False), (2, [3, 5, 5, 2], False)])
def test_every_method_tells_the_truth(method, seed, sizes, bias):
    net = random_net(seed, sizes, bias)
    res = lipmiq.lipschitz(net, lipmiq.Box(-1, 1), p="inf", q=1, method=method, time_limit=10)
    assert_truthful(res)
    if method == "naive":  # an upper bound only: it cannot know the gap is closed
        assert res.lower == 0.0 and res.status == "finished"
    if method == "sample":  # a lower bound only, upper infinite: never optimal (it was, before)
        assert math.isinf(res.upper) and res.status in ("finished", "time_limit")


def test_a_method_claiming_optimal_with_a_gap_is_corrected(monkeypatch):
    """Whatever a method says, the result's status follows from the bounds."""
    def boastful(problem, tracker, options):
        tracker.offer_upper(5.0)
        return "optimal", "I am sure"
    monkeypatch.setattr(naive, "run", boastful)
    res = lipmiq.lipschitz(NET, lipmiq.Box(0, 1), method="naive")
    assert res.lower == 0.0 and res.upper == 5.0 and res.status == "finished"
    monkeypatch.setattr(naive, "run", lambda problem, tracker, options: ("gap_limit", ""))
    assert lipmiq.lipschitz(NET, lipmiq.Box(0, 1), method="naive").status == "finished"  # no gap option
    monkeypatch.setattr(naive, "run", lambda problem, tracker, options: ("weird", ""))
    assert lipmiq.lipschitz(NET, lipmiq.Box(0, 1), method="naive").status == "error"


def test_gap_limit_only_within_the_requested_gap():
    net = lipmiq.load(NET)
    res = lipmiq.lipschitz(net, lipmiq.Box(0, 1), p=1, q=1, method="milp", gap=0.5, time_limit=20)
    assert_truthful(res)
    assert res.options["gap"] == 0.5 and res.status in ("optimal", "gap_limit")
    tight = lipmiq.lipschitz(net, lipmiq.Box(0, 1), p=1, q=1, method="milp", gap=0.0, time_limit=20)
    assert_truthful(tight)
    assert tight.status != "gap_limit" or tight.upper == tight.lower


@pytest.mark.parametrize("raw, lower, upper, gap, expected", [
    ("optimal", 1.0, 1.0, None, "optimal"),
    ("optimal", 1.0, 1.5, None, "finished"),
    ("optimal", 0.0, math.inf, None, "finished"),
    ("finished", 2.0, 2.0 + 1e-7, None, "optimal"),
    ("gap_limit", 1.0, 1.5, 0.5, "gap_limit"),     # certified relative gap 1/3 <= 0.5
    ("gap_limit", 1.0, 1.5, 0.2, "finished"),      # 1/3 > 0.2: the solver's own gap is not the certified one
    ("time_limit", 1.0, 1.5, 0.5, "time_limit"),
    ("time_limit", 1.0, 1.0, None, "optimal"),
    ("interrupted", 1.0, 1.0, None, "interrupted"),
    ("error", 1.0, 1.0, None, "error"),
    ("unknown", 1.0, 2.0, None, "error"),
])
def test_settle_table(raw, lower, upper, gap, expected):
    assert settle(raw, lower, upper, gap) == expected


def test_lipsdp_on_a_box_says_its_bound_is_global():
    net = lipmiq.load(NET)
    on_box = lipmiq.lipschitz(net, lipmiq.Box(0, 1), method="lipsdp", time_limit=30)
    on_rn = lipmiq.lipschitz(net, None, method="lipsdp", time_limit=30)
    assert on_box.status == "finished" and on_box.lower == 0.0
    assert "global" in on_box.message and "box" in on_box.message
    assert on_box.upper == pytest.approx(on_rn.upper, rel=1e-6)  # the same global bound, not a box bound
    exact = lipmiq.lipschitz(net, lipmiq.Box(0, 1), time_limit=30)
    assert on_box.upper >= exact.upper * (1 - 1e-9)  # valid on the box
