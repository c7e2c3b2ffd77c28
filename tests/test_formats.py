"""Model and specification formats: ONNX, PyTorch (Conv2d, state dicts), .nnet, VNN-LIB, load by suffix.

Oracles are independent of the lowering code: torch and onnxruntime evaluate the original models,
a reference .nnet evaluator written here follows the format's published semantics, and the
brute-force oracle gives the exact constant of the round-tripped networks.
"""
import copy
import pickle
import sys
import warnings

import lipmiq
import numpy as np
import pytest
from lipmiq import Box, InputError
from lipmiq.io.nnet import load_nnet
from lipmiq.io.onnx_graph import from_onnx
from lipmiq.io.vnnlib import load_vnnlib, read_vnnlib
from oracles.bruteforce import exact_lipschitz


def _torch():
    return pytest.importorskip("torch")


def _onnx():
    pytest.importorskip("onnxruntime")
    return pytest.importorskip("onnx")


def _export(model, shape, path, dynamic=True, fold=True):
    """Export with the TorchScript exporter; fold=False keeps BatchNormalization nodes after Conv."""
    torch = _torch()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, torch.zeros((1,) + tuple(shape)), str(path), dynamo=False,
                          input_names=["x"], output_names=["y"], do_constant_folding=fold,
                          dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}} if dynamic else None)
    return str(path)


def _torch_eval(model, X, shape):
    torch = _torch()
    with torch.no_grad():
        return model.double()(torch.tensor(X, dtype=torch.float64).reshape((-1,) + tuple(shape))).reshape(len(X), -1).numpy()


# ---------------------------------------------------------------------------------------------- ONNX


def _conv_net():
    torch = _torch()
    torch.manual_seed(3)
    nn = torch.nn
    return nn.Sequential(nn.Conv2d(1, 2, 3, stride=1, padding=1), nn.ReLU(), nn.Conv2d(2, 2, 2, stride=2),
                         nn.ReLU(), nn.Flatten(), nn.Linear(8, 3))


def test_torch_onnx_round_trip_same_network_and_bounds(tmp_path):
    _onnx()
    torch = _torch()
    model = _conv_net()
    via_onnx = lipmiq.load(_export(model, (1, 4, 4), tmp_path / "conv.onnx"))
    direct = lipmiq.from_torch(model, input_shape=(1, 4, 4))
    assert via_onnx.sizes == direct.sizes == [16, 32, 8, 3]
    for a, b in zip(via_onnx.weights + via_onnx.biases, direct.weights + direct.biases):
        assert np.allclose(a, b, rtol=0, atol=1e-6)
    X = np.random.default_rng(0).normal(size=(20, 16))
    assert np.allclose(direct(X), _torch_eval(model, X, (1, 4, 4)), atol=1e-5)

    # a small dense net for the bound comparison (brute force stays cheap)
    torch.manual_seed(1)
    dense = torch.nn.Sequential(torch.nn.Linear(3, 6), torch.nn.ReLU(), torch.nn.Linear(6, 5), torch.nn.ReLU(),
                                torch.nn.Linear(5, 2))
    a = lipmiq.load(_export(dense, (3,), tmp_path / "dense.onnx"))
    b = lipmiq.from_torch(dense)
    box = Box(-1.0, 1.0)
    exact = exact_lipschitz([np.array(W) for W in b.weights], [np.array(v) for v in b.biases],
                            ("box", -1.0, 1.0), 2, 2, c=0)
    for method in ("naive", "miqcqp"):
        ra = lipmiq.lipschitz(a, box, p=2, q=2, output=0, method=method, time_limit=10)
        rb = lipmiq.lipschitz(b, box, p=2, q=2, output=0, method=method, time_limit=10)
        assert ra.upper == pytest.approx(rb.upper, rel=1e-6) and ra.lower == pytest.approx(rb.lower, rel=1e-6, abs=1e-9)
        assert ra.lower <= exact * (1 + 1e-9) <= ra.upper * (1 + 1e-9) + 1e-12
    assert ra.exact and ra.upper == pytest.approx(exact, rel=1e-6)


def _model(nodes, inits, in_shape, out_name="y", in_type=None, int_inits=None, dtype=np.float32, opset=17):
    onnx = _onnx()
    from onnx import helper, numpy_helper

    elem = helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    tensors = [numpy_helper.from_array(np.asarray(v, dtype=dtype), name=k) for k, v in inits.items()]
    tensors += [numpy_helper.from_array(np.asarray(v, dtype=np.int64), name=k) for k, v in (int_inits or {}).items()]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", in_type or elem, in_shape)],
        [helper.make_tensor_value_info(out_name, elem, ["a", "b"])], tensors)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def _check_against_runtime(model, tmp_path, n_points=8, tol=1e-4):
    import onnx
    import onnxruntime as ort
    from onnx import helper

    path = tmp_path / "m.onnx"
    onnx.save(model, str(path))
    net = lipmiq.load(str(path))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    shape = [d.dim_value or 1 for d in model.graph.input[0].type.tensor_type.shape.dim]
    dtype = helper.tensor_dtype_to_np_dtype(model.graph.input[0].type.tensor_type.elem_type)
    rng = np.random.default_rng(7)
    for _ in range(n_points):
        x = rng.normal(size=shape).astype(dtype)
        expected = session.run(None, {"x": x})[0].reshape(-1)
        assert np.allclose(net(x.reshape(-1).astype(np.float64)), expected, rtol=tol, atol=tol)
    return net


def test_onnx_gemm_attributes_match_onnxruntime(tmp_path):
    _onnx()
    from onnx import helper

    rng = np.random.default_rng(0)
    A = rng.normal(size=(4, 3))  # used as B' (transB): Y = x @ A.T
    C = rng.normal(size=(4,))
    K = rng.normal(size=(5, 4))  # constant first operand, data second (transA on the constant)
    D = rng.normal(size=(5, 1))
    nodes = [
        helper.make_node("Gemm", ["x", "A", "C"], ["h"], name="g1", transB=1, alpha=0.5, beta=-2.0),
        helper.make_node("Relu", ["h"], ["r"], name="r1"),
        helper.make_node("Gemm", ["KT", "r", "D"], ["y0"], name="g2", transA=1, transB=1, alpha=1.5, beta=0.25),
        helper.make_node("Relu", ["y0"], ["y"], name="r2"),  # a final ReLU gets an identity output layer
    ]
    net = _check_against_runtime(_model(nodes, {"A": A, "C": C, "KT": K.T, "D": D}, [1, 3]), tmp_path)
    assert net.sizes == [3, 4, 5, 5]
    # transA on the data: a column input (3, 1)
    nodes = [helper.make_node("Gemm", ["x", "A"], ["y"], name="g", transA=1, transB=1)]
    _check_against_runtime(_model(nodes, {"A": A}, [3, 1]), tmp_path)


