"""The result record of docs/conventions.md and the witness that certifies its lower bound."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, List, Optional

import numpy as np

from .jsonout import dumps, plain
from .norms import norm_name
from .tolerances import CONSISTENCY_RTOL, EXACT_RTOL
from .versions import versions


def is_exact(lower: float, upper: float) -> bool:
    """The bounds meet (and are consistent: a lower bound above the upper one is never exact)."""
    return (math.isfinite(upper) and lower <= upper * (1 + CONSISTENCY_RTOL) + 1e-300
            and upper - lower <= EXACT_RTOL * max(1.0, upper))


@dataclass
class Witness:
    """An input x, a direction v and the activation pattern at x: ||J(pattern) v||_q / ||v||_p = value."""

    x: np.ndarray
    v: np.ndarray
    pattern: List[np.ndarray]
    value: float
    min_margin: float

    def to_dict(self) -> dict:
        return {
            "x": self.x.tolist(),
            "v": self.v.tolist(),
            "pattern": [np.asarray(g, dtype=int).tolist() for g in self.pattern],
            "value": self.value,
            "min_margin": self.min_margin,
        }


@dataclass
class Result:
    lower: float
    upper: float
    status: str
    method: str
    p: float
    q: float
    domain: dict
    output: Any
    time_s: float
    witness: Optional[Witness] = None
    history: List[List[float]] = field(default_factory=list)
    message: str = ""
    stats: dict = field(default_factory=dict)
    options: dict = field(default_factory=dict)  # the method's options, checked, defaults filled in

    @property
    def exact(self) -> bool:
        return is_exact(self.lower, self.upper)

    @property
    def gap(self) -> float:
        return self.upper - self.lower

    @property
    def value(self) -> Optional[float]:
        """The Lipschitz constant when the bounds meet, else None."""
        return self.upper if self.exact else None

    def to_dict(self) -> dict:
        """The JSON document (docs/result.schema.json) as plain Python values; an infinite upper is None."""
        return plain({
            "lower": self.lower,
            "upper": self.upper,
            "exact": self.exact,
            "status": self.status,
            "method": self.method,
            "p": norm_name(self.p),
            "q": norm_name(self.q),
            "domain": self.domain,
            "output": "all" if self.output is None else self.output,
            "time_s": self.time_s,
            "witness": None if self.witness is None else self.witness.to_dict(),
            "history": self.history,
            "message": self.message,
            "stats": self.stats,
            "options": self.options,
            "versions": versions(),
        })

    def to_json(self, **kwargs: Any) -> str:
        """Strict JSON (no Infinity or NaN tokens)."""
        return dumps(self.to_dict(), **kwargs)

    def __str__(self) -> str:
        state = "exact" if self.exact else f"gap {self.gap:.3g}"
        return (f"Lipschitz({norm_name(self.p)}->{norm_name(self.q)}) in [{self.lower:.10g}, {self.upper:.10g}] "
                f"({state}, {self.status}, {self.method}, {self.time_s:.2f} s)")
