"""Network model, loaders and domains: construction, validation messages, round trips."""
import math

import lipmiq
import numpy as np
import pytest
from lipmiq import Ball, Box, Global, InputError, Network
from netgen import random_net


def small_net():
    """A 3-5-2 network of netgen (unscaled biases)."""
    return Network(*random_net(0, [3, 5, 2], bias_scale=1.0))


def test_forward_matches_manual_relu():
    net = small_net()
    x = np.array([0.3, -1.2, 0.5])
    W0, W1 = net.weights
    b0, b1 = net.biases
    assert np.allclose(net(x), W1 @ np.maximum(W0 @ x + b0, 0) + b1)


def test_npz_round_trip(tmp_path):
    net = small_net()
    path = tmp_path / "net.npz"
    net.to_npz(str(path))
    back = lipmiq.load(str(path))
    for a, b in zip(net.weights + net.biases, back.weights + back.biases):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("weights, biases, message", [
    ([], None, "at least one layer"),
    ([np.ones((3, 2)), np.ones((2, 4))], None, "layer 1: weight has shape (2, 4), so it takes 4 inputs, but layer 0 outputs 3"),
    ([np.ones((3, 2))], [np.ones(4)], "layer 0: bias has 4 entries"),
    ([np.array([[1.0, np.nan]])], None, "layer 0: weight has a non-finite value nan at index (0, 1)"),
    ([np.ones((2, 2)), np.array([[np.inf, 1.0]])], None, "layer 1: weight has a non-finite"),
    ([np.ones(3)], None, "2-D"),
    ([np.zeros((0, 3))], None, "empty layer"),
    ([np.array([["a", "b"]])], None, "expected numbers"),
])
def test_validation_names_layer_and_problem(weights, biases, message):
    with pytest.raises(InputError) as info:
        Network(weights, biases)
    assert message in str(info.value)


def test_malformed_npz_files(tmp_path):
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"this is not a zip file")
    with pytest.raises(InputError, match="garbage.npz: cannot read npz"):
        lipmiq.load(str(garbage))
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, W0=np.array([{"evil": 1}], dtype=object))
    with pytest.raises(InputError, match="pickled.npz: not a plain npz"):
        lipmiq.load(str(pickled))
    nothing = tmp_path / "nothing.npz"
    np.savez(nothing, A=np.ones(2))
    with pytest.raises(InputError, match="no weight arrays"):
        lipmiq.load(str(nothing))
    gap = tmp_path / "gap.npz"
    np.savez(gap, W0=np.ones((2, 2)), W2=np.ones((1, 2)))
    with pytest.raises(InputError, match="without gaps"):
        lipmiq.load(str(gap))
    with pytest.raises(InputError, match="no such file"):
        lipmiq.load(str(tmp_path / "missing.npz"))
    with pytest.raises(InputError, match="unknown network format"):
        lipmiq.load(str(tmp_path / "net.h5"))


def test_domains_resolve_and_validate():
    box = Box(0, 1).resolve(3)
    assert np.array_equal(box.lo, np.zeros(3)) and np.array_equal(box.hi, np.ones(3))
    with pytest.raises(InputError, match="lo > hi at coordinate 1"):
        Box([0, 2, 0], [1, 1, 1]).resolve(3)
    with pytest.raises(InputError, match="NaN"):
        Box([0, np.nan, 0], 1).resolve(3)
    with pytest.raises(InputError, match="ball center has 2 entries but the network has 3 inputs"):
        Ball([0, 0], 1.0).resolve(3)
    with pytest.raises(InputError, match="radius"):
        Ball([0, 0, 0], -1.0).resolve(3)
    with pytest.raises(InputError, match="ball norm"):
        Ball([0, 0, 0], 1.0, norm=3).resolve(3)
    ball = Ball([0, 0, 0], 2.0, norm=1).resolve(3)
    lo, hi = ball.box_hull()
    assert np.array_equal(lo, -2 * np.ones(3)) and np.array_equal(hi, 2 * np.ones(3))
    assert Global().box_hull() is None


@pytest.mark.parametrize("norm", [1, 2, math.inf])
def test_ball_box_hull_contains_the_exact_ball(norm):
    """c -+ r rounded outward where inexact, kept where exact: checked in rationals."""
    from fractions import Fraction

    rng = np.random.default_rng(5)
    center = np.concatenate([rng.uniform(-1000.0, 1000.0, 200), [0.5, -3.0, 1e-300]])
    radius = 0.1
    lo, hi = Ball(center, radius, norm).box_hull()
    for c, a, z in zip(center, lo, hi):
        exact_lo, exact_hi = Fraction(float(c)) - Fraction(radius), Fraction(float(c)) + Fraction(radius)
        assert Fraction(float(a)) <= exact_lo and Fraction(float(z)) >= exact_hi
        assert Fraction(float(a)) == exact_lo or Fraction(float(np.nextafter(a, np.inf))) > exact_lo  # one ulp
        assert Fraction(float(z)) == exact_hi or Fraction(float(np.nextafter(z, -np.inf))) < exact_hi


@pytest.mark.parametrize("norm", [1, 2, "inf"])
def test_ball_sampling_and_projection_stay_inside(norm):
    ball = Ball([1.0, -2.0, 0.5], 0.3, norm).resolve(3)
    rng = np.random.default_rng(0)
    pts = ball.sample(500, rng)
    assert all(ball.contains(p) for p in pts)
    far = np.array([5.0, 5.0, 5.0])
    assert ball.contains(ball.project(far))
    rows = np.vstack([pts[:50], rng.normal(0.0, 3.0, (50, 3))])  # batched: each row as on its own
    projected = ball.project(rows)
    assert all(ball.contains(p) for p in projected)
    assert np.array_equal(projected[:50], pts[:50])
    assert np.array_equal(projected, np.array([ball.project(r) for r in rows]))


def test_select_output_scalarises():
    net = small_net()
    x = np.array([0.1, 0.2, 0.3])
    assert np.isclose(net.select_output(1)(x)[0], net(x)[1])
    c = np.array([2.0, -1.0])
    assert np.isclose(net.select_output(c)(x)[0], c @ net(x))
    with pytest.raises(InputError, match="output index 2 is out of range"):
        net.select_output(2)


def test_torch_sequential_loader():
    torch = pytest.importorskip("torch")
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    net = lipmiq.load(model)
    x = np.array([0.2, -0.4, 0.9])
    expected = model(torch.tensor(x[None], dtype=torch.float64).float()).detach().numpy()[0]
    assert np.allclose(net(x), expected, atol=1e-5)
    with pytest.raises(InputError, match="Linear follows a Linear"):
        lipmiq.load(torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2)))
    with pytest.raises(InputError, match="Tanh"):
        lipmiq.load(torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2)))
