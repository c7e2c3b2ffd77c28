"""ONNX graphs lowered to a Network: a single chain of Gemm/MatMul/Conv/Relu/Flatten/Reshape, constants
added, subtracted, multiplied or divided (input normalisation), and the inference forms of
BatchNormalization, Dropout and Identity.

Each op acts on the flat (C-order) vector of one data tensor whose shape is tracked from the graph
input; a symbolic leading (batch) dimension is taken as 1. Affine ops are exact linear maps of that
vector (Conv unrolled by `conv.conv2d_matrix`, elementwise ops kept diagonal), composed in float64
until the next Relu.
"""
from __future__ import annotations

import math
import os
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..errors import InputError
from ..network import Network
from .chain import AffineChain, require
from .conv import check_dense_size, conv2d_matrix
from .elementwise import batchnorm_scale_shift, per_channel

Shape = Tuple[int, ...]


def _attrs(node: Any) -> Dict[str, Any]:
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _const_array(tensor: Any, where: str) -> np.ndarray:
    """A numeric numpy array of an ONNX TensorProto; external data and non-numeric types are refused."""
    from onnx import TensorProto, numpy_helper

    if tensor.data_location == TensorProto.EXTERNAL:
        raise InputError(f"{where}: tensor '{tensor.name}' keeps its data in an external file, which is not supported")
    try:
        arr = numpy_helper.to_array(tensor)
    except Exception as exc:
        raise InputError(f"{where}: cannot read tensor '{tensor.name}' ({exc.__class__.__name__}: {exc})") from None
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool) or np.iscomplexobj(arr):
        raise InputError(f"{where}: tensor '{tensor.name}' has dtype {arr.dtype}, expected real numbers")
    return arr


def _permutation_columns(M: np.ndarray, shape: Shape) -> np.ndarray:
    """M @ vec(X^T) written as a matrix acting on vec(X) for a 2-D X of the given shape."""
    perm = np.arange(int(np.prod(shape))).reshape(shape).T.reshape(-1)
    out = np.zeros_like(M)
    out[:, perm] = M
    return out


def _matmul_data_left(B: np.ndarray, shape: Shape, where: str) -> Tuple[np.ndarray, Shape]:
    """Y = X @ B for the data X: the matrix on vec(X) and the shape of Y."""
    if B.ndim not in (1, 2) or B.shape[0] != shape[-1]:
        raise InputError(f"{where}: cannot multiply the data tensor of shape {shape} by a constant of shape {B.shape}")
    B2 = B.reshape(B.shape[0], -1)
    rows = int(np.prod(shape[:-1]))
    out = shape[:-1] + B.shape[1:]
    check_dense_size(rows * B2.shape[1], rows * B2.shape[0], where)
    return np.kron(np.eye(rows), B2.T), out


def _matmul_data_right(A: np.ndarray, shape: Shape, where: str) -> Tuple[np.ndarray, Shape]:
    """Y = A @ X for the data X: the matrix on vec(X) and the shape of Y."""
    k = shape[0] if len(shape) == 1 else shape[-2]
    if A.ndim not in (1, 2) or A.shape[-1] != k:
        raise InputError(f"{where}: cannot multiply a constant of shape {A.shape} by the data tensor of shape {shape}")
    A2 = A.reshape(-1, k)
    if len(shape) == 1:
        return A2, A.shape[:-1]
    lead, cols = int(np.prod(shape[:-2])), shape[-1]
    check_dense_size(lead * A2.shape[0] * cols, lead * k * cols, where)
    return np.kron(np.eye(lead), np.kron(A2, np.eye(cols))), shape[:-2] + A.shape[:-1] + (cols,)


def _broadcast_bias(c: np.ndarray, shape: Shape, where: str) -> np.ndarray:
    try:
        ok = np.broadcast_shapes(c.shape, shape) == tuple(shape)
    except ValueError:
        ok = False
    if not ok:
        raise InputError(f"{where}: constant of shape {c.shape} does not broadcast to the data shape {shape}")
    return np.broadcast_to(c.astype(np.float64), shape).reshape(-1)


