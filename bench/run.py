"""Benchmark runner: chosen methods on manifest queries and seeded random series, one subprocess per run.

Each (query, method) runs in a fresh child process (`python bench/run.py --worker JOB`) under a wall-clock
guard and an address-space limit, so a crash, a hang or a memory blow-up becomes a recorded status
("crash", "killed") instead of ending the benchmark. Peak memory is the child's ru_maxrss (os.wait4).
Children run single-threaded (BLAS, Rayon, the lipmiq core) so runs do not compete with each other
for the 2 cores.
Writes one JSON line per (query, method): bounds, exact, status, times, peak memory, bound history and
the manifest's reference values.

    python bench/run.py --methods miqcqp,milp --queries 'lipbab_*:p1q1:*' --time-limit 60 --out results.jsonl
    python bench/run.py --methods miqcqp --series width --series depth --time-limit 60 --out series.jsonl
    python bench/run.py --list
"""
from __future__ import annotations

import argparse
import fnmatch
import json
import math
import os
import platform
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, Iterator, List, Optional

REPO = Path(__file__).resolve().parents[1]
DEFAULT_MANIFEST = REPO.parent / "shared" / "benchmarks" / "manifest.json"
SERIES = {
    # axis -> list of (label, sizes): [n, w, w, 1] for the width series, [n, 16 x depth, 1] for depth
    # (w = 20 last: a network's seed is its position, so the earlier sizes keep their published networks)
    "width": [(f"w{w}", [8, w, w, 1]) for w in (8, 10, 12, 14, 16, 24, 32, 48, 64, 20)],
    "depth": [(f"d{d}", [8] + [16] * d + [1]) for d in (1, 2, 3, 4)],
}
SINGLE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                 "RAYON_NUM_THREADS": "1", "LIPMIQ_THREADS": "1"}


# --- queries ----------------------------------------------------------------------------------------------

def _num(value: float) -> str:
    return f"{value:g}"


def domain_tag(domain) -> str:
    if domain == "global" or domain == {"global": True}:
        return "global"
    if "box" in domain:
        lo, hi = domain["box"]
        return f"box{_num(lo)}_{_num(hi)}"
    ball = domain["ball"]
    return f"ball{_num(ball['radius'])}l{ball.get('norm', 'inf')}"


def query_id(network: str, domain, p: str, q: str, output) -> str:
    out = "all" if output in (None, "all") else f"o{output}"
    return f"{network}:{domain_tag(domain)}:p{p}q{q}:{out}"


def manifest_queries(path: Path) -> Iterator[dict]:
    manifest = json.loads(path.read_text())
    for net in manifest["networks"]:
        for q in net["queries"]:
            yield {
                "id": query_id(net["name"], q["domain"], q["input_norm"], q["output_norm"], q["output"]),
                "kind": "manifest", "network": net["name"], "file": str(path.parent / net["file"]),
                "sizes": net["sizes"], "domain": q["domain"], "p": q["input_norm"], "q": q["output_norm"],
                "output": q["output"], "reference": q.get("reference"), "others": q.get("others"),
            }


def series_queries(axis: str, norms: List[str], seed: int) -> Iterator[dict]:
    if axis not in SERIES:
        raise SystemExit(f"run.py: unknown series {axis!r}; choose from {', '.join(SERIES)}")
    for i, (label, sizes) in enumerate(SERIES[axis]):
        for p in norms:
            yield {
                "id": f"series-{axis}:{label}:p{p}q{p}", "kind": "series", "axis": axis,
                "network": f"random_{'-'.join(map(str, sizes))}_seed{seed + i}",
                "random": {"sizes": sizes, "seed": seed + i}, "sizes": sizes,
                "domain": {"box": [-1, 1]}, "p": p, "q": p, "output": "all", "reference": None, "others": None,
            }


def select(queries: Iterator[dict], patterns: List[str]) -> List[dict]:
    return [q for q in queries if any(fnmatch.fnmatchcase(q["id"], pat) for pat in patterns)]


# --- the child --------------------------------------------------------------------------------------------

