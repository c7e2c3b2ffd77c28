"""Command line: `lipmiq bound | radius | monotone | batch | plot ...` (`lipmiq COMMAND -h` for each).

`lipmiq bound NETWORK [domain] [-p P] [-q Q] [--output K] [--method M] [--json]` follows
docs/conventions.md. Exit codes: 0 success (whatever the gap or status), 2 bad input or usage (one
line naming the problem), 1 internal error, 141 (silently) when the reader of standard output left. `batch`: 0 when every query returned a result, 2 when some
query was refused as bad input, 1 when a worker failed; each failure is reported on its own line.
"""
from __future__ import annotations

import argparse
import contextlib
import math
import os
import select
import sys
import time
import traceback
from typing import List, Optional

import numpy as np

from ..api import check_time_limit, lipschitz
from ..domain import Ball, Box, Global
from ..errors import InputError
from ..io import load
from ..jsonout import dumps
from ..methods import METHODS, method_options
from ..norms import parse_norm
from ..versions import lipmiq_version, versions
from .points import read_center, read_points
from .progress import Progress, write_history

IMPORTED = time.perf_counter()
MIN_SOLVE_SECONDS = 0.01
NETWORK_HELP = ("network file: .npz (arrays W0, b0, W1, b1, ...), .onnx (extra 'onnx'), .nnet (ACAS Xu format), "
                ".pt/.pth (torch state dict, extra 'torch')")
METHOD_OPTION_FLAGS = ("encoding", "tighten", "region_share", "gradient_share", "sdp_share", "bab_share", "gap", "seed")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # usage errors exit 2 with one clear line
        self.print_usage(sys.stderr)
        sys.stderr.write(f"lipmiq: error: {message}\n")
        sys.exit(2)


class _Version(argparse.Action):
    """`--version`: lipmiq's version and the SCIP and HiGHS it runs on (asked only when requested)."""

    def __init__(self, option_strings, dest, **kwargs):
        super().__init__(option_strings, dest, nargs=0, help="print the versions of lipmiq, SCIP and HiGHS and exit")

    def __call__(self, parser, namespace, values, option_string=None):
        v = versions()
        print(f"lipmiq {lipmiq_version()} (SCIP {v['scip']}, HiGHS {v['highs']})")
        parser.exit(0)


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None


def _output_text(text: Optional[str]):
    """--output: None for all outputs, an index, or a weight vector c (comma list) for c^T f."""
    if text is None or text == "all":
        return None
    if "," in text:
        try:
            return [float(t) for t in text.split(",") if t.strip()]
        except ValueError:
            raise InputError(f"--output {text!r}: a weight vector must be a comma list of numbers") from None
    try:
        return int(text)
    except ValueError:
        raise InputError(f"--output must be an output index, 'all' or a comma list of weights, got {text!r}") from None


def _output(args: argparse.Namespace, n_outputs: int):
    """The `output` of the query: --output as given, or e_LABEL - e_OTHER for --margin LABEL OTHER."""
    if args.margin is None:
        return _output_text(args.output)
    label, other = args.margin
    for k in (label, other):
        if not 0 <= k < n_outputs:
            raise InputError(f"--margin class {k} is out of range: the network has {n_outputs} outputs")
    if label == other:
        raise InputError(f"--margin needs two different classes, got {label} twice")
    c = np.zeros(n_outputs)
    c[label], c[other] = 1.0, -1.0
    return c.tolist()


def _add_output(parser: argparse.ArgumentParser) -> None:
    out = parser.add_mutually_exclusive_group()
    out.add_argument("--output", metavar="K|all|C", help="bound output index K, or c^T f for a comma list of "
                     "weights C (e.g. 1,-1,0); default: all outputs")
    out.add_argument("--margin", nargs=2, type=_integer, metavar=("LABEL", "OTHER"),
                     help="bound the margin f_LABEL - f_OTHER")


