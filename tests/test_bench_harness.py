"""The benchmark harness itself: bench/run.py writes valid JSON lines (one child process per run, failures
recorded, not fatal) and bench/report.py turns them into a table and PNG plots."""
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import DATA_DIR, REFERENCE

REPO = Path(__file__).resolve().parents[1]
RUN, REPORT = REPO / "bench" / "run.py", REPO / "bench" / "report.py"
if not RUN.is_file():  # bench/ is not installed with the package: only a checkout has it
    pytest.skip(f"the benchmark harness needs the repository checkout ({RUN} not found)", allow_module_level=True)
FIELDS = {"id", "method", "lower", "upper", "exact", "status", "time_s", "wall_s", "peak_mem_mb", "history",
          "reference", "p", "q", "domain", "sizes"}


def write_manifest(tmp_path: Path) -> Path:
    """A two-network manifest over tests/data, in the format of shared/benchmarks/manifest.json."""
    networks = {}
    for q in REFERENCE:
        if q["network"] not in ("lipbab_iris_4-5-5-3", "exlipbab_wine_11-12-12-1"):
            continue
        net = networks.setdefault(q["network"], {"name": q["network"], "file": str(DATA_DIR / f"{q['network']}.npz"),
                                                 "sizes": [int(s) for s in q["network"].split("_")[-1].split("-")],
                                                 "queries": []})
        net["queries"].append({"domain": q["domain"], "input_norm": q["p"], "output_norm": q["q"],
                               "output": q["output"], "reference": {"value": q["exact"], "kind": "exact", "by": "test"}})
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps({"networks": list(networks.values())}))
    return path


def run_bench(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(RUN), *args], capture_output=True, text=True, timeout=120)


def read_lines(path: Path):
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def two_query_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bench")
    manifest, out = write_manifest(tmp), tmp / "results.jsonl"
    proc = run_bench("--benchmarks", str(manifest), "--methods", "naive,milp", "--queries", "lipbab_iris*:p1q1:*",
                     "--queries", "lipbab_iris*:p2q2:*", "--time-limit", "20", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    return tmp, out


def test_run_writes_one_valid_line_per_query_and_method(two_query_run):
    _, out = two_query_run
    lines = sorted(read_lines(out), key=lambda r: (r["p"], r["method"] != "naive"))
    assert [(r["id"], r["method"]) for r in lines] == [
        ("lipbab_iris_4-5-5-3:box0_1:p1q1:all", "naive"), ("lipbab_iris_4-5-5-3:box0_1:p1q1:all", "milp"),
        ("lipbab_iris_4-5-5-3:box0_1:p2q2:all", "naive"), ("lipbab_iris_4-5-5-3:box0_1:p2q2:all", "milp")]
    for r in lines:
        assert FIELDS <= set(r), FIELDS - set(r)
        assert r["peak_mem_mb"] > 10 and r["wall_s"] > 0
    naive_p1, milp_p1, naive_p2, milp_p2 = lines
    ref = milp_p1["reference"]["value"]
    assert milp_p1["status"] == "optimal" and milp_p1["exact"]
    assert milp_p1["lower"] == pytest.approx(ref, rel=1e-4)
    assert milp_p1["history"] and all(len(h) == 3 for h in milp_p1["history"])
    assert naive_p1["lower"] == 0.0 and naive_p1["upper"] >= ref and naive_p2["upper"] >= naive_p2["reference"]["value"]
    assert milp_p2["status"] == "unsupported" and "milp" in milp_p2["message"]


def test_report_makes_table_and_plot(two_query_run):
    pytest.importorskip("matplotlib", reason="the 'plot' extra is not installed")
    tmp, out = two_query_run
    plots = tmp / "plots"
    proc = subprocess.run([sys.executable, str(REPORT), str(out), "--plots", str(plots)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    rows = [ln for ln in proc.stdout.splitlines() if ln.startswith("| `")]
    assert len(rows) == 2
    header = next(ln for ln in proc.stdout.splitlines() if ln.startswith("| query"))
    assert header.split("|")[-3:-1] == [" naive ", " milp "]
    p1 = next(r for r in rows if "p1q1" in r)
    milp_cell = p1.split("|")[-2]
    assert "**" in milp_cell and "✓" in milp_cell  # the exact method has the best upper
    assert "n/a" in next(r for r in rows if "p2q2" in r).split("|")[-2]
    png = plots / "bounds_vs_time.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_markdown_marks_best_upper():
    sys.path.insert(0, str(REPO / "bench"))
    try:
        import report
    finally:
        sys.path.pop(0)
    base = {"id": "q", "kind": "manifest", "exact": False, "status": "time_limit", "time_s": 1.0, "reference": None}
    recs = [dict(base, method="a", lower=1.0, upper=3.0), dict(base, method="b", lower=2.0, upper="inf"),
            dict(base, method="c", lower=0.0, upper=2.5), dict(base, method="d", status="crash")]
    row = report.table(recs).splitlines()[-1].split("|")[2:-1]
    assert row[0].strip() == "1 / 3 / 1.0 s" and row[1].strip() == "2 / ∞ / 1.0 s"
    assert row[2].strip() == "0 / **2.5** / 1.0 s" and row[3].strip() == "crash"


def test_report_keeps_option_variants_apart():
    """The same method run with different options (e.g. region_share=0) gets its own column."""
    sys.path.insert(0, str(REPO / "bench"))
    try:
        import report
    finally:
        sys.path.pop(0)
    base = {"id": "q", "kind": "manifest", "exact": True, "status": "optimal", "reference": None, "method": "miqcqp"}
    recs = [dict(base, lower=2.0, upper=2.0, time_s=0.5, options={}),
            dict(base, lower=2.0, upper=2.0, time_s=9.0, options={"region_share": 0})]
    head, _, row = report.table(recs).splitlines()
    assert "miqcqp |" in head and "miqcqp[region_share=0]" in head
    assert "0.5 s" in row and "9.0 s" in row


def test_failures_are_recorded_not_fatal(tmp_path):
    manifest, out = write_manifest(tmp_path), tmp_path / "fail.jsonl"
    common = ["--benchmarks", str(manifest), "--queries", "exlipbab_wine*", "--out", str(out), "--append"]
    # a run that outlives its wall-clock guard is killed
    assert run_bench(*common, "--methods", "miqcqp", "--time-limit", "30", "--guard", "0.5").returncode == 0
    # a memory blow-up (here: an address-space limit too small to even import numpy) is a crash
    assert run_bench(*common, "--methods", "naive", "--memory-limit", "40").returncode == 0
    killed, crashed = read_lines(out)
    assert killed["status"] == "killed" and killed["wall_s"] < 10
    assert crashed["status"] == "crash" and crashed["stderr_tail"]
    assert math.isinf(float(killed["upper"])) and killed["lower"] == 0.0
