"""Failures of the solver and of the process: the result keeps the bounds certified before the failure,
with a status that says what happened; Ctrl-C / SIGTERM return the bounds so far and leave no process."""
from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from lipmiq import Box, Network, lipschitz
from lipmiq.certify.witness import recheck
from lipmiq.problem import make_problem
from netgen import random_net
from oracles.bruteforce import exact_lipschitz

SIZES = [3, 8, 8, 2]
DOMAIN = Box(-1, 1)
ORACLE_DOMAIN = ("box", -1.0, 1.0)
# skip the pattern, region and engine branch-and-bounds so that the query reaches SCIP at once
SCIP_ONLY = dict(pattern_time=0.0, region_share=0.0, bab_share=0.0)


@pytest.fixture(scope="module")
def case():
    W, b = random_net(0, SIZES, fan_in=True)
    return W, b, exact_lipschitz(W, b, ORACLE_DOMAIN, 2, 2)


def product_of_norms(W) -> float:
    """An independent upper bound: the product of spectral norms."""
    return float(np.prod([np.linalg.norm(Wk, 2) for Wk in W]))


def assert_cheap_bounds(res, W, b, truth):
    """Sound bounds from the cheap stages: a re-checked witness below the truth, a finite upper above it."""
    assert 0 < res.lower <= truth * (1 + 1e-9)
    assert truth * (1 - 1e-9) <= res.upper <= product_of_norms(W) * (1 + 1e-9)
    assert res.witness is not None
    recheck(make_problem(Network(W, b), DOMAIN, 2, 2), res.witness)


def count_calls(monkeypatch, replacement):
    """Replace the driver's SCIP call (`solvers.scip.optimize`, around `Model.optimize`, a Cython type that
    cannot be patched); returns a list that records each call."""
    from lipmiq.solvers import scip

    calls = []
    original = scip.optimize

    def fake(model):
        calls.append(model.getProbName() == "lipmiq-closed")  # True for the closed (upper-bound) problem
        return replacement(model, lambda: original(model))

    monkeypatch.setattr(scip, "optimize", fake)
    return calls


def test_scip_raising_keeps_cheap_bounds(monkeypatch, case):
    W, b, truth = case

    def boom(model, solve):
        raise RuntimeError("SCIP: unspecified error")

    calls = count_calls(monkeypatch, boom)
    res = lipschitz(Network(W, b), DOMAIN, 2, 2, time_limit=20, **SCIP_ONLY)
    assert calls, "the query never reached SCIP: the test would prove nothing"
    assert res.status == "error"
    assert "RuntimeError" in res.message and "SCIP: unspecified error" in res.message
    assert_cheap_bounds(res, W, b, truth)
    assert res.to_dict()["status"] == "error"


@pytest.mark.parametrize("odd", ["numerics", "unknown", "inforunbd", "memlimit"])
def test_odd_scip_status_is_not_optimal(monkeypatch, case, odd):
    """SCIP returns but says something went wrong: the status must not claim optimality."""
    W, b, truth = case

    def odd_status(model, solve):
        model.setParam("limits/nodes", 1)
        solve()
        return odd

    calls = count_calls(monkeypatch, odd_status)
    res = lipschitz(Network(W, b), DOMAIN, 2, 2, time_limit=20, **SCIP_ONLY)
    assert calls
    assert res.status in ("error", "optimal") and (res.status != "optimal" or res.exact)
    assert res.lower <= truth * (1 + 1e-9) <= res.upper * (1 + 2e-9)


def test_no_solution_at_the_time_limit(monkeypatch, case):
    """SCIP stops at once without an incumbent: status time_limit, the cheap bounds remain."""
    W, b, truth = case

    def instant(model, solve):
        model.setParam("limits/nodes", 0)
        solve()
        return "timelimit"

    calls = count_calls(monkeypatch, instant)
    res = lipschitz(Network(W, b), DOMAIN, 2, 2, time_limit=20, **SCIP_ONLY)
    assert calls
    assert res.status in ("time_limit", "error"), res
    assert_cheap_bounds(res, W, b, truth)


def test_exception_inside_a_callback(monkeypatch, case):
    """An error while certifying an incumbent (inside SCIP's event handler) stops the solve cleanly."""
    from lipmiq.methods import miqcqp

    W, b, truth = case

    def broken(*args):
        raise ValueError("certify failed")

    monkeypatch.setattr(miqcqp, "certify_solution", broken)
    res = lipschitz(Network(W, b), DOMAIN, 2, 2, time_limit=20, **SCIP_ONLY)
    assert res.status == "error" and "certify failed" in res.message
    assert_cheap_bounds(res, W, b, truth)


