"""Bounding methods. Each module has `run(problem, tracker, options) -> (status, message)`, which offers
bounds to the tracker and says why it stopped, and `OPTIONS`, the options `run` reads (checked by
`lipschitz` before any work, so `run` sees every declared option with a valid value)."""
from __future__ import annotations

import importlib
from typing import Callable, Tuple

from ..errors import InputError
from ..options import Options
from ..problem import Problem
from ..tracker import Tracker

MethodFn = Callable[[Problem, Tracker, dict], Tuple[str, str]]
METHODS = ("miqcqp", "enumerate", "bab", "milp", "lipsdp", "naive", "sample")


def _module(name: str):
    if name not in METHODS:
        raise InputError(f"unknown method {name!r}; choose one of {', '.join(sorted(METHODS))}")
    return importlib.import_module(f"{__name__}.{name}")


def get_method(name: str) -> MethodFn:
    """The `run` function of a method (InputError for an unknown name)."""
    return _module(name).run


def method_options(name: str) -> Options:
    """The options a method declares (InputError for an unknown name)."""
    return _module(name).OPTIONS
