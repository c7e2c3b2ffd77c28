"""The scale targets of the bound-propagation issue: a CIFAR-sized CNN and the digits28 networks at 60 s.

The CNN: input 3x32x32; conv 16@4x4 stride 2 pad 1, conv 32@4x4 stride 2 pad 1, fc 100, fc 10 (ReLU between);
torch's default initialisation after torch.manual_seed(0); the l-inf box of radius 2/255 around the all-0.5
image; margin output e_0 - e_1 (folded into the last layer), p = q = inf. Prints, per network: the product
of layer norms (`naive`), lipmiq's default method through the library (a child process: peak memory, target
< 2 GB) and `lipmiq bound --time-limit T` through the CLI (wall time: target within T + 10 %, 66 s at 60 s),
each with its certified bounds; then the machine load.

    python bench/bench_scale.py [--benchmarks ../shared/benchmarks] [--time-limit 60] [--skip-digits28]
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Optional

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import run as harness  # noqa: E402  (bench/run.py: one child process per run, guard and peak memory)


def cifar_cnn_npz(path: Path) -> Path:
    """The issue's CNN, lowered by lipmiq to dense layers, with c = e_0 - e_1 folded into the last layer."""
    import lipmiq
    import torch
    from torch import nn

    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 16, 4, stride=2, padding=1), nn.ReLU(),
                          nn.Conv2d(16, 32, 4, stride=2, padding=1), nn.ReLU(), nn.Flatten(),
                          nn.Linear(32 * 8 * 8, 100), nn.ReLU(), nn.Linear(100, 10))
    net = lipmiq.load(model, input_shape=(3, 32, 32))
    c = np.zeros(10)
    c[0], c[1] = 1.0, -1.0
    weights, biases = list(net.weights), list(net.biases)
    weights[-1], biases[-1] = (c @ weights[-1])[None, :], np.array([c @ biases[-1]])
    lipmiq.Network(weights, biases).to_npz(str(path))
    return path


def cli_run(path: Path, lo: float, hi: float, time_limit: float) -> dict:
    """`lipmiq bound --json` in a child process: its result, wall time and peak memory."""
    cmd = [sys.executable, "-m", "lipmiq", "bound", str(path), "--box", repr(lo), repr(hi), "-p", "inf", "-q", "inf",
           "--time-limit", str(time_limit), "--json", "--quiet"]
    return harness.run_process(cmd, 2 * time_limit + 60, 0)


def upper_of(rec: dict) -> float:
    upper = rec.get("upper")
    return float("inf") if upper in (None, "inf") else float(upper)


def row(label: str, rec: dict, limit: Optional[float] = None) -> str:
    upper = upper_of(rec)
    mem = f"{rec['peak_mem_mb']:7.0f} MB" if "peak_mem_mb" in rec else " " * 10
    wall = rec.get("wall_s", 0.0)
    within = "" if limit is None else ("  within" if wall <= 1.1 * limit else "  OVER")
    return (f"  {label:24s} {float(rec.get('lower', 0.0)):12.6g} {upper:12.6g} {str(rec.get('status')):11s} "
            f"{wall:8.1f} s {mem}{within}")


def measure(name: str, path: Path, lo: float, hi: float, time_limit: float) -> None:
    job = {"file": str(path), "domain": {"box": [lo, hi]}, "p": "inf", "q": "inf", "output": "all",
           "time_limit": time_limit, "options": {}}
    print(f"{name}  (box [{lo:g}, {hi:g}]^n, p = q = inf)")
    print(f"  {'run':24s} {'lower':>12s} {'upper':>12s} {'status':11s} {'wall':>10s} {'peak mem':>10s}")
    naive = harness.run_child(dict(job, method="naive"), time_limit + 60, 0)
    print(row("product of norms", naive), flush=True)
    lib = harness.run_child(dict(job, method="miqcqp"), 1.5 * time_limit + 30, 0)
    print(row(f"lipschitz ({time_limit:g} s)", lib), flush=True)
    below = upper_of(lib) < upper_of(naive)
    print(f"  upper below the product bound: {'yes' if below else 'NO'}; "
          f"under 2 GB: {'yes' if lib['peak_mem_mb'] < 2048 else 'NO'}")
    print(row(f"CLI bound ({time_limit:g} s)", cli_run(path, lo, hi, time_limit), time_limit), flush=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--benchmarks", type=Path, default=HERE.parent.parent / "shared" / "benchmarks")
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--skip-digits28", action="store_true", help="the CIFAR CNN only")
    args = ap.parse_args(argv)
    print(f"before: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    with tempfile.TemporaryDirectory() as tmp:
        cnn = cifar_cnn_npz(Path(tmp) / "cifar_cnn_margin.npz")
        measure("CIFAR CNN 3x32x32-4096-2048-100-1", cnn, 0.5 - 2 / 255, 0.5 + 2 / 255, args.time_limit)
    if not args.skip_digits28:
        for net in ("digits28_mlp_s11_pt0_margin", "digits28_cnn_s11_pt0_margin"):
            measure(net, args.benchmarks / "networks" / f"{net}.npz", -0.03, 0.03, args.time_limit)
    print(f"after: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
