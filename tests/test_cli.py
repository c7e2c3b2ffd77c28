"""The command line: JSON output per docs/conventions.md and exit codes (0 ok, 2 bad input)."""
import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import EXAMPLE, run_cli

FIELDS = {"lower", "upper", "exact", "status", "method", "p", "q", "domain", "output", "time_s", "witness", "history"}


def test_json_fields_and_exit_code(capsys):
    code, out, err = run_cli(["bound", EXAMPLE, "--box", "0", "1", "-p", "2", "-q", "2", "--json",
                              "--method", "naive"], capsys)
    assert code == 0, err
    data = json.loads(out)
    assert FIELDS <= set(data)
    assert data["method"] == "naive" and data["p"] == "2" and data["domain"] == {"box": [0.0, 1.0]}
    assert data["lower"] == 0.0 and data["upper"] >= 6.7715


def test_sample_method_reports_witness(capsys):
    code, out, _ = run_cli(["bound", EXAMPLE, "--box", "0", "1", "-p", "inf", "-q", "inf", "--json",
                            "--method", "sample", "--time-limit", "5"], capsys)
    assert code == 0
    data = json.loads(out)
    assert 0 < data["lower"] <= 12.6051 * (1 + 1e-4)
    assert len(data["witness"]["x"]) == 4 and len(data["witness"]["pattern"]) == 2


def test_ball_center_list(capsys):
    code, out, err = run_cli(["bound", EXAMPLE, "--center", "0.5,0.5,0.5,0.5", "--radius", "0.1",
                              "--ball-norm", "2", "--method", "naive", "--json"], capsys)
    assert code == 0, err
    assert json.loads(out)["domain"]["ball"]["radius"] == 0.1


@pytest.mark.parametrize("args, message", [
    (["bound", "missing.npz"], "no such file"),
    (["bound", EXAMPLE, "--box", "1", "0"], "lo > hi"),
    (["bound", EXAMPLE, "--center", "0,0", "--radius", "1"], "ball center has 2 entries but the network has 4 inputs"),
    (["bound", EXAMPLE, "-p", "3"], "input norm p must be 1, 2 or inf"),
    (["bound", EXAMPLE, "--output", "7"], "output index 7 is out of range"),
    (["bound", EXAMPLE, "--time-limit", "0"], "time limit must be > 0"),
    (["bound", EXAMPLE, "--method", "magic"], "unknown method 'magic'"),
    (["bound", EXAMPLE, "--center", "0,0,0,0"], "--center needs --radius"),
    (["bound", EXAMPLE, "--box", "a", "1"], "not a number"),
    (["bound", EXAMPLE, "--region-share", "1.5"], "region_share=1.5 of method 'miqcqp' must be a number in [0, 1]"),
    (["bound", EXAMPLE, "--bab-share", "-1"], "bab_share=-1.0 of method 'miqcqp' must be a number in [0, 1]"),
    (["bound", EXAMPLE, "--method", "enumerate", "--gradient-share", "0"], "gradient_share"),
])
def test_bad_input_exit_2(args, message, capsys):
    code, out, err = run_cli(args, capsys)
    assert code == 2
    assert message in err
    assert "Traceback" not in err and out == ""


@pytest.mark.parametrize("share, stage", [("0", "scip"), ("0.5", "regions")])
def test_region_share_option(share, stage, capsys):
    """--region-share 0 sends the query straight to SCIP; a positive share lets the region stage close it
    (--sdp-share 0: LipSDP's bound would let the pattern branch-and-bound close this l2 query first; --bab-share 0:
    the engine's search comes first on this shallow network and would close it)."""
    code, out, err = run_cli(["bound", EXAMPLE, "--box", "0", "1", "--json", "--region-share", share,
                              "--sdp-share", "0", "--bab-share", "0", "--time-limit", "60"], capsys)
    assert code == 0, err
    data = json.loads(out)
    assert data["exact"] and data["upper"] == pytest.approx(6.7715, rel=1e-4)
    assert data["stats"]["closed_by"] == stage and (data["stats"]["regions"] > 0) == (stage == "regions")


def test_gradient_share_zero_skips_the_engine(capsys):
    """--gradient-share 0 leaves the engine out (no 'gradient' stage); by default its bound is in the stages."""
    for share, present in (("0", False), (None, True)):
        extra = [] if share is None else ["--gradient-share", share]
        code, out, err = run_cli(["bound", EXAMPLE, "--box", "0", "1", "--json", "--time-limit", "60"] + extra, capsys)
        assert code == 0, err
        data = json.loads(out)
        assert data["exact"] and data["upper"] == pytest.approx(6.7715, rel=1e-4)
        assert ("gradient" in data["stats"]["stages"]) == present