def test_onnx_matmul_add_sub_reshape_flatten_match_onnxruntime(tmp_path):
    _onnx()
    from onnx import helper

    rng = np.random.default_rng(1)
    inits = {"M1": rng.normal(size=(6, 10)), "b1": rng.normal(size=(10,)), "b2": rng.normal(size=(5,)), "s": np.array([2, 5], dtype=np.float32),
             "M2": rng.normal(size=(4, 2)), "c": rng.normal(size=(4, 5)), "M3": rng.normal(size=(20, 3)),
             "shape": np.array([0, -1])}
    from onnx import numpy_helper

    nodes = [
        helper.make_node("Relu", ["x"], ["r0"], name="relu_first"),  # a ReLU on the input: identity first layer
        helper.make_node("Flatten", ["r0"], ["f"], name="flat", axis=1),
        helper.make_node("MatMul", ["f", "M1"], ["m1"], name="mm1"),
        helper.make_node("Add", ["m1", "b1"], ["a1"], name="add1"),
        helper.make_node("Relu", ["a1"], ["r1"], name="relu1"),
        helper.make_node("Relu", ["r1"], ["r1b"], name="relu_again"),
        helper.make_node("Constant", [], ["shp"], name="cst",
                         value=numpy_helper.from_array(np.array([2, 5], dtype=np.int64))),
        helper.make_node("Reshape", ["r1b", "shp"], ["t"], name="reshape"),  # (1, 10) -> (2, 5)
        helper.make_node("MatMul", ["M2", "t"], ["m2"], name="mm2"),  # constant @ data: (4, 5)
        helper.make_node("Sub", ["c", "m2"], ["s1"], name="sub_const_first"),
        helper.make_node("Sub", ["s1", "b2"], ["s2"], name="sub_data_first"),
        helper.make_node("Identity", ["s2"], ["i"], name="ident"),
        helper.make_node("Reshape", ["i", "shape64"], ["f2"], name="reshape2"),  # (4, 5) -> (4, 5) via [0, -1]
        helper.make_node("Flatten", ["f2"], ["f3"], name="flat2", axis=0),  # (1, 20)
        helper.make_node("MatMul", ["f3", "M3"], ["y"], name="mm3"),
    ]
    inits.pop("s")
    model = _model(nodes, inits, [1, 2, 3], int_inits={"shape64": inits.pop("shape")})
    net = _check_against_runtime(model, tmp_path)
    assert net.sizes == [6, 6, 10, 3]


@pytest.mark.parametrize("attrs", [
    dict(strides=[2, 1], pads=[1, 0, 2, 1], dilations=[1, 2]),
    dict(auto_pad="SAME_UPPER", strides=[2, 2]),
    dict(auto_pad="SAME_LOWER", strides=[2, 2]),
    dict(auto_pad="VALID"),
])
def test_onnx_conv_matches_onnxruntime(tmp_path, attrs):
    _onnx()
    from onnx import helper

    rng = np.random.default_rng(2)
    nodes = [helper.make_node("Conv", ["x", "W", "B"], ["c"], name="conv", kernel_shape=[3, 2], **attrs),
             helper.make_node("Relu", ["c"], ["r"], name="relu"),
             helper.make_node("Flatten", ["r"], ["y"], name="flat")]
    model = _model(nodes, {"W": rng.normal(size=(3, 2, 3, 2)), "B": rng.normal(size=(3,))}, ["N", 2, 6, 5])
    _check_against_runtime(model, tmp_path)


def test_onnx_refusals_name_op_and_node(tmp_path):
    torch = _torch()
    _onnx()
    from onnx import helper

    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Sigmoid(), torch.nn.Linear(4, 1))
    with pytest.raises(InputError, match=r"node '[^']*Sigmoid[^']*' \(Sigmoid\): unsupported op type Sigmoid"):
        lipmiq.load(_export(model, (3,), tmp_path / "sig.onnx"))

    A = np.eye(3)
    skip = [helper.make_node("MatMul", ["x", "A"], ["h"], name="mm"),
            helper.make_node("Add", ["h", "x"], ["y"], name="skip")]
    with pytest.raises(InputError, match="node 'skip' \\(Add\\).*branches and skip connections"):
        from_onnx(_model(skip, {"A": A}, [1, 3]))
    unknown = [helper.make_node("MatMul", ["x", "A"], ["y"], name="mm")]
    with pytest.raises(InputError, match="unknown size 'n' in dimension 1"):
        from_onnx(_model(unknown, {"A": A}, [1, "n"]))
    grouped = [helper.make_node("Conv", ["x", "W"], ["y"], name="gconv", group=2)]
    with pytest.raises(InputError, match="node 'gconv' \\(Conv\\): group=2"):
        from_onnx(_model(grouped, {"W": np.ones((2, 1, 1, 1))}, [1, 2, 3, 3]))
    bad_shape = [helper.make_node("MatMul", ["x", "A"], ["y"], name="mm")]
    with pytest.raises(InputError, match="node 'mm' \\(MatMul\\): cannot multiply the data tensor of shape \\(1, 4\\)"):
        from_onnx(_model(bad_shape, {"A": A}, [1, 4]))
    huge = [helper.make_node("MatMul", ["x", "A"], ["y"], name="huge")]
    with pytest.raises(InputError, match="node 'huge' \\(MatMul\\): the unrolled dense layer would be 30000 x 30000"):
        from_onnx(_model(huge, {"A": A}, [1, 10000, 3]))
    nan = [helper.make_node("Gemm", ["x", "A"], ["y"], name="g")]
    with pytest.raises(InputError, match="non-finite value nan"):
        from_onnx(_model(nan, {"A": np.array([[np.nan, 1.0, 0.0]]).T}, [1, 3]))


