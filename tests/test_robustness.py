"""Certified robustness radius: never contradicted by sampled inputs, exact for a linear classifier,
and the local margin bounds it used are true upper bounds (brute-force region enumeration)."""
import json

import lipmiq
import numpy as np
import pytest
from lipmiq.analyses.radius import certified_radius
from lipmiq.cli import main
from netgen import random_net
from oracles.bruteforce import exact_lipschitz

SIZES = [3, 8, 6, 3]  # three inputs, three classes


def ball_points(center, radius, p, count, rng):
    """Points inside the p-ball (uniform in the ball) and on its sphere (scaled to `radius`)."""
    n = center.size
    inside = lipmiq.Ball(center, radius, p).sample(count, rng)
    d = rng.standard_normal((count, n))
    if p == np.inf:  # push one random coordinate to the face
        d = rng.uniform(-1, 1, (count, n))
        idx = rng.integers(0, n, count)
        d[np.arange(count), idx] = np.sign(d[np.arange(count), idx])
    d /= np.linalg.norm(d, ord=p, axis=1, keepdims=True)
    return np.vstack([inside, center + radius * d])


@pytest.mark.parametrize("seed, p", [(0, 2.0), (1, np.inf), (2, 1.0)])
def test_radius_never_contradicted_by_samples(seed, p):
    net = lipmiq.Network(*random_net(seed, SIZES))
    rng = np.random.default_rng(100 + seed)
    x0 = rng.standard_normal(3)
    res = certified_radius(net, x0, p=p, time_limit=4, max_rounds=4)
    scores = net(x0)
    assert res.label == int(np.argmax(scores))
    assert res.radius > 0  # the margin at x0 is positive (no tie for a random net)
    X = ball_points(x0, res.radius * (1 - 1e-9), p, 20000, rng)
    labels = np.argmax(net(X), axis=1)
    assert np.all(labels == res.label)
    # the radius is not vacuous: it is at least the global product-bound radius it starts from
    assert res.radius >= res.rounds[0][1]


def test_margin_bounds_are_upper_bounds_of_the_exact_constant():
    net = lipmiq.Network(*random_net(3, [2, 6, 3]))
    x0 = np.array([0.3, -0.2])
    res = certified_radius(net, x0, p=2, time_limit=4, max_rounds=3)
    assert np.isfinite(res.ball_radius)
    for b in res.bounds:
        c = np.zeros(3)
        c[res.label], c[b.rival] = 1.0, -1.0
        exact = exact_lipschitz(net.weights, net.biases, ("ball", x0, res.ball_radius, 2), 2, 2, c=c)
        assert b.lower <= exact * (1 + 1e-9) + 1e-12
        assert b.upper >= exact * (1 - 1e-9)
        assert res.radius <= b.margin / b.upper + 1e-12


@pytest.mark.parametrize("p, dual", [(2.0, 2.0), (np.inf, 1.0), (1.0, np.inf)])
def test_linear_classifier_radius_is_the_closed_form(p, dual):
    rng = np.random.default_rng(7)
    W, b = rng.standard_normal((4, 3)), rng.standard_normal(4)
    net = lipmiq.Network([W], [b])
    x0 = rng.standard_normal(3)
    s = W @ x0 + b
    k = int(np.argmax(s))
    expected = min((s[k] - s[j]) / np.linalg.norm(W[k] - W[j], ord=dual) for j in range(4) if j != k)
    res = certified_radius(net, x0, p=p, time_limit=5, max_rounds=2)
    assert res.radius == pytest.approx(expected, rel=1e-6)
    assert res.radius <= expected


def test_tie_gives_zero_radius():
    W = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    net = lipmiq.Network([np.eye(2), W], [np.zeros(2), np.zeros(3)])
    res = certified_radius(net, np.array([1.0, 0.5]), p=2, time_limit=2)
    assert res.radius == 0.0 and "tie" in res.message


@pytest.mark.parametrize("kwargs, message", [
    (dict(x0=[0.0, 0.0]), "the center has 2 entries but the network has 3 inputs"),
    (dict(x0=[0.0, 0.0, 0.0], p=3), "input norm p must be 1, 2 or inf"),
    (dict(x0=[0.0, np.nan, 0.0]), "non-finite"),
    (dict(x0=[0.0, 0.0, 0.0], time_limit=0), "time limit must be > 0"),
])
def test_bad_input(kwargs, message):
    with pytest.raises(lipmiq.InputError, match=message):
        certified_radius(lipmiq.Network(*random_net(0, SIZES)), **kwargs)


def test_single_output_is_refused():
    net = lipmiq.Network([np.ones((2, 3)), np.ones((1, 2))])
    with pytest.raises(lipmiq.InputError, match="at least 2 outputs"):
        certified_radius(net, np.zeros(3))


def test_cli_radius_json(tmp_path, capsys):
    net = lipmiq.Network(*random_net(0, SIZES))
    path = tmp_path / "clf.npz"
    net.to_npz(str(path))
    x0 = np.random.default_rng(100).standard_normal(3)
    code = main(["radius", str(path), "--center=" + ",".join(map(str, x0)), "-p", "inf", "--json",
                 "--time-limit", "3", "--max-rounds", "2"])
    out, err = capsys.readouterr()
    assert code == 0, err
    data = json.loads(out)
    assert data["label"] == int(np.argmax(net(x0))) and data["radius"] > 0 and data["p"] == "inf"
    assert {b["class"] for b in data["bounds"]} == {0, 1, 2} - {data["label"]}
    code = main(["radius", str(path), "--center", "1,2"])
    _, err = capsys.readouterr()
    assert code == 2 and "the center has 2 entries" in err and "Traceback" not in err


def test_constant_margins_give_an_infinite_radius():
    rng = np.random.default_rng(9)
    W1 = rng.standard_normal((4, 2))
    row = rng.standard_normal(4)
    net = lipmiq.Network([W1, np.vstack([row, row])], [np.zeros(4), np.array([1.0, 0.0])])
    res = certified_radius(net, np.array([0.1, 0.2]), p=2, time_limit=3)
    assert res.label == 0 and res.radius == np.inf
    assert json.loads(res.to_json())["radius"] is None  # strict JSON: an infinite radius is null


def test_bad_max_rounds():
    with pytest.raises(lipmiq.InputError, match="max_rounds must be >= 1"):
        certified_radius(lipmiq.Network(*random_net(0, SIZES)), np.zeros(3), max_rounds=0)