def test_nan_weights_file_exit_2(tmp_path, capsys):
    path = tmp_path / "nan.npz"
    np.savez(path, W0=np.array([[1.0, np.nan]]), b0=np.zeros(1))
    code, _, err = run_cli(["bound", str(path)], capsys)
    assert code == 2 and "nan.npz: layer 0: weight has a non-finite value" in err


def test_console_script_subprocess():
    proc = subprocess.run([sys.executable, "-m", "lipmiq.cli", "bound", EXAMPLE, "--box", "0", "1",
                           "--method", "naive", "--json"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["upper"] > 0
    bad = subprocess.run([sys.executable, "-m", "lipmiq.cli", "bound", EXAMPLE, "-q", "7"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "output norm q" in bad.stderr


VNNLIB = """; the unit box for iris, and an output property that does not restrict the inputs
(declare-const X_0 Real)
(declare-const X_1 Real)
(declare-const X_2 Real)
(declare-const X_3 Real)
(declare-const Y_0 Real)
(assert (>= X_0 0.0))
(assert (<= X_0 1.0))
(assert (>= X_1 0.0))
(assert (<= X_1 1.0))
(assert (>= X_2 0.25))
(assert (<= X_2 1.0))
(assert (>= X_3 0.0))
(assert (<= X_3 0.5))
(assert (<= Y_0 0.5))
"""


def test_vnnlib_domain(tmp_path, capsys):
    spec = tmp_path / "prop.vnnlib"
    spec.write_text(VNNLIB)
    code, out, err = run_cli(["bound", EXAMPLE, "--vnnlib", str(spec), "--method", "naive", "--json"], capsys)
    assert code == 0, err
    assert json.loads(out)["domain"] == {"box": {"lo": [0.0, 0.0, 0.25, 0.0], "hi": [1.0, 1.0, 1.0, 0.5]}}
    assert "ignored 1 output constraint" in err
    code, out2, _ = run_cli(["bound", EXAMPLE, "--method", "naive", "--json", "--box", "0", "1"], capsys)
    assert json.loads(out)["upper"] <= json.loads(out2)["upper"]  # a sub-box never has a larger bound
    code, _, err = run_cli(["bound", EXAMPLE, "--vnnlib", str(spec), "--box", "0", "1"], capsys)
    assert code == 2 and "not allowed with argument" in err
    code, _, err = run_cli(["bound", EXAMPLE, "--vnnlib", str(tmp_path / "none.vnnlib")], capsys)
    assert code == 2 and "no such file" in err


def test_nnet_default_domain_is_its_input_box(tmp_path, capsys):
    path = tmp_path / "tiny.nnet"
    path.write_text("\n".join([
        "// a 2-3-1 network", "2,2,1,3,", "2,3,1,", "0,",
        "-1.0,0.0,", "1.0,4.0,", "0.0,2.0,0.0,", "1.0,2.0,1.0,",
        "1.0,0.5,", "-1.0,1.0,", "0.5,-2.0,", "0.1,", "-0.2,", "0.3,",
        "1.0,-1.0,2.0,", "0.0,",
    ]) + "\n")
    code, out, err = run_cli(["bound", str(path), "--method", "naive", "--json"], capsys)
    assert code == 0, err
    assert json.loads(out)["domain"] == {"box": {"lo": [-1.0, 0.0], "hi": [1.0, 4.0]}}
    code, out, err = run_cli(["bound", str(path), "--method", "naive", "--json", "--global"], capsys)
    assert code == 0, err
    assert json.loads(out)["domain"] == {"global": True}


# --- parity with the API ------------------------------------------------------------------------------

def test_version(capsys):
    import lipmiq

    code, out, _ = run_cli(["--version"], capsys)
    assert code == 0 and out.startswith(f"lipmiq {lipmiq.__version__} (SCIP ") and "HiGHS " in out
    proc = subprocess.run([sys.executable, "-m", "lipmiq.cli", "--version"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout == out and proc.stderr == ""


@pytest.mark.parametrize("command", ["bound", "radius", "monotone", "batch"])
def test_help_lists_every_network_format(command, capsys):
    from lipmiq.io import SUPPORTED_SUFFIXES

    code, out, _ = run_cli([command, "--help"], capsys)
    assert code == 0
    text = " ".join(out.split())  # argparse wraps lines
    for suffix in SUPPORTED_SUFFIXES:
        assert suffix in text, suffix


def test_seed_and_gap_reach_the_method(capsys):
    code, out, err = run_cli(["bound", EXAMPLE, "--box", "0", "1", "--json", "--seed", "5", "--gap", "0.01",
                              "--tighten", "symbolic", "--time-limit", "30"], capsys)
    assert code == 0, err
    options = json.loads(out)["options"]
    assert options["seed"] == 5 and options["gap"] == 0.01 and options["tighten"] == "symbolic"


@pytest.mark.parametrize("args, needles", [
    (["--method", "naive", "--seed", "3"], ["'seed'", "'naive' takes no options"]),
    (["--tighten", "foo"], ["tighten='foo'", "none, symbolic, lp"]),
    (["--gap", "-1"], ["gap=-1", ">= 0"]),
    (["--encoding", "cubic"], ["encoding='cubic'", "quadratic, bigm"]),
    (["--seed", "abc"], ["--seed", "not an integer"]),
    (["--margin", "0", "0"], ["--margin", "two different classes"]),
    (["--margin", "0", "3"], ["--margin class 3 is out of range"]),
    (["--output", "1,x"], ["weight vector"]),
    (["--output", "1,2"], ["output weight vector has 2 entries"]),
    (["--output", "0", "--margin", "0", "1"], ["not allowed with argument"]),
])
def test_bad_cli_options_exit_2_with_one_line(args, needles, capsys):
    code, out, err = run_cli(["bound", EXAMPLE, "--box", "0", "1"] + args, capsys)
    errors = [line for line in err.splitlines() if line.startswith("lipmiq: error")]
    assert code == 2 and out == "" and len(errors) == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle in errors[0], (needle, errors[0])


def test_margin_and_weight_vector_outputs_match_the_oracle(capsys):
    """--margin 0 1 and --output 1,-1,0 bound f_0 - f_1: the brute-force constant of c^T f with c = (1, -1, 0)."""
    from oracles.bruteforce import exact_lipschitz, load_npz

    weights, biases = load_npz(EXAMPLE)
    truth = exact_lipschitz(weights, biases, ("box", 0.0, 1.0), np.inf, 1, c=np.array([1.0, -1.0, 0.0]))
    results = []
    for args in (["--margin", "0", "1"], ["--output", "1,-1,0"]):
        code, out, err = run_cli(["bound", EXAMPLE, "--box", "0", "1", "-p", "inf", "--method", "enumerate",
                                  "--json"] + args, capsys)
        assert code == 0, err
        results.append(json.loads(out))
    for data in results:
        assert data["output"] == [1.0, -1.0, 0.0] and data["exact"]
        assert data["lower"] <= truth * (1 + 1e-9) and data["upper"] == pytest.approx(truth, rel=1e-6)


def test_center_files_with_commas(tmp_path, capsys):
    text = tmp_path / "center.csv"
    text.write_text("0.5, 0.5,\n0.5, 0.5\n")
    code, out, err = run_cli(["bound", EXAMPLE, "--center", str(text), "--radius", "0.1", "--method", "naive",
                              "--json"], capsys)
    assert code == 0, err
    ball = json.loads(out)["domain"]["ball"]
    assert ball["center"] == [0.5] * 4 and ball["norm"] == "inf"  # the CLI's default ball norm


@pytest.mark.parametrize("command", [
    ["bound", EXAMPLE, "--method", "naive", "--box", "0", "1"],
    ["radius", EXAMPLE, "--center", "0.5,0.5,0.5,0.5", "-p", "inf", "--time-limit", "2", "--max-rounds", "1"],
    ["monotone", EXAMPLE, "--output", "0", "--input", "0", "--box", "0", "1", "--time-limit", "5"],
])
def test_quiet_leaves_stderr_empty(command, capsys):
    code, out, err = run_cli(command + ["--quiet"], capsys)
    assert code == 0 and out and err == ""


def test_quiet_drops_notes(tmp_path, capsys):
    spec = tmp_path / "prop.vnnlib"
    spec.write_text(VNNLIB)
    args = ["bound", EXAMPLE, "--vnnlib", str(spec), "--method", "naive", "--json"]
    assert run_cli(args, capsys)[2] != ""  # the note on the ignored output constraint
    code, out, err = run_cli(args + ["--quiet"], capsys)
    assert code == 0 and err == "" and json.loads(out)["method"] == "naive"


def _fake_batch(items):
    from lipmiq.analyses.batch import BatchItem

    def fake(queries, executor=None, max_workers=2):
        for index, (kind, value) in enumerate(items):
            if kind == "ok":
                yield BatchItem(index, queries[index], result=value)
            else:
                yield BatchItem(index, queries[index], error=value, error_kind=kind)
    return fake


@pytest.mark.parametrize("kinds, code", [
    (["ok", "ok"], 0), (["ok", "input"], 2), (["internal", "ok"], 1), (["input", "internal"], 1),
])
def test_batch_exit_codes(tmp_path, monkeypatch, capsys, kinds, code):
    """0 when every query returned a result (whatever its status), 2 when one was refused as bad input,
    1 only when lipmiq or a worker failed; every query has its own line."""
    import lipmiq
    from lipmiq.analyses import batch as batch_module

    failed = lipmiq.lipschitz(EXAMPLE, lipmiq.Box(0, 1), method="naive")
    failed.status = "error"  # a result with status error is still a result: exit 0
    items = [(k, failed if k == "ok" else f"{k} trouble") for k in kinds]
    monkeypatch.setattr(batch_module, "batch", _fake_batch(items))
    points = tmp_path / "points.txt"
    points.write_text("0.1,0.2,0.3,0.4\n0.5,0.6,0.7,0.8\n")
    got, out, err = run_cli(["batch", EXAMPLE, str(points), "--radius", "0.1", "--method", "naive"], capsys)
    lines = [json.loads(line) for line in out.splitlines()]
    assert got == code and len(lines) == 2, err
    for line, kind in zip(lines, kinds):
        if kind == "ok":
            assert line["result"]["status"] == "error" and "error" not in line
        else:
            assert line["error_kind"] == kind and line["error"] == f"{kind} trouble"
    assert line["center"] == [0.5, 0.6, 0.7, 0.8]


def test_batch_query_refused_by_its_method_exit_2(tmp_path):
    """milp bounds p in {1, inf} only: every query is refused on its own line, the command exits 2."""
    points = tmp_path / "points.npy"
    np.save(points, np.full((2, 4), 0.5))
    proc = subprocess.run([sys.executable, "-m", "lipmiq.cli", "batch", EXAMPLE, str(points), "--radius", "0.1",
                           "--method", "milp", "-p", "2", "--workers", "1"], capture_output=True, text=True, timeout=300)
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 2 and all(line["error_kind"] == "input" and "milp" in line["error"] for line in lines)
    assert "2 of 2 queries refused as bad input" in proc.stderr


def test_ball_default_norm_is_inf_in_the_api_and_the_cli(capsys):
    import math

    import lipmiq

    api_ball = lipmiq.lipschitz(EXAMPLE, lipmiq.Ball([0.5] * 4, 0.1), method="naive").domain["ball"]
    code, out, _ = run_cli(["bound", EXAMPLE, "--center", "0.5,0.5,0.5,0.5", "--radius", "0.1", "--method", "naive",
                            "--json"], capsys)
    assert code == 0 and api_ball == json.loads(out)["domain"]["ball"] and api_ball["norm"] == "inf"
    assert lipmiq.Ball([0.0], 1.0).resolve(1).norm == math.inf


def test_a_reader_that_leaves_early_gets_no_internal_error():
    """`lipmiq bound ... | head -0`: the pipe is closed before the result is written; the command exits with 141
    (128 + SIGPIPE) and says nothing on stderr."""
    proc = subprocess.Popen([sys.executable, "-m", "lipmiq", "bound", EXAMPLE, "--box", "0", "1", "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # before the interpreter has even imported lipmiq
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141, err
    assert err == ""


def test_a_broken_pipe_that_is_not_stdout_is_an_internal_error(monkeypatch, capsys):
    """Only standard output's reader leaving is silent: a BrokenPipeError from elsewhere (a worker's pipe) says so."""
    import importlib

    cli_main = importlib.import_module("lipmiq.cli.main")

    def broken(args):
        raise BrokenPipeError(32, "a worker's pipe")

    monkeypatch.setitem(cli_main.COMMANDS, "bound", broken)
    code, _, err = run_cli(["bound", EXAMPLE], capsys)
    assert code == 1 and "internal error: BrokenPipeError" in err