def test_onnx_hostile_files(tmp_path):
    torch = _torch()
    onnx = _onnx()
    from onnx import TensorProto, helper

    good = _export(torch.nn.Sequential(torch.nn.Linear(30, 20), torch.nn.ReLU(), torch.nn.Linear(20, 2)),
                   (30,), tmp_path / "good.onnx")
    data = open(good, "rb").read()
    for name, content in (("truncated.onnx", data[: len(data) // 2]), ("garbage.onnx", b"\x08\xff\xff\xff" * 50),
                          ("empty.onnx", b"")):
        (tmp_path / name).write_bytes(content)
        with pytest.raises(InputError, match=f"{name}: (cannot read ONNX file|not a valid ONNX model|expected one data input)"):
            lipmiq.load(str(tmp_path / name))
    with pytest.raises(InputError, match="no such file"):
        lipmiq.load(str(tmp_path / "missing.onnx"))
    # a tensor pointing at an external file is never followed
    model = onnx.load(good)
    init = model.graph.initializer[0]
    init.ClearField("raw_data")
    init.data_location = TensorProto.EXTERNAL
    entry = init.external_data.add()
    entry.key, entry.value = "location", "../../etc/passwd"
    onnx.save(model, str(tmp_path / "external.onnx"))
    with pytest.raises(InputError, match="external file"):
        lipmiq.load(str(tmp_path / "external.onnx"))
    # an integer input and a string constant are refused
    mm = [helper.make_node("MatMul", ["x", "A"], ["y"], name="mm")]
    with pytest.raises(InputError, match="element type INT64"):
        from_onnx(_model(mm, {"A": np.eye(2)}, [1, 2], in_type=TensorProto.INT64))
    model = _model(mm, {"A": np.eye(2)}, [1, 2])
    model.graph.initializer[0].CopyFrom(helper.make_tensor("A", TensorProto.STRING, [1], [b"boom"]))
    with pytest.raises(InputError, match="expected real numbers"):
        from_onnx(model)


# ------------------------------------------------------------------------------------------- PyTorch


def test_torch_conv_unrolled_matches_torch():
    torch = _torch()
    nn = torch.nn
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(2, 3, (3, 2), stride=(2, 1), padding=(1, 2), dilation=(1, 2)), nn.ReLU(),
        nn.Sequential(nn.Conv2d(3, 2, 3, padding="same", dilation=2), nn.ReLU()),
        nn.Conv2d(2, 2, 2, padding="valid", bias=False), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 2 * 7, 3))
    shape = (2, 5, 6)
    net = lipmiq.from_torch(model, input_shape=shape)
    X = np.random.default_rng(1).normal(size=(50, 60))
    assert np.allclose(net(X), _torch_eval(model, X, shape), rtol=1e-10, atol=1e-10)
    assert net.sizes == [60, 3 * 3 * 8, 2 * 3 * 8, 2 * 2 * 7, 3]


def test_torch_refusals_name_the_module(tmp_path):
    torch = _torch()
    nn = torch.nn
    with pytest.raises(InputError, match=r"module 0 Conv2d needs the input shape: from_torch\(module, input_shape="):
        lipmiq.from_torch(nn.Sequential(nn.Conv2d(1, 1, 2), nn.ReLU(), nn.Flatten(), nn.Linear(4, 1)))
    with pytest.raises(InputError, match="module 0 Conv2d: only groups=1"):
        lipmiq.from_torch(nn.Sequential(nn.Conv2d(2, 2, 2, groups=2)), input_shape=(2, 3, 3))
    with pytest.raises(InputError, match="expects 2 input channels, but the input has shape \\(1, 3, 3\\)"):
        lipmiq.from_torch(nn.Sequential(nn.Conv2d(2, 2, 2)), input_shape=(1, 3, 3))
    with pytest.raises(InputError, match="module 2 Linear receives a tensor of shape \\(1, 2, 2\\); add nn.Flatten"):
        lipmiq.from_torch(nn.Sequential(nn.Conv2d(1, 1, 2), nn.ReLU(), nn.Linear(2, 1)), input_shape=(1, 3, 3))
    with pytest.raises(InputError, match="module 1 MaxPool2d is not supported"):
        lipmiq.from_torch(nn.Sequential(nn.Conv2d(1, 1, 2), nn.MaxPool2d(2)), input_shape=(1, 3, 3))
    with pytest.raises(InputError, match="does not fit"):
        lipmiq.from_torch(nn.Sequential(nn.Conv2d(1, 1, 4)), input_shape=(1, 3, 3))


