"""Lowering helpers shared by the readers: optional imports, and the affine chain that becomes a Network."""
from __future__ import annotations

from typing import Any, List, Optional, Tuple

import numpy as np

from ..errors import InputError
from ..network import Network


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
