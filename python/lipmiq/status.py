"""What a result's `status` may say, and the one rule that turns a method's own account into it.

A method reports why it stopped (its raw status); whether the bounds meet is a fact of the bounds, not
of the method, so `settle` decides `optimal` and `gap_limit` from the certified bounds alone: no method
can claim a closed gap it does not have (docs/conventions.md).
"""
from __future__ import annotations

import math
from types import MappingProxyType
from typing import Mapping, Optional

from .result import is_exact

STATUSES: Mapping[str, str] = MappingProxyType({
    "optimal": "lower and upper meet (exact: upper - lower <= 1e-6 * max(1, upper)); the value is known",
    "gap_limit": "the certified relative gap (upper - lower) / upper is within the requested `gap` option",
    "finished": "the method ran to completion without proving that the bounds meet",
    "time_limit": "the time limit stopped the method before the bounds met",
    "interrupted": "Ctrl-C or SIGTERM stopped the method",
    "error": "a solver failure, numerical trouble, a failed witness re-check or inconsistent bounds "
             "(the message says which)",
})


def relative_gap(lower: float, upper: float) -> float:
    """(upper - lower) / upper: 0 when upper is 0, inf when no upper bound is known."""
    if not math.isfinite(upper):
        return math.inf
    return 0.0 if upper <= 0.0 else max(upper - lower, 0.0) / upper


def settle(raw: str, lower: float, upper: float, gap: Optional[float] = None) -> str:
    """The status of a result from the method's raw status and the certified bounds.

    `error` and `interrupted` stand (they say what happened to the bounds); otherwise `optimal` exactly
    when the bounds meet, `gap_limit` only when the certified relative gap is within the requested `gap`
    (None: the method has no gap option) after a method that stopped on its own, and `finished` for a
    method that stopped on its own with a gap left. A raw status outside STATUSES is an `error`.
    """
    if raw not in STATUSES:
        return "error"
    if raw in ("error", "interrupted"):
        return raw
    if is_exact(lower, upper):
        return "optimal"
    if raw == "time_limit":
        return raw
    if gap is not None and relative_gap(lower, upper) <= gap and lower <= upper:
        return "gap_limit"
    return "finished"
