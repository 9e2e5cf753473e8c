"""QONNX export of a network's integer form.

The graph is built directly from the ``IntegerNet`` (the same integer parameters the
eval forward and the golden model use), so the exported file cannot drift from
them. It uses standard ONNX operators plus QONNX's MultiThreshold, with QONNX
datatype annotations on every tensor; batch size 1, NCHW, input UINT8. Every
layer's output tensor is named after the layer, so a full execution context can
be compared layer by layer.

Layer -> nodes:
  IntConv             Conv (bipolar/integer weights)
  IntThreshold        MultiThreshold
  IntMaxPool          MaxPool
  IntFlatten          Flatten
  IntMatMul           MatMul
  IntLab              Conv (depthwise, group=C, zero padding) -> MultiThreshold (BIPOLAR)
  IntDynamicThreshold ReduceSum -> MatMul -> MultiThreshold -> MatMul -> MultiThreshold
                      (thresholds, N x C) -> Reshape -> Sub(x, T) -> MultiThreshold(0, BIPOLAR)
  IntGlobalSum        ReduceSum (axes 2, 3, keepdims 0)
  IntConv with a non-zero padding value: Pad (constant) -> Conv (no padding)
  IntResidual         binarizer (as above) -> Pad(-1) -> Conv 3x3 -> MultiThreshold,
                      [Conv 2x2 stride 2 of x -> MultiThreshold], Add(conv branch, shortcut) ->
                      MultiThreshold (static RPReLU) or IntDynamicRPReLU
  IntDynamicRPReLU    ReduceSum -> MatMul -> MultiThreshold -> MatMul -> MultiThreshold
                      (offsets, N x C) -> Reshape -> Sub(z, off) -> MultiThreshold (multi-bit)
(docs/SPEC.md, sections 7 and 8, lists the node sequence and tensor names of a block.)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper

from bnnforge.model.integer import (
    IntConv,
    IntDynamicRPReLU,
    IntDynamicThreshold,
    IntegerNet,
    IntFlatten,
    IntGlobalSum,
    IntLab,
    IntMatMul,
    IntMaxPool,
    IntResidual,
    IntThreshold,
    int_dtype,
    values_dtype,
)

OPSET = 13
# MultiThreshold nodes carry the layer they implement in doc_string; it survives FINN's
# streamlining (which renames nodes and tensors) and names the custom hardware nodes.
LAYER_TAG = "bnnforge_layer:"
QONNX_DOMAIN = "qonnx.custom_op.general"
INPUT_NAME = "global_in"


class _GraphBuilder:
    def __init__(self):
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.dtypes: dict[str, str] = {}

    def init(self, name: str, value: np.ndarray, dtype: str | None = None) -> str:
        self.inits.append(helper.make_tensor(name, TensorProto.FLOAT, value.shape, value.astype(np.float32).ravel()))
        if dtype is not None:
            self.dtypes[name] = dtype
        return name

    def shape_const(self, name: str, values: list[int]) -> str:
        """An INT64 constant (axes, shapes): not a datatype-annotated tensor."""
        self.inits.append(helper.make_tensor(name, TensorProto.INT64, [len(values)], values))
        return name

    def int_init(self, name: str, value: np.ndarray) -> str:
        return self.init(name, value, values_dtype(value))

    def node(self, op: str, inputs: list[str], output: str, dtype: str | None, domain: str = "", **attrs) -> str:
        self.nodes.append(helper.make_node(op, inputs, [output], name=f"{op}_{output}", domain=domain, **attrs))
        if dtype is not None:
            self.dtypes[output] = dtype
        return output

    def threshold(self, x: str, thresholds: np.ndarray, out: str, out_dtype: str, out_bias: int, layout: str) -> str:
        # thresholds stay unannotated float32 (FINN's convention: its XNOR conversion
        # rescales them, which an integer annotation would reject)
        t = self.init(f"{out}_param_thresholds", np.asarray(thresholds))
        out = self.node(
            "MultiThreshold",
            [x, t],
            out,
            out_dtype,
            domain=QONNX_DOMAIN,
            out_dtype=out_dtype,
            out_scale=2.0 if out_dtype == "BIPOLAR" else 1.0,
            out_bias=float(out_bias),
            data_layout=layout,
        )
        self.nodes[-1].doc_string = LAYER_TAG + out
        return out


def _conv_attrs(k: int, pad: int, groups: int = 1, stride: int = 1) -> dict:
    return dict(kernel_shape=[k, k], pads=[pad] * 4, strides=[stride] * 2, dilations=[1, 1], group=groups)


def build_qonnx(net: IntegerNet) -> ModelWrapper:
    """QONNX ModelWrapper of an IntegerNet (datatypes annotated, shapes inferred)."""
    ranges = net.ranges()
    g = _GraphBuilder()
    x = INPUT_NAME
    g.dtypes[x] = net.input_dtype
    in_range = (0, 255)
    shape = (1, *net.input_shape)
    dtype = net.input_dtype
    for layer, out_range in zip(net.layers, ranges):
        x, dtype = _emit(g, layer, x, dtype, in_range, out_range, shape)
        shape = _out_shape(layer, shape)
        in_range = out_range

    graph = helper.make_graph(
        g.nodes,
        "bnnforge",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, [1, *net.input_shape])],
        [helper.make_tensor_value_info(x, TensorProto.FLOAT, list(shape))],
        initializer=g.inits,
    )
    onnx_model = helper.make_model(
        graph,
        producer_name="bnnforge",
        opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid(QONNX_DOMAIN, 1)],
    )
    model = ModelWrapper(onnx_model)
    from qonnx.transformation.infer_shapes import InferShapes

    model = model.transform(InferShapes())
    for tensor, dtype in g.dtypes.items():
        model.set_tensor_datatype(tensor, DataType[dtype])
    return model


def _out_dtype(layer, in_dtype: str, out_range) -> str:
    if isinstance(layer, (IntConv, IntMatMul, IntGlobalSum)):
        return int_dtype(*out_range)
    if isinstance(layer, (IntThreshold, IntDynamicRPReLU)):
        return layer.out_dtype
    if isinstance(layer, (IntLab, IntDynamicThreshold)):
        return "BIPOLAR"
    if isinstance(layer, IntResidual):
        return layer.act.out_dtype
    return in_dtype  # pooling and flattening keep their input's datatype


def _emit(g: _GraphBuilder, layer, x: str, in_dtype: str, in_range, out_range, shape) -> tuple[str, str]:
    """The nodes of one integer layer; returns (output tensor, its datatype)."""
    name = layer.name
    dtype = _out_dtype(layer, in_dtype, out_range)
    if isinstance(layer, IntConv):
        x = _conv(g, layer, x, in_dtype, dtype)
    elif isinstance(layer, IntThreshold):
        layout = "NCHW" if len(shape) == 4 else "NC"
        x = g.threshold(x, layer.thresholds, name, layer.out_dtype, layer.out_bias, layout)
    elif isinstance(layer, IntMaxPool):
        k = layer.kernel
        x = g.node("MaxPool", [x], name, dtype, kernel_shape=[k, k], strides=[k, k], pads=[0, 0, 0, 0])
    elif isinstance(layer, IntFlatten):
        x = g.node("Flatten", [x], name, dtype, axis=1)
    elif isinstance(layer, IntGlobalSum):
        x = g.node("ReduceSum", [x, g.shape_const(f"{name}_axes", [2, 3])], name, dtype, keepdims=0)
    elif isinstance(layer, IntMatMul):
        w = g.int_init(f"{name}_param_weights", layer.weights)
        x = g.node("MatMul", [x, w], name, dtype)
    elif isinstance(layer, IntLab):
        c, k, _ = layer.weights.shape
        w = g.int_init(f"{name}_param_weights", layer.weights[:, None])
        acc = g.node("Conv", [x, w], f"{name}_acc", int_dtype(*layer.acc_range(*in_range)), **_conv_attrs(k, k // 2, c))
        x = g.threshold(acc, layer.thresholds[:, None], name, "BIPOLAR", -1, "NCHW")
    elif isinstance(layer, IntDynamicThreshold):
        x = _dynamic_threshold(g, layer, x, in_range, shape)
    elif isinstance(layer, IntDynamicRPReLU):
        x = _dynamic_rprelu(g, layer, x, in_range, shape)
    elif isinstance(layer, IntResidual):
        x = _residual(g, layer, x, in_dtype, in_range, shape)
    else:
        raise TypeError(f"export: no QONNX mapping for {type(layer).__name__}")
    return x, dtype


def _conv(g: _GraphBuilder, layer: IntConv, x: str, in_dtype: str, dtype: str) -> str:
    """Conv; a non-zero padding value becomes an explicit Pad (constant) before an unpadded Conv."""
    name, pad = layer.name, layer.pad
    if pad and layer.pad_value:
        pads = g.shape_const(f"{name}_pads", [0, 0, pad, pad, 0, 0, pad, pad])
        value = g.init(f"{name}_pad_value", np.asarray(layer.pad_value, np.float32))
        x = g.node("Pad", [x, pads, value], f"{name}_padded", in_dtype, mode="constant")
        pad = 0
    w = g.int_init(f"{name}_param_weights", layer.weights)
    return g.node("Conv", [x, w], name, dtype, **_conv_attrs(layer.weights.shape[-1], pad, stride=layer.stride))


def _residual(g: _GraphBuilder, block: IntResidual, x: str, in_dtype: str, in_range, shape) -> str:
    """binarizer -> Pad -> Conv -> MultiThreshold, [Conv 2x2 of x -> MultiThreshold], Add, RPReLU stage."""
    b, b_dtype = _emit(g, block.binarizer, x, in_dtype, in_range, (-1, 1), shape)
    conv, act = block.conv, block.conv_act
    c = _conv(g, conv, b, b_dtype, int_dtype(*conv.out_range(-1, 1)))
    y = g.threshold(c, act.thresholds, act.name, act.out_dtype, act.out_bias, "NCHW")
    shortcut = x
    if block.down is not None:
        down, act = block.down, block.down_act
        d = _conv(g, down, x, in_dtype, int_dtype(*down.out_range(*in_range)))
        shortcut = g.threshold(d, act.thresholds, act.name, act.out_dtype, act.out_bias, "NCHW")
    z_range = block.add_range(*in_range)
    z = g.node("Add", [y, shortcut], block.add_name, int_dtype(*z_range))
    if isinstance(block.act, IntDynamicRPReLU):
        return _dynamic_rprelu(g, block.act, z, z_range, _out_shape(block, shape))
    act = block.act
    return g.threshold(z, act.thresholds, act.name, act.out_dtype, act.out_bias, "NCHW")


def _hyper_branch(g: _GraphBuilder, name: str, layer, x: str, r: dict, bias: int, out: str, key: str,
                  channels: int) -> str:
    """ReduceSum -> MatMul -> MultiThreshold -> MatMul -> MultiThreshold (N x C, tensor ``name_out``,
    value range ``r[key]``) -> Reshape (N, C, 1, 1)."""
    dt = {k: int_dtype(*v) for k, v in r.items()}
    axes = g.shape_const(f"{name}_axes", [2, 3])
    s = g.node("ReduceSum", [x, axes], f"{name}_sum", dt["sum"], keepdims=0)
    a1 = g.node("MatMul", [s, g.int_init(f"{name}_param_w1", layer.w1)], f"{name}_acc1", dt["acc1"])
    h = g.threshold(a1, layer.thr1, f"{name}_hidden", dt["hidden"], 0, "NC")
    a2 = g.node("MatMul", [h, g.int_init(f"{name}_param_w2", layer.w2)], f"{name}_acc2", dt["acc2"])
    t = g.threshold(a2, layer.thr2, f"{name}_{out}", dt[key], bias, "NC")
    shape4 = g.shape_const(f"{name}_shape4d", [1, channels, 1, 1])
    return g.node("Reshape", [t, shape4], f"{name}_{out}_nchw", dt[key])


def _dynamic_threshold(g: _GraphBuilder, layer: IntDynamicThreshold, x: str, in_range, shape) -> str:
    name = layer.name
    r = layer.ranges(*in_range, shape[2] * shape[3])
    t4 = _hyper_branch(g, name, layer, x, r, layer.t_bias, "thresholds", "threshold", shape[1])
    diff_lo, diff_hi = in_range[0] - r["threshold"][1], in_range[1] - r["threshold"][0]
    diff = g.node("Sub", [x, t4], f"{name}_diff", int_dtype(diff_lo, diff_hi))
    return g.threshold(diff, np.zeros((shape[1], 1), np.int64), name, "BIPOLAR", -1, "NCHW")


def _dynamic_rprelu(g: _GraphBuilder, layer: IntDynamicRPReLU, z: str, z_range, shape) -> str:
    """The DyBNN threshold pattern with an integer offset: hyper branch -> Sub(z, off) -> MultiThreshold."""
    name = layer.name
    r = layer.ranges(*z_range, shape[2] * shape[3])
    off4 = _hyper_branch(g, name, layer, z, r, layer.off_bias, "offsets", "offset", shape[1])
    diff = g.node("Sub", [z, off4], f"{name}_diff", int_dtype(*r["diff"]))
    return g.threshold(diff, layer.thresholds, name, layer.out_dtype, layer.out_bias, "NCHW")


def _out_shape(layer, shape):
    n = shape[0]
    if isinstance(layer, (IntConv, IntResidual)):
        conv = layer if isinstance(layer, IntConv) else layer.conv
        return (n, conv.weights.shape[0], conv.out_side(shape[2]), conv.out_side(shape[3]))
    if isinstance(layer, IntGlobalSum):
        return (n, shape[1])
    if isinstance(layer, IntMaxPool):
        return (n, shape[1], shape[2] // layer.kernel, shape[3] // layer.kernel)
    if isinstance(layer, IntFlatten):
        return (n, int(np.prod(shape[1:])))
    if isinstance(layer, IntMatMul):
        return (n, layer.weights.shape[1])
    return shape


def export_qonnx(net: IntegerNet, path: Path) -> ModelWrapper:
    model = build_qonnx(net)
    onnx.checker.check_model(model.model)
    model.save(str(path))
    return model


def execute_qonnx(model: ModelWrapper, x: np.ndarray) -> dict[str, np.ndarray]:
    """Execute the graph with qonnx, one image at a time; {tensor name: (N, ...) output}."""
    from qonnx.core.onnx_exec import execute_onnx

    produced = [out for node in model.graph.node for out in node.output]
    outputs: dict[str, list] = {k: [] for k in produced}
    for image in np.asarray(x, np.float32):
        ctx = execute_onnx(model, {INPUT_NAME: image[None]}, return_full_exec_context=True)
        for k in produced:
            outputs[k].append(ctx[k])
    return {k: np.concatenate(v) for k, v in outputs.items()}


def export_run(run_dir: Path, out: Path | None = None, n_vectors: int = 8) -> tuple[Path, Path]:
    """Export a trained run: QONNX model (default RUN_DIR/model.onnx) and RUN_DIR/vectors.npz
    (the first ``n_vectors`` test images, their labels, and the golden integer output of every layer)."""
    from bnnforge.model import golden
    from bnnforge.model.data import load_dataset
    from bnnforge.model.run import load_model

    run_dir = Path(run_dir)
    model, _, train_cfg = load_model(run_dir)
    net = model.to_integer()
    out = Path(out) if out else run_dir / "model.onnx"
    out.parent.mkdir(parents=True, exist_ok=True)
    export_qonnx(net, out)
    ds = load_dataset(train_cfg.dataset, train_cfg.data_dir, train_cfg.image_size, train_cfg.channels)
    images = ds.x_test[:n_vectors].numpy()
    ref = golden.forward(net, images)
    vectors = run_dir / "vectors.npz"
    np.savez_compressed(
        vectors,
        input=images,
        labels=ds.y_test[:n_vectors].numpy(),
        layers=np.array(list(ref)),
        **{f"golden/{k}": v for k, v in ref.items()},
    )
    return out, vectors
