"""Command line: `lipmiq bound NETWORK [domain] [-p P] [-q Q] [--output K] [--method M] [--json]`.

Exit codes: 0 success (whatever the gap), 2 bad input or usage, 1 internal error.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import traceback
from typing import List, Optional

import numpy as np

from .api import lipschitz
from .domain import Ball, Box, Global
from .errors import InputError
from .norms import parse_norm


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


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="lipmiq", description="Certified Lipschitz bounds of ReLU networks")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    b = sub.add_parser("bound", help="bound the Lipschitz constant of a network on a domain")
    b.add_argument("network", help="network file (.npz with W0,b0,W1,b1,...)")
    dom = b.add_mutually_exclusive_group()
    dom.add_argument("--box", nargs=2, type=_number, metavar=("LO", "HI"), help="the box [LO, HI]^n")
    dom.add_argument("--center", metavar="FILE_OR_LIST", help="center of a ball domain")
    dom.add_argument("--global", dest="global_", action="store_true", help="all of R^n (the default)")
    b.add_argument("--radius", type=_number, help="radius of the ball domain")
    b.add_argument("--ball-norm", default="inf", help="norm of the ball domain: 1, 2 or inf (default inf)")
    b.add_argument("-p", default="2", help="input norm: 1, 2 or inf (default 2)")
    b.add_argument("-q", default="2", help="output norm: 1, 2 or inf (default 2)")
    b.add_argument("--output", help="bound one output index only (default: all outputs)")
    b.add_argument("--method", default="miqcqp", help="miqcqp (default), naive or sample")
    b.add_argument("--encoding", default="quadratic", help="miqcqp products: quadratic (default) or bigm")
    b.add_argument("--time-limit", type=_number, default=60.0, help="seconds (default 60)")
    b.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    b.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    return parser


def _domain(args: argparse.Namespace):
    if args.center is not None:
        if args.radius is None:
            raise InputError("--center needs --radius")
        return Ball(_center(args.center), args.radius, parse_norm(args.ball_norm, "--ball-norm"))
    if args.radius is not None:
        raise InputError("--radius needs --center")
    if args.box is not None:
        return Box(args.box[0], args.box[1])
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


def main(argv: Optional[List[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    debug = "--debug" in argv
    try:
        args = build_parser().parse_args(argv)
        result = lipschitz(args.network, _domain(args), p=args.p, q=args.q, output=_output(args.output),
                           method=args.method, time_limit=args.time_limit, encoding=args.encoding)
    except SystemExit as exc:
        return int(exc.code or 0)
    except InputError as exc:
        if debug:
            traceback.print_exc()
        sys.stderr.write(f"lipmiq: error: {exc}\n")
        return 2
    except Exception as exc:  # an internal failure: say so, exit 1
        if debug:
            traceback.print_exc()
        sys.stderr.write(f"lipmiq: internal error: {exc.__class__.__name__}: {exc} (rerun with --debug)\n")
        return 1
    if args.json:
        print(result.to_json())
    else:
        _print_human(result, args.network)
    return 0


if __name__ == "__main__":
    sys.exit(main())
