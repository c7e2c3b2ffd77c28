"""Hostile and broken inputs (npz files and queries): one clear message naming the input and the problem,
exit code 2 in the CLI, no traceback unless --debug, and nothing executed or allocated on the way."""
from __future__ import annotations

import io
import math
import zipfile

import numpy as np
import pytest
from conftest import run_cli
from lipmiq import Ball, Box, Network, lipschitz
from lipmiq.errors import InputError
from lipmiq.io.npz import check_npz, npz_layer_sizes
from lipmiq.limits import estimate_sizes

W_OK = [np.array([[1.0, -1.0], [0.5, 2.0]]), np.array([[1.0, 1.0]])]
B_OK = [np.array([0.1, -0.2]), np.array([0.0])]


def save_npz(path, weights, biases) -> str:
    arrays = {}
    for k, (W, b) in enumerate(zip(weights, biases)):
        arrays[f"W{k}"] = W
        if b is not None:
            arrays[f"b{k}"] = b
    np.savez(path, **arrays)
    return str(path)


def assert_input_error(argv, capsys, *needles):
    """Exit 2, one error line on stderr that names every needle, nothing on stdout, no traceback."""
    code, out, err = run_cli(argv, capsys)
    assert code == 2, (code, out, err)
    assert out == ""
    assert "Traceback" not in err
    lines = [line for line in err.strip().splitlines() if line.startswith("lipmiq: error")]
    assert len(lines) == 1, err
    for needle in needles:
        assert needle.lower() in lines[0].lower(), (needle, lines[0])
    return lines[0]


@pytest.fixture
def good_npz(tmp_path):
    return save_npz(tmp_path / "good.npz", W_OK, B_OK)


# --- files ------------------------------------------------------------------------------------------