class _Lowering:
    """Walks the nodes of one graph, keeping the constants and the one data tensor."""

    def __init__(self, graph: Any, name: str):
        self.name = name
        self.consts: Dict[str, np.ndarray] = {}
        for init in graph.initializer:
            self.consts[init.name] = _const_array(init, f"{name}: initializer")
        inputs = [v for v in graph.input if v.name not in self.consts]
        if len(inputs) != 1:
            raise InputError(f"{name}: expected one data input, found {[v.name for v in inputs]}")
        self.current = inputs[0].name
        self.shape = self._input_shape(inputs[0])
        self.consumed: set = set()
        self.mask_outputs: set = set()  # Dropout masks: all ones in inference, but never read
        self.chain = AffineChain(name, int(np.prod(self.shape)))

    def _input_shape(self, value: Any) -> Shape:
        from onnx import TensorProto

        ttype = value.type.tensor_type
        if ttype.elem_type not in (TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.FLOAT16, TensorProto.BFLOAT16):
            raise InputError(f"{self.name}: input '{value.name}' has element type "
                             f"{TensorProto.DataType.Name(ttype.elem_type)}, expected floating point")
        if not ttype.HasField("shape"):
            raise InputError(f"{self.name}: input '{value.name}' has no declared shape; the shape must be known")
        dims: List[int] = []
        for i, d in enumerate(ttype.shape.dim):
            if d.HasField("dim_value") and d.dim_value > 0:
                dims.append(int(d.dim_value))
            elif i == 0:
                dims.append(1)  # the batch dimension
            else:
                text = d.dim_param or "?"
                raise InputError(f"{self.name}: input '{value.name}' has an unknown size '{text}' in dimension {i}; "
                                 "only the leading batch dimension may be symbolic")
        return tuple(dims)

    def split(self, node: Any, where: str) -> Tuple[Optional[int], List[Optional[np.ndarray]]]:
        """The position of the data tensor among the node's inputs and the constant inputs (None elsewhere)."""
        position, values = None, []
        for i, name in enumerate(node.input):
            if name == "":
                values.append(None)
            elif name in self.consts:
                values.append(self.consts[name])
            elif name == self.current:
                if position is not None:
                    raise InputError(f"{where}: uses the data tensor '{name}' twice; only a chain of ops is supported")
                position = i
                values.append(None)
            elif name in self.mask_outputs:
                raise InputError(f"{where}: reads the mask output '{name}' of a Dropout; only inference is supported")
            elif name in self.consumed:
                raise InputError(f"{where}: reads tensor '{name}' again after it was used; "
                                 "branches and skip connections are not supported")
            else:
                raise InputError(f"{where}: input '{name}' is neither a constant nor the output of the previous op")
        return position, values

    def advance(self, node: Any, shape: Shape, where: str, outputs: Optional[Sequence[str]] = None) -> None:
        """Make the node's (only) output the data tensor, of the given shape."""
        outputs = list(node.output if outputs is None else outputs)
        if len(outputs) != 1:
            raise InputError(f"{where}: expected one output, got {len(outputs)}")
        self.consumed.add(self.current)
        self.current = outputs[0]
        self.shape = tuple(int(s) for s in shape)

    def run(self, graph: Any) -> Network:
        for index, node in enumerate(graph.node):
            where = f"{self.name}: node '{node.name or f'#{index}'}' ({node.op_type})"
            if node.domain not in ("", "ai.onnx"):
                raise InputError(f"{where}: operator domain '{node.domain}' is not supported")
            handler = _OPS.get(node.op_type)
            if handler is None:
                raise InputError(f"{where}: unsupported op type {node.op_type} (supported: {', '.join(sorted(_OPS))})")
            if node.op_type == "Constant":
                handler(self, node, None, [], where)
                continue
            position, values = self.split(node, where)
            if position is None:
                if node.op_type == "Identity":
                    self.consts[node.output[0]] = values[0]  # type: ignore[assignment]
                    continue
                raise InputError(f"{where}: all inputs are constants; constant subgraphs are not supported "
                                 "(export with constant folding)")
            handler(self, node, position, values, where)
        outputs = [v.name for v in graph.output]
        if outputs != [self.current]:
            raise InputError(f"{self.name}: the graph outputs {outputs}, expected exactly the final tensor "
                             f"'{self.current}'")
        return self.chain.network()


