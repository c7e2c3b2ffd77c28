"""Loaders that lower model files and objects to a Network (npz, PyTorch)."""
from __future__ import annotations

import os
import re
import zipfile
from typing import Any

import numpy as np

from .errors import InputError
from .network import Network


def load_npz(path: str) -> Network:
    """Arrays W0, b0, W1, b1, ... (W_k of shape (out, in)); pickled objects are refused."""
    name = os.path.basename(str(path))
    if not os.path.isfile(path):
        raise InputError(f"{path}: no such file")
    if not zipfile.is_zipfile(path):
        raise InputError(f"{path}: cannot read npz file (not a zip archive: truncated or not an npz)")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except ValueError:
        raise InputError(f"{path}: not a plain npz file of numeric arrays (pickled objects are refused)") from None
    except (OSError, zipfile.BadZipFile, EOFError, KeyError) as exc:
        raise InputError(f"{path}: cannot read npz file ({exc.__class__.__name__}: {exc})") from None
    weights_keys = sorted((int(m.group(1)), k) for k in arrays if (m := re.fullmatch(r"W(\d+)", k)))
    if not weights_keys:
        raise InputError(f"{path}: no weight arrays W0, W1, ... found (arrays: {sorted(arrays)})")
    indices = [i for i, _ in weights_keys]
    if indices != list(range(len(indices))):
        raise InputError(f"{path}: weight arrays must be W0..W{len(indices) - 1} without gaps, found {indices}")
    weights, biases = [], []
    for i in indices:
        weights.append(arrays[f"W{i}"])
        biases.append(arrays.get(f"b{i}"))
    return Network(weights, biases, name=name)


def from_torch(module: Any, name: str = "torch") -> Network:
    """Lower an nn.Sequential of Linear / ReLU / Flatten (a ReLU between every two Linear layers)."""
    import torch.nn as nn  # optional dependency, imported lazily

    modules = list(module) if isinstance(module, nn.Sequential) else [module]
    weights, biases = [], []
    expect_linear = True
    for i, m in enumerate(modules):
        if isinstance(m, nn.Flatten):
            if weights:
                raise InputError(f"{name}: module {i} Flatten is only supported before the first Linear layer")
            continue
        if isinstance(m, nn.Linear):
            if not expect_linear:
                raise InputError(f"{name}: module {i} Linear follows a Linear without a ReLU in between")
            weights.append(m.weight.detach().cpu().double().numpy())
            biases.append(None if m.bias is None else m.bias.detach().cpu().double().numpy())
            expect_linear = False
        elif isinstance(m, nn.ReLU):
            if expect_linear:
                raise InputError(f"{name}: module {i} ReLU must follow a Linear layer")
            expect_linear = True
        else:
            raise InputError(f"{name}: module {i} of type {type(m).__name__} is not supported (Linear, ReLU, Flatten)")
    if not weights:
        raise InputError(f"{name}: no Linear layer found")
    if expect_linear:
        raise InputError(f"{name}: the network ends with a ReLU; lipmiq expects a final Linear layer")
    return Network(weights, biases, name=name)


def load(source: Any) -> Network:
    """A Network from a path (.npz) or an object (Network, torch nn.Module)."""
    if isinstance(source, Network):
        return source
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if path.lower().endswith(".npz"):
            return load_npz(path)
        raise InputError(f"{path}: unknown network format (supported: .npz)")
    if type(source).__module__.startswith("torch"):
        return from_torch(source)
    raise InputError(f"cannot load a network from an object of type {type(source).__name__}")
