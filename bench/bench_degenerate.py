"""How many random degenerate ReLU networks the default method certifies exact within a time limit.

Networks from tests/netgen.py's `degenerate_net` (2-4 hidden layers of width <= 9, planted dead, duplicated,
opposite and sum-of-two neurons), bias-free and with biases 1e-6 relative to the weights; domains drawn among
boxes containing 0, boxes not containing 0, balls of each norm and R^n; (p, q) among the 9 pairs. Prints the
share exact (issue 14's targets: >= 95 % bias-free, >= 90 % with tiny biases), the status histogram, and
every query that claims `optimal` with a gap (never acceptable). `--oracle` also checks lower <= L <= upper
against the brute-force enumeration of tests/oracles/bruteforce.py (slow on the widest networks).

    python bench/bench_degenerate.py [--networks 80] [--time-limit 10] [--seed 0] [--oracle]
"""
from __future__ import annotations

import argparse
import collections
import math
import os
import sys
import time
from typing import List, Optional, Tuple

import numpy as np

import lipmiq
from lipmiq import Ball, Box, Global, Network
from lipmiq.domain import Domain

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "tests"))
from netgen import degenerate_net, oracle_domain  # noqa: E402  (the suite's generator: the same networks)

NORMS = (1.0, 2.0, math.inf)
BIASES = {"bias-free": None, "bias 1e-6": 1e-6}
TARGETS = {"bias-free": 0.95, "bias 1e-6": 0.90}


def draw_query(seed: int, bias: Optional[float]) -> Tuple[List[np.ndarray], List[np.ndarray], Domain, float, float, str]:
    """(weights, biases, domain, p, q, label) of query `seed`: the same shape and domain for both bias settings."""
    rng = np.random.default_rng([seed, 14])
    n_in = int(rng.integers(2, 5))
    widths = [int(w) for w in rng.integers(2, 10, size=int(rng.integers(2, 5)))]
    sizes = [n_in] + widths + [int(rng.integers(1, 4))]
    weights, biases, _ = degenerate_net(seed, sizes, bias)
    kind = str(rng.choice(["box 0", "box", "ball", "global"]))
    if kind == "box 0":
        domain: Domain = Box(-rng.uniform(0.2, 1.5, n_in), rng.uniform(0.2, 1.5, n_in))
    elif kind == "box":
        lo = rng.uniform(0.1, 1.0, n_in) * rng.choice([-1.0, 1.0], n_in)
        lo[0] = abs(lo[0])  # coordinate 0 stays positive: 0 is outside
        domain = Box(lo, lo + rng.uniform(0.3, 1.5, n_in))
    elif kind == "ball":
        center = rng.uniform(-1.0, 1.0, n_in)
        domain = Ball(center, float(rng.uniform(0.3, 1.5)), float(rng.choice(NORMS)))
    else:
        domain = Global()
    p, q = (float(v) for v in rng.choice(NORMS, 2))
    return weights, biases, domain, p, q, f"{'-'.join(map(str, sizes))} {kind}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--networks", type=int, default=80, help="networks per bias setting")
    ap.add_argument("--time-limit", type=float, default=10.0)
    ap.add_argument("--seed", type=int, default=0, help="first network's seed")
    ap.add_argument("--oracle", action="store_true", help="check every result against the brute-force oracle")
    args = ap.parse_args(argv)
    print(f"load average at start: {' '.join(f'{v:.2f}' for v in os.getloadavg())}", flush=True)
    failures = 0
    for setting, bias in BIASES.items():
        statuses: collections.Counter = collections.Counter()
        exact, times, lying = 0, [], []
        for seed in range(args.seed, args.seed + args.networks):
            weights, biases, domain, p, q, label = draw_query(seed, bias)
            t0 = time.perf_counter()
            res = lipmiq.lipschitz(Network(weights, biases), domain, p, q, time_limit=args.time_limit)
            wall = time.perf_counter() - t0
            statuses[res.status] += 1
            exact += res.exact
            times.append(wall)
            if res.status == "optimal" and not res.exact:
                lying.append(f"seed {seed} {label} p={p} q={q}: optimal with gap {res.gap:.3g}")
            if args.oracle:
                from oracles.bruteforce import exact_lipschitz
                truth = exact_lipschitz(weights, biases, oracle_domain(domain, weights[0].shape[1]), p, q)
                tol = 1e-9 * truth + 1e-12
                if not res.lower - tol <= truth <= res.upper + tol:
                    lying.append(f"seed {seed} {label} p={p} q={q}: {res.lower} <= L = {truth} <= {res.upper} fails")
            print(f"  {setting} seed {seed:4d} {label:28s} p={p:<4g} q={q:<4g} {res.status:11s} "
                  f"{'exact' if res.exact else f'gap {res.gap:.2e}':14s} {wall:6.2f} s", flush=True)
        share = exact / args.networks
        failures += len(lying) + (share < TARGETS[setting])
        print(f"{setting}: {exact}/{args.networks} exact within {args.time_limit:g} s ({100 * share:.1f} %, target "
              f">= {100 * TARGETS[setting]:.0f} %); median {np.median(times):.2f} s, max {max(times):.2f} s; "
              f"statuses {dict(statuses)}", flush=True)
        for line in lying:
            print(f"  UNSOUND OR DISHONEST: {line}", flush=True)
    print(f"load average at end: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
