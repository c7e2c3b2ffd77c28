"""Monotonicity: the certified [min, max] of a Jacobian entry contains every sampled partial derivative
(finite differences and Jacobians at sampled points), meets the brute-force region enumeration when
solved to optimality, and a network built to be monotone is certified so."""
import json

import lipmiq
import numpy as np
import pytest
from lipmiq.analyses.monotone import monotonicity
from lipmiq.cli import main
from netgen import random_net
from oracles.bruteforce import (
    forward_pattern,
    jacobian,
    region_jacobians,
    sample_domain,
)

SIZES = [3, 7, 5, 2]


def exact_entry_range(net, domain, k, i):
    values = [J[k, i] for _, J in region_jacobians(net.weights, net.biases, domain)]
    return min(values), max(values)


def to_lipmiq(domain):
    if domain[0] == "box":
        return lipmiq.Box(domain[1], domain[2])
    if domain[0] == "ball":
        return lipmiq.Ball(domain[1], domain[2], domain[3])
    return lipmiq.Global()


DOMAINS = [("box", -1.0, 1.0), ("ball", np.array([0.2, -0.1, 0.3]), 0.8, 2), ("global",)]


@pytest.mark.parametrize("seed, domain, k, i", [(0, DOMAINS[0], 0, 1), (1, DOMAINS[1], 1, 0), (2, DOMAINS[2], 0, 2)])
def test_bounds_contain_samples_and_meet_brute_force(seed, domain, k, i):
    net = lipmiq.Network(*random_net(seed, SIZES))
    res = monotonicity(net, to_lipmiq(domain), output=k, input=i, time_limit=20)
    lo, hi = exact_entry_range(net, domain, k, i)
    # soundness: the certified interval contains the true range, the witnesses lie in it
    assert res.lower <= lo + 1e-9 and hi - 1e-9 <= res.upper
    assert lo - 1e-9 <= res.min_achieved and res.max_achieved <= hi + 1e-9
    assert res.status == "optimal"
    assert res.lower == pytest.approx(lo, rel=1e-5, abs=1e-6) and res.upper == pytest.approx(hi, rel=1e-5, abs=1e-6)
    # sampled Jacobians and central finite differences stay inside [lower, upper]
    rng = np.random.default_rng(seed)
    X = sample_domain(domain, 3, 3000, rng)
    pats = forward_pattern(net.weights, net.biases, X)
    grads = np.array([jacobian(net.weights, [p[t] for p in pats])[k, i] for t in range(X.shape[0])])
    assert np.all(grads >= res.lower - 1e-9) and np.all(grads <= res.upper + 1e-9)
    h = 1e-6 * np.maximum(1.0, np.abs(X[:, i]))
    Xp, Xm = X.copy(), X.copy()
    Xp[:, i] += h
    Xm[:, i] -= h
    fd = (net(Xp)[:, k] - net(Xm)[:, k]) / (2 * h)
    slack = 1e-5 * max(1.0, abs(res.lower), abs(res.upper))
    assert np.all(fd >= res.lower - slack) and np.all(fd <= res.upper + slack)
    # the witnesses are genuine: the entry at witness x equals the reported value
    for w in (res.min_witness, res.max_witness):
        pattern = forward_pattern(net.weights, net.biases, w.x)
        assert jacobian(net.weights, pattern)[k, i] == pytest.approx(w.value, rel=1e-12, abs=1e-12)
        assert to_lipmiq(domain).resolve(3).contains(w.x)
    expected = "not monotone" if lo < 0 < hi else ("increasing" if lo >= 0 else "decreasing")
    assert res.verdict == expected


def monotone_net(sign):
    """f(x) = sign * (positive-weight ReLU net), plus a stably active path from x_0: d f / d x_0 has sign `sign`."""
    rng = np.random.default_rng(5)
    W1 = np.abs(rng.standard_normal((6, 3)))
    W1[:, 1] *= -1.0  # the other inputs may enter with any sign
    b1 = rng.standard_normal(6)
    W1[0] = [1.0, 0.0, 0.0]
    b1[0] = 10.0      # always active on [-1, 1]^3: a path of slope 1 from x_0
    W2 = np.abs(rng.standard_normal((4, 6)))
    b2 = rng.standard_normal(4)
    W2[0, 0], b2[0] = 1.0, 5.0
    W3 = sign * np.abs(rng.standard_normal((2, 4)))
    return lipmiq.Network([W1, W2, W3], [b1, b2, np.zeros(2)])


@pytest.mark.parametrize("sign, verdict", [(1.0, "increasing"), (-1.0, "decreasing")])
def test_constructed_monotone_network(sign, verdict):
    net = monotone_net(sign)
    box = ("box", -1.0, 1.0)
    res = monotonicity(net, lipmiq.Box(-1, 1), output=1, input=0, time_limit=20)
    lo, hi = exact_entry_range(net, box, 1, 0)
    assert res.verdict == verdict
    assert res.lower <= lo + 1e-9 and hi - 1e-9 <= res.upper
    assert (res.lower > 0) if sign > 0 else (res.upper < 0)
    # input 1 enters with negative first-layer weights: the sign flips for it
    other = monotonicity(net, lipmiq.Box(-1, 1), output=1, input=1, time_limit=20)
    assert other.verdict == ("decreasing" if sign > 0 else "increasing")


def test_constant_when_input_unused():
    W1 = np.array([[1.0, 0.0], [-1.0, 0.0]])
    net = lipmiq.Network([W1, np.array([[1.0, 2.0]])], [np.zeros(2), np.zeros(1)])
    res = monotonicity(net, lipmiq.Box(-1, 1), output=0, input=1, time_limit=5)
    assert res.verdict == "constant" and res.lower == 0.0 and res.upper == 0.0


@pytest.mark.parametrize("kwargs, message", [
    (dict(output=2, input=0), "output index 2 is out of range"),
    (dict(output=0, input=3), "input index 3 is out of range"),
    (dict(output=0, input=0, domain=lipmiq.Box([0, -1, -1], [0, 1, 1])), "input 0 is fixed by the domain"),
    (dict(output=0, input=0, time_limit=-1), "time limit must be > 0"),
    (dict(output="a", input=0), "output must be an index"),
])
def test_bad_input(kwargs, message):
    with pytest.raises(lipmiq.InputError, match=message):
        monotonicity(lipmiq.Network(*random_net(0, SIZES)), **kwargs)


def test_cli_monotone(tmp_path, capsys):
    path = tmp_path / "mono.npz"
    monotone_net(1.0).to_npz(str(path))
    code = main(["monotone", str(path), "--output", "0", "--input", "0", "--box", "-1", "1", "--json",
                 "--time-limit", "10"])
    out, err = capsys.readouterr()
    assert code == 0, err
    data = json.loads(out)
    assert data["verdict"] == "increasing" and data["min"][0] > 0 and data["min"][0] <= data["min"][1]
    assert data["domain"] == {"box": [-1.0, 1.0]}
    code = main(["monotone", str(path), "--output", "0", "--input", "9"])
    _, err = capsys.readouterr()
    assert code == 2 and "input index 9 is out of range" in err and "Traceback" not in err