def test_torch_files_weights_only(tmp_path):
    torch = _torch()
    nn = torch.nn
    torch.manual_seed(2)
    model = nn.Sequential(nn.Linear(3, 5), nn.ReLU(), nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 2))
    torch.save(model.state_dict(), tmp_path / "sd.pt")
    torch.save({"state_dict": model.state_dict(), "epoch": 3}, tmp_path / "ckpt.pth")
    X = np.random.default_rng(3).normal(size=(20, 3))
    for name in ("sd.pt", "ckpt.pth"):
        net = lipmiq.load(str(tmp_path / name))
        assert net.sizes == [3, 5, 4, 2]
        assert np.allclose(net(X), _torch_eval(model, X, (3,)), atol=1e-10)

    torch.save(model, tmp_path / "full.pt")
    with pytest.raises(InputError, match="pickled Python objects.*state_dict.*ONNX"):
        lipmiq.load(str(tmp_path / "full.pt"))
    marker = tmp_path / "executed"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    (tmp_path / "evil.pt").write_bytes(pickle.dumps(Evil(), protocol=2))
    with pytest.raises(InputError, match="pickled Python objects"):
        lipmiq.load(str(tmp_path / "evil.pt"))
    assert not marker.exists()

    data = (tmp_path / "sd.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="cut.pt: cannot read PyTorch file"):
        lipmiq.load(str(tmp_path / "cut.pt"))

    cases = {
        "conv.pt": ({"0.weight": torch.ones(2, 1, 3, 3), "0.bias": torch.ones(2)}, "only Linear layers"),
        "gap.pt": ({"0.weight": torch.ones(2, 3), "1.weight": torch.ones(1, 2)}, "ambiguous"),
        "ints.pt": ({"0.weight": torch.ones(2, 3, dtype=torch.int64)}, "dtype torch.int64"),
        "nan.pt": ({"0.weight": torch.full((2, 3), float("nan"))}, "non-finite value nan"),
        "names.pt": ({"fc1.weight": torch.ones(2, 3)}, "'fc1.weight' is not '<index>.weight'"),
        "tensor.pt": (torch.ones(3), "holds a Tensor"),
    }
    for name, (obj, message) in cases.items():
        torch.save(obj, tmp_path / name)
        with pytest.raises(InputError, match=message):
            lipmiq.load(str(tmp_path / name))


# ------------------------------------------------ layers of trained models: batch norm, dropout, identity


def _randomise_batchnorm(bn, generator):
    """Running statistics and affine parameters away from their defaults (which make it the identity)."""
    torch = _torch()
    with torch.no_grad():
        n = bn.num_features
        bn.running_mean.copy_(torch.randn(n, generator=generator))
        bn.running_var.copy_(torch.rand(n, generator=generator) * 2 + 0.1)
        if bn.affine:
            bn.weight.copy_(torch.randn(n, generator=generator))
            bn.bias.copy_(torch.randn(n, generator=generator))
    return bn


TRAINED_SHAPE = (2, 5, 4)


def _trained_model(seed):
    """Conv2d, BatchNorm2d, ReLU, Dropout2d, Flatten, Linear, BatchNorm1d, ReLU, Dropout, Identity, Linear in eval
    mode on (2, 5, 4) inputs; the second batch norm has no affine parameters for odd seeds."""
    torch = _torch()
    nn = torch.nn
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    model = nn.Sequential(
        nn.Conv2d(2, 3, 3, padding=1), _randomise_batchnorm(nn.BatchNorm2d(3, eps=1e-3), g), nn.ReLU(),
        nn.Dropout2d(0.3), nn.Flatten(), nn.Linear(60, 7), _randomise_batchnorm(nn.BatchNorm1d(7, affine=seed % 2 == 0), g),
        nn.ReLU(), nn.Dropout(0.5), nn.Identity(), nn.Linear(7, 3))
    return model.eval()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_torch_batchnorm_dropout_identity_match_torch(seed):
    torch = _torch()
    model = _trained_model(seed)
    X = np.random.default_rng(seed).normal(size=(50, 40))
    net = lipmiq.from_torch(model, input_shape=TRAINED_SHAPE)
    assert net.sizes == [40, 60, 7, 3]  # batch norm, dropout and identity add no layer
    with torch.no_grad():
        expected = model(torch.tensor(X, dtype=torch.float32).reshape((-1,) + TRAINED_SHAPE)).numpy().astype(np.float64)
    assert np.allclose(net(X), expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max())  # float32 model
    double = copy.deepcopy(model)
    net64 = lipmiq.from_torch(double.double(), input_shape=TRAINED_SHAPE)
    assert np.allclose(net64(X), _torch_eval(double, X, TRAINED_SHAPE), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("input_shape", [None, (3, 5)])
def test_torch_batchnorm1d_on_features_and_sequences(input_shape):
    """A leading BatchNorm1d on flat (N, C) inputs (no input shape given) and on (N, C, L) inputs."""
    torch = _torch()
    nn = torch.nn
    torch.manual_seed(4)
    bn = _randomise_batchnorm(nn.BatchNorm1d(3), torch.Generator().manual_seed(4))
    n = 3 if input_shape is None else 15
    model = nn.Sequential(bn, nn.Flatten(), nn.Linear(n, 4), nn.ReLU(), nn.Linear(4, 2)).eval().double()
    net = lipmiq.from_torch(model, input_shape=input_shape)
    X = np.random.default_rng(4).normal(size=(30, n))
    assert net.sizes == [n, 4, 2]
    assert np.allclose(net(X), _torch_eval(model, X, input_shape or (3,)), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("fold", [True, False])
def test_trained_model_through_onnx_matches_torch_and_onnxruntime(tmp_path, fold):
    """torch.onnx fuses BatchNorm2d into the Conv when folding constants and keeps it otherwise."""
    _onnx()
    import onnx

    model = _trained_model(3)
    path = _export(model, TRAINED_SHAPE, tmp_path / "trained.onnx", fold=fold)
    ops = [node.op_type for node in onnx.load(path).graph.node]
    assert ops.count("BatchNormalization") == (1 if fold else 2)
    via_onnx = _check_against_runtime(onnx.load(path), tmp_path)
    direct = lipmiq.from_torch(model, input_shape=TRAINED_SHAPE)
    assert via_onnx.sizes == direct.sizes == [40, 60, 7, 3]
    X = np.random.default_rng(5).normal(size=(50, 40))
    expected = direct(X)
    assert np.allclose(via_onnx(X), expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max())


def _normalised_conv_graph():
    """(x - mean) / std per channel, Conv, BatchNormalization, Relu, Dropout (mask unused), Flatten, Gemm,
    BatchNormalization on (1, 7), Relu, Identity, constant * data, Gemm, Dropout: a VNN-COMP-style model."""
    from onnx import helper, numpy_helper

    rng = np.random.default_rng(6)
    inits = {"mean": rng.normal(size=(1, 2, 1, 1)), "std": rng.uniform(0.2, 2.0, size=(2, 1, 1)),
             "W": rng.normal(size=(3, 2, 3, 3)), "B": rng.normal(size=3),
             "g1": rng.normal(size=3), "b1": rng.normal(size=3), "m1": rng.normal(size=3), "v1": rng.uniform(0.1, 2, 3),
             "G": rng.normal(size=(7, 60)), "C": rng.normal(size=7),
             "g2": rng.normal(size=7), "b2": rng.normal(size=7), "m2": rng.normal(size=7), "v2": rng.uniform(0.1, 2, 7),
             "k": rng.normal(size=7), "H": rng.normal(size=(3, 7)), "ratio": np.array(0.4)}
    off = numpy_helper.from_array(np.array(False))
    nodes = [
        helper.make_node("Sub", ["x", "mean"], ["centred"], name="sub"),
        helper.make_node("Div", ["centred", "std"], ["scaled"], name="div"),
        helper.make_node("Conv", ["scaled", "W", "B"], ["conv"], name="conv", pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["conv", "g1", "b1", "m1", "v1"], ["bn1"], name="bn1", epsilon=1e-3),
        helper.make_node("Relu", ["bn1"], ["r1"], name="relu1"),
        helper.make_node("Constant", [], ["off"], name="training_mode", value=off),
        helper.make_node("Dropout", ["r1", "ratio", "off"], ["d1", "mask"], name="drop1"),
        helper.make_node("Flatten", ["d1"], ["flat"], name="flat"),
        helper.make_node("Gemm", ["flat", "G", "C"], ["fc"], name="fc", transB=1),
        helper.make_node("BatchNormalization", ["fc", "g2", "b2", "m2", "v2"], ["bn2"], name="bn2"),
        helper.make_node("Relu", ["bn2"], ["r2"], name="relu2"),
        helper.make_node("Identity", ["r2"], ["same"], name="identity"),
        helper.make_node("Mul", ["k", "same"], ["weighted"], name="mul"),
        helper.make_node("Gemm", ["weighted", "H"], ["out"], name="fc2", transB=1),
        helper.make_node("Dropout", ["out"], ["y"], name="drop2"),
    ]
    return _model(nodes, inits, ["N", 2, 5, 4])


def test_onnx_normalisation_batchnorm_dropout_match_onnxruntime(tmp_path):
    _onnx()
    net = _check_against_runtime(_normalised_conv_graph(), tmp_path, n_points=20)
    assert net.sizes == [40, 60, 7, 3]


def test_onnx_elementwise_ops_in_float64_match_onnxruntime(tmp_path):
    """Dense float64 graphs (onnxruntime has no float64 Conv): agreement at float64 rounding."""
    _onnx()
    from onnx import helper

    rng = np.random.default_rng(8)
    inits = {"m": rng.normal(size=4), "s": rng.uniform(0.2, 2, size=4), "G": rng.normal(size=(6, 4)), "C": rng.normal(size=6),
             "g": rng.normal(size=6), "b": rng.normal(size=6), "mu": rng.normal(size=6), "v": rng.uniform(0.1, 2, 6),
             "k": rng.normal(size=(1, 6)), "c": rng.normal(size=6), "H": rng.normal(size=(6, 2))}
    nodes = [
        helper.make_node("Sub", ["m", "x"], ["a"], name="sub_const_first"),
        helper.make_node("Div", ["a", "s"], ["b0"], name="div"),
        helper.make_node("Gemm", ["b0", "G", "C"], ["fc"], name="fc", transB=1),
        helper.make_node("BatchNormalization", ["fc", "g", "b", "mu", "v"], ["bn"], name="bn", epsilon=0.25),
        helper.make_node("Relu", ["bn"], ["r"], name="relu"),
        helper.make_node("Dropout", ["r"], ["d"], name="drop"),
        helper.make_node("Mul", ["d", "k"], ["w"], name="mul_data_first"),
        helper.make_node("Add", ["w", "c"], ["t"], name="add"),
        helper.make_node("Identity", ["t"], ["i"], name="identity"),
        helper.make_node("MatMul", ["i", "H"], ["y"], name="mm"),
    ]
    net = _check_against_runtime(_model(nodes, inits, [1, 4], dtype=np.float64), tmp_path, n_points=20, tol=1e-12)
    assert net.sizes == [4, 6, 2]


def _hand_folded_case(kind, tmp_path):
    """(lowered, hand-built) networks of one small model; the hand network folds the batch norm or the input
    normalisation with the formulas of the torch / ONNX documentation."""
    if kind == "torch-batchnorm":
        torch = _torch()
        nn = torch.nn
        torch.manual_seed(9)
        model = nn.Sequential(nn.Linear(3, 5), _randomise_batchnorm(nn.BatchNorm1d(5), torch.Generator().manual_seed(9)),
                              nn.ReLU(), nn.Dropout(), nn.Linear(5, 2)).eval().double()
        (W0, b0), (W1, b1) = [(m.weight.detach().numpy(), m.bias.detach().numpy()) for m in (model[0], model[4])]
        bn = model[1]
        mu, var, gamma, beta = (t.detach().numpy() for t in (bn.running_mean, bn.running_var, bn.weight, bn.bias))
        s = gamma / np.sqrt(var + bn.eps)
        hand = lipmiq.Network([s[:, None] * W0, W1], [s * (b0 - mu) + beta, b1])
        return lipmiq.from_torch(model), hand
    _onnx()
    import onnx
    from onnx import helper

    rng = np.random.default_rng(10)
    values = {"m": rng.uniform(0, 1, 3), "s": rng.uniform(0.2, 1, 3), "A": rng.normal(size=(3, 5)),
              "a": rng.normal(size=5), "B": rng.normal(size=(5, 2)), "c": rng.normal(size=2)}
    values = {k: v.astype(np.float32).astype(np.float64) for k, v in values.items()}  # the numbers the file holds
    nodes = [helper.make_node("Sub", ["x", "m"], ["u"], name="sub"), helper.make_node("Div", ["u", "s"], ["v"], name="div"),
             helper.make_node("Gemm", ["v", "A", "a"], ["h"], name="fc1"), helper.make_node("Relu", ["h"], ["r"], name="relu"),
             helper.make_node("Gemm", ["r", "B", "c"], ["y"], name="fc2")]
    path = tmp_path / "normalised.onnx"
    onnx.save(_model(nodes, values, [1, 3]), str(path))
    A, m, s = values["A"], values["m"], values["s"]  # x -> A^T ((x - m) / s) + a
    hand = lipmiq.Network([A.T / s[None, :], values["B"].T], [values["a"] - A.T @ (m / s), values["c"]])
    return lipmiq.load(str(path)), hand


@pytest.mark.parametrize("kind", ["torch-batchnorm", "onnx-normalisation"])
def test_lowered_bounds_equal_hand_built_network(tmp_path, kind):
    lowered, hand = _hand_folded_case(kind, tmp_path)
    X = np.random.default_rng(11).uniform(-1, 1, size=(100, 3))
    assert np.allclose(lowered(X), hand(X), rtol=1e-12, atol=1e-12)
    exact = exact_lipschitz(list(hand.weights), list(hand.biases), ("box", -1.0, 1.0), 2, 2)
    box = Box(-1.0, 1.0)
    for method in ("naive", "miqcqp"):
        a = lipmiq.lipschitz(lowered, box, p=2, q=2, method=method, time_limit=20)
        b = lipmiq.lipschitz(hand, box, p=2, q=2, method=method, time_limit=20)
        assert a.upper == pytest.approx(b.upper, rel=1e-9) and a.lower == pytest.approx(b.lower, rel=1e-9, abs=1e-12)
        assert a.lower <= exact * (1 + 1e-9) and exact <= a.upper * (1 + 1e-9)
    assert a.exact and a.upper == pytest.approx(exact, rel=1e-6)


def test_torch_training_mode_and_batch_statistics_refused():
    torch = _torch()
    nn = torch.nn
    fresh = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 1))  # training mode
    with pytest.raises(InputError, match=r"module 1 BatchNorm1d is in training mode.*call model\.eval\(\)"):
        lipmiq.from_torch(fresh)
    assert lipmiq.from_torch(fresh.eval()).sizes == [3, 4, 1]
    dropout = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Dropout(), nn.Linear(4, 1))
    with pytest.raises(InputError, match=r"module 2 Dropout is in training mode.*call model\.eval\(\)"):
        lipmiq.from_torch(dropout)
    assert lipmiq.from_torch(dropout.eval()).sizes == [3, 4, 1]
    # a module that acts the same in both modes is lowered in training mode too
    assert lipmiq.from_torch(nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1))).sizes == [3, 4, 1]
    batch_stats = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4, track_running_stats=False), nn.ReLU(),
                                nn.Linear(4, 1)).eval()
    with pytest.raises(InputError, match="module 1 BatchNorm1d has track_running_stats=False"):
        lipmiq.from_torch(batch_stats)


