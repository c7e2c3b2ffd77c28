"""Memory estimate of a query before anything large is built, and the cap that refuses oversized ones.

The figures are worst cases (every hidden neuron unstable) from measurements of this code base on
SCIP 10 (pyscipopt 6.3): about 8 KB per model variable or constraint (SCIP's variable, constraint,
nonlinear-handler and LP structures) and 100 bytes per nonzero, doubled for the branch-and-bound tree
and the strict model of the search; the cheap stages add bound propagation (symbolic bounds hold an
(neurons, inputs + 1) matrix per side) and the sampling batch of `methods/sample.py`.
A 10-1000-1000-1 network measured 374 MB after a 2 s solve; this estimate gives 364 MB before doubling.
"""
from __future__ import annotations

import math
import os
import re
import zipfile
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from .errors import InputError

BYTES_PER_ITEM = 8_000        # one SCIP variable or constraint with its LP row/column
BYTES_PER_NONZERO = 100       # one coefficient of a linear row (SCIP + LP copies)
SEARCH_FACTOR = 2.0           # branch-and-bound tree, transformed problem, strict model
SAMPLE_ROWS = 2048            # sample.py's initial batch
SAMPLE_CHUNK_ENTRIES = 4_000_000  # sample.py's Jacobian chunk (float64 entries)
SCIP_METHODS = ("miqcqp", "milp")
FALLBACK_CAP = 4 * 1024 ** 3  # when the physical memory size is unknown
ENV_CAP = "LIPMIQ_MAX_MODEL_BYTES"


@dataclass(frozen=True)
class Estimate:
    """Worst-case size of a query: SCIP model counts (0 when no model is built) and total bytes."""

    variables: int
    constraints: int
    nonzeros: int
    model_bytes: float
    other_bytes: float

    @property
    def bytes(self) -> float:
        return self.model_bytes + self.other_bytes

    def describe(self) -> str:
        text = f"about {human_bytes(self.bytes)}"
        if self.variables:
            text += (f" ({self.variables:,} variables, {self.constraints:,} constraints, "
                     f"{self.nonzeros:,} nonzeros in the solver model)")
        return text


def human_bytes(value: float) -> str:
    """1536 -> '1.5 KB' (powers of 1024, as memory is sold)."""
    for unit in ("bytes", "KB", "MB", "GB", "TB", "PB"):
        if value < 1024 or unit == "PB":
            return f"{value:.0f} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024.0
    raise AssertionError("unreachable")


def estimate_sizes(sizes: Sequence[int], method: str = "miqcqp", encoding: str = "quadratic") -> Estimate:
    """Estimate for a network with layer sizes [n_in, h_1, ..., h_{L-1}, n_out] (before it is built)."""
    sizes = [int(s) for s in sizes]
    n, m, hidden = sizes[0], sizes[-1], sizes[1:-1]
    H = sum(hidden)
    weights = sum(sizes[k + 1] * (sizes[k] + 1) for k in range(len(sizes) - 1))
    other = 8.0 * weights * 3                                # network, output-selected and reduced copies
    other += 8.0 * 4 * H * (n + 2)                          # symbolic bounds: two sides, two halves
    rows = min(SAMPLE_ROWS, max(1, SAMPLE_CHUNK_ENTRIES // max(1, n * m)))
    other += 8.0 * rows * (2 * H + n * m)                   # forward pass, masks and Jacobians of a chunk
    if method not in SCIP_METHODS:
        return Estimate(0, 0, 0, 0.0, other)
    per_neuron_cons = 12 if encoding == "bigm" else 5
    variables = 2 * n + 5 * H + 2 * m + 2
    constraints = per_neuron_cons * H + 2 * m + 2
    nonzeros = 2 * weights + 8 * H + 4 * m
    model = SEARCH_FACTOR * (BYTES_PER_ITEM * (variables + constraints) + BYTES_PER_NONZERO * nonzeros)
    return Estimate(variables, constraints, nonzeros, model, other)


def default_cap() -> float:
    """LIPMIQ_MAX_MODEL_BYTES if set, else half of the physical memory (4 GB if unknown)."""
    env = os.environ.get(ENV_CAP)
    if env:
        return check_cap(env, ENV_CAP)
    try:
        return 0.5 * os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return float(FALLBACK_CAP)


def check_cap(value: object, what: str = "max_model_bytes") -> float:
    try:
        cap = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InputError(f"{what} must be a number of bytes, got {value!r}") from None
    if math.isnan(cap) or cap <= 0:
        raise InputError(f"{what} must be > 0 bytes, got {value!r}")
    return cap


def enforce(sizes: Sequence[int], method: str, encoding: str, cap: Optional[object], name: str) -> Estimate:
    """Refuse (InputError) a query whose estimate exceeds the cap (default: `default_cap()`)."""
    limit = default_cap() if cap is None else check_cap(cap)
    est = estimate_sizes(sizes, method, encoding)
    if est.bytes > limit:
        raise InputError(
            f"{name}: the {method} method would need {est.describe()} for layer sizes "
            f"{_short(sizes)}, above the memory cap of {human_bytes(limit)} "
            f"(max_model_bytes / {ENV_CAP}); use a smaller network or raise the cap")
    return est


def _short(sizes: Sequence[int]) -> str:
    s = [int(v) for v in sizes]
    return "-".join(map(str, s)) if len(s) <= 8 else "-".join(map(str, s[:4])) + "-...-" + str(s[-1])