def _constant(low: _Lowering, node: Any, position: Any, values: Any, where: str) -> None:
    if len(node.output) != 1:
        raise InputError(f"{where}: expected one output, got {len(node.output)}")
    attrs = _attrs(node)
    if "value" in attrs:
        value = _const_array(attrs["value"], where)
    elif "value_float" in attrs or "value_int" in attrs:
        value = np.array(attrs.get("value_float", attrs.get("value_int")))
    elif "value_floats" in attrs or "value_ints" in attrs:
        value = np.array(attrs.get("value_floats", attrs.get("value_ints")))
    else:
        raise InputError(f"{where}: only numeric constants are supported (attributes {sorted(attrs)})")
    low.consts[node.output[0]] = value


def _identity(low: _Lowering, node: Any, position: int, values: Any, where: str) -> None:
    low.advance(node, low.shape, where)


def _relu(low: _Lowering, node: Any, position: int, values: Any, where: str) -> None:
    low.chain.relu(where)
    low.advance(node, low.shape, where)


def _gemm(low: _Lowering, node: Any, position: int, values: List[Optional[np.ndarray]], where: str) -> None:
    attrs = _attrs(node)
    alpha, beta = float(attrs.get("alpha", 1.0)), float(attrs.get("beta", 1.0))
    trans = (int(attrs.get("transA", 0)), int(attrs.get("transB", 0)))
    if position == 2:
        raise InputError(f"{where}: the data tensor is the bias input C; only A or B may be the data")
    if len(low.shape) != 2:
        raise InputError(f"{where}: Gemm needs a 2-D data tensor, got shape {low.shape}")
    other = values[1 - position]
    if other is None or other.ndim != 2:
        raise InputError(f"{where}: the constant operand must be a 2-D matrix, got "
                         f"{None if other is None else other.shape}")
    data_t = low.shape[::-1] if trans[position] else low.shape
    other = other.T if trans[1 - position] else other
    if position == 0:
        M, out = _matmul_data_left(other, data_t, where)
    else:
        M, out = _matmul_data_right(other, data_t, where)
    if trans[position]:
        M = _permutation_columns(M, low.shape)
    C = values[2] if len(values) > 2 else None
    bias = None if C is None else beta * _broadcast_bias(C, out, where)
    low.chain.affine(alpha * M, bias, where)
    low.advance(node, out, where)


def _matmul(low: _Lowering, node: Any, position: int, values: List[Optional[np.ndarray]], where: str) -> None:
    other = values[1 - position]
    if position == 0:
        M, out = _matmul_data_left(other, low.shape, where)  # type: ignore[arg-type]
    else:
        M, out = _matmul_data_right(other, low.shape, where)  # type: ignore[arg-type]
    low.chain.affine(M, None, where)
    low.advance(node, out, where)


def _add_sub(low: _Lowering, node: Any, position: int, values: List[Optional[np.ndarray]], where: str) -> None:
    c = _broadcast_bias(values[1 - position], low.shape, where)  # type: ignore[arg-type]
    if node.op_type == "Add":
        low.chain.scale(None, c, where)
    elif position == 0:  # x - c
        low.chain.scale(None, -c, where)
    else:  # c - x
        low.chain.scale(-np.ones(c.size), c, where)
    low.advance(node, low.shape, where)