@pytest.mark.parametrize("layers, shape, message", [
    (lambda nn: [nn.BatchNorm2d(2), nn.Flatten(), nn.Linear(18, 1)], None,
     r"module 0 BatchNorm2d needs the input shape: from_torch\(module, input_shape=\(C, H, W\)\)"),
    (lambda nn: [nn.Conv2d(1, 3, 2), nn.BatchNorm2d(2)], (1, 3, 3),
     r"module 1 BatchNorm2d normalises a \(C, H, W\) input with C = 2 but receives a tensor of shape \(3, 2, 2\)"),
    (lambda nn: [nn.Linear(3, 5), nn.ReLU(), nn.BatchNorm1d(4), nn.Linear(4, 1)], None,
     r"module 2 BatchNorm1d normalises a \(C,\) or \(C, L\) input with C = 4 but receives a tensor of shape \(5,\)"),
    (lambda nn: [nn.Conv2d(1, 3, 2), nn.BatchNorm1d(3)], (1, 3, 3),
     r"module 1 BatchNorm1d normalises a \(C,\) or \(C, L\) input with C = 3 but receives a tensor of shape \(3, 2, 2\)"),
    (lambda nn: [nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 1)], None,
     "module 2 Linear follows a Linear without a ReLU in between"),
    (lambda nn: [nn.Linear(3, 4), nn.LayerNorm(4), nn.ReLU(), nn.Linear(4, 1)], None,
     r"module 1 LayerNorm is not supported \(Linear, Conv2d, ReLU, Flatten, BatchNorm1d, BatchNorm2d, Dropout, Identity\)"),
    (lambda nn: [nn.Linear(3, 4), nn.ReLU(), type("MyDropout", (nn.Dropout,), {})(), nn.Linear(4, 1)], None,
     "module 2 MyDropout is not supported"),
], ids=["bn2d-no-shape", "bn2d-channels", "bn1d-features", "bn1d-on-image", "linear-bn-linear", "layernorm",
        "dropout-subclass"])