def random_network(sizes: List[int], seed: int):
    """A seeded He-initialised ReLU network with small biases."""
    import numpy as np
    from lipmiq import Network

    rng = np.random.default_rng(seed)
    weights = [rng.standard_normal((sizes[k + 1], sizes[k])) * math.sqrt(2.0 / sizes[k]) for k in range(len(sizes) - 1)]
    biases = [0.1 * rng.standard_normal(sizes[k + 1]) for k in range(len(sizes) - 1)]
    return Network(weights, biases, name=f"random{sizes}")


def make_domain(spec):
    from lipmiq import Ball, Box, Global

    if spec == "global" or spec == {"global": True}:
        return Global()
    if "box" in spec:
        return Box(*spec["box"])
    ball = spec["ball"]
    return Ball(ball["center"], ball["radius"], ball.get("norm", "inf"))


def worker(job: dict) -> int:
    """Run one (query, method) and print its result as one JSON object on the last stdout line."""
    import lipmiq
    from lipmiq.bounds.propagation import interval
    from lipmiq.errors import InputError
    from lipmiq.methods import method_options
    from lipmiq.problem import make_problem

    net = random_network(**job["random"]) if job.get("random") else lipmiq.load(job["file"])
    output = None if job["output"] == "all" else int(job["output"])
    try:
        # --option applies to every method; each method gets the ones it declares (others refuse unknown options)
        declared = method_options(job["method"]).names()
        options = {key: value for key, value in job.get("options", {}).items() if key in declared}
        res = lipmiq.lipschitz(net, make_domain(job["domain"]), job["p"], job["q"], output=output,
                               method=job["method"], time_limit=job["time_limit"], **options)
    except InputError as exc:
        print(json.dumps({"status": "unsupported", "message": str(exc)}))
        return 0
    out = res.to_dict()
    out.pop("witness", None)
    problem = make_problem(net, make_domain(job["domain"]), job["p"], job["q"])
    bounds = interval(problem.network, problem.domain)  # the issues' size measure: unstable under interval bounds
    out["interval_unstable"] = None if bounds is None else bounds.unstable_count()
    out["self_maxrss_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps(out))
    return 0


# --- the parent -------------------------------------------------------------------------------------------

def _limit_memory(mb: int):
    def apply() -> None:
        if mb > 0:
            resource.setrlimit(resource.RLIMIT_AS, (mb << 20, mb << 20))
    return apply


def run_child(job: dict, guard_s: float, memory_mb: int) -> dict:
    """Run the worker for one job; returns the parsed record plus the child's status, wall time and rusage."""
    return run_process([sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(job)], guard_s, memory_mb)


def run_process(cmd: List[str], guard_s: float, memory_mb: int) -> dict:
    """Run `cmd` single-threaded (killed past `guard_s`, its address space capped at `memory_mb` if > 0); returns
    the last JSON line of its stdout plus its status, wall time and peak memory (a worker, or `lipmiq --json`)."""
    env = dict(os.environ, **SINGLE_THREAD)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, cwd=str(REPO), start_new_session=True,
                                preexec_fn=_limit_memory(memory_mb))
        killed = False
        while True:
            pid, code, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() - start > guard_s:
                os.killpg(proc.pid, signal.SIGKILL)
                pid, code, usage = os.wait4(proc.pid, 0)
                killed = True
                break
            time.sleep(0.05)
        proc.returncode = os.waitstatus_to_exitcode(code)  # reaped here: Popen must not wait again
        wall = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    record: Dict = {}
    lines = [ln for ln in stdout.splitlines() if ln.startswith("{")]
    if lines and not killed and proc.returncode == 0:
        record = json.loads(lines[-1])
    else:
        record = {"status": "killed" if killed else "crash",
                  "message": f"wall-clock guard of {guard_s:.0f} s" if killed else f"exit code {proc.returncode}",
                  "stderr_tail": stderr[-2000:]}
    record["wall_s"] = wall
    record["peak_mem_mb"] = usage.ru_maxrss / 1024.0
    record["returncode"] = proc.returncode
    return record


