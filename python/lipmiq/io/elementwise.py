"""Per-channel elementwise maps shared by the readers: batch normalisation in inference form, and
per-channel vectors spread over a C-order flattened (C, ...) tensor."""
from __future__ import annotations

from typing import Optional, Sequence, Tuple

import numpy as np

from ..errors import InputError


def batchnorm_scale_shift(mean: np.ndarray, var: np.ndarray, eps: float, gamma: Optional[np.ndarray],
                          beta: Optional[np.ndarray], where: str) -> Tuple[np.ndarray, np.ndarray]:
    """Per-channel (s, t) with gamma (x - mean) / sqrt(var + eps) + beta = s x + t, in float64.

    gamma None is 1 and beta None is 0 (a batch norm without affine parameters). Statistics that
    make the map undefined (var + eps <= 0, non-finite values) are refused.
    """
    parts = {"running mean": mean, "running variance": var, "weight": gamma, "bias": beta}
    arrays = {k: np.asarray(v, dtype=np.float64).reshape(-1) for k, v in parts.items() if v is not None}
    sizes = {k: v.size for k, v in arrays.items()}
    if len(set(sizes.values())) != 1:
        raise InputError(f"{where}: per-channel parameters of different lengths {sizes}")
    for k, v in arrays.items():
        if not np.all(np.isfinite(v)):
            raise InputError(f"{where}: the {k} has a non-finite value")
    denominator = arrays["running variance"] + float(eps)
    if not np.all(denominator > 0):
        channel = int(np.argmin(denominator))
        raise InputError(f"{where}: variance + eps is {denominator[channel]} <= 0 in channel {channel}")
    s = arrays.get("weight", 1.0) / np.sqrt(denominator)
    t = arrays.get("bias", 0.0) - s * arrays["running mean"]
    return s, t


def per_channel(values: np.ndarray, shape: Sequence[int], axis: int, where: str) -> np.ndarray:
    """A vector of one value per channel (entry `axis` of `shape`), spread over the flat C-order tensor."""
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    if axis >= len(shape) or values.size != shape[axis]:
        raise InputError(f"{where}: {values.size} channels, but the data tensor of shape {tuple(shape)} "
                         f"has {shape[axis] if axis < len(shape) else 'no'} channels in dimension {axis}")
    column = values.reshape((-1,) + (1,) * (len(shape) - axis - 1))
    return np.broadcast_to(column, tuple(shape)).reshape(-1)
