"""Loaders that lower model files and objects to a Network (npz, PyTorch, ONNX, .nnet by suffix)."""
from __future__ import annotations

import os
import re
import warnings
import zipfile
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .conv import conv2d_matrix
from .errors import InputError
from .network import Network

SUPPORTED_SUFFIXES = (".npz", ".onnx", ".nnet", ".pt", ".pth")


def require(module: str, extra: str, what: str) -> Any:
    """Import an optional dependency, or an InputError naming the extra that provides it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise InputError(f"{what} needs the optional package '{module}': pip install 'lipmiq[{extra}]'") from None


class AffineChain:
    """Builds a Network from affine maps and ReLUs on a flat vector, merging consecutive affine maps.

    With strict=True (PyTorch modules) an affine map must be followed by a ReLU before the next one
    and the chain must end with an affine map, as the Network convention requires; otherwise
    (ONNX graphs) consecutive affine maps are composed, a repeated ReLU is dropped (relu is
    idempotent) and an identity layer is added where a ReLU has no affine map before or after it.
    """

    def __init__(self, name: str, n_inputs: Optional[int] = None, strict: bool = False):
        self.name = name
        self.strict = strict
        self.dim = n_inputs
        self.weights: List[np.ndarray] = []
        self.biases: List[np.ndarray] = []
        self.pending: Optional[Tuple[Optional[np.ndarray], np.ndarray]] = None  # (W or None=identity, b)
        self.pending_what = ""

    def affine(self, W: Optional[np.ndarray], b: Optional[np.ndarray], what: str) -> None:
        """Apply x -> W x + b (W None: the identity; b None: zero)."""
        if W is not None:
            W = np.asarray(W, dtype=np.float64)
            if self.dim is not None and W.shape[1] != self.dim:
                raise InputError(f"{self.name}: {what} takes {W.shape[1]} inputs but receives {self.dim}")
        out = self.dim if W is None else W.shape[0]
        if out is None:
            raise InputError(f"{self.name}: {what} needs the input size, which is not known yet")
        b = np.zeros(out) if b is None else np.asarray(b, dtype=np.float64).reshape(-1)
        if self.pending is not None:
            if self.strict:
                raise InputError(f"{self.name}: {what} follows a {self.pending_what} without a ReLU in between")
            W0, b0 = self.pending  # W (W0 x + b0) + b
            b = b + (b0 if W is None else W @ b0)
            W = W0 if W is None else (W if W0 is None else W @ W0)
        self.pending = (W, b)
        self.pending_what = what.split()[-1]
        self.dim = out

    def relu(self, what: str) -> None:
        """Apply an elementwise ReLU."""
        if self.pending is None:
            if self.strict:
                raise InputError(f"{self.name}: {what} must follow a Linear layer")
            if self.weights:  # relu(relu(x)) = relu(x)
                return
            self.affine(None, None, "identity")
        W, b = self.pending  # type: ignore[misc]
        self.weights.append(np.eye(self.dim) if W is None else W)  # type: ignore[arg-type]
        self.biases.append(b)
        self.pending = None

    def network(self) -> Network:
        """The Network x_k = relu(W_k x + b_k), f = W_L x + b_L built so far."""
        if self.pending is None:
            if not self.weights:
                raise InputError(f"{self.name}: no affine layer found")
            if self.strict:
                raise InputError(f"{self.name}: the network ends with a ReLU; lipmiq expects a final Linear layer")
            self.affine(None, None, "identity")
        W, b = self.pending  # type: ignore[misc]
        weights = self.weights + [np.eye(self.dim) if W is None else W]  # type: ignore[arg-type]
        return Network(weights, self.biases + [b], name=self.name)


def _check_npz_memory(path: str) -> None:
    """Refuse, from the array headers alone, an npz whose arrays would not fit in memory."""
    from .limits import default_cap, human_bytes, npz_headers

    headers = npz_headers(path)
    if not headers:
        return
    total = sum(int(np.prod(shape, dtype=np.float64)) * 8 for shape, _, _ in headers.values())
    cap = default_cap()
    if total > cap:
        name, (shape, _, _) = max(headers.items(), key=lambda kv: np.prod(kv[1][0], dtype=np.float64))
        raise InputError(f"{path}: array {name} of shape {tuple(shape)} alone would need "
                         f"{human_bytes(np.prod(shape, dtype=np.float64) * 8)} as float64; the arrays need "
                         f"{human_bytes(total)}, more than the memory cap {human_bytes(cap)}")


def load_npz(path: str) -> Network:
    """Arrays W0, b0, W1, b1, ... (W_k of shape (out, in)); pickled objects are refused."""
    name = os.path.basename(str(path))
    if not os.path.isfile(path):
        raise InputError(f"{path}: no such file")
    if not zipfile.is_zipfile(path):
        raise InputError(f"{path}: cannot read npz file (not a zip archive: truncated or not an npz)")
    _check_npz_memory(path)
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


def from_torch(module: Any, name: str = "torch", input_shape: Optional[Sequence[int]] = None) -> Network:
    """Lower an nn.Sequential of Linear / Conv2d / ReLU / Flatten (a ReLU between every two affine layers).

    Conv2d layers are unrolled to dense layers, so their input shape must be known: pass
    `input_shape=(C, H, W)` (without the batch dimension).
    """
    nn = require("torch.nn", "torch", "loading a PyTorch module")
    shape = None if input_shape is None else tuple(int(s) for s in input_shape)
    chain = AffineChain(name, None if shape is None else int(np.prod(shape)), strict=True)
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
        elif isinstance(m, nn.ReLU):
            chain.relu(where)
        else:
            raise InputError(f"{name}: {where} is not supported (Linear, Conv2d, ReLU, Flatten)")
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


def load(source: Any, input_shape: Optional[Sequence[int]] = None) -> Network:
    """A Network from a path (.npz, .onnx, .nnet, .pt/.pth by suffix) or an object (Network, torch nn.Module).

    For a .nnet file the normalisation is folded into the layers; its input box is returned by
    `lipmiq.nnet_format.load_nnet`. `input_shape` (C, H, W) is needed by torch modules with Conv2d.
    """
    if isinstance(source, Network):
        return source
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        suffix = os.path.splitext(path)[1].lower()
        if suffix == ".npz":
            return load_npz(path)
        if suffix == ".onnx":
            from .onnx_format import load_onnx

            return load_onnx(path)
        if suffix == ".nnet":
            from .nnet_format import load_nnet

            return load_nnet(path)[0]
        if suffix in (".pt", ".pth"):
            return load_torch_file(path, input_shape)
        raise InputError(f"{path}: unknown network format {suffix or '(no suffix)'} "
                         f"(supported: {', '.join(SUPPORTED_SUFFIXES)})")
    if type(source).__module__.startswith("torch"):
        return from_torch(source, input_shape=input_shape)
    if type(source).__module__.startswith("onnx"):
        from .onnx_format import from_onnx

        return from_onnx(source)
    raise InputError(f"cannot load a network from an object of type {type(source).__name__}")