def host() -> dict:
    """The machine and the code version a record was measured with."""
    try:
        git = ["git", "-C", str(REPO)]
        commit = subprocess.run(git + ["rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                timeout=10).stdout.strip()
        dirty = bool(subprocess.run(git + ["status", "--porcelain", "--untracked-files=no", "python"],
                                    capture_output=True, text=True, timeout=10).stdout.strip())
    except (OSError, subprocess.SubprocessError):
        commit, dirty = "", None
    return {"machine": platform.machine(), "cpus": os.cpu_count(), "python": platform.python_version(),
            "node": platform.node(), "commit": commit, "python_tree_dirty": dirty,
            "load1": round(os.getloadavg()[0], 2)}


def parse_options(items: List[str]) -> dict:
    """KEY=VALUE pairs -> method options (numbers and true/false converted)."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"run.py: --option wants KEY=VALUE, got {item!r}")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def result_line(query: dict, method: str, time_limit: float, record: dict, options: Optional[dict] = None) -> dict:
    upper = record.get("upper", "inf")
    return {
        "id": query["id"], "kind": query["kind"], "axis": query.get("axis"), "network": query["network"],
        "sizes": query["sizes"], "domain": query["domain"], "p": query["p"], "q": query["q"],
        "output": query["output"], "method": method, "time_limit": time_limit, "options": options or {},
        "lower": record.get("lower", 0.0), "upper": upper, "exact": bool(record.get("exact", False)),
        "status": record.get("status"), "time_s": record.get("time_s"), "wall_s": record["wall_s"],
        "peak_mem_mb": record["peak_mem_mb"], "history": record.get("history", []),
        "interval_unstable": record.get("interval_unstable"),
        "message": record.get("message", ""), "stderr_tail": record.get("stderr_tail"),
        "reference": query.get("reference"), "others": query.get("others"), "host": host(),
    }


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--benchmarks", type=Path, default=DEFAULT_MANIFEST, help="manifest.json of the benchmark networks")
    ap.add_argument("--methods", default="miqcqp,milp,naive", help="comma-separated method names")
    ap.add_argument("--queries", action="append", default=[], help="glob over query ids (repeatable); see --list")
    ap.add_argument("--series", action="append", default=[], choices=sorted(SERIES), help="random scaling series")
    ap.add_argument("--series-norms", default="2,inf", help="p = q values of the series")
    ap.add_argument("--seed", type=int, default=0, help="seed of the first series network")
    ap.add_argument("--time-limit", type=float, default=60.0, help="time limit per (query, method), seconds")
    ap.add_argument("--guard", type=float, default=None, help="wall-clock kill after this many seconds "
                    "(default 1.5 x time limit + 30)")
    ap.add_argument("--memory-limit", type=int, default=6000, help="address-space limit per child, MB (0: none)")
    ap.add_argument("--out", type=Path, default=Path("results.jsonl"), help="JSON-lines output file")
    ap.add_argument("--append", action="store_true", help="append to --out instead of overwriting it")
    ap.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                    help="method option passed to every method, e.g. tighten=symbolic (repeatable)")
    ap.add_argument("--list", action="store_true", help="print the query ids and exit")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    return ap.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    if args.worker:
        return worker(json.loads(args.worker))
    if not args.benchmarks.is_file() and (args.queries or args.list):
        raise SystemExit(f"run.py: manifest not found: {args.benchmarks}")
    if args.list:
        for q in manifest_queries(args.benchmarks):
            print(q["id"])
        for axis in SERIES:
            for q in series_queries(axis, args.series_norms.split(","), args.seed):
                print(q["id"])
        return 0
    queries = select(manifest_queries(args.benchmarks), args.queries) if args.queries else []
    for axis in args.series:
        queries += list(series_queries(axis, args.series_norms.split(","), args.seed))
    if not queries:
        raise SystemExit("run.py: nothing to run: give --queries GLOB (see --list) and/or --series width|depth")
    methods = [m for m in args.methods.split(",") if m]
    options = parse_options(args.option)
    guard = args.guard if args.guard is not None else 1.5 * args.time_limit + 30.0
    with args.out.open("a" if args.append else "w") as sink:
        for query in queries:
            for method in methods:
                job = dict(query, method=method, time_limit=args.time_limit, options=options)
                record = run_child(job, guard, args.memory_limit)
                line = result_line(query, method, args.time_limit, record, options)
                sink.write(json.dumps(line) + "\n")
                sink.flush()
                print(f"{query['id']:<55} {method:<8} {line['status']:<12} lower={line['lower']:<.6g} "
                      f"upper={line['upper'] if isinstance(line['upper'], str) else format(line['upper'], '.6g')} "
                      f"wall={line['wall_s']:.1f}s mem={line['peak_mem_mb']:.0f}MB", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