def test_torch_layer_refusals_name_the_module(layers, shape, message):
    torch = _torch()
    model = torch.nn.Sequential(*layers(torch.nn)).eval()
    with pytest.raises(InputError, match=message) as info:
        lipmiq.from_torch(model, input_shape=shape)
    assert "\n" not in str(info.value)


def test_batchnorm_with_nonpositive_variance_refused():
    torch = _torch()
    nn = torch.nn
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4, eps=0.5), nn.ReLU(), nn.Linear(4, 1)).eval()
    with torch.no_grad():
        model[1].running_var[2] = -0.5
    with pytest.raises(InputError, match=r"module 1 BatchNorm1d: variance \+ eps is 0.0 <= 0 in channel 2"):
        lipmiq.from_torch(model)


def _onnx_refusal_cases():
    from onnx import helper, numpy_helper

    bn_inputs = ["x", "g", "b", "m", "v"]
    bn_values = {k: np.ones(2) for k in "gbmv"}
    on = helper.make_node("Constant", [], ["on"], name="cst", value=numpy_helper.from_array(np.array(True)))
    return [
        ([helper.make_node("Div", ["c", "x"], ["y"], name="div")], {"c": np.ones(2)}, 17,
         r"node 'div' \(Div\): dividing a constant by the data is not an affine map"),
        ([helper.make_node("Div", ["x", "c"], ["y"], name="div")], {"c": np.array([1.0, 0.0])}, 17,
         r"node 'div' \(Div\): divides by zero"),
        ([helper.make_node("Mul", ["x", "c"], ["y"], name="mul")], {"c": np.ones((2, 2))}, 17,
         r"node 'mul' \(Mul\): constant of shape \(2, 2\) does not broadcast to the data shape \(1, 2\)"),
        ([helper.make_node("BatchNormalization", bn_inputs, ["y"], name="bn", training_mode=1)], bn_values, 15,
         r"node 'bn' \(BatchNormalization\): training mode normalises with the statistics of each batch"),
        ([helper.make_node("BatchNormalization", bn_inputs, ["y"], name="bn", is_test=0)], bn_values, 6,
         r"node 'bn' \(BatchNormalization\): training mode"),
        ([helper.make_node("BatchNormalization", bn_inputs, ["y"], name="bn", spatial=0)], bn_values, 7,
         r"node 'bn' \(BatchNormalization\): spatial=0"),
        ([helper.make_node("BatchNormalization", bn_inputs, ["y"], name="bn", epsilon=0.0)],
         {**bn_values, "v": np.array([1.0, 0.0])}, 17, r"node 'bn' \(BatchNormalization\): variance \+ eps is 0.0 <= 0"),
        ([helper.make_node("BatchNormalization", bn_inputs, ["y"], name="bn")], {**bn_values, "g": np.ones(3)}, 17,
         r"node 'bn' \(BatchNormalization\): per-channel parameters of different lengths"),
        ([on, helper.make_node("Dropout", ["x", "", "on"], ["y"], name="drop")], {}, 17,
         r"node 'drop' \(Dropout\): training_mode is true"),
        ([helper.make_node("Dropout", ["x"], ["y"], name="drop", is_test=0)], {}, 6, r"node 'drop' \(Dropout\): training_mode"),
        ([helper.make_node("Dropout", ["x"], ["d", "mask"], name="drop"),
          helper.make_node("Add", ["d", "mask"], ["y"], name="add")], {}, 17,
         r"node 'add' \(Add\): reads the mask output 'mask' of a Dropout"),
        ([helper.make_node("LeakyRelu", ["x"], ["y"], name="leaky")], {}, 17,
         r"node 'leaky' \(LeakyRelu\): unsupported op type LeakyRelu"),
    ]


