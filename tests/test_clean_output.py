"""Output hygiene, checked in fresh processes (a dependency's banner is printed once per process):
every `--json` subcommand prints exactly one strict JSON document on stdout (`batch`: one per line),
and the library prints nothing at all when called from Python."""
import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from conftest import EXAMPLE


def _strict(text: str):
    """json.loads that refuses the non-standard tokens Infinity, -Infinity and NaN."""
    def refuse(token):
        raise ValueError(f"non-standard JSON token {token}")
    return json.loads(text, parse_constant=refuse)


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lipmiq.cli", *args], capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("args", [
    ["bound", EXAMPLE, "--box", "0", "1", "--time-limit", "5"],
    ["bound", EXAMPLE, "--box", "0", "1", "-p", "inf", "-q", "1", "--method", "enumerate", "--time-limit", "5"],
    ["bound", EXAMPLE, "--global", "--method", "naive"],
    ["radius", EXAMPLE, "--center", "0.5,0.5,0.5,0.5", "-p", "inf", "--time-limit", "3", "--max-rounds", "2"],
    ["monotone", EXAMPLE, "--output", "0", "--input", "1", "--box", "0", "1", "--time-limit", "5"],
], ids=["bound", "bound-enumerate", "bound-naive", "radius", "monotone"])
def test_json_subcommands_print_exactly_one_document(args):
    proc = _cli(*args, "--json")
    assert proc.returncode == 0, proc.stderr
    data = _strict(proc.stdout)  # exactly one document: trailing text would make this fail
    assert isinstance(data, dict) and data


def test_batch_prints_one_json_document_per_line(tmp_path):
    points = tmp_path / "points.npy"
    np.save(points, np.array([[0.5, 0.5, 0.5, 0.5], [0.2, 0.4, 0.6, 0.8]]))
    proc = _cli("batch", EXAMPLE, str(points), "--radius", "0.05", "--time-limit", "3", "--workers", "2")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 2
    assert sorted(_strict(line)["index"] for line in lines) == [0, 1]


def test_library_calls_print_nothing():
    """Every method that touches HiGHS or SCIP, called from Python in a new process: no byte on stdout or stderr."""
    script = textwrap.dedent(f"""
        import lipmiq
        net = lipmiq.load({EXAMPLE!r})
        box = lipmiq.Box(0, 1)
        lipmiq.lipschitz(net, box, p=2, q=2, time_limit=10)
        lipmiq.lipschitz(net, box, p=2, q=2, time_limit=10, region_share=0, tighten="lp")
        lipmiq.lipschitz(net, box, p=1, q=1, method="milp", time_limit=10)
        lipmiq.lipschitz(net, box, p="inf", q=1, method="enumerate", time_limit=10)
        lipmiq.lipschitz(net, None, p=2, q=2, method="sample", time_limit=2)
        lipmiq.monotonicity(net, box, output=0, input=0, time_limit=5)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "" and proc.stderr == ""