def test_memory_error_while_planning(monkeypatch, case):
    from lipmiq.methods import miqcqp

    W, b, truth = case

    def no_memory(*args, **kwargs):
        raise MemoryError("cannot allocate")

    monkeypatch.setattr(miqcqp, "reduce", no_memory)
    res = lipschitz(Network(W, b), DOMAIN, 2, 2, time_limit=20, **SCIP_ONLY)
    assert res.status == "error" and "MemoryError" in res.message
    assert_cheap_bounds(res, W, b, truth)


def test_failure_before_any_bound(monkeypatch):
    """Nothing certified yet: lower 0 and upper inf, never garbage."""
    from lipmiq.methods import miqcqp

    def broken(*args):
        raise RuntimeError("kernel failed")

    monkeypatch.setattr(miqcqp, "naive_upper", broken)
    W, b = random_net(0, SIZES, fan_in=True)
    res = lipschitz(Network(W, b), DOMAIN, 2, 2, time_limit=5)
    assert res.status == "error" and res.lower == 0.0 and math.isinf(res.upper) and res.witness is None
    assert res.to_dict()["upper"] is None  # strict JSON: no upper bound is null


def test_witness_that_fails_recheck_is_dropped(monkeypatch, case):
    """A witness whose pattern does not match x (a bug elsewhere) must not yield a lower bound."""
    from lipmiq import api

    W, b, _ = case

    def failing(problem, witness):
        raise AssertionError("witness pattern differs from the pattern at x")

    monkeypatch.setattr(api, "recheck", failing)
    res = lipschitz(Network(W, b), DOMAIN, 2, 2, time_limit=5, method="sample", sample_time=0.2)
    assert res.status == "error" and res.lower == 0.0 and res.witness is None
    assert "re-check" in res.message


def test_input_errors_inside_a_method_still_raise():
    """An unsupported query found by the method is the caller's error, not a solver failure."""
    from lipmiq.errors import InputError

    W, b = random_net(0, SIZES, fan_in=True)
    with pytest.raises(InputError):
        lipschitz(Network(W, b), DOMAIN, 2, 2, method="milp", time_limit=5)


def test_keyboard_interrupt_in_a_method(monkeypatch, case):
    from lipmiq.methods import miqcqp

    W, b, truth = case

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(miqcqp, "reduce", interrupted)
    res = lipschitz(Network(W, b), DOMAIN, 2, 2, time_limit=20, **SCIP_ONLY)
    assert res.status == "interrupted"
    assert_cheap_bounds(res, W, b, truth)


# --- signals to a real process -------------------------------------------------------------------

BIG_SIZES = [10, 40, 40, 40, 1]
SCRIPT = """
import sys
from lipmiq import Global, lipschitz
res = lipschitz(sys.argv[1], Global(), 2, 2, time_limit=60, pattern_time=0.0, region_share=0.0, bab_share=0.0)
print(res.to_json())
"""


@pytest.fixture(scope="module")
def big_npz(tmp_path_factory):
    W, b = random_net(0, BIG_SIZES, fan_in=True)
    path = tmp_path_factory.mktemp("signals") / "big.npz"
    Network(W, b).to_npz(str(path))
    return str(path), W