def test_onnx_layer_refusals_name_the_node():
    _onnx()
    from onnx import helper

    for nodes, inits, opset, message in _onnx_refusal_cases():
        with pytest.raises(InputError, match=message) as info:
            from_onnx(_model(nodes, inits, [1, 2], opset=opset))
        assert "\n" not in str(info.value)
    # a ReLU on a large input needs an identity layer, refused before it is built; the model is named once
    relu = [helper.make_node("Relu", ["x"], ["y"], name="relu")]
    with pytest.raises(InputError, match=r"^onnx: node 'relu' \(Relu\): the unrolled dense layer would be 8000 x 8000"):
        from_onnx(_model(relu, {}, [1, 8000]))



# ---------------------------------------------------------------------------------------------- .nnet


def _write_nnet(path, weights, biases, mins, maxs, means, ranges):
    sizes = [weights[0].shape[1]] + [W.shape[0] for W in weights]
    lines = ["// a test network", "// written by test_formats.py",
             f"{len(weights)},{sizes[0]},{sizes[-1]},{max(sizes)},", ",".join(map(str, sizes)) + ",", "0,"]
    for vec in (mins, maxs, means, ranges):
        lines.append(",".join(repr(float(v)) for v in vec) + ",")
    for W, b in zip(weights, biases):
        lines += [",".join(repr(float(v)) for v in row) + "," for row in W]
        lines += [f"{float(v)!r}," for v in b]
    path.write_text("\n".join(lines) + "\n")


def _nnet_reference(x, weights, biases, mins, maxs, means, ranges):
    """The evaluation of the NNet reference implementation (clip, normalise, run, denormalise)."""
    n = len(mins)
    a = (np.clip(x, mins, maxs) - means[:n]) / ranges[:n]
    for W, b in zip(weights[:-1], biases[:-1]):
        a = np.maximum(W @ a + b, 0)
    return (weights[-1] @ a + biases[-1]) * ranges[n] + means[n]


def _nnet_case(tmp_path, name="acas.nnet"):
    rng = np.random.default_rng(4)
    weights = [rng.normal(size=(6, 3)), rng.normal(size=(4, 6)), rng.normal(size=(2, 4))]
    biases = [rng.normal(size=6), rng.normal(size=4), rng.normal(size=2)]
    mins, maxs = np.array([0.0, -3.0, 100.0]), np.array([2.0, 3.0, 1200.0])
    means, ranges = np.array([1.0, 0.5, 650.0, 7.5]), np.array([2.0, 6.0, 1100.0, 20.0])
    path = tmp_path / name
    _write_nnet(path, weights, biases, mins, maxs, means, ranges)
    return path, (weights, biases, mins, maxs, means, ranges)


def test_nnet_normalisation_folded_exactly(tmp_path):
    path, spec = _nnet_case(tmp_path)
    net, box = load_nnet(str(path))
    assert np.array_equal(box.lo, spec[2]) and np.array_equal(box.hi, spec[3])
    rng = np.random.default_rng(5)
    inside = box.sample(200, rng)
    expected = np.array([_nnet_reference(x, *spec) for x in inside])
    assert np.allclose(net(inside), expected, rtol=1e-12, atol=1e-9)
    assert np.array_equal(lipmiq.load(str(path)).weights[0], net.weights[0])
    # with clip=True the network follows the format everywhere, also outside the box
    clipped, _ = load_nnet(str(path), clip=True)
    wide = box.lo - 1000 + rng.random((200, 3)) * (box.hi - box.lo + 2000)
    assert np.allclose(clipped(wide), [_nnet_reference(x, *spec) for x in wide], rtol=1e-12, atol=1e-8)
    assert np.allclose(clipped(inside), expected, rtol=1e-12, atol=1e-9)
    # the constant on the default box: both forms agree with the brute-force oracle
    exact = exact_lipschitz(list(net.weights), list(net.biases), ("box", box.lo, box.hi), np.inf, 1, c=1)
    result = lipmiq.lipschitz(str(path), box, p="inf", q=1, output=1, method="miqcqp", time_limit=20)
    assert result.lower <= exact * (1 + 1e-9) and exact <= result.upper * (1 + 1e-9)
    assert result.exact


