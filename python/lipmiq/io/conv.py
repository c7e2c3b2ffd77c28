"""Conv2d unrolled to a dense (out, in) matrix on C-order flattened (C, H, W) tensors (torch and ONNX)."""
from __future__ import annotations

from typing import Optional, Sequence, Tuple

import numpy as np

from ..errors import InputError

# Refuse dense matrices above this many entries (8 bytes each): 50e6 entries are 400 MB.
MAX_DENSE_ENTRIES = 50_000_000


def check_dense_size(rows: int, cols: int, where: str) -> None:
    """Refuse a dense layer too large to build, before allocating it."""
    if rows * cols > MAX_DENSE_ENTRIES:
        raise InputError(f"{where}: the unrolled dense layer would be {rows} x {cols}, "
                         f"above the limit of {MAX_DENSE_ENTRIES} entries")


def _pair(value: object, what: str, where: str, minimum: int) -> Tuple[int, int]:
    """An (h, w) pair of ints from an int or a 1/2-sequence; values below `minimum` are refused."""
    items = [value, value] if np.isscalar(value) else list(value)  # type: ignore[arg-type]
    if len(items) == 1:
        items = items * 2
    if len(items) != 2 or not all(float(v).is_integer() for v in items):
        raise InputError(f"{where}: {what} must be one or two integers, got {value!r}")
    pair = (int(items[0]), int(items[1]))
    if min(pair) < minimum:
        raise InputError(f"{where}: {what} must be >= {minimum}, got {value!r}")
    return pair


def conv2d_output_shape(input_shape: Sequence[int], kernel: Tuple[int, int], stride: Tuple[int, int],
                        pads: Tuple[int, int, int, int], dilation: Tuple[int, int]) -> Tuple[int, int]:
    """(H_out, W_out) of a 2-D convolution; pads are (top, left, bottom, right)."""
    _, H, W = input_shape
    ho = (H + pads[0] + pads[2] - dilation[0] * (kernel[0] - 1) - 1) // stride[0] + 1
    wo = (W + pads[1] + pads[3] - dilation[1] * (kernel[1] - 1) - 1) // stride[1] + 1
    return ho, wo


def conv2d_matrix(weight: np.ndarray, bias: Optional[np.ndarray], input_shape: Sequence[int],
                  stride: object = 1, pads: object = 0, dilation: object = 1,
                  where: str = "conv") -> Tuple[np.ndarray, np.ndarray, Tuple[int, int, int]]:
    """The dense (W, b) of a groups=1 Conv2d on a (C, H, W) input and its (O, H_out, W_out) shape.

    `pads` is an int, an (h, w) pair (same on both sides) or (top, left, bottom, right), the ONNX order.
    Zero padding only. Rows and columns follow the C-order flattening of (O, Ho, Wo) and (C, H, W).
    """
    weight = np.asarray(weight, dtype=np.float64)
    if weight.ndim != 4:
        raise InputError(f"{where}: Conv2d weight must be 4-D (out, in, kh, kw), got shape {weight.shape}")
    O, C, kh, kw = weight.shape
    shape = tuple(int(s) for s in input_shape)
    if len(shape) != 3 or min(shape) < 1:
        raise InputError(f"{where}: Conv2d needs a (C, H, W) input shape, got {tuple(input_shape)}")
    if shape[0] != C:
        raise InputError(f"{where}: weight {weight.shape} expects {C} input channels, but the input has shape {shape}")
    sh, sw = _pair(stride, "stride", where, 1)
    dh, dw = _pair(dilation, "dilation", where, 1)
    if np.isscalar(pads) or len(list(pads)) in (1, 2):  # type: ignore[arg-type]
        ph, pw = _pair(pads, "padding", where, 0)
        pad4 = (ph, pw, ph, pw)
    else:
        items = list(pads)  # type: ignore[arg-type]
        if len(items) != 4 or not all(float(v).is_integer() and v >= 0 for v in items):
            raise InputError(f"{where}: pads must be 4 non-negative integers (top, left, bottom, right), got {pads!r}")
        pad4 = tuple(int(v) for v in items)  # type: ignore[assignment]
    ho, wo = conv2d_output_shape(shape, (kh, kw), (sh, sw), pad4, (dh, dw))  # type: ignore[arg-type]
    if ho < 1 or wo < 1:
        raise InputError(f"{where}: kernel {(kh, kw)} (dilation {(dh, dw)}) does not fit the padded input {shape} "
                         f"with pads {pad4}: output would be {(O, ho, wo)}")
    _, H, W = shape
    rows, cols = O * ho * wo, C * H * W
    check_dense_size(rows, cols, where)
    if bias is None:
        bias = np.zeros(O)
    bias = np.asarray(bias, dtype=np.float64).reshape(-1)
    if bias.size != O:
        raise InputError(f"{where}: bias has {bias.size} entries but the weight {weight.shape} has {O} output channels")
    # Every (output position, kernel tap) pair reading an input pixel inside the image; with dilation >= 1
    # distinct taps of one output position read distinct pixels, so plain assignment is exact.
    oh, i, ow, j = np.meshgrid(np.arange(ho), np.arange(kh), np.arange(wo), np.arange(kw), indexing="ij")
    h = oh * sh - pad4[0] + i * dh
    w = ow * sw - pad4[1] + j * dw
    inside = (h >= 0) & (h < H) & (w >= 0) & (w < W)
    oh, i, ow, j, h, w = (a[inside] for a in (oh, i, ow, j, h, w))
    dense = np.zeros((ho, wo, H, W, O, C))
    dense[oh, ow, h, w] = np.moveaxis(weight[:, :, i, j], -1, 0)
    matrix = np.ascontiguousarray(dense.transpose(4, 0, 1, 5, 2, 3).reshape(rows, cols))
    return matrix, np.repeat(bias, ho * wo), (O, ho, wo)
