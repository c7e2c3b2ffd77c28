"""Command line: `lipmiq bound | radius | monotone | batch | plot ...` (`lipmiq COMMAND -h` for each).

`lipmiq bound NETWORK [domain] [-p P] [-q Q] [--output K] [--method M] [--json]` follows CONVENTIONS.md.
Exit codes: 0 success (whatever the gap), 2 bad input or usage, 1 internal error (for `batch`: 1 when
some query failed; each failure is reported on its own line).
"""
from __future__ import annotations

import argparse
import contextlib
import math
import os
import sys
import traceback
from typing import List, Optional

import numpy as np

from ..api import lipschitz
from ..domain import Ball, Box, Global
from ..errors import InputError
from ..io import load
from ..jsonout import dumps
from ..norms import parse_norm
from .progress import Progress, write_history


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # usage errors exit 2 with one clear line
        self.print_usage(sys.stderr)
        sys.stderr.write(f"lipmiq: error: {message}\n")
        sys.exit(2)


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None


def _center(text: str) -> np.ndarray:
    """A center given as a .npy/.txt file or a comma/space separated list."""
    if os.path.isfile(text):
        try:
            arr = np.load(text, allow_pickle=False) if text.endswith(".npy") else np.loadtxt(text, ndmin=1)
        except Exception as exc:
            raise InputError(f"{text}: cannot read the center ({exc})") from None
        return np.asarray(arr, dtype=np.float64).reshape(-1)
    try:
        return np.array([float(t) for t in text.replace(",", " ").split()])
    except ValueError:
        raise InputError(f"--center {text!r} is neither a file nor a list of numbers") from None


def _output(text: Optional[str]):
    if text is None or text == "all":
        return None
    try:
        return int(text)
    except ValueError:
        raise InputError(f"--output must be an output index or 'all', got {text!r}") from None


def _add_domain(parser: argparse.ArgumentParser) -> None:
    dom = parser.add_mutually_exclusive_group()
    dom.add_argument("--box", nargs=2, type=_number, metavar=("LO", "HI"), help="the box [LO, HI]^n")
    dom.add_argument("--center", metavar="FILE_OR_LIST", help="center of a ball domain")
    dom.add_argument("--global", dest="global_", action="store_true",
                     help="all of R^n (the default; for a .nnet network the default is its input box)")
    dom.add_argument("--vnnlib", metavar="FILE", help="the input box of a VNN-LIB specification")
    parser.add_argument("--radius", type=_number, help="radius of the ball domain")
    parser.add_argument("--ball-norm", default="inf", help="norm of the ball domain: 1, 2 or inf (default inf)")


def _add_common(parser: argparse.ArgumentParser, time_limit: float = 60.0, json_flag: bool = True) -> None:
    parser.add_argument("--time-limit", type=_number, default=time_limit, help=f"seconds (default {time_limit:g})")
    if json_flag:
        parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")