def _session_processes(sid: int):
    """Live processes of a session (the child was started with start_new_session)."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid and fields[0] != "Z":  # fields[3] is the session id
            out.append(int(entry))
    return out


def _interrupt(argv, sig, after: float, sigint=signal.SIG_DFL):
    # SIGINT's disposition set in the child: a suite started as a background job (`cmd &` without job control)
    # inherits SIGINT ignored, and Python then installs no KeyboardInterrupt handler (these tests hung in one)
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, cwd=os.getcwd(),
                            preexec_fn=lambda: signal.signal(signal.SIGINT, sigint))
    time.sleep(after)
    assert proc.poll() is None, "the solve finished before the signal: use a harder network"
    sent = time.perf_counter()
    proc.send_signal(sig)
    try:
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    waited = time.perf_counter() - sent
    return proc.returncode, out, err, waited, _session_processes(proc.pid)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_cli_signal_prints_bounds_so_far(big_npz, sig):
    path, W = big_npz
    code, out, err, waited, left = _interrupt(
        [sys.executable, "-m", "lipmiq.cli", "bound", path, "--global", "-p", "2", "-q", "2",
         "--time-limit", "60", "--json"], sig, after=3.0)
    assert code == 0, err
    assert waited < 10, f"took {waited:.1f} s to stop"
    assert out, err
    res = json.loads(out.strip().splitlines()[-1])  # SCIP may print "pressed CTRL-C" first (see below)
    assert res["status"] == "interrupted", res["message"]
    upper = float(res["upper"])
    assert 0 < res["lower"] <= upper <= product_of_norms(W) * (1 + 1e-9)
    assert res["witness"] is not None
    assert not left, f"processes left behind: {left}"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_during_scip_solve(big_npz, sig):
    """The same signal once SCIP is solving (after about 2 s with pattern_time=0, region_share=0): stops within seconds."""
    path, W = big_npz
    code, out, err, waited, left = _interrupt([sys.executable, "-c", SCRIPT, path], sig, after=5.0)
    assert code == 0, err
    assert waited < 10, f"took {waited:.1f} s to stop"
    assert out, err
    res = json.loads(out.strip().splitlines()[-1])  # SCIP may print "pressed CTRL-C" first (see below)
    assert res["status"] == "interrupted", res["message"]
    assert 0 < res["lower"] <= float(res["upper"]) <= product_of_norms(W) * (1 + 1e-9)
    assert not left


@pytest.mark.parametrize("options", ["", "pattern_time=0.0, region_share=0.0, bab_share=0.0"],
                         ids=["before_scip", "during_scip"])
def test_sigterm_stops_a_process_that_ignores_sigint(big_npz, options):
    """A pipeline's background job has SIGINT ignored; SIGTERM must still stop it, in Python code and in SCIP
    (outside SCIP it waited for the time limit when SIGTERM was only re-raised as SIGINT)."""
    path, W = big_npz
    script = SCRIPT.replace("pattern_time=0.0, region_share=0.0, bab_share=0.0", options)
    code, out, err, waited, left = _interrupt([sys.executable, "-c", script, path], signal.SIGTERM, after=4.0,
                                              sigint=signal.SIG_IGN)
    assert code == 0, err
    assert waited < 10, f"took {waited:.1f} s to stop"
    res = json.loads(out.strip().splitlines()[-1])
    assert res["status"] == "interrupted", res["message"]
    assert res["message"].startswith("terminated (SIGTERM)"), res["message"]
    assert 0 < res["lower"] <= float(res["upper"]) <= product_of_norms(W) * (1 + 1e-9)
    assert not left


def test_cli_json_stdout_is_only_json_after_sigint(big_npz):
    path, _ = big_npz
    code, out, err, _, _ = _interrupt(
        [sys.executable, "-m", "lipmiq.cli", "bound", path, "--global", "--time-limit", "60", "--json"],
        signal.SIGINT, after=5.0)
    assert code == 0
    json.loads(out)


class _Status:
    """A stand-in for a SCIP model after a solve: only its status is read."""

    def __init__(self, status):
        self.status = status

    def getStatus(self):  # noqa: N802 - pyscipopt's name
        return self.status


def test_stop_inside_scip_is_deferred_to_its_return(monkeypatch):
    """A signal handler's stop while SCIP holds the main thread: never raised inside (a callback would turn it into
    "SCIP: unspecified error"), SIGINT re-raised for SCIP's own handler during a solve, and KeyboardInterrupt when
    SCIP returns unless it stopped for it (userinterrupt). A SIGTERM after the solve's last callback was lost."""
    from lipmiq.solvers import scip
    raised = []
    monkeypatch.setattr(scip.signal, "raise_signal", raised.append)
    assert not scip.defer_stop()  # outside SCIP: the handler raises KeyboardInterrupt itself
    with pytest.raises(KeyboardInterrupt):
        with scip.inside(_Status("optimal"), solve=True):
            assert scip.defer_stop()
    assert raised == [signal.SIGINT]
    with scip.inside(_Status("userinterrupt"), solve=True):  # SCIP stopped for it: its status says so
        assert scip.defer_stop()
    with pytest.raises(KeyboardInterrupt):
        with scip.inside(_Status("optimal")):  # freeTransform's callbacks: no SCIP handler to signal
            assert scip.defer_stop()
    assert raised == [signal.SIGINT] * 2
    with scip.inside(_Status("optimal"), solve=True):  # no stop asked: nothing raised, nothing left behind
        pass
    assert not scip.defer_stop()


def test_recheck_refuses_a_direction_that_moves_a_fixed_coordinate():
    """A box with a zero-width coordinate fixes that input: a witness whose direction moves it fails its re-check
    (the check the API runs on every witness before returning it)."""
    import dataclasses

    W, b = random_net(3, [3, 6, 1])
    domain = Box([-1.0, 0.25, -1.0], [1.0, 0.25, 1.0])
    res = lipschitz(Network(W, b), domain, 2, 2, time_limit=30)
    problem = make_problem(Network(W, b), domain, 2, 2)
    assert res.witness is not None and res.witness.v[1] == 0.0
    recheck(problem, res.witness)
    moved = res.witness.v.copy()
    moved[1] = 1e-3
    with pytest.raises(AssertionError, match="fixed coordinate"):
        recheck(problem, dataclasses.replace(res.witness, v=moved))
