"""PyTorch models lowered to a Network: nn.Sequential modules and state dicts (torch.load weights_only)."""
from __future__ import annotations

import os
import re
import warnings
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..errors import InputError
from ..network import Network
from .chain import AffineChain, require
from .conv import conv2d_matrix
from .elementwise import batchnorm_scale_shift, per_channel


def _tensor(t: Any) -> Optional[np.ndarray]:
    return None if t is None else t.detach().cpu().double().numpy()


def _torch_modules(module: Any, nn: Any) -> List[Any]:
    """The leaf modules of a (possibly nested) nn.Sequential, in order."""
    if isinstance(module, nn.Sequential):
        return [leaf for m in module for leaf in _torch_modules(m, nn)]
    return [module]


def _torch_conv(m: Any, shape: Optional[Tuple[int, ...]], where: str) -> Tuple[np.ndarray, np.ndarray, Tuple[int, ...]]:
    if shape is None:
        raise InputError(f"{where} needs the input shape: from_torch(module, input_shape=(C, H, W))")
    if len(shape) != 3:
        raise InputError(f"{where} needs a (C, H, W) input but receives a tensor of shape {shape}")
    if m.groups != 1 or m.padding_mode != "zeros":
        raise InputError(f"{where}: only groups=1 and padding_mode='zeros' are supported "
                         f"(got groups={m.groups}, padding_mode={m.padding_mode!r})")
    padding = m.padding
    if isinstance(padding, str):  # 'valid' or 'same' (torch puts the odd extra pixel at the end)
        total = [0, 0] if padding == "valid" else [d * (k - 1) for d, k in zip(m.dilation, m.kernel_size)]
        padding = (total[0] // 2, total[1] // 2, total[0] - total[0] // 2, total[1] - total[1] // 2)
    W, b, out = conv2d_matrix(_tensor(m.weight), _tensor(m.bias), shape, m.stride, padding, m.dilation, where)
    return W, b, out


# Modules that are the identity in eval mode (random masks only while training); matched by exact type,
# since a subclass may change forward.
_DROPOUT = ("Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout")
SUPPORTED = "Linear, Conv2d, ReLU, Flatten, BatchNorm1d, BatchNorm2d, Dropout, Identity"


def _eval_only(m: Any, where: str) -> None:
    """Refuse a module whose output in training mode depends on the batch or on random masks."""
    if m.training:
        raise InputError(f"{where} is in training mode, where its output depends on the batch or on random "
                         "masks; call model.eval() first")


def _torch_batchnorm(m: Any, shape: Optional[Tuple[int, ...]], image: bool,
                     where: str) -> Tuple[np.ndarray, np.ndarray, Tuple[int, ...]]:
    """(scale, shift) on the flat input of an eval-mode BatchNorm1d (image False) or BatchNorm2d, and the
    (unchanged) shape: per channel, gamma (x - running_mean) / sqrt(running_var + eps) + beta."""
    _eval_only(m, where)
    if not m.track_running_stats or m.running_mean is None:
        raise InputError(f"{where} has track_running_stats=False, so even in eval mode it normalises with the "
                         "statistics of each batch; lipmiq needs running statistics")
    if shape is None:
        if image:
            raise InputError(f"{where} needs the input shape: from_torch(module, input_shape=(C, H, W))")
        shape = (m.num_features,)  # a flat input, as for a leading Linear
    ranks, expected = ((3,), "(C, H, W)") if image else ((1, 2), "(C,) or (C, L)")
    if len(shape) not in ranks or shape[0] != m.num_features:
        raise InputError(f"{where} normalises a {expected} input with C = {m.num_features} "
                         f"but receives a tensor of shape {shape}")
    s, t = batchnorm_scale_shift(_tensor(m.running_mean), _tensor(m.running_var), m.eps, _tensor(m.weight),
                                 _tensor(m.bias), where)
    return per_channel(s, shape, 0, where), per_channel(t, shape, 0, where), shape


def from_torch(module: Any, name: str = "torch", input_shape: Optional[Sequence[int]] = None) -> Network:
    """Lower an eval-mode nn.Sequential of Linear / Conv2d / ReLU / Flatten / BatchNorm1d / BatchNorm2d /
    Dropout / Identity (a ReLU between every two Linear or Conv2d layers) to a Network.

    Batch norms (running statistics) and dropout (the identity) take their eval-mode semantics and
    compose with the neighbouring affine layers in float64; in training mode they are refused, since
    their output then depends on the batch. Conv2d and BatchNorm2d need the input shape: pass
    `input_shape=(C, H, W)` (without the batch dimension).
    """
    nn = require("torch.nn", "torch", "loading a PyTorch module")
    shape = None if input_shape is None else tuple(int(s) for s in input_shape)
    chain = AffineChain(name, None if shape is None else int(np.prod(shape)), strict=True)
    dropouts = tuple(getattr(nn, kind) for kind in _DROPOUT)
    for i, m in enumerate(_torch_modules(module, nn)):
        where = f"module {i} {type(m).__name__}"
        if isinstance(m, nn.Flatten):
            if (m.start_dim, m.end_dim) != (1, -1):
                raise InputError(f"{name}: {where} must flatten all but the batch dimension "
                                 f"(start_dim=1, end_dim=-1), got ({m.start_dim}, {m.end_dim})")
            shape = None if shape is None else (int(np.prod(shape)),)
        elif isinstance(m, nn.Linear):
            if shape is not None and len(shape) != 1:
                raise InputError(f"{name}: {where} receives a tensor of shape {shape}; add nn.Flatten() before it")
            chain.affine(_tensor(m.weight), _tensor(m.bias), where)
            shape = (m.out_features,)
        elif isinstance(m, nn.Conv2d):
            W, b, shape = _torch_conv(m, shape, f"{name}: {where}")
            chain.affine(W, b, where)
        elif type(m) in (nn.BatchNorm1d, nn.BatchNorm2d):
            d, b, shape = _torch_batchnorm(m, shape, type(m) is nn.BatchNorm2d, f"{name}: {where}")
            chain.scale(d, b, where)
        elif isinstance(m, nn.ReLU):
            chain.relu(where)
        elif type(m) in dropouts:
            _eval_only(m, f"{name}: {where}")
        elif type(m) is nn.Identity:
            pass
        else:
            raise InputError(f"{name}: {where} is not supported ({SUPPORTED})")
    return chain.network()


_STATE_KEY = re.compile(r"((?:.*\.)?)(\d+)\.(weight|bias)")


def from_state_dict(state: Dict[str, Any], name: str = "state_dict") -> Network:
    """Lower the state dict of an nn.Sequential of Linear layers with one ReLU between each two.

    Keys must read `[prefix.]<index>.weight|bias` with 2-D weights, and consecutive Linear indices
    must differ by exactly 2 (one parameter-free module, taken as the ReLU, in between); anything
    else is ambiguous without the module and refused.
    """
    layers: Dict[int, Dict[str, Any]] = {}
    prefixes = set()
    for key, value in state.items():
        m = _STATE_KEY.fullmatch(str(key))
        if m is None:
            raise InputError(f"{name}: entry {key!r} is not '<index>.weight' or '<index>.bias' of an nn.Sequential")
        if not hasattr(value, "detach"):
            raise InputError(f"{name}: entry {key!r} is a {type(value).__name__}, not a tensor")
        if not value.is_floating_point():
            raise InputError(f"{name}: entry {key!r} has dtype {value.dtype}, expected floating-point weights")
        prefixes.add(m.group(1))
        layers.setdefault(int(m.group(2)), {})[m.group(3)] = value
    if not layers:
        raise InputError(f"{name}: no '<index>.weight' entries found")
    if len(prefixes) > 1:
        raise InputError(f"{name}: entries of several modules {sorted(prefixes)}; save the nn.Sequential's own state_dict")
    indices = sorted(layers)
    for i in indices:
        if "weight" not in layers[i]:
            raise InputError(f"{name}: module {i} has a bias but no weight")
        if layers[i]["weight"].dim() != 2:
            raise InputError(f"{name}: module {i} weight has shape {tuple(layers[i]['weight'].shape)}; only Linear "
                             "layers can be read from a state dict (Conv2d needs stride/padding: build the "
                             "nn.Sequential and use from_torch, or export to ONNX)")
    gaps = [b - a for a, b in zip(indices, indices[1:])]
    if any(g != 2 for g in gaps):
        bad = next(i for i, g in zip(indices, gaps) if g != 2)
        raise InputError(f"{name}: Linear modules {indices}: after module {bad} the next one is not exactly two "
                         "places later, so the activations in between are ambiguous; build the nn.Sequential "
                         "and use from_torch, or export to ONNX")
    weights = [_tensor(layers[i]["weight"]) for i in indices]
    biases = [_tensor(layers[i].get("bias")) for i in indices]
    return Network(weights, biases, name=name)


def load_torch_file(path: str, input_shape: Optional[Sequence[int]] = None) -> Network:
    """A .pt/.pth file read with torch.load(weights_only=True): a Sequential's state dict (never unpickles code)."""
    torch = require("torch", "torch", f"{path}: reading a PyTorch file")
    if not os.path.isfile(path):
        raise InputError(f"{path}: no such file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        text = str(exc)
        if "Weights only load failed" in text or "Unsupported global" in text:
            raise InputError(f"{path}: holds pickled Python objects (for example a whole nn.Module), which lipmiq "
                             "does not unpickle (torch.load weights_only=True); save model.state_dict() of an "
                             "nn.Sequential of Linear/ReLU layers instead, or export the model to ONNX") from None
        raise InputError(f"{path}: cannot read PyTorch file ({exc.__class__.__name__}: {text.splitlines()[0] if text else ''})") from None
    name = os.path.basename(path)
    if isinstance(obj, torch.nn.Module):  # only reachable if torch ever allows modules under weights_only
        return from_torch(obj, name=name, input_shape=input_shape)
    if isinstance(obj, dict):
        for key in ("state_dict", "model_state_dict"):
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
        return from_state_dict(obj, name=name)
    raise InputError(f"{path}: holds a {type(obj).__name__}, expected the state dict of an nn.Sequential")