def _add_norms(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-p", default="2", help="input norm: 1, 2 or inf (default 2)")
    parser.add_argument("-q", default="2", help="output norm: 1, 2 or inf (default 2)")


def _add_domain(parser: argparse.ArgumentParser) -> None:
    dom = parser.add_mutually_exclusive_group()
    dom.add_argument("--box", nargs=2, type=_number, metavar=("LO", "HI"), help="the box [LO, HI]^n")
    dom.add_argument("--center", metavar="FILE_OR_LIST", help="center of a ball domain: .npy, a text file "
                     "(numbers separated by spaces, commas or newlines) or a comma list")
    dom.add_argument("--global", dest="global_", action="store_true",
                     help="all of R^n (the default; for a .nnet network the default is its input box)")
    dom.add_argument("--vnnlib", metavar="FILE", help="the input box of a VNN-LIB specification")
    parser.add_argument("--radius", type=_number, help="radius of the ball domain")
    parser.add_argument("--ball-norm", default="inf", help="norm of the ball domain: 1, 2 or inf (default inf)")


def _add_method(parser: argparse.ArgumentParser, default_help: str) -> None:
    """--method and the method options (each method refuses the ones it does not take)."""
    parser.add_argument("--method", default="miqcqp", help=default_help)
    parser.add_argument("--encoding", help="miqcqp products: quadratic (default) or bigm")
    parser.add_argument("--tighten", help="miqcqp/milp variable bounds: none (intervals), symbolic or lp "
                        "(default: lp for miqcqp, symbolic for milp)")
    parser.add_argument("--region-share", type=_number,
                        help="miqcqp: share of the time for the region branch-and-bound before SCIP (default 0.25; 0 skips it)")
    parser.add_argument("--gradient-share", type=_number, help="miqcqp: share of the time at most for the "
                        "gradient-bound engine's first bound (default 0.1; 0 skips the engine and its branch-and-bound)")
    parser.add_argument("--sdp-share", type=_number, help="miqcqp: share of the time at most for LipSDP's first "
                        "bound when p = 2 (default 0.1; 0 skips LipSDP and its branch-and-bound)")
    parser.add_argument("--bab-share", type=_number, help="miqcqp: share of the time for the engine's "
                        "branch-and-bound on networks with more than 20 unstable neurons (default 0.95; 0 skips it)")
    parser.add_argument("--gap", type=_number, help="miqcqp/milp: relative gap at which SCIP stops (default 1e-7)")
    parser.add_argument("--seed", type=_integer, help="random seed of sampling and SCIP (default 0)")


def _add_common(parser: argparse.ArgumentParser, time_limit: float = 60.0, json_help: str = "") -> None:
    parser.add_argument("--time-limit", type=_number, default=time_limit, help=f"seconds (default {time_limit:g})")
    parser.add_argument("--json", action="store_true", help=json_help or "print one JSON object on stdout")
    parser.add_argument("--quiet", action="store_true", help="nothing on stderr but errors (no progress, no notes)")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")


@contextlib.contextmanager
def _stdout_to_stderr(active: bool):
    """Point the process's stdout (fd 1) at stderr while solving: SCIP's C code prints there (e.g.
    'pressed CTRL-C'), and with --json stdout must hold the JSON document only."""
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


def _process_seconds() -> float:
    """Seconds since this process started (Linux: from /proc; elsewhere since lipmiq was imported)."""
    try:
        with open("/proc/self/stat") as fh:
            start_ticks = float(fh.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime") as fh:
            uptime = float(fh.read().split()[0])
        return max(uptime - start_ticks / os.sysconf("SC_CLK_TCK"), 0.0)
    except (OSError, ValueError, IndexError):
        return time.perf_counter() - IMPORTED


class _Budget:
    """A command's time limit covers all of it: from the process's start when it runs as a command (Python's
    start-up, the imports and loading the network count), from `main`'s call when embedded (tests)."""

    def __init__(self, as_command: bool):
        self.start = time.perf_counter() - (_process_seconds() if as_command else 0.0)

    def left(self, time_limit: float) -> float:
        """What remains for the solve (positive: it starts at once and stops with the bounds it has)."""
        return max(check_time_limit(time_limit) - (time.perf_counter() - self.start), MIN_SOLVE_SECONDS)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="lipmiq", description="Certified Lipschitz bounds of ReLU networks")
    parser.add_argument("--version", action=_Version)
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    methods = ", ".join(METHODS)

    b = sub.add_parser("bound", help="bound the Lipschitz constant of a network on a domain")
    b.add_argument("network", help=NETWORK_HELP)
    _add_domain(b)
    _add_norms(b)
    _add_output(b)
    _add_method(b, f"{methods} (default miqcqp; naive: upper bound only, sample: lower bound only)")
    b.add_argument("--history", metavar="FILE", help="write the bound trace [[t, lower, upper], ...] as JSON")
    _add_common(b)

    r = sub.add_parser("radius", help="certified robustness radius of a classifier at an input")
    r.add_argument("network", help=NETWORK_HELP)
    r.add_argument("--center", required=True, metavar="FILE_OR_LIST", help="the input x0 (as for bound --center)")
    r.add_argument("-p", default="2", help="norm of the radius: 1, 2 or inf (default 2)")
    _add_method(r, "method of the local margin bounds (default miqcqp)")
    r.add_argument("--max-rounds", type=_integer, default=8, help="ball sizes tried (default 8)")
    _add_common(r)

    m = sub.add_parser("monotone", help="certify the sign of d f_K / d x_I over a domain")
    m.add_argument("network", help=NETWORK_HELP)
    m.add_argument("--output", required=True, type=_integer, metavar="K", help="output index K")
    m.add_argument("--input", required=True, type=_integer, metavar="I", help="input index I")
    _add_domain(m)
    m.add_argument("--encoding", default="quadratic", help="quadratic (default) or bigm")
    m.add_argument("--tighten", default="symbolic", help="none, symbolic (default) or lp")
    m.add_argument("--seed", type=_integer, default=0, help="random seed of the sampling (default 0)")
    _add_common(m)

    a = sub.add_parser("batch", help="local Lipschitz bounds around many points, as JSON lines")
    a.add_argument("network", help=NETWORK_HELP)
    a.add_argument("points", help="points, one per row: .npy, or a text file (numbers separated by spaces or commas)")
    a.add_argument("--radius", required=True, type=_number, help="radius of the ball around each point")
    a.add_argument("--ball-norm", default="inf", help="norm of the balls: 1, 2 or inf (default inf)")
    _add_norms(a)
    _add_output(a)
    _add_method(a, f"{methods} (default miqcqp)")
    a.add_argument("--workers", type=_integer, default=2, help="local worker processes (default 2)")
    a.add_argument("--scheduler", metavar="ADDRESS", help="run on the Dask scheduler at ADDRESS (extra 'dask')")
    _add_common(a, json_help="accepted for uniformity: batch always prints one JSON object per query")

    pl = sub.add_parser("plot", help="bounds versus time of a result JSON (extra 'plot')")
    pl.add_argument("result", help="a result JSON (bound --json) or a --history file")
    pl.add_argument("-o", "--out", metavar="OUT.png", help="picture file (default: RESULT.png)")
    pl.add_argument("--quiet", action="store_true", help="do not print the picture's path")
    pl.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    return parser


def _note(args: argparse.Namespace, text: str) -> None:
    if not args.quiet:
        sys.stderr.write(f"lipmiq: note: {text}\n")


def _domain(args: argparse.Namespace, n_inputs: int):
    if args.center is not None:
        if args.radius is None:
            raise InputError("--center needs --radius")
        return Ball(read_center(args.center), args.radius, parse_norm(args.ball_norm, "--ball-norm"))
    if args.radius is not None:
        raise InputError("--radius needs --center")
    if args.box is not None:
        return Box(args.box[0], args.box[1])
    if args.vnnlib is not None:
        from ..io.vnnlib import read_vnnlib

        box, notes = read_vnnlib(args.vnnlib, n_inputs)
        for note in notes:
            _note(args, note)
        return box
    if not args.global_ and args.network.lower().endswith(".nnet"):
        from ..io.nnet import load_nnet

        return load_nnet(args.network)[1]
    return Global()


def _method_options(args: argparse.Namespace) -> dict:
    """The method options given on the command line, checked for --method (its defaults otherwise)."""
    given = {name: getattr(args, name) for name in METHOD_OPTION_FLAGS if getattr(args, name) is not None}
    method_options(args.method).validate(args.method, given)  # before loading anything: exit 2 naming it
    return given


def _print_human(result, network_path: str) -> None:
    d = result.to_dict()
    upper = "inf" if math.isinf(result.upper) else f"{result.upper:.10g}"
    stats = result.stats
    stages = ", ".join(f"{name} {t:.2f} s" for name, t in stats.get("stages", {}).items())
    lines = [
        f"network  {network_path}",
        f"query    p={d['p']} q={d['q']} output={d['output']} domain={d['domain']}",
        f"lower    {result.lower:.10g}" + ("   (witness re-checked)" if result.witness is not None else ""),
        f"upper    {upper}",
        f"exact    {'yes' if result.exact else 'no (gap %.4g)' % result.gap}",
        f"status   {result.status}   method {result.method}   time {result.time_s:.2f} s",
    ]
    if stages:
        lines.append(f"stages   {stages} (lower by {stats['lower_by']}, upper by {stats['upper_by']})")
    if result.message:
        lines.append(f"note     {result.message}")
    print("\n".join(lines))


def _bound(args: argparse.Namespace) -> int:
    options = _method_options(args)
    if args.history and not os.path.isdir(os.path.dirname(os.path.abspath(args.history))):
        raise InputError(f"{args.history}: cannot write the history (no such directory)")
    net = load(args.network)
    domain = _domain(args, net.input_dim)
    output = _output(args, net.output_dim)
    with _stdout_to_stderr(args.json), Progress(enabled=False if args.quiet else None) as progress:
        result = lipschitz(net, domain, p=args.p, q=args.q, output=output, method=args.method,
                           time_limit=args.budget.left(args.time_limit), on_update=progress, **options)
    if args.history:
        write_history(args.history, result.history)
    if args.json:
        print(result.to_json())
    else:
        _print_human(result, args.network)
    return 0


def _radius(args: argparse.Namespace) -> int:
    from ..analyses.radius import certified_radius

    options = _method_options(args)
    center = read_center(args.center)
    with _stdout_to_stderr(args.json), Progress(enabled=False if args.quiet else None) as progress:
        def show(partial) -> None:
            R, r = partial.rounds[-1]
            progress.draw(f"round {len(partial.rounds) - 1}  ball {R:.6g}  gives {r:.6g}  "
                          f"certified {partial.radius:.6g}  {partial.time_s:7.1f} s")

        res = certified_radius(args.network, center, p=args.p, time_limit=args.budget.left(args.time_limit),
                               method=args.method, max_rounds=args.max_rounds, on_round=show, **options)
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
    domain = _domain(args, net.input_dim)
    with _stdout_to_stderr(args.json):
        res = monotonicity(net, domain, output=args.output, input=args.input, time_limit=args.budget.left(args.time_limit),
                           encoding=args.encoding, tighten=args.tighten, seed=args.seed)
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


def _batch(args: argparse.Namespace) -> int:
    from ..analyses.batch import batch, dask_client

    options = _method_options(args)
    net = load(args.network)
    points = read_points(args.points, net.input_dim)
    norm = parse_norm(args.ball_norm, "--ball-norm")
    if not (math.isfinite(args.radius) and args.radius >= 0):
        raise InputError(f"--radius must be finite and >= 0, got {args.radius!r}")
    common = dict(options, network=net, p=parse_norm(args.p, "input norm p"), q=parse_norm(args.q, "output norm q"),
                  output=_output(args, net.output_dim), method=args.method, time_limit=args.time_limit)
    queries = [dict(common, domain=Ball(x, args.radius, norm)) for x in points]
    client = dask_client(args.scheduler) if args.scheduler else None
    failed = {"input": 0, "internal": 0}
    try:
        executor = None if client is None else client.get_executor()
        for item in batch(queries, executor=executor, max_workers=args.workers):
            line: dict = {"index": item.index, "center": points[item.index]}
            if item.ok:
                line["result"] = item.result.to_dict()
            else:
                failed[item.error_kind] += 1
                line["error"], line["error_kind"] = item.error, item.error_kind
            print(dumps(line), flush=True)
    finally:
        if client is not None:
            client.close()
    if any(failed.values()) and not args.quiet:
        sys.stderr.write(f"lipmiq: {failed['input']} of {len(queries)} queries refused as bad input, "
                         f"{failed['internal']} failed inside lipmiq (see their 'error' lines)\n")
    return 1 if failed["internal"] else 2 if failed["input"] else 0


def _plot(args: argparse.Namespace) -> int:
    from .plot import plot_file

    out = plot_file(args.result, args.out)
    if not args.quiet:
        print(out)
    return 0


COMMANDS = {"bound": _bound, "radius": _radius, "monotone": _monotone, "batch": _batch, "plot": _plot}


def main(argv: Optional[List[str]] = None) -> int:
    budget = _Budget(as_command=argv is None)
    argv = sys.argv[1:] if argv is None else argv
    debug = "--debug" in argv
    try:
        args = build_parser().parse_args(argv)
        args.budget = budget
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
    except BrokenPipeError as exc:
        if not _reader_left():  # another pipe (a worker's): an internal failure
            return _internal(exc, debug)
        return 141  # 128 + SIGPIPE, as a shell reports a process its pipe killed
    except Exception as exc:  # an internal failure: say so, exit 1
        return _internal(exc, debug)


def _internal(exc: BaseException, debug: bool) -> int:
    if debug:
        traceback.print_exc()
    sys.stderr.write(f"lipmiq: internal error: {exc.__class__.__name__}: {exc} (rerun with --debug)\n")
    return 1


def _reader_left() -> bool:
    """True when standard output's pipe is the one that broke (`lipmiq ... | head`: polling its write end reports
    an error once the read end is closed). Standard output then goes to /dev/null, so the interpreter's flush at
    exit stays quiet."""
    try:
        fd = sys.stdout.fileno()
        poller = select.poll()
        poller.register(fd, select.POLLOUT)
        if not any(events & select.POLLERR for _, events in poller.poll(0)):
            return False
        os.dup2(os.open(os.devnull, os.O_WRONLY), fd)
        return True
    except (OSError, ValueError, AttributeError):  # no file descriptor behind it (captured in-process), no poll
        return False
