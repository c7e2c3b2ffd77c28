"""Bounding methods. Each takes a Problem and a Tracker, offers bounds to the tracker, and returns
(status, message) saying why it stopped."""
from __future__ import annotations

from typing import Callable, Dict, Tuple

from ..problem import Problem
from ..tracker import Tracker

MethodFn = Callable[[Problem, Tracker, dict], Tuple[str, str]]


def get_method(name: str) -> MethodFn:
    from . import enumerate as enumerate_
    from . import gradient_bab, lipsdp, milp, miqcqp, naive, sample

    methods: Dict[str, MethodFn] = {"naive": naive.run, "sample": sample.run, "miqcqp": miqcqp.run,
                                    "milp": milp.run, "lipsdp": lipsdp.run,
                                    "enumerate": enumerate_.run, "bab": gradient_bab.run}
    if name not in methods:
        from ..errors import InputError

        raise InputError(f"unknown method {name!r}; choose one of {', '.join(sorted(methods))}")
    return methods[name]