def _mul_div(low: _Lowering, node: Any, position: int, values: List[Optional[np.ndarray]], where: str) -> None:
    """x * c, c * x and x / c for a constant c broadcast to the data (input normalisation, scaling)."""
    if node.op_type == "Div" and position != 0:
        raise InputError(f"{where}: dividing a constant by the data is not an affine map; only data / constant")
    c = _broadcast_bias(values[1 - position], low.shape, where)  # type: ignore[arg-type]
    if node.op_type == "Div":
        if np.any(c == 0):
            raise InputError(f"{where}: divides by zero (constant entry {int(np.argmin(np.abs(c)))} of the flat tensor)")
        c = 1.0 / c
    low.chain.scale(c, None, where)
    low.advance(node, low.shape, where)


def _batchnorm(low: _Lowering, node: Any, position: int, values: List[Optional[np.ndarray]], where: str) -> None:
    """Inference-form BatchNormalization: per channel (axis 1), scale (x - mean) / sqrt(var + epsilon) + B."""
    attrs = _attrs(node)
    if int(attrs.get("training_mode", 0)) or int(attrs.get("is_test", 1)) == 0:
        raise InputError(f"{where}: training mode normalises with the statistics of each batch; "
                         "only the inference form (running mean and variance) is supported")
    if int(attrs.get("spatial", 1)) != 1:
        raise InputError(f"{where}: spatial=0 (statistics per element) is not supported")
    if position != 0 or len(values) != 5 or any(v is None for v in values[1:]):
        raise InputError(f"{where}: the data must be the input X and scale, B, mean and var constants")
    if len(low.shape) < 2:
        raise InputError(f"{where}: needs an (N, C, ...) data tensor, got shape {low.shape}")
    s, t = batchnorm_scale_shift(values[3], values[4], float(attrs.get("epsilon", 1e-5)),  # type: ignore[arg-type]
                                 values[1], values[2], where)
    low.chain.scale(per_channel(s, low.shape, 1, where), per_channel(t, low.shape, 1, where), where)
    low.advance(node, low.shape, where)


def _dropout(low: _Lowering, node: Any, position: int, values: List[Optional[np.ndarray]], where: str) -> None:
    """Inference-form Dropout: the identity; an optional mask output must be left unused."""
    if position != 0:
        raise InputError(f"{where}: the data must be the input, ratio and training_mode constants")
    training = values[2] if len(values) > 2 else None
    if (training is not None and bool(np.any(training))) or int(_attrs(node).get("is_test", 1)) == 0:
        raise InputError(f"{where}: training_mode is true (random masks); only inference is supported")
    low.mask_outputs.update(name for name in node.output[1:] if name)
    low.advance(node, low.shape, where, outputs=node.output[:1])


def _flatten(low: _Lowering, node: Any, position: int, values: Any, where: str) -> None:
    axis = int(_attrs(node).get("axis", 1))
    rank = len(low.shape)
    if not -rank <= axis <= rank:
        raise InputError(f"{where}: axis {axis} is out of range for the data shape {low.shape}")
    axis = axis + rank if axis < 0 else axis
    shape = (int(np.prod(low.shape[:axis])), int(np.prod(low.shape[axis:])))
    low.advance(node, shape, where)  # C-order flattening keeps the flat vector as it is


def _reshape(low: _Lowering, node: Any, position: int, values: List[Optional[np.ndarray]], where: str) -> None:
    if position != 0 or values[1] is None:
        raise InputError(f"{where}: the target shape must be a constant")
    target = [int(v) for v in np.asarray(values[1]).reshape(-1)]
    allowzero = int(_attrs(node).get("allowzero", 0))
    dims = [low.shape[i] if v == 0 and not allowzero and i < len(low.shape) else v for i, v in enumerate(target)]
    size = int(np.prod(low.shape))
    if dims.count(-1) == 1:
        known = int(np.prod([d for d in dims if d != -1]))
        dims[dims.index(-1)] = size // known if known and size % known == 0 else -1
    if any(d < 0 for d in dims) or int(np.prod(dims)) != size:
        raise InputError(f"{where}: cannot reshape the data tensor of shape {low.shape} to {target}")
    low.advance(node, tuple(dims), where)  # a C-order reshape keeps the flat vector as it is


