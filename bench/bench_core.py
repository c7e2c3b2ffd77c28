"""Timing of the C++ core (lipmiq._core) against the numpy reference kernels (tests/oracles/kernels.py).

For a random 784-1024-1024-10 network (seeded, torch-default-like init) and for the
digits_fnn3_seed0 benchmark network, over a box of half-width 0.05 (and a wider one) around a
seeded random point in [0, 1]^n, times:
  * interval bounds,
  * symbolic (DeepPoly/CROWN) bounds,
  * batched Jacobian norms: 256 random inputs of the box -> forward -> masks -> jacobians ->
    operator_norms for (p, q) = (2, 2), (inf, inf), (1, 1); each stage and the total.
Both implementations run in the same process on the same inputs; results are checked to agree.
The C++ core is single-threaded; numpy uses whatever BLAS threads it has (shown in the header).

    python bench/bench_core.py [--benchmarks DIR] [--repeat N] [--quick]
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
from lipmiq import _core as core

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from oracles import kernels as ref  # noqa: E402 - the test oracles live under tests/

REPO = Path(__file__).resolve().parents[1]


def random_network(dims, seed):
    rng = np.random.default_rng(seed)
    W, b = [], []
    for i in range(len(dims) - 1):
        a = 1.0 / np.sqrt(dims[i])
        W.append(rng.uniform(-a, a, size=(dims[i + 1], dims[i])))
        b.append(rng.uniform(-a, a, size=dims[i + 1]))
    return W, b


def load_npz(path):
    d = np.load(path)
    L = len([k for k in d.files if k.startswith("W")])
    return [np.ascontiguousarray(d[f"W{k}"], dtype=np.float64) for k in range(L)], [
        np.ascontiguousarray(d[f"b{k}"], dtype=np.float64) for k in range(L)
    ]


def best_time(fn, repeat):
    """Best wall time of `repeat` calls (after one warm-up call); returns (seconds, result)."""
    res = fn()
    best = np.inf
    for _ in range(repeat):
        t = time.perf_counter()
        res = fn()
        best = min(best, time.perf_counter() - t)
    return best, res


def max_diff(a, b):
    if isinstance(a, (list, tuple)):
        return max(max_diff(x, y) for x, y in zip(a, b))
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b) / np.maximum(1.0, np.abs(b)))) if a.size else 0.0


def jacobian_pipeline(mod, W, b, X, pq):
    Z = mod.forward(W, b, X)
    masks = [z > 0 for z in Z[:-1]]
    J = mod.jacobians(W, masks, batch=X.shape[0])
    return [mod.operator_norms(J, p, q)[0] for p, q in pq]


def run_case(name, W, b, half, repeat, batch, rows):
    n = W[0].shape[1]
    rng = np.random.default_rng(1234)
    x0 = rng.uniform(0.0, 1.0, size=n)
    lo, hi = x0 - half, x0 + half
    X = rng.uniform(lo, hi, size=(batch, n))
    pq = [(2.0, 2.0), (np.inf, np.inf), (1.0, 1.0)]
    dims = "-".join(str(w.shape[1]) for w in W) + f"-{W[-1].shape[0]}"
    tag = f"{name} [{dims}] eps={half:g}"

    def add(what, fc, fr, note=""):
        tc, rc = best_time(fc, repeat)
        tr, rr = best_time(fr, repeat)
        rows.append((tag, what, tc, tr, max_diff(rc, rr), note))
        return rc

    sym = add(
        "symbolic_bounds",
        lambda: core.symbolic_bounds(W, b, lo, hi),
        lambda: ref.symbolic_bounds(W, b, lo, hi),
    )
    unstable = [int(np.sum((l < 0) & (u > 0))) for l, u in sym[:-1]]
    add("interval_bounds", lambda: core.interval_bounds(W, b, lo, hi),
        lambda: ref.interval_bounds(W, b, lo, hi))
    Z = ref.forward(W, b, X)
    masks = [z > 0 for z in Z[:-1]]
    J = ref.jacobians(W, masks, batch=batch)
    active = [float(np.mean(m)) for m in masks]
    add(f"forward (B={batch})", lambda: core.forward(W, b, X), lambda: ref.forward(W, b, X))
    add(f"jacobians (B={batch})", lambda: core.jacobians(W, masks, batch=batch),
        lambda: ref.jacobians(W, masks, batch=batch))
    for p, q in pq:
        add(f"operator_norms {p:g}->{q:g}", lambda p=p, q=q: core.operator_norms(J, p, q)[0],
            lambda p=p, q=q: ref.operator_norms(J, p, q)[0])
    add("jacobian norms total", lambda: jacobian_pipeline(core, W, b, X, pq),
        lambda: jacobian_pipeline(ref, W, b, X, pq))
    unst = ", ".join(f"{u}/{w.shape[0]}" for u, w in zip(unstable, W[:-1]))
    act = ", ".join(f"{a:.2f}" for a in active)
    print(f"# {tag}: unstable neurons per hidden layer {unst}; mean active fraction {act}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--benchmarks", default=str(REPO.parent / "shared" / "benchmarks" / "networks"),
                    help="directory holding digits_fnn3_seed0.npz (default: ../shared/benchmarks/networks)")
    ap.add_argument("--repeat", type=int, default=3, help="timed repetitions (best is kept)")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--quick", action="store_true", help="only the narrow box, fewer repeats")
    args = ap.parse_args(argv)

    try:
        from threadpoolctl import threadpool_info  # optional

        blas = ", ".join(f"{i['internal_api']} x{i['num_threads']}" for i in threadpool_info())
    except Exception:  # pragma: no cover
        blas = "unknown"
    print(f"# python {platform.python_version()}, numpy {np.__version__} (BLAS: {blas}), "
          f"{os.cpu_count()} cpus; C++ core single-threaded; best of {args.repeat}")
    rows = []
    big_W, big_b = random_network([784, 1024, 1024, 10], seed=0)
    halves = [0.05] if args.quick else [0.05, 0.2]
    for h in halves:
        run_case("random", big_W, big_b, h, args.repeat, args.batch, rows)
    path = Path(args.benchmarks) / "digits_fnn3_seed0.npz"
    if path.exists():
        W, b = load_npz(path)
        for h in halves:
            run_case("digits_fnn3_seed0", W, b, h, args.repeat, args.batch, rows)
    else:
        print(f"# {path} not found: skipped")

    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    print(f"{'case':<{w0}}  {'kernel':<{w1}}  {'C++ ms':>9}  {'numpy ms':>9}  {'speed-up':>8}  {'max rel diff':>12}")
    for tag, what, tc, tr, diff, _ in rows:
        print(f"{tag:<{w0}}  {what:<{w1}}  {tc * 1e3:9.2f}  {tr * 1e3:9.2f}  {tr / tc:7.1f}x  {diff:12.1e}")


if __name__ == "__main__":
    main()
