"""The gradient-bound engine against Shi et al.'s published bounds on the scalar (margin) benchmark queries.

For every `_margin` query of the manifest's `frontier_*` and `digits28_*` groups (box [-r, r]^n around the
test point, which the files' shifted first bias puts at 0), prints side by side: the engine's certified
upper bound and time (no branch and bound), `others.shi_et_al` (`upper`, `time_s`: Shi et al. 2022 via
auto_LiRPA, also un-branched), the product of layer norms (`naive`), and the interval Jacobian bound over the
patterns the symbolic pre-activation bounds allow; then the machine load.

    python bench/bench_gradient_bounds.py [--benchmarks ../shared/benchmarks] [--only 'frontier_*'] [--repeat 1]
"""
from __future__ import annotations

import argparse
import fnmatch
import json
import math
import os
import subprocess
import sys
import time

import lipmiq
import numpy as np
from lipmiq import Box
from lipmiq.bounds import propagation
from lipmiq.bounds.gradient import bound_problem
from lipmiq.bounds.jacobian import pattern_norm_bound
from lipmiq.methods.naive import naive_upper
from lipmiq.problem import make_problem

HERE = os.path.dirname(os.path.abspath(__file__))
GROUPS = ("frontier_*", "digits28_*")


def margin_queries(manifest: dict, only: str):
    """(network entry, query) for the scalar-output queries of the compared groups."""
    for net in manifest["networks"]:
        name = net["name"]
        if not name.endswith("_margin") or not any(fnmatch.fnmatch(name, g) for g in GROUPS):
            continue
        if not fnmatch.fnmatch(name, only):
            continue
        for q in net["queries"]:
            if "shi_et_al" in q.get("others", {}):
                yield net, q


def interval_jacobian_bound(problem) -> float:
    """pattern_norm_bound with the neurons the symbolic bounds prove stable fixed, the others free."""
    states = [np.where(s > 0, 1, np.where(s < 0, 0, -1)).astype(np.int8)
              for s in propagation.symbolic(problem.network, problem.domain).stability()]
    return pattern_norm_bound(problem.network.weights, states, problem.p, problem.q)


def load_average() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--benchmarks", default=os.path.join(HERE, os.pardir, os.pardir, "shared", "benchmarks"))
    ap.add_argument("--only", default="*", help="glob on network names")
    ap.add_argument("--repeat", type=int, default=1, help="runs per query; the best time is shown")
    args = ap.parse_args(argv)
    with open(os.path.join(args.benchmarks, "manifest.json")) as fh:
        manifest = json.load(fh)
    commit = subprocess.run(["git", "-C", HERE, "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    print(f"commit {commit}, {os.cpu_count()} cpus; before: {load_average()}")
    head = (f"{'query':44s} {'p':>3s} {'engine':>10s} {'time s':>7s} {'shi et al':>10s} {'time s':>7s} "
            f"{'product':>10s} {'interval':>10s}  engine <= shi, within time")
    print(head)
    print("-" * len(head))
    wins = within = total = 0
    for net, q in margin_queries(manifest, args.only):
        network = lipmiq.load(os.path.join(args.benchmarks, net["file"]))
        lo, hi = q["domain"]["box"]
        problem = make_problem(network, Box(lo, hi), q["input_norm"], q["output_norm"], None)
        best_t, upper = math.inf, math.inf
        for _ in range(max(args.repeat, 1)):
            t = time.perf_counter()
            upper = bound_problem(problem).upper
            best_t = min(best_t, time.perf_counter() - t)
        shi = q["others"]["shi_et_al"]
        product = naive_upper(problem, propagation.symbolic(problem.network, problem.domain))[0]
        interval = interval_jacobian_bound(problem)
        ok, fast = upper <= shi["upper"], best_t <= shi["time_s"]
        wins, within, total = wins + ok, within + fast, total + 1
        name = f"{net['name']} r={hi:g}"
        print(f"{name:44s} {q['input_norm']:>3s} {upper:10.4f} {best_t:7.2f} {shi['upper']:10.4f} {shi['time_s']:7.2f} "
              f"{product:10.4g} {interval:10.4g}  {'yes' if ok else 'NO'}, {'yes' if fast else 'NO'}", flush=True)
    print(f"engine <= shi et al. on {wins}/{total} queries, within their time on {within}/{total}")
    print(f"after: {load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