@contextlib.contextmanager
def _stdout_to_stderr(active: bool):
    """Point the process's stdout (fd 1) at stderr while solving: SCIP's C code prints there (e.g.
    'pressed CTRL-C'), and with --json stdout must hold the JSON object only."""
    if not active:
        yield
        return
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="lipmiq", description="Certified Lipschitz bounds of ReLU networks")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    b = sub.add_parser("bound", help="bound the Lipschitz constant of a network on a domain")
    b.add_argument("network", help="network file (.npz with W0,b0,W1,b1,...)")
    _add_domain(b)
    b.add_argument("-p", default="2", help="input norm: 1, 2 or inf (default 2)")
    b.add_argument("-q", default="2", help="output norm: 1, 2 or inf (default 2)")
    b.add_argument("--output", help="bound one output index only (default: all outputs)")
    b.add_argument("--method", default="miqcqp",
                   help="miqcqp (default), enumerate, milp, lipsdp, naive (upper only) or sample (lower only)")
    b.add_argument("--encoding", help="miqcqp products: quadratic (default) or bigm")
    b.add_argument("--tighten", choices=("none", "symbolic", "lp"), default=None,
                   help="miqcqp variable bounds: none (intervals), symbolic or lp (default: the method's)")
    b.add_argument("--region-share", type=_number, default=None,
                   help="miqcqp: share of the time for the region branch-and-bound before SCIP (default 0.25; 0 skips it)")
    b.add_argument("--quiet", action="store_true", help="no progress display on stderr")
    b.add_argument("--history", metavar="FILE", help="write the bound trace [[t, lower, upper], ...] as JSON")
    _add_common(b)

    r = sub.add_parser("radius", help="certified robustness radius of a classifier at an input")
    r.add_argument("network", help="network file")
    r.add_argument("--center", required=True, metavar="FILE_OR_LIST", help="the input x0")
    r.add_argument("-p", default="2", help="norm of the radius: 1, 2 or inf (default 2)")
    r.add_argument("--method", default="miqcqp", help="method of the local margin bounds (default miqcqp)")
    r.add_argument("--max-rounds", type=int, default=8, help="ball sizes tried (default 8)")
    r.add_argument("--quiet", action="store_true", help="no progress display on stderr")
    _add_common(r)

    m = sub.add_parser("monotone", help="certify the sign of d f_K / d x_I over a domain")
    m.add_argument("network", help="network file")
    m.add_argument("--output", required=True, type=int, metavar="K", help="output index K")
    m.add_argument("--input", required=True, type=int, metavar="I", help="input index I")
    _add_domain(m)
    m.add_argument("--encoding", default="quadratic", help="quadratic (default) or bigm")
    _add_common(m)

    a = sub.add_parser("batch", help="local Lipschitz bounds around many points, as JSON lines")
    a.add_argument("network", help="network file")
    a.add_argument("points", help="points, one per row (.npy, or a text file)")
    a.add_argument("--radius", required=True, type=_number, help="radius of the ball around each point")
    a.add_argument("--ball-norm", default="inf", help="norm of the balls: 1, 2 or inf (default inf)")
    a.add_argument("-p", default="2", help="input norm: 1, 2 or inf (default 2)")
    a.add_argument("-q", default="2", help="output norm: 1, 2 or inf (default 2)")
    a.add_argument("--output", help="bound one output index only (default: all outputs)")
    a.add_argument("--method", default="miqcqp", help="miqcqp (default), naive or sample")
    a.add_argument("--workers", type=int, default=2, help="local worker processes (default 2)")
    a.add_argument("--scheduler", metavar="ADDRESS", help="run on the Dask scheduler at ADDRESS (extra 'dask')")
    _add_common(a, json_flag=False)

    pl = sub.add_parser("plot", help="bounds versus time of a result JSON (extra 'plot')")
    pl.add_argument("result", help="a result JSON (bound --json) or a --history file")
    pl.add_argument("-o", "--out", metavar="OUT.png", help="picture file (default: RESULT.png)")
    pl.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    return parser


def _domain(args: argparse.Namespace, n_inputs: int):
    if args.center is not None:
        if args.radius is None:
            raise InputError("--center needs --radius")
        return Ball(_center(args.center), args.radius, parse_norm(args.ball_norm, "--ball-norm"))
    if args.radius is not None:
        raise InputError("--radius needs --center")
    if args.box is not None:
        return Box(args.box[0], args.box[1])
    if args.vnnlib is not None:
        from ..io.vnnlib import read_vnnlib

        box, notes = read_vnnlib(args.vnnlib, n_inputs)
        for note in notes:
            sys.stderr.write(f"lipmiq: note: {note}\n")
        return box
    if not args.global_ and args.network.lower().endswith(".nnet"):
        from ..io.nnet import load_nnet

        return load_nnet(args.network)[1]
    return Global()


def _print_human(result, network_path: str) -> None:
    d = result.to_dict()
    upper = "inf" if math.isinf(result.upper) else f"{result.upper:.10g}"
    lines = [
        f"network  {network_path}",
        f"query    p={d['p']} q={d['q']} output={d['output']} domain={d['domain']}",
        f"lower    {result.lower:.10g}" + ("   (witness re-checked)" if result.witness is not None else ""),
        f"upper    {upper}",
        f"exact    {'yes' if result.exact else 'no (gap %.4g)' % result.gap}",
        f"status   {result.status}   method {result.method}   time {result.time_s:.2f} s",
    ]
    if result.message:
        lines.append(f"note     {result.message}")
    print("\n".join(lines))


def _method_options(args: argparse.Namespace) -> dict:
    """The method options given on the command line (the method's defaults otherwise)."""
    options = {"encoding": args.encoding, "tighten": args.tighten, "region_share": args.region_share}
    return {key: value for key, value in options.items() if value is not None}


def _bound(args: argparse.Namespace) -> int:
    if args.history and not os.path.isdir(os.path.dirname(os.path.abspath(args.history))):
        raise InputError(f"{args.history}: cannot write the history (no such directory)")
    net = load(args.network)
    domain = _domain(args, net.input_dim)
    with _stdout_to_stderr(args.json), Progress(enabled=False if args.quiet else None) as progress:
        result = lipschitz(net, domain, p=args.p, q=args.q, output=_output(args.output),
                           method=args.method, time_limit=args.time_limit, on_update=progress,
                           **_method_options(args))
    if args.history:
        write_history(args.history, result.history)
    if args.json:
        print(result.to_json())
    else:
        _print_human(result, args.network)
    return 0


