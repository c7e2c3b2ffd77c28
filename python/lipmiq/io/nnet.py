"""The .nnet format (ACAS Xu): a ReLU network with input clipping and normalisation, lowered exactly.

Format semantics (as in the reference `nnet.py` evaluator): inputs are clipped to [min, max], then
normalised (x - mean_i) / range_i; the network is evaluated; outputs are y * range_out + mean_out
(the last mean and range). The normalisations are folded into the first and last layers; the input
box [min, max] is returned as the natural domain, on which the clipping is the identity.
"""
from __future__ import annotations

import os
from typing import Iterator, List, Tuple

import numpy as np

from ..domain import Box
from ..errors import InputError
from .textfile import read_text
from ..network import Network


class _Lines:
    """The data lines of a .nnet file (header comments '//' and blank lines skipped), with line numbers."""

    def __init__(self, path: str, text: str):
        self.path = path
        self._rows: Iterator[Tuple[int, str]] = (
            (n, line) for n, line in enumerate(text.splitlines(), start=1)
            if line.strip() and not line.lstrip().startswith("//")
        )

    def values(self, count: int, what: str, integer: bool = False) -> List[float]:
        try:
            number, line = next(self._rows)
        except StopIteration:
            raise InputError(f"{self.path}: file ends before the {what}") from None
        items = [s.strip() for s in line.split(",")]
        if items and items[-1] == "":
            items.pop()
        if len(items) != count:
            raise InputError(f"{self.path}: line {number}: expected {count} value(s) for the {what}, found {len(items)}")
        out = []
        for item in items:
            try:
                value = float(item)
            except ValueError:
                raise InputError(f"{self.path}: line {number}: {item!r} in the {what} is not a number") from None
            if not np.isfinite(value) or (integer and (not value.is_integer() or value < 1)):
                kind = "a positive integer" if integer else "finite"
                raise InputError(f"{self.path}: line {number}: {item!r} in the {what} must be {kind}")
            out.append(value)
        return out

    def rest(self) -> None:
        extra = next(self._rows, None)
        if extra is not None:
            raise InputError(f"{self.path}: line {extra[0]}: unexpected data after the last layer")


def _clip_layer(lo: np.ndarray, hi: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """clip(x, lo, hi) = lo + relu(x - lo) - relu(x - hi): a ReLU layer and the map back to R^n."""
    n = lo.size
    eye = np.eye(n)
    return np.vstack([eye, eye]), np.concatenate([-lo, -hi]), np.hstack([eye, -eye]), lo


def read_nnet(path: str) -> Tuple[List[np.ndarray], List[np.ndarray], np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The raw contents of a .nnet file: weights, biases, input mins, maxs, means and ranges (n + 1 each)."""
    text = read_text(path, ".nnet", "ascii")
    lines = _Lines(path, text)
    n_layers, n_in, n_out, _ = (int(v) for v in lines.values(4, "header (layers, inputs, outputs, max size)", True))
    sizes = [int(v) for v in lines.values(n_layers + 1, "layer sizes", True)]
    if sizes[0] != n_in or sizes[-1] != n_out:
        raise InputError(f"{path}: layer sizes {sizes} disagree with {n_in} inputs and {n_out} outputs in the header")
    lines.values(1, "symmetric flag")
    mins = np.array(lines.values(n_in, "input minimums"))
    maxs = np.array(lines.values(n_in, "input maximums"))
    means = np.array(lines.values(n_in + 1, "means (inputs, then output)"))
    ranges = np.array(lines.values(n_in + 1, "ranges (inputs, then output)"))
    bad = np.flatnonzero(mins > maxs)
    if bad.size:
        i = int(bad[0])
        raise InputError(f"{path}: input {i} has minimum {mins[i]} above maximum {maxs[i]}")
    zero = np.flatnonzero(ranges[:-1] == 0)
    if zero.size:
        raise InputError(f"{path}: input {int(zero[0])} has range 0, so its normalisation divides by zero")
    weights, biases = [], []
    for k in range(n_layers):
        W = np.array([lines.values(sizes[k], f"row {r} of the weights of layer {k}") for r in range(sizes[k + 1])])
        b = np.array([lines.values(1, f"bias {r} of layer {k}")[0] for r in range(sizes[k + 1])])
        weights.append(W)
        biases.append(b)
    lines.rest()
    return weights, biases, mins, maxs, means, ranges


def load_nnet(path: str, clip: bool = False) -> Tuple[Network, Box]:
    """A .nnet file as (Network, input Box); the normalisation is folded into the first and last layers.

    The Network equals the format's semantics on the Box. Outside it the format clips the inputs;
    `clip=True` models that exactly with an extra first ReLU layer of 2n neurons (the Network then
    equals the format's semantics everywhere, e.g. for a larger domain).
    """
    weights, biases, mins, maxs, means, ranges = read_nnet(path)
    n = mins.size
    scale = 1.0 / ranges[:n]
    weights[0] = weights[0] * scale[None, :]
    biases[0] = biases[0] - weights[0] @ means[:n]
    weights[-1] = weights[-1] * ranges[n]
    biases[-1] = biases[-1] * ranges[n] + means[n]
    if clip:
        W0, b0, back, offset = _clip_layer(mins, maxs)
        first_W, first_b = weights[0], biases[0]
        weights = [W0, first_W @ back] + weights[1:]
        biases = [b0, first_b + first_W @ offset] + biases[1:]
    network = Network(weights, biases, name=os.path.basename(path))
    return network, Box(mins, maxs).resolve(n)