def test_nnet_malformed_files_name_the_line(tmp_path):
    path, spec = _nnet_case(tmp_path)
    lines = path.read_text().splitlines()
    cases = {
        "short.nnet": ("\n".join(lines[:-3]), "file ends before the row 1 of the weights of layer 2"),
        "word.nnet": ("\n".join(lines[:9] + ["1.0,abc,2.0,"] + lines[10:]), "line 10: 'abc' in the row 0"),
        "nan.nnet": ("\n".join(lines[:9] + ["1.0,nan,2.0,"] + lines[10:]), "line 10: 'nan' in the row 0 .* must be finite"),
        "sizes.nnet": ("\n".join(lines[:3] + ["3,6,4,3,"] + lines[4:]), "layer sizes \\[3, 6, 4, 3\\] disagree"),
        "range.nnet": ("\n".join(lines[:8] + ["2.0,0,1100.0,20.0,"] + lines[9:]), "input 1 has range 0"),
        "minmax.nnet": ("\n".join(lines[:5] + ["5.0,-3.0,100.0,"] + lines[6:]), "input 0 has minimum 5.0 above maximum 2.0"),
        "extra.nnet": ("\n".join(lines + ["1,"]), "unexpected data after the last layer"),
        "header.nnet": ("\n".join(lines[:2] + ["3,3,2,"] + lines[3:]), "line 3: expected 4 value"),
    }
    for name, (text, message) in cases.items():
        (tmp_path / name).write_text(text)
        with pytest.raises(InputError, match=f"{name}: .*{message}"):
            load_nnet(str(tmp_path / name))
    (tmp_path / "binary.nnet").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(InputError, match="cannot read .nnet file as text"):
        lipmiq.load(str(tmp_path / "binary.nnet"))


# -------------------------------------------------------------------------------------------- VNN-LIB


VNNLIB = """; ACAS-like property
(declare-const X_0 Real)
(declare-const X_1 Real)
(declare-const X_2 Real)
(declare-const Y_0 Real)
(declare-const Y_1 Real)
(assert (<= X_0 0.5))
(assert (>= X_0 -0.5))
(assert (and (<= X_1 (- 0.25)) (>= X_1 -1e0)))
(assert (>= 2 X_2))
(assert (< 1.5 X_2))
(assert (<= X_0 0.75))
(assert (or (and (>= Y_0 1)) (<= Y_0 Y_1)))
"""


def test_vnnlib_input_box(tmp_path):
    path = tmp_path / "prop.vnnlib"
    path.write_text(VNNLIB)
    box, notes = read_vnnlib(str(path), 3)
    assert np.array_equal(box.lo, [-0.5, -1.0, 1.5]) and np.array_equal(box.hi, [0.5, -0.25, 2.0])
    assert any("ignored 1 output constraint" in note and "13" in note for note in notes)
    assert any("strict bounds on line(s) 11" in note for note in notes)
    with pytest.warns(UserWarning) as record:
        assert np.array_equal(load_vnnlib(str(path), 3).lo, box.lo)
    assert [str(w.message) for w in record] == notes
    net = lipmiq.Network([np.array([[1.0, -2.0, 0.5]])])
    result = lipmiq.lipschitz(net, box, p=1, q=1, method="naive", time_limit=5)
    assert result.upper == pytest.approx(2.0) and result.domain["box"]["lo"] == [-0.5, -1.0, 1.5]


@pytest.mark.parametrize("text, n, message", [
    ("(declare-const X_0 Real)\n(declare-const X_1 Real)\n(assert (<= X_0 1))\n(assert (>= X_0 0))\n(assert (>= X_1 0))",
     2, "input X_1 \\(declared on line 2\\) has no upper bound"),
    ("(declare-const X_0 Real)\n(assert (<= X_0 0.5))\n(assert (>= X_0 0.6))",
     1, "X_0 has contradictory bounds: lower 0.6 \\(line 3\\) is above upper 0.5 \\(line 2\\)"),
    ("(declare-const X_0 Real)\n(assert (<= X_1 0.5))", 1, "line 2: variable X_1 is used but not declared"),
    ("(declare-const X_0 Real)\n(assert (or (<= X_0 0.5) (>= X_0 0.7)))", 1, "line 2: unsupported constraint .*'or'"),
    ("(declare-const X_0 Real)\n(declare-const X_1 Real)\n(assert (<= X_0 X_1))", 2, "line 3: only bounds of one input"),
    ("(declare-const X_0 Real)\n(assert (<= X_0 0.5)", 1, "line 2: '\\(' is never closed"),
    ("(declare-const X_0 Real))", 1, "line 1: unbalanced"),
    ("(declare-const X_0 Real)\n(assert (<= X_0 nan))", 1, "line 2: only bounds of one input"),
    ("(declare-const X_0 Real)\n(declare-const X_3 Real)", 2, "line 2: input X_3 is out of range"),
    ("(declare-const X_0 Real)", 2, "the network has 2 inputs but X_1 is not declared"),
    ("(declare-const X_0 Int)", 1, "line 1: variable X_0 has type Int"),
    ("(declare-const X_0 Real)\n(check-sat)", 1, "line 2: unsupported command 'check-sat'"),
])
def test_vnnlib_errors_name_the_problem_and_line(tmp_path, text, n, message):
    path = tmp_path / "bad.vnnlib"
    path.write_text(text)
    with pytest.raises(InputError, match=message):
        read_vnnlib(str(path), n)


# --------------------------------------------------------------------------------- load by suffix


def test_load_by_suffix(tmp_path):
    net = lipmiq.Network([np.array([[1.0, 2.0]]), np.array([[3.0]])], [np.zeros(1), np.ones(1)])
    net.to_npz(str(tmp_path / "net.npz"))
    (tmp_path / "net.npz").rename(tmp_path / "NET.NPZ")
    assert lipmiq.load(str(tmp_path / "NET.NPZ")).sizes == [2, 1, 1]
    for name in ("net.h5", "net"):
        with pytest.raises(InputError, match="unknown network format.*supported: .npz, .onnx, .nnet, .pt, .pth"):
            lipmiq.load(str(tmp_path / name))


def test_missing_extras_name_the_extra(tmp_path, monkeypatch):
    (tmp_path / "m.onnx").write_bytes(b"")
    monkeypatch.setitem(sys.modules, "onnx", None)  # makes `import onnx` fail
    with pytest.raises(InputError, match=r"pip install 'lipmiq\[onnx\]'"):
        lipmiq.load(str(tmp_path / "m.onnx"))
    monkeypatch.setitem(sys.modules, "torch.nn", None)
    with pytest.raises(InputError, match=r"pip install 'lipmiq\[torch\]'"):
        lipmiq.from_torch(object())
