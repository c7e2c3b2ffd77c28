"""Lowering helpers shared by the readers: optional imports, and the affine chain that becomes a Network."""
from __future__ import annotations

from typing import Any, List, Optional, Tuple

import numpy as np

from ..errors import InputError
from ..network import Network
from .conv import check_dense_size

# A linear map on the flat vector: None is the identity, a 1-D array a diagonal, a 2-D array a dense (out, in)
# matrix. Diagonals stay vectors until a dense map absorbs them, so that a normalisation in front of a large
# Conv never builds an n x n matrix.
Linear = Optional[np.ndarray]


def require(module: str, extra: str, what: str) -> Any:
    """Import an optional dependency, or an InputError naming the extra that provides it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise InputError(f"{what} needs the optional package '{module}': pip install 'lipmiq[{extra}]'") from None


def _compose(M: Linear, W: Linear) -> Linear:
    """The linear map M o W (each None, diagonal or dense), formed entry by entry in float64."""
    if M is None or W is None:
        return W if M is None else M
    if M.ndim == 1:
        return M * W if W.ndim == 1 else M[:, None] * W
    return M * W if W.ndim == 1 else M @ W


def _apply(M: Linear, v: np.ndarray) -> np.ndarray:
    if M is None:
        return v
    return M * v if M.ndim == 1 else M @ v


class AffineChain:
    """Builds a Network from affine maps and ReLUs on a flat vector, composing the maps between two ReLUs.

    Dense layers come in through `affine`, elementwise maps (batch normalisation, input scaling, a
    constant added) through `scale`; both compose with whatever affine map is pending.
    With strict=True (PyTorch modules) two dense layers need a ReLU in between and the chain must
    end with an affine map, as the Network convention requires (elementwise maps compose freely);
    otherwise (ONNX graphs) consecutive affine maps are composed, a repeated ReLU is dropped (relu is
    idempotent) and an identity layer is added where a ReLU has no affine map before or after it.
    """

    def __init__(self, name: str, n_inputs: Optional[int] = None, strict: bool = False):
        self.name = name
        self.strict = strict
        self.dim = n_inputs
        self.weights: List[np.ndarray] = []
        self.biases: List[np.ndarray] = []
        self.pending: Optional[Tuple[Linear, np.ndarray]] = None  # (linear part, bias) since the last ReLU
        self.pending_layer: Optional[str] = None  # the dense layer inside `pending`, for strict mode's message

    def _at(self, what: str) -> str:
        """`what` prefixed by the model's name, unless it carries it already (the ONNX reader's node names do)."""
        return what if what.startswith(f"{self.name}: ") else f"{self.name}: {what}"

    def affine(self, W: Optional[np.ndarray], b: Optional[np.ndarray], what: str) -> None:
        """Apply the dense layer x -> W x + b (W None: the identity; b None: zero)."""
        if W is not None:
            W = np.asarray(W, dtype=np.float64)
            if self.dim is not None and W.shape[1] != self.dim:
                raise InputError(f"{self._at(what)} takes {W.shape[1]} inputs but receives {self.dim}")
        if self.strict and self.pending_layer is not None:
            raise InputError(f"{self._at(what)} follows a {self.pending_layer} without a ReLU in between")
        self._push(W, b, self.dim if W is None else W.shape[0], what)
        self.pending_layer = what.split()[-1]

    def scale(self, d: Optional[np.ndarray], b: Optional[np.ndarray], what: str) -> None:
        """Apply the elementwise map x -> d * x + b (d None: 1; b None: 0), vectors of the current size."""
        size = self.dim
        for v in (d, b):
            if v is not None:
                size = np.asarray(v).size if size is None else size
                if np.asarray(v).size != size:
                    raise InputError(f"{self._at(what)} has {np.asarray(v).size} entries but receives {size} values")
        self._push(None if d is None else np.asarray(d, dtype=np.float64).reshape(-1), b, size, what)

    def _push(self, M: Linear, b: Optional[np.ndarray], out: Optional[int], what: str) -> None:
        if out is None:
            raise InputError(f"{self._at(what)} needs the input size, which is not known yet")
        b = np.zeros(out) if b is None else np.asarray(b, dtype=np.float64).reshape(-1)
        if self.pending is not None:
            W0, b0 = self.pending  # M (W0 x + b0) + b
            b = _apply(M, b0) + b
            M = _compose(M, W0)
        self.pending = (M, b)
        self.dim = out

    def _dense(self, M: Linear, what: str) -> np.ndarray:
        if M is not None and M.ndim == 2:
            return M
        check_dense_size(self.dim, self.dim, self._at(what))  # type: ignore[arg-type]
        return np.eye(self.dim) if M is None else np.diag(M)  # type: ignore[arg-type]

    def relu(self, what: str) -> None:
        """Apply an elementwise ReLU."""
        if self.pending is None:
            if self.strict:
                raise InputError(f"{self._at(what)} must follow a Linear layer")
            if self.weights:  # relu(relu(x)) = relu(x)
                return
            self._push(None, None, self.dim, "identity")
        M, b = self.pending  # type: ignore[misc]
        self.weights.append(self._dense(M, what))
        self.biases.append(b)
        self.pending, self.pending_layer = None, None

    def network(self) -> Network:
        """The Network x_k = relu(W_k x + b_k), f = W_L x + b_L built so far."""
        if self.pending is None:
            if not self.weights:
                raise InputError(f"{self.name}: no affine layer found")
            if self.strict:
                raise InputError(f"{self.name}: the network ends with a ReLU; lipmiq expects a final Linear layer")
            self._push(None, None, self.dim, "identity")
        M, b = self.pending  # type: ignore[misc]
        return Network(self.weights + [self._dense(M, "the output layer")], self.biases + [b], name=self.name)
