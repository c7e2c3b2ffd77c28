"""Bound tightening benchmark: unstable neurons, mean big-M and MIQCQP time to exact per tightening level.

For each benchmark network (first query of each, or all with --all-queries) and tighten in none / symbolic /
lp: the plan's unstable neurons and mean big-M (u - l over them), the time to build the bounds, and the
MIQCQP result (wall and CPU time to exact, or the relative gap at the time limit), printed as one table.
CPU time is reported because other jobs may share the machine; the load average is printed first.

    python bench/bench_tightening.py [--benchmarks ../shared/benchmarks/manifest.json] [--quick]
                                     [--time-limit 60] [--only SUBSTRING] [--all-queries]
"""
from __future__ import annotations

import argparse
import json
import math
import pathlib
import sys
import time

import lipmiq
import numpy as np
from lipmiq.bounds import root_bounds
from lipmiq.problem import make_problem
from lipmiq.reductions import reduce

LEVELS = ("none", "symbolic", "lp")
QUICK = ("lipbab_", "digits_fnn2_seed0", "exlipbab_iris")


def domain_of(spec) -> lipmiq.Domain:
    if spec == "global" or (isinstance(spec, dict) and "global" in spec):
        return lipmiq.Global()
    if "box" in spec:
        return lipmiq.Box(*spec["box"])
    ball = spec["ball"]
    return lipmiq.Ball(ball["center"], ball["radius"], ball.get("norm", 2))


def plan_stats(problem, tighten: str):
    start = time.perf_counter()
    plan, _ = reduce(problem, root_bounds(problem.network, problem.domain), tighten, 30.0)
    elapsed = time.perf_counter() - start
    widths = [(layer.hi - layer.lo)[~layer.active] for layer in plan.layers]
    widths = np.concatenate(widths) if widths else np.zeros(0)
    return plan.n_unstable, float(widths.mean()) if widths.size else 0.0, elapsed


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    here = pathlib.Path(__file__).resolve().parent
    ap.add_argument("--benchmarks", default=str(here.parent.parent / "shared" / "benchmarks" / "manifest.json"))
    ap.add_argument("--quick", action="store_true", help="lipbab_*, digits_fnn2_seed0 and exlipbab_iris only")
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--only", default=None, help="networks whose name contains this")
    ap.add_argument("--all-queries", action="store_true")
    args = ap.parse_args(argv)
    manifest_path = pathlib.Path(args.benchmarks)
    manifest = json.loads(manifest_path.read_text())
    rows = []
    header = f"{'network':32s} {'p':>3s} {'q':>3s} {'out':>4s} {'tighten':8s} {'unst':>5s} {'mean M':>9s} {'bnd s':>6s} {'status':10s} {'time s':>7s} {'cpu s':>7s} {'gap':>9s} {'upper':>11s}"
    import os

    print(f"load average {os.getloadavg()[0]:.2f}, time limit {args.time_limit:g} s")
    print(header)
    print("-" * len(header))
    for entry in manifest["networks"]:
        name = entry["name"]
        if args.quick and not any(name.startswith(s) for s in QUICK):
            continue
        if args.only and args.only not in name:
            continue
        net = lipmiq.load(str(manifest_path.parent / entry["file"]))
        queries = entry["queries"] if args.all_queries else entry["queries"][:1]
        for query in queries:
            dom = domain_of(query["domain"])
            out = None if query["output"] == "all" else int(query["output"])
            p, q = query["input_norm"], query["output_norm"]
            problem = make_problem(net, dom, p, q, out)
            for level in LEVELS:
                unstable, big_m, bound_time = plan_stats(problem, level)
                cpu = time.process_time()
                res = lipmiq.lipschitz(net, dom, p, q, output=out, method="miqcqp", time_limit=args.time_limit, tighten=level)
                cpu = time.process_time() - cpu  # SCIP runs in this process: CPU time is robust to machine load
                gap = (res.upper - res.lower) / max(1.0, res.upper) if math.isfinite(res.upper) else math.inf
                row = (name, p, q, "all" if out is None else str(out), level, unstable, big_m, bound_time,
                       res.status, res.time_s, cpu, gap, res.upper)
                rows.append(row)
                print(f"{name:32s} {p:>3s} {q:>3s} {row[3]:>4s} {level:8s} {unstable:5d} {big_m:9.4f} {bound_time:6.2f} "
                      f"{res.status:10s} {res.time_s:7.2f} {cpu:7.2f} {gap:9.2e} {res.upper:11.6f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
