"""Timing of the C++ core (lipmiq._core) against the numpy reference kernels (tests/oracles/kernels.py).

For a random 784-1024-1024-10 network (seeded, torch-default-like init) and the digits_fnn3_seed0
benchmark network, over a box of half-width 0.05 (and a wider one) around a seeded random point in
[0, 1]^n, and for the digits28 CNN (784-1568-784-100-1, unrolled to dense) over its manifest box
[-0.01, 0.01]^784, times:
  * building the core's copy of the network (`core.Net`: once per network in lipmiq, outside the kernels' times),
  * interval bounds,
  * symbolic (DeepPoly/CROWN) bounds,
  * batched Jacobian norms: 256 random inputs of the box -> forward -> masks -> jacobians ->
    operator_norms for (p, q) = (2, 2), (inf, inf), (1, 1); each stage and the total.
Both implementations run in the same process on the same inputs; results are checked to agree.
The first table has numpy with whatever BLAS threads it has and the core on its default threads
(both shown in the header).

The second table puts the dense products in GFLOP/s: for symbolic bounds, forward passes and
Jacobians, the matrix products the core performs (their full shapes, also where it skips zero
blocks: "dense-equivalent" flops) divided by the core's time, beside numpy matmuls of exactly those
shapes on random matrices, both on the same number of threads: the core by its `threads` argument,
numpy's BLAS by threadpoolctl.threadpool_limits (needs threadpoolctl; the limit also reaches
lipmiq's own OpenBLAS, which is held to one thread but runs nothing while numpy is timed).

The third table does the same for the gradient-bound engine (`gradient_bounds`, the bound of
lipmiq.bounds.gradient): its flops are the multiply-adds of the dense products it reports itself (`work`,
counted at their full shapes), divided by the whole call's time (every elementwise step, rounding
allowance and concretisation included), beside numpy matmuls of the network's layers with twice the widest
layer as rows (a layer's upper and lower forms, the engine's usual shape), on one thread (the engine's
products run on the calling thread; its branch-and-bound runs nodes on two). Three calls: one output row
without slope steps (the propagation alone), every output row (q = inf) without steps, and one row with
the options of the default pipeline's root call.

    python bench/bench_core.py [--benchmarks DIR] [--repeat N] [--batch B] [--threads 1,2] [--quick]
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
from threadpoolctl import threadpool_info, threadpool_limits

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


def forward_products(W, batch):
    """(rows, inner, cols, count) of the products of core.forward: Z_k = X_{k-1} W_k^T."""
    return [(batch, w.shape[1], w.shape[0], 1) for w in W]


def jacobian_products(W, batch):
    """Products of core.jacobians: from the output side (B*m rows through every W_j) when m <= n0,
    else per sample from the input side (W_j times the (n_j, n0) product so far)."""
    m, n0 = W[-1].shape[0], W[0].shape[1]
    if len(W) == 1:
        return []
    if m <= n0:
        return [(batch * m, w.shape[0], w.shape[1], 1) for w in W[:-1]]
    return [(w.shape[0], w.shape[1], n0, batch) for w in W[1:]]


def symbolic_products(W, bounds):
    """Products of core.symbolic_bounds: for every layer k >= 1, W_k through layer k-1 (stably active
    neurons once, unstable ones once per side), then both sides through the nonzero neurons of each
    earlier layer; the neuron sets come from the final bounds, as in the core."""
    shapes = []
    for k in range(1, len(W)):
        rows = W[k].shape[0]
        l, u = bounds[k - 1]
        active, unstable = int(np.sum(l >= 0)), int(np.sum((l < 0) & (u > 0)))
        shapes += [(rows, active, W[k - 1].shape[1], 1), (rows, unstable, W[k - 1].shape[1], 2)]
        for j in range(k - 2, -1, -1):
            l, u = bounds[j]
            shapes.append((rows, int(np.sum(u > 0)), W[j].shape[1], 2))
    return [s for s in shapes if s[0] * s[1] * s[2]]


def gflop(shapes):
    return sum(2.0 * r * k * c * n for r, k, c, n in shapes) * 1e-9


def numpy_products(shapes, threads, repeat):
    """Best time of numpy matmuls of the given shapes on random matrices, BLAS limited to `threads`."""
    rng = np.random.default_rng(0)
    pairs = [(rng.standard_normal((n, r, k) if n > 1 else (r, k)), rng.standard_normal((k, c)))
             for r, k, c, n in shapes]
    with threadpool_limits(limits=threads, user_api="blas"):
        return best_time(lambda: [a @ b for a, b in pairs], repeat)[0]


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


def jacobian_pipeline(mod, W, b, X, pq, net=None):
    """forward -> masks -> jacobians -> norms; the core takes its Net object `net`, the reference the weight lists."""
    Z = mod.forward(net, X) if net is not None else mod.forward(W, b, X)
    masks = [z > 0 for z in Z[:-1]]
    J = mod.jacobians(net if net is not None else W, masks, batch=X.shape[0])
    return [mod.operator_norms(J, p, q)[0] for p, q in pq]


def run_case(name, W, b, x0, half, repeat, batch, rows, dense):
    """Time every kernel against the reference (into `rows`) and list the dense products of symbolic
    bounds, forward and jacobians with a function running the core kernel on t threads (into `dense`)."""
    n = W[0].shape[1]
    rng = np.random.default_rng(1234)
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

    # The core's copy of the network is built once per network (lipmiq.Network.core) and passed to every
    # kernel, as the reference kernels take numpy's arrays as they are: its build time is its own row.
    build = best_time(lambda: core.Net(W, b), repeat)[0]
    rows.append((tag, "core.Net (copy, W^T, |W|; once)", build, None, None, ""))
    net = core.Net(W, b)  # forward and jacobians share it, as in lipmiq (jacobians read only the weights)

    sym = add(
        "symbolic_bounds",
        lambda: core.symbolic_bounds(net, lo, hi),
        lambda: ref.symbolic_bounds(W, b, lo, hi),
    )
    unstable = [int(np.sum((l < 0) & (u > 0))) for l, u in sym[:-1]]
    add("interval_bounds", lambda: core.interval_bounds(net, lo, hi),
        lambda: ref.interval_bounds(W, b, lo, hi))
    Z = ref.forward(W, b, X)
    masks = [z > 0 for z in Z[:-1]]
    J = ref.jacobians(W, masks, batch=batch)
    active = [float(np.mean(m)) for m in masks]
    add(f"forward (B={batch})", lambda: core.forward(net, X), lambda: ref.forward(W, b, X))
    add(f"jacobians (B={batch})", lambda: core.jacobians(net, masks, batch=batch),
        lambda: ref.jacobians(W, masks, batch=batch))
    for p, q in pq:
        add(f"operator_norms {p:g}->{q:g}", lambda p=p, q=q: core.operator_norms(J, p, q)[0],
            lambda p=p, q=q: ref.operator_norms(J, p, q)[0])
    add("jacobian norms total", lambda: jacobian_pipeline(core, W, b, X, pq, net),
        lambda: jacobian_pipeline(ref, W, b, X, pq))
    dense += [
        (tag, "symbolic_bounds", symbolic_products(W, sym),
         lambda t: core.symbolic_bounds(net, lo, hi, threads=t)),
        (tag, f"forward (B={batch})", forward_products(W, batch), lambda t: core.forward(net, X, threads=t)),
        (tag, f"jacobians (B={batch})", jacobian_products(W, batch),
         lambda t: core.jacobians(net, masks, batch=batch, threads=t)),
    ]
    unst = ", ".join(f"{u}/{w.shape[0]}" for u, w in zip(unstable, W[:-1]))
    act = ", ".join(f"{a:.2f}" for a in active)
    print(f"# {tag}: unstable neurons per hidden layer {unst}; mean active fraction {act}")


def print_reference_table(rows):
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    print(f"{'case':<{w0}}  {'kernel':<{w1}}  {'C++ ms':>9}  {'numpy ms':>9}  {'speed-up':>8}  {'max rel diff':>12}")
    for tag, what, tc, tr, diff, _ in rows:
        if tr is None:  # a core-only step (no reference counterpart)
            print(f"{tag:<{w0}}  {what:<{w1}}  {tc * 1e3:9.2f}  {'-':>9}  {'-':>8}  {'-':>12}")
        else:
            print(f"{tag:<{w0}}  {what:<{w1}}  {tc * 1e3:9.2f}  {tr * 1e3:9.2f}  {tr / tc:7.1f}x  {diff:12.1e}")


ENGINE_CALLS = [  # (what, all output rows, options)
    ("engine, one row, no steps", False, {"forward_iterations": 0, "coordinate_iterations": 0, "iterations": 0}),
    ("engine, every row, no steps", True, {"forward_iterations": 0, "coordinate_iterations": 0, "iterations": 0}),
    ("engine, one row, root options", False, {}),
]


def engine_case(name, W, b, x0, half, repeat, engine):
    """The engine's calls of ENGINE_CALLS on the box x0 +- half (p = q = inf) and the matching numpy shapes
    (into `engine`)."""
    lo, hi = x0 - half, x0 + half
    dims = "-".join(str(w.shape[1]) for w in W) + f"-{W[-1].shape[0]}"
    tag = f"{name} [{dims}] eps={half:g}"
    rows = 2 * max(w.shape[0] for w in W[:-1])
    shapes = [(rows, w.shape[0], w.shape[1], 1) for w in W[:-1]]
    for what, every, options in ENGINE_CALLS:
        if every and W[-1].shape[0] == 1:
            continue
        net = core.Net(W if every else W[:-1] + [W[-1][:1]], b if every else b[:-1] + [b[-1][:1]])
        engine.append((tag, what, shapes, lambda net=net, options=options:
                       core.gradient_bounds(net, lo, hi, np.inf, np.inf, **options)))


def print_engine_table(engine, repeat):
    w0 = max(len(d[0]) for d in engine)
    w1 = max(len(d[1]) for d in engine)
    print(f"\n{'case':<{w0}}  {'engine call':<{w1}}  {'GFLOP':>6}  {'C++ ms':>8}  {'C++ GFLOP/s':>11}  "
          f"{'numpy GFLOP/s':>13}  {'C++/numpy':>9}")
    for tag, what, shapes, fn in engine:
        tc, res = best_time(fn, repeat)
        work = 2e-9 * res["work"]
        numpy_rate = gflop(shapes) / numpy_products(shapes, 1, repeat)
        print(f"{tag:<{w0}}  {what:<{w1}}  {work:6.2f}  {tc * 1e3:8.1f}  {work / tc:11.1f}  {numpy_rate:13.1f}  "
              f"{work / tc / numpy_rate:8.2f}x")


def print_gflops_table(dense, threads, repeat):
    w0 = max(len(d[0]) for d in dense)
    w1 = max(len(d[1]) for d in dense)
    print(f"\n{'case':<{w0}}  {'kernel':<{w1}}  {'threads':>7}  {'GFLOP':>6}  {'C++ ms':>8}  {'C++ GFLOP/s':>11}  "
          f"{'numpy ms':>8}  {'numpy GFLOP/s':>13}  {'C++/numpy':>9}")
    for tag, what, shapes, fn in dense:
        work = gflop(shapes)
        for t in threads:
            tc = best_time(lambda: fn(t), repeat)[0]
            tn = numpy_products(shapes, t, repeat)
            print(f"{tag:<{w0}}  {what:<{w1}}  {t:7d}  {work:6.2f}  {tc * 1e3:8.2f}  {work / tc:11.1f}  "
                  f"{tn * 1e3:8.2f}  {work / tn:13.1f}  {tn / tc:8.2f}x")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--benchmarks", default=str(REPO.parent / "shared" / "benchmarks" / "networks"),
                    help="directory holding digits_fnn3_seed0.npz and digits28_cnn_s11_pt0_margin.npz "
                         "(default: ../shared/benchmarks/networks)")
    ap.add_argument("--repeat", type=int, default=3, help="timed repetitions (best is kept)")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--threads", default="1,2", help="thread counts of the GFLOP/s table (default 1,2)")
    ap.add_argument("--quick", action="store_true", help="only the narrow box, fewer repeats")
    args = ap.parse_args(argv)
    threads = [int(t) for t in args.threads.split(",")]

    blas = ", ".join(f"{Path(i['filepath']).name} x{i['num_threads']}" for i in threadpool_info())
    print(f"# python {platform.python_version()}, numpy {np.__version__} (BLAS: {blas}), "
          f"{os.cpu_count()} cpus, load average {os.getloadavg()[0]:.2f}; C++ core on "
          f"{os.environ.get('LIPMIQ_THREADS') or 'min(2, cpus)'} threads; best of {args.repeat}")
    rows, dense, engine = [], [], []
    big_W, big_b = random_network([784, 1024, 1024, 10], seed=0)
    x0 = np.random.default_rng(1234).uniform(0.0, 1.0, size=784)
    halves = [0.05] if args.quick else [0.05, 0.2]
    for h in halves:
        run_case("random", big_W, big_b, x0, h, args.repeat, args.batch, rows, dense)
    engine_case("random", big_W, big_b, x0, 0.05, args.repeat, engine)
    bench_dir = Path(args.benchmarks)
    for name, center, case_halves in [("digits_fnn3_seed0", None, halves), ("digits28_cnn_s11_pt0_margin", 0.0, [0.01])]:
        path = bench_dir / f"{name}.npz"
        if not path.exists():
            print(f"# {path} not found: skipped")
            continue
        W, b = load_npz(path)
        n = W[0].shape[1]
        c = np.random.default_rng(1234).uniform(0.0, 1.0, size=n) if center is None else np.full(n, center)
        for h in case_halves:
            run_case(name, W, b, c, h, args.repeat, args.batch, rows, dense)
        if center == 0.0:
            engine_case(name, W, b, c, case_halves[0], args.repeat, engine)
    print_reference_table(rows)
    print_gflops_table(dense, threads, args.repeat)
    print_engine_table(engine, args.repeat)
    print(f"# load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