def _conv(low: _Lowering, node: Any, position: int, values: List[Optional[np.ndarray]], where: str) -> None:
    if position != 0 or values[1] is None:
        raise InputError(f"{where}: the data must be the input X and the weight a constant")
    if len(low.shape) != 4 or low.shape[0] != 1:
        raise InputError(f"{where}: Conv needs a (1, C, H, W) data tensor, got shape {low.shape}")
    attrs = _attrs(node)
    weight, bias = values[1], (values[2] if len(values) > 2 else None)
    if weight.ndim != 4:
        raise InputError(f"{where}: only 2-D convolutions are supported, weight has shape {weight.shape}")
    if int(attrs.get("group", 1)) != 1:
        raise InputError(f"{where}: group={attrs['group']} is not supported (only group=1)")
    kernel = tuple(weight.shape[2:])
    if "kernel_shape" in attrs and tuple(attrs["kernel_shape"]) != kernel:
        raise InputError(f"{where}: kernel_shape {attrs['kernel_shape']} differs from the weight shape {weight.shape}")
    stride = tuple(attrs.get("strides", (1, 1)))
    dilation = tuple(attrs.get("dilations", (1, 1)))
    pads = tuple(attrs.get("pads", (0, 0, 0, 0)))
    auto_pad = attrs.get("auto_pad", b"NOTSET")
    auto_pad = auto_pad.decode() if isinstance(auto_pad, bytes) else str(auto_pad)
    if auto_pad == "VALID":
        pads = (0, 0, 0, 0)
    elif auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        totals = [max(0, (math.ceil(n / s) - 1) * s + d * (k - 1) + 1 - n)
                  for n, s, d, k in zip(low.shape[2:], stride, dilation, kernel)]
        small = [t // 2 for t in totals]
        big = [t - t // 2 for t in totals]
        begin, end = (small, big) if auto_pad == "SAME_UPPER" else (big, small)
        pads = (begin[0], begin[1], end[0], end[1])
    elif auto_pad != "NOTSET":
        raise InputError(f"{where}: auto_pad={auto_pad} is not supported")
    M, b, out = conv2d_matrix(weight, bias, low.shape[1:], stride, pads, dilation, where)
    low.chain.affine(M, b, where)
    low.advance(node, (1,) + out, where)


_OPS: Dict[str, Callable[..., None]] = {
    "Add": _add_sub, "BatchNormalization": _batchnorm, "Constant": _constant, "Conv": _conv, "Div": _mul_div,
    "Dropout": _dropout, "Flatten": _flatten, "Gemm": _gemm, "Identity": _identity, "MatMul": _matmul,
    "Mul": _mul_div, "Relu": _relu, "Reshape": _reshape, "Sub": _add_sub,
}


def from_onnx(model: Any, name: str = "onnx") -> Network:
    """Lower an onnx.ModelProto (a chain of the supported ops) to a Network."""
    require("onnx", "onnx", "reading an ONNX model")
    return _Lowering(model.graph, name).run(model.graph)


def load_onnx(path: str) -> Network:
    """Read an .onnx file (external data files are refused) and lower it to a Network."""
    onnx = require("onnx", "onnx", f"{path}: reading an ONNX file")
    if not os.path.isfile(path):
        raise InputError(f"{path}: no such file")
    try:
        model = onnx.load(path, load_external_data=False)
    except Exception as exc:  # protobuf decode errors have no common public base class
        raise InputError(f"{path}: cannot read ONNX file ({exc.__class__.__name__}: {exc})") from None
    name = os.path.basename(path)
    for init in model.graph.initializer:
        _const_array(init, f"{name}: initializer")  # refuse external data before the checker looks for it
    try:
        onnx.checker.check_model(model)
    except Exception as exc:
        raise InputError(f"{path}: not a valid ONNX model ({exc.__class__.__name__}: {str(exc).strip()[:300]})") from None
    return from_onnx(model, name=name)
