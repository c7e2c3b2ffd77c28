"""The command line: JSON output per CONVENTIONS.md and exit codes (0 ok, 2 bad input)."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from lipmiq.cli import main

EXAMPLE = os.path.join(os.path.dirname(__file__), os.pardir, "examples", "iris.npz")
FIELDS = {"lower", "upper", "exact", "status", "method", "p", "q", "domain", "output", "time_s", "witness", "history"}


def run_cli(args, capsys):
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


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
])
def test_bad_input_exit_2(args, message, capsys):
    code, out, err = run_cli(args, capsys)
    assert code == 2
    assert message in err
    assert "Traceback" not in err and out == ""


@pytest.mark.parametrize("share, stage", [("0", "scip"), ("0.5", "regions")])
def test_region_share_option(share, stage, capsys):
    """--region-share 0 sends the query straight to SCIP; a positive share lets the region stage close it."""
    code, out, err = run_cli(["bound", EXAMPLE, "--box", "0", "1", "--json", "--region-share", share,
                              "--time-limit", "60"], capsys)
    assert code == 0, err
    data = json.loads(out)
    assert data["exact"] and data["upper"] == pytest.approx(6.7715, rel=1e-4)
    assert data["stats"]["closed_by"] == stage and (data["stats"]["regions"] > 0) == (stage == "regions")


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
