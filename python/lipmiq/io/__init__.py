"""Readers that lower model files and objects to a Network (npz, PyTorch, ONNX, .nnet by suffix) and
read domains from specification files (VNN-LIB)."""
from __future__ import annotations

import os
from typing import Any, Optional, Sequence

from ..errors import InputError
from ..network import Network
from .npz import load_npz
from .torch_model import from_torch, load_torch_file

SUPPORTED_SUFFIXES = (".npz", ".onnx", ".nnet", ".pt", ".pth")

__all__ = ["load", "load_npz", "from_torch", "SUPPORTED_SUFFIXES"]


def load(source: Any, input_shape: Optional[Sequence[int]] = None) -> Network:
    """A Network from a path (.npz, .onnx, .nnet, .pt/.pth by suffix) or an object (Network, torch nn.Module).

    For a .nnet file the normalisation is folded into the layers; its input box is returned by
    `lipmiq.io.nnet.load_nnet`. `input_shape` (C, H, W) is needed by torch modules with Conv2d.
    """
    if isinstance(source, Network):
        return source
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        suffix = os.path.splitext(path)[1].lower()
        if suffix == ".npz":
            return load_npz(path)
        if suffix == ".onnx":
            from .onnx_graph import load_onnx

            return load_onnx(path)
        if suffix == ".nnet":
            from .nnet import load_nnet

            return load_nnet(path)[0]
        if suffix in (".pt", ".pth"):
            return load_torch_file(path, input_shape)
        raise InputError(f"{path}: unknown network format {suffix or '(no suffix)'} "
                         f"(supported: {', '.join(SUPPORTED_SUFFIXES)})")
    if type(source).__module__.startswith("torch"):
        return from_torch(source, input_shape=input_shape)
    if type(source).__module__.startswith("onnx"):
        from .onnx_graph import from_onnx

        return from_onnx(source)
    raise InputError(f"cannot load a network from an object of type {type(source).__name__}")
