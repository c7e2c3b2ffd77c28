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


def npz_headers(path: str) -> Dict[str, Tuple[Tuple[int, ...], np.dtype, int]]:
    """name -> (shape, dtype, stored bytes) of every .npy member, from the headers only (no data read).

    Raises InputError for a member whose header declares more data than the archive holds (a truncated
    file, or a header that would make numpy allocate terabytes). Unreadable archives return {} and are
    left to the loader's own messages.
    """
    out: Dict[str, Tuple[Tuple[int, ...], np.dtype, int]] = {}
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile, ValueError):
        return out
    with archive:
        for info in archive.infolist():
            if not info.filename.endswith(".npy"):
                continue
            try:
                with archive.open(info) as member:
                    version = np.lib.format.read_magic(member)
                    if version == (1, 0):
                        shape, _, dtype = np.lib.format.read_array_header_1_0(member)
                    else:
                        shape, _, dtype = np.lib.format.read_array_header_2_0(member)
                    header_len = member.tell()
            except Exception:  # noqa: BLE001 - not an npy header: the loader reports it
                continue
            name = info.filename[:-4]
            declared = int(np.prod(shape, dtype=object)) * dtype.itemsize
            stored = info.file_size - header_len
            if not dtype.hasobject and declared > stored:
                raise InputError(
                    f"{path}: array {name} declares shape {tuple(shape)} of {dtype} ({human_bytes(declared)}) "
                    f"but the file holds only {human_bytes(max(stored, 0))} of data: truncated or corrupted")
            out[name] = (tuple(int(s) for s in shape), dtype, stored)
    return out


def npz_layer_sizes(path: str) -> Optional[List[int]]:
    """Layer sizes [n_in, h_1, ..., n_out] from the W0, W1, ... headers; None if they do not form a chain."""
    heads = npz_headers(path)
    ws = sorted((int(m.group(1)), shape) for k, (shape, _, _) in heads.items()
                if (m := re.fullmatch(r"W(\d+)", k)))
    if not ws or [i for i, _ in ws] != list(range(len(ws))) or any(len(s) != 2 for _, s in ws):
        return None
    sizes = [ws[0][1][1]] + [s[0] for _, s in ws]
    if any(ws[k + 1][1][1] != ws[k][1][0] for k in range(len(ws) - 1)):
        return None
    return sizes


def check_npz(path: str, method: str = "miqcqp", encoding: str = "quadratic", cap: Optional[object] = None) -> None:
    """Refuse an npz file up front, from its headers alone, when it is truncated or too large to solve."""
    sizes = npz_layer_sizes(path)
    if sizes is not None:
        enforce(sizes, method, encoding, cap, os.path.basename(path))