def _radius(args: argparse.Namespace) -> int:
    from ..analyses.radius import certified_radius

    with Progress(enabled=False if args.quiet else None) as progress:
        def show(partial) -> None:
            R, r = partial.rounds[-1]
            progress.draw(f"round {len(partial.rounds) - 1}  ball {R:.6g}  gives {r:.6g}  "
                          f"certified {partial.radius:.6g}  {partial.time_s:7.1f} s")

        res = certified_radius(args.network, _center(args.center), p=args.p, time_limit=args.time_limit,
                               method=args.method, max_rounds=args.max_rounds, on_round=show)
    if args.json:
        print(res.to_json())
        return 0
    worst = min(res.bounds, key=lambda b: b.margin / b.upper if b.upper > 0 else math.inf) if res.bounds else None
    ball = "global bounds" if math.isinf(res.ball_radius) else f"ball radius {res.ball_radius:.6g}"
    lines = [f"class    {res.label}",
             f"radius   {res.radius:.10g}   (p={args.p}: no input closer than this changes the class)",
             f"from     {ball}, {len(res.rounds)} rounds, {res.time_s:.2f} s"]
    if worst is not None:
        lines.append(f"closest  class {worst.rival}: margin {worst.margin:.6g}, Lipschitz upper {worst.upper:.6g}")
    if res.message:
        lines.append(f"note     {res.message}")
    print("\n".join(lines))
    return 0


def _monotone(args: argparse.Namespace) -> int:
    from ..analyses.monotone import monotonicity

    net = load(args.network)
    res = monotonicity(net, _domain(args, net.input_dim), output=args.output, input=args.input,
                       time_limit=args.time_limit, encoding=args.encoding)
    if args.json:
        print(res.to_json())
        return 0
    print("\n".join([
        f"d f_{res.output} / d x_{res.input}   {res.verdict}",
        f"min      in [{res.lower:.10g}, {res.min_achieved:.10g}]",
        f"max      in [{res.max_achieved:.10g}, {res.upper:.10g}]",
        f"status   {res.status}   time {res.time_s:.2f} s",
    ] + ([f"note     {res.message}"] if res.message else [])))
    return 0


def _points(path: str, n: int) -> np.ndarray:
    if not os.path.isfile(path):
        raise InputError(f"{path}: no such file")
    try:
        arr = np.load(path, allow_pickle=False) if path.endswith(".npy") else np.loadtxt(path, ndmin=2, delimiter=None)
    except Exception as exc:
        raise InputError(f"{path}: cannot read the points ({exc})") from None
    arr = np.asarray(arr, dtype=np.float64)
    if arr.ndim == 1 and arr.size == n:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != n:
        raise InputError(f"{path}: points must have shape (N, {n}) for this network, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise InputError(f"{path}: point {int(np.argwhere(~np.isfinite(arr))[0][0])} has a non-finite entry")
    return arr


def _batch(args: argparse.Namespace) -> int:
    from ..analyses.batch import batch, dask_client

    net = load(args.network)
    points = _points(args.points, net.input_dim)
    norm = parse_norm(args.ball_norm, "--ball-norm")
    if not (math.isfinite(args.radius) and args.radius >= 0):
        raise InputError(f"--radius must be finite and >= 0, got {args.radius!r}")
    common = dict(network=net, p=parse_norm(args.p, "input norm p"), q=parse_norm(args.q, "output norm q"),
                  output=_output(args.output), method=args.method, time_limit=args.time_limit)
    queries = [dict(common, domain=Ball(x, args.radius, norm)) for x in points]
    client = dask_client(args.scheduler) if args.scheduler else None
    failed = 0
    try:
        executor = None if client is None else client.get_executor()
        for item in batch(queries, executor=executor, max_workers=args.workers):
            line: dict = {"index": item.index, "center": points[item.index].tolist()}
            if item.ok:
                line["result"] = item.result.to_dict()
            else:
                failed += 1
                line["error"] = item.error
            print(dumps(line), flush=True)
    finally:
        if client is not None:
            client.close()
    if failed:
        sys.stderr.write(f"lipmiq: {failed} of {len(queries)} queries failed (see their 'error' lines)\n")
    return 1 if failed else 0


def _plot(args: argparse.Namespace) -> int:
    from .plot import plot_file

    print(plot_file(args.result, args.out))
    return 0


COMMANDS = {"bound": _bound, "radius": _radius, "monotone": _monotone, "batch": _batch, "plot": _plot}


def main(argv: Optional[List[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    debug = "--debug" in argv
    try:
        args = build_parser().parse_args(argv)
        return COMMANDS[args.command](args)
    except SystemExit as exc:
        return int(exc.code or 0)
    except InputError as exc:
        if debug:
            traceback.print_exc()
        sys.stderr.write(f"lipmiq: error: {exc}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("lipmiq: interrupted\n")
        return 130
    except Exception as exc:  # an internal failure: say so, exit 1
        if debug:
            traceback.print_exc()
        sys.stderr.write(f"lipmiq: internal error: {exc.__class__.__name__}: {exc} (rerun with --debug)\n")
        return 1

