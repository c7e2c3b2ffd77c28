"""The feed-forward ReLU network model: dense layers, validated on construction."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from . import _core
from .errors import InputError


@dataclass(frozen=True)
class Layer:
    """One affine map z = W x + b; W has shape (out, in) like torch.nn.Linear.weight."""

    W: np.ndarray
    b: np.ndarray


def pattern_key(pattern: Sequence[np.ndarray]) -> bytes:
    """A hashable key of a per-layer pattern (or of per-layer states): the layers' bytes end to end. Keys are
    compared only among patterns of one network, whose layer sizes and dtype fix where each layer's bytes lie."""
    return b"".join(np.asarray(g).tobytes() for g in pattern)


def chain_jacobian(weights: Sequence[np.ndarray], pattern: Sequence[np.ndarray]) -> np.ndarray:
    """W_m diag(g_{m-1}) ... diag(g_1) W_1 for the chain `weights` (m matrices) and a pattern of its m - 1
    inner layers, computed by the C++ core (the one Jacobian-under-pattern of lipmiq)."""
    return pattern_jacobian(_core.Net(list(weights)), pattern)


def pattern_jacobian(core_net: "_core.Net", pattern: Sequence[np.ndarray]) -> np.ndarray:
    """J(g) of a network the core holds, for one activation pattern."""
    masks = [(np.asarray(g, dtype=np.float64) != 0)[None, :] for g in pattern]
    return _core.jacobians(core_net, masks, 1)[0]


def _as_matrix(value: object, what: str) -> np.ndarray:
    try:
        arr = np.asarray(value)
    except Exception as exc:  # ragged nested lists and the like
        raise InputError(f"{what}: cannot be read as an array ({exc})") from None
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise InputError(f"{what}: expected numbers, got dtype {arr.dtype}")
    if np.iscomplexobj(arr):
        raise InputError(f"{what}: complex values are not supported")
    return np.ascontiguousarray(arr, dtype=np.float64)


class Network:
    """x_k = relu(W_k x_{k-1} + b_k) for hidden layers, f(x) = W_L x_{L-1} + b_L, float64."""

    def __init__(self, weights: Sequence[object], biases: Sequence[object] | None = None, name: str = "network"):
        self.name = name
        weights = list(weights)
        if not weights:
            raise InputError(f"{name}: a network needs at least one layer")
        if biases is None:
            biases = [None] * len(weights)
        biases = list(biases)
        if len(biases) != len(weights):
            raise InputError(f"{name}: {len(weights)} weight matrices but {len(biases)} bias vectors")
        layers = []
        for k, (W, b) in enumerate(zip(weights, biases)):
            where = f"{name}: layer {k}"
            W = _as_matrix(W, f"{where} weight")
            if W.ndim != 2:
                raise InputError(f"{where}: weight must be a 2-D (out, in) matrix, got shape {W.shape}")
            if W.shape[0] == 0 or W.shape[1] == 0:
                raise InputError(f"{where}: empty layer, weight has shape {W.shape}")
            b = np.zeros(W.shape[0]) if b is None else _as_matrix(b, f"{where} bias").reshape(-1)
            if b.shape != (W.shape[0],):
                raise InputError(f"{where}: bias has {b.size} entries but the weight {W.shape} has {W.shape[0]} rows")
            if layers and W.shape[1] != layers[-1].W.shape[0]:
                raise InputError(
                    f"{where}: weight has shape {W.shape}, so it takes {W.shape[1]} inputs, "
                    f"but layer {k - 1} outputs {layers[-1].W.shape[0]}"
                )
            for arr, part in ((W, "weight"), (b, "bias")):
                bad = ~np.isfinite(arr)
                if bad.any():
                    idx = tuple(int(i) for i in np.argwhere(bad)[0])
                    raise InputError(f"{where}: {part} has a non-finite value {arr[idx]} at index {idx}")
            W.setflags(write=False)
            b.setflags(write=False)
            layers.append(Layer(W, b))
        self.layers: tuple[Layer, ...] = tuple(layers)
        self._core_net = None

    @property
    def weights(self) -> list[np.ndarray]:
        return [layer.W for layer in self.layers]

    @property
    def biases(self) -> list[np.ndarray]:
        return [layer.b for layer in self.layers]

    @property
    def input_dim(self) -> int:
        return self.layers[0].W.shape[1]

    @property
    def output_dim(self) -> int:
        return self.layers[-1].W.shape[0]

    @property
    def hidden_sizes(self) -> list[int]:
        return [layer.W.shape[0] for layer in self.layers[:-1]]

    @property
    def sizes(self) -> list[int]:
        return [self.input_dim] + [layer.W.shape[0] for layer in self.layers]

    def __len__(self) -> int:
        return len(self.layers)

    def __repr__(self) -> str:
        return f"Network({self.name!r}, sizes={self.sizes})"

    def preactivations(self, X: np.ndarray) -> list[np.ndarray]:
        """Pre-activations z_1..z_L of a batch X (B, n) in float64 (plain numpy, for checks)."""
        a = np.atleast_2d(np.asarray(X, dtype=np.float64))
        out = []
        for k, layer in enumerate(self.layers):
            z = a @ layer.W.T + layer.b
            out.append(z)
            if k < len(self.layers) - 1:
                a = np.maximum(z, 0.0)
        return out

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        y = self.preactivations(x.reshape(-1, self.input_dim))[-1]
        return y.reshape(-1) if x.ndim == 1 else y

    def jacobian(self, pattern: Sequence[np.ndarray]) -> np.ndarray:
        """J(g) = W_L diag(g_{L-1}) ... diag(g_1) W_1 for one activation pattern."""
        return pattern_jacobian(self.core, pattern)

    @property
    def core(self) -> "_core.Net":
        """The core's copy of this network, built once (the network is immutable) and passed to its kernels."""
        if self._core_net is None:
            self._core_net = _core.Net(self.weights, self.biases)
        return self._core_net

    def select_output(self, output: int | Sequence[float] | np.ndarray | None) -> "Network":
        """The scalar network c^T f (c = e_k for an index k); the whole network for None."""
        if output is None:
            return self
        last = self.layers[-1]
        if isinstance(output, (int, np.integer)) and not isinstance(output, bool):
            k = int(output)
            if not 0 <= k < self.output_dim:
                raise InputError(f"output index {k} is out of range: the network has {self.output_dim} outputs")
            c = np.zeros(self.output_dim)
            c[k] = 1.0
        else:
            c = _as_matrix(output, "output weight vector").reshape(-1)
            if c.size != self.output_dim:
                raise InputError(f"output weight vector has {c.size} entries, the network has {self.output_dim} outputs")
            if not np.all(np.isfinite(c)):
                raise InputError("output weight vector has non-finite entries")
        weights = self.weights[:-1] + [c[None, :] @ last.W]
        biases = self.biases[:-1] + [np.array([c @ last.b])]
        return Network(weights, biases, name=f"{self.name}[output]")

    def to_npz(self, path: str) -> None:
        arrays = {}
        for k, layer in enumerate(self.layers):
            arrays[f"W{k}"] = layer.W
            arrays[f"b{k}"] = layer.b
        np.savez(path, **arrays)