def test_truncated_npz(tmp_path, capsys, good_npz):
    data = open(good_npz, "rb").read()
    bad = tmp_path / "cut.npz"
    bad.write_bytes(data[: len(data) // 2])
    assert_input_error(["bound", str(bad), "--box", "0", "1"], capsys, "cut.npz")


def test_corrupted_npz_member(tmp_path, capsys, good_npz):
    """A byte flipped inside a stored member: the zip CRC (or the npy header) catches it."""
    data = bytearray(open(good_npz, "rb").read())
    start = data.index(b"\x93NUMPY") + 20  # inside the first member's header
    data[start] ^= 0xFF
    bad = tmp_path / "flipped.npz"
    bad.write_bytes(bytes(data))
    assert_input_error(["bound", str(bad), "--box", "0", "1"], capsys, "flipped.npz")


def test_random_bytes_named_npz(tmp_path, capsys):
    bad = tmp_path / "noise.npz"
    bad.write_bytes(np.random.default_rng(0).bytes(4096))
    assert_input_error(["bound", str(bad), "--box", "0", "1"], capsys, "noise.npz", "zip")


class _Payload:
    """Unpickling this calls open(marker, 'w'): the file appears if and only if the pickle is executed."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _pickle_npz(path, marker: str) -> str:
    obj = np.empty((2, 2), dtype=object)
    obj[0, 0] = _Payload(marker)
    np.savez(path, W0=obj, b0=np.zeros(2), W1=np.ones((1, 2)), b1=np.zeros(1))
    return str(path)


def test_pickle_payload_is_refused_and_never_executed(tmp_path, capsys):
    marker = tmp_path / "pwned"
    path = _pickle_npz(tmp_path / "evil.npz", str(marker))
    # The payload works: numpy with pickles allowed executes it (proof that the test can fail).
    with np.load(path, allow_pickle=True) as z:
        z["W0"]
    assert marker.exists()
    marker.unlink()
    assert_input_error(["bound", path, "--box", "0", "1"], capsys, "evil.npz", "pickle")
    with pytest.raises(InputError, match="pickle"):
        lipschitz(path, Box(0, 1))
    assert not marker.exists(), "the pickle payload was executed"


def test_raw_pickle_member_is_refused(tmp_path, capsys):
    """A zip whose W0.npy member is a bare pickle stream (no npy header)."""
    import pickle

    marker = tmp_path / "pwned2"
    path = tmp_path / "bare.npz"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("W0.npy", pickle.dumps(_Payload(str(marker))))
    code, out, err = run_cli(["bound", str(path), "--box", "0", "1"], capsys)
    assert code == 2 and "bare.npz" in err and "Traceback" not in err
    assert not marker.exists()


@pytest.mark.parametrize("bad, what", [
    (np.array([[1 + 2j, 0], [0, 1]]), "complex"),
    (np.array([["a", "b"], ["c", "d"]]), "dtype"),
    (np.array([[1.0, np.nan], [0.0, 1.0]]), "non-finite"),
    (np.array([[1.0, np.inf], [0.0, 1.0]]), "non-finite"),
    (np.zeros((0, 2)), "empty"),
    (np.ones(2), "2-D"),
    (np.ones((2, 2, 1)), "2-D"),
])
def test_bad_first_layer(tmp_path, capsys, bad, what):
    path = save_npz(tmp_path / "bad.npz", [bad, np.ones((1, 2))], [np.zeros(2), np.zeros(1)])
    line = assert_input_error(["bound", path, "--box", "0", "1"], capsys, "bad.npz", what)
    assert "layer 0" in line


def test_nan_bias(tmp_path, capsys):
    path = save_npz(tmp_path / "nanb.npz", W_OK, [np.array([0.0, np.nan]), np.zeros(1)])
    assert_input_error(["bound", path, "--box", "0", "1"], capsys, "nanb.npz", "layer 0", "bias", "nan")


def test_shape_chain_mismatch(tmp_path, capsys):
    path = save_npz(tmp_path / "chain.npz", [np.ones((3, 2)), np.ones((1, 4))], [np.zeros(3), np.zeros(1)])
    assert_input_error(["bound", path, "--box", "0", "1"], capsys, "chain.npz", "layer 1", "(1, 4)", "3")


def test_bias_length_mismatch(tmp_path, capsys):
    path = save_npz(tmp_path / "bias.npz", W_OK, [np.zeros(3), np.zeros(1)])
    assert_input_error(["bound", path, "--box", "0", "1"], capsys, "bias.npz", "layer 0", "bias")


def test_missing_layer_index(tmp_path, capsys):
    np.savez(tmp_path / "gap.npz", W0=np.ones((2, 2)), W2=np.ones((1, 2)))
    assert_input_error(["bound", str(tmp_path / "gap.npz"), "--box", "0", "1"], capsys, "gap.npz", "W0")


def test_no_weights(tmp_path, capsys):
    np.savez(tmp_path / "none.npz", A=np.ones(3))
    assert_input_error(["bound", str(tmp_path / "none.npz")], capsys, "none.npz", "no weight")


def test_debug_shows_the_traceback(tmp_path, capsys):
    path = save_npz(tmp_path / "chain.npz", [np.ones((3, 2)), np.ones((1, 4))], [np.zeros(3), np.zeros(1)])
    code, _, err = run_cli(["--debug", "bound", path], capsys)
    assert code == 2 and "Traceback" in err


# --- memory ----------------------------------------------------------------------------------------

def test_million_neuron_layer_refused_before_building(tmp_path, capsys):
    """2 -> 1,000,000 -> 1: the arrays fit (24 MB) but the solver model would not; refused with the size."""
    path = save_npz(tmp_path / "wide.npz", [np.ones((1_000_000, 2)), np.ones((1, 1_000_000))],
                    [np.zeros(1_000_000), np.zeros(1)])
    assert npz_layer_sizes(path) == [2, 1_000_000, 1]
    line = assert_input_error(["bound", path, "--box", "0", "1", "--time-limit", "5"], capsys,
                              "wide.npz", "memory cap", "GB", "1000000")
    assert "variables" in line
    with pytest.raises(InputError, match="memory cap"):
        lipschitz(path, Box(0, 1), max_model_bytes=8 * 1024 ** 3)


def test_cap_is_configurable():
    net = Network(W_OK, B_OK)
    est = estimate_sizes(net.sizes)
    with pytest.raises(InputError, match="memory cap"):
        lipschitz(net, Box(0, 1), max_model_bytes=est.bytes / 2)
    res = lipschitz(net, Box(0, 1), max_model_bytes=est.bytes * 2, time_limit=10)
    assert res.status == "optimal"
    for bad in (0, -1, float("nan"), "lots"):
        with pytest.raises(InputError, match="max_model_bytes"):
            lipschitz(net, Box(0, 1), max_model_bytes=bad)


def test_env_cap(monkeypatch):
    monkeypatch.setenv("LIPMIQ_MAX_MODEL_BYTES", "1000")
    with pytest.raises(InputError, match="LIPMIQ_MAX_MODEL_BYTES"):
        lipschitz(Network(W_OK, B_OK), Box(0, 1))


def test_estimate_grows_with_the_network():
    small, big = estimate_sizes([4, 10, 10, 1]), estimate_sizes([4, 100, 100, 1])
    assert 0 < small.bytes < big.bytes
    assert big.variables > small.variables and big.nonzeros > small.nonzeros
    assert estimate_sizes([4, 10, 1], method="naive").variables == 0
    assert estimate_sizes([4, 10, 1], encoding="bigm").constraints > estimate_sizes([4, 10, 1]).constraints


def _header_bomb(path) -> str:
    """W0.npy whose header claims a (10^6, 10^6) float64 array (7.3 TB) over 800 bytes of data."""
    hdr = io.BytesIO()
    np.lib.format.write_array_header_1_0(hdr, {"descr": "<f8", "fortran_order": False, "shape": (10 ** 6, 10 ** 6)})
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("W0.npy", hdr.getvalue() + b"\0" * 800)
    return str(path)


def test_header_claiming_terabytes_refused_by_the_api(tmp_path):
    path = _header_bomb(tmp_path / "bomb.npz")
    with pytest.raises(InputError, match=r"bomb\.npz.*W0.*TB.*truncated"):
        check_npz(path)
    with pytest.raises(InputError, match=r"bomb\.npz.*W0"):
        lipschitz(path, Box(0, 1))


def test_header_claiming_terabytes_refused_by_the_cli(tmp_path, capsys):
    path = _header_bomb(tmp_path / "bomb.npz")
    assert_input_error(["bound", path, "--box", "0", "1"], capsys, "bomb.npz", "W0")


# --- queries ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("args, needles", [
    (["--box", "1", "0"], ["lo > hi"]),
    (["--box", "nan", "1"], ["box", "nan"]),
    (["--box", "0", "inf"], ["box", "finite"]),
    (["--center", "0,0", "--radius", "-1"], ["radius", "-1"]),
    (["--center", "0,0", "--radius", "nan"], ["radius"]),
    (["--center", "0,0,0", "--radius", "1"], ["center", "3"]),
    (["--center", "0,0", "--radius", "1", "--ball-norm", "3"], ["ball-norm", "3"]),
    (["-p", "3"], ["input norm p", "3"]),
    (["-q", "0.5"], ["output norm q", "0.5"]),
    (["-p", "two"], ["p", "two"]),
    (["--output", "7"], ["output index 7", "2 outputs"]),
    (["--output", "-1"], ["output index -1"]),
    (["--time-limit", "0"], ["time limit", "0"]),
    (["--time-limit", "-5"], ["time limit", "-5"]),
    (["--time-limit", "nan"], ["time limit"]),
    (["--method", "magic"], ["method", "magic"]),
])
def test_bad_query_cli(tmp_path, capsys, args, needles):
    path = save_npz(tmp_path / "two.npz", [np.ones((3, 2)), np.ones((2, 3))], [np.zeros(3), np.zeros(2)])
    assert_input_error(["bound", path] + args, capsys, *needles)


@pytest.mark.parametrize("make, match", [
    (lambda: Box(1, 0), "box has lo > hi: lo=1.0, hi=0.0"),
    (lambda: Box(2, 1), "lo > hi"),
    (lambda: Box("a", 1), "box lower bound must be a number or a vector of numbers, got 'a'"),
    (lambda: Box(0, [1, None]), "box upper bound must be a number"),
    (lambda: Box([0, 0, 0], [1, 1]), "3 and 2 entries"),
    (lambda: Box([0, 2, 0], [1, 1, 1]), "lo > hi at coordinate 1"),
    (lambda: Box([0, np.nan], 1), "NaN entry at index 1"),
    (lambda: Box(-np.inf, 1), "finite"),
    (lambda: Ball([0, 0], -1.0, 2), "radius"),
    (lambda: Ball([0, 0], float("nan"), 2), "radius"),
    (lambda: Ball([0, 0], "1"), "ball radius must be a number"),
    (lambda: Ball([0, np.nan], 1.0, 2), "center"),
    (lambda: Ball("center", 1.0), "ball center must be a number"),
    (lambda: Ball([0, 0], 1.0, 3), "ball norm"),
])
def test_bad_domains_are_refused_when_constructed(make, match):
    """Box and Ball check their own arguments: the error comes at the line that made the mistake."""
    with pytest.raises(InputError, match=match):
        make()


@pytest.mark.parametrize("kwargs, match", [
    (dict(p=0), "input norm p"),
    (dict(q=math.pi), "output norm q"),
    (dict(output=1), "output index 1"),
    (dict(output=[1.0, 2.0]), "output weight vector"),
    (dict(output=[np.inf]), "non-finite"),
    (dict(time_limit=0), "time limit"),
    (dict(time_limit=-1), "time limit"),
    (dict(time_limit="soon"), "time limit"),
    (dict(method="magic"), "method"),
    (dict(encoding="cubic"), "encoding"),
])
def test_bad_query_api(kwargs, match):
    with pytest.raises(InputError, match=match):
        lipschitz(Network(W_OK, B_OK), **{"domain": Box(0, 1), **kwargs})
