"""Input points for the command line: one reader for `--center` (bound, radius) and `batch` files.

A file is a .npy array (read without pickle) or text with numbers separated by spaces, commas or
newlines (one point per line for batch); `--center` also takes the numbers themselves as a list.
"""
from __future__ import annotations

import io
import os

import numpy as np

from ..errors import InputError


def _read_file(path: str) -> np.ndarray:
    """The numbers of a .npy or text file as a float64 array (2-D for text: one row per line)."""
    try:
        if path.lower().endswith(".npy"):
            arr = np.load(path, allow_pickle=False)
        else:
            with open(path) as fh:
                text = fh.read().replace(",", " ")
            arr = np.loadtxt(io.StringIO(text), ndmin=2)
        arr = np.asarray(arr, dtype=np.float64)
    except Exception as exc:  # unreadable, ragged rows, non-numbers, pickled arrays
        raise InputError(f"{path}: cannot read numbers from it ({exc})") from None
    if arr.size == 0:
        raise InputError(f"{path}: no numbers in it")
    return arr


def read_center(text: str) -> np.ndarray:
    """A point given as a file (.npy or text, any shape, flattened) or as a comma/space separated list."""
    if os.path.isfile(text):
        return _read_file(text).reshape(-1)
    try:
        return np.array([float(t) for t in text.replace(",", " ").split()])
    except ValueError:
        raise InputError(f"--center {text!r} is neither a file nor a list of numbers") from None


def read_points(path: str, n: int) -> np.ndarray:
    """Points of n coordinates, one per row (a file holding exactly n numbers is one point)."""
    if not os.path.isfile(path):
        raise InputError(f"{path}: no such file")
    arr = _read_file(path)
    if arr.size == n:
        arr = arr.reshape(1, n)
    if arr.ndim != 2 or arr.shape[1] != n:
        raise InputError(f"{path}: points must have shape (N, {n}) for this network, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise InputError(f"{path}: point {int(np.argwhere(~np.isfinite(arr))[0][0])} has a non-finite entry")
    return arr
