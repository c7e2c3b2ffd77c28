"""Method options: each method declares the options it reads (name, check, default, one-line doc) beside
its `run`; `lipschitz` checks the caller's options against that declaration before any work, so a typo
or a bad value is an InputError naming the valid choices instead of a silently ignored argument."""
from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, Mapping

import numpy as np

from .bounds import TIGHTEN
from .errors import InputError
from .formulation.model import ENCODINGS
from .tolerances import SCIP_GAP

Check = Callable[[Any], Any]  # returns the normalised value, or raises ValueError saying what is expected


def choice(*values: str) -> Check:
    """One of `values` (strings, compared in lower case)."""
    def check(value: Any) -> str:
        if isinstance(value, str) and value.lower() in values:
            return value.lower()
        raise ValueError(f"must be one of {', '.join(values)}")
    return check


def real(lo: float = -math.inf, hi: float = math.inf, lo_open: bool = False) -> Check:
    """A finite number in [lo, hi] (or (lo, hi] with `lo_open`)."""
    if math.isinf(hi):
        expected = f"a finite number {'>' if lo_open else '>='} {lo:g}"
    else:
        expected = f"a number in {'(' if lo_open else '['}{lo:g}, {hi:g}]"

    def check(value: Any) -> float:
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise ValueError(f"must be {expected}")
        x = float(value)
        if not math.isfinite(x) or x < lo or x > hi or (lo_open and x == lo):
            raise ValueError(f"must be {expected}")
        return x
    return check


def integer(lo: int = 0, hi: int = 2 ** 31 - 1) -> Check:
    """An integer in [lo, hi] (SCIP's integer parameters are C ints)."""
    def check(value: Any) -> int:
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or not lo <= value <= hi:
            raise ValueError(f"must be an integer in [{lo}, {hi}]")
        return int(value)
    return check


def flag(value: Any) -> bool:
    """True or False."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise ValueError("must be True or False")


def flag_or_auto(value: Any) -> Any:
    """True, False, or "auto" (the method decides, by a rule its option's doc states)."""
    if isinstance(value, str) and value.lower() == "auto":
        return "auto"
    try:
        return flag(value)
    except ValueError:
        raise ValueError('must be True, False or "auto"') from None


@dataclass(frozen=True)
class Option:
    """One option a method reads: `check` validates and normalises the caller's value."""

    name: str
    check: Check
    default: Any
    doc: str


class Options:
    """The options of one method, in the order they are documented."""

    def __init__(self, *options: Option):
        self.by_name: Dict[str, Option] = {o.name: o for o in options}

    def __iter__(self):
        return iter(self.by_name.values())

    def names(self) -> list:
        return list(self.by_name)

    def defaults(self) -> dict:
        return {o.name: o.default for o in self}

    def validate(self, method: str, given: Mapping[str, Any], also: Iterable[str] = ()) -> dict:
        """Every option with its checked value (defaults for the ones not given). `also` names the other
        keyword arguments the caller accepts, offered as suggestions for a misspelt option."""
        out = self.defaults()
        for name, value in given.items():
            option = self.by_name.get(name)
            if option is None:
                raise InputError(unknown_message(method, name, self.names(), list(also)))
            try:
                out[name] = option.check(value)
            except ValueError as exc:
                raise InputError(f"option {name}={value!r} of method {method!r} {exc}: {option.doc}") from None
        return out


def unknown_message(method: str, name: str, valid: list, also: list) -> str:
    """'unknown option ... (did you mean ...?); method ... takes ...' on one line."""
    close = difflib.get_close_matches(str(name), valid + also, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    takes = ", ".join(sorted(valid)) if valid else "no options"
    text = f"unknown option {name!r} for method {method!r}{hint}; {method!r} takes {takes}"
    if also:
        text += f"; lipschitz() itself takes {', '.join(also)}"
    return text


# Options shared by several methods (each method picks its own default where they differ).
def seed(doc: str = "random seed of sampling and of SCIP's randomisation") -> Option:
    return Option("seed", integer(), 0, doc)


def gap(doc: str = "relative gap at which SCIP stops (status gap_limit when the certified gap is within it)") -> Option:
    return Option("gap", real(0.0), SCIP_GAP, doc)


def tighten(default: str) -> Option:
    return Option("tighten", choice(*TIGHTEN), default,
                  "variable bounds of the SCIP model: none (intervals), symbolic or lp")


def encoding(default: str = "quadratic") -> Option:
    return Option("encoding", choice(*ENCODINGS), default,
                  "products of the MIQCQP: quadratic (bilinear) or bigm (linearised)")


def check_argument(check: Check, value: Any, name: str, what: str) -> Any:
    """Check an explicit keyword argument of an analysis with an option checker (InputError on failure)."""
    try:
        return check(value)
    except ValueError as exc:
        raise InputError(f"{name}={value!r} of {what} {exc}") from None
