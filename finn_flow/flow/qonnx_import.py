"""Graphs not written by `bnnforge export`: Brevitas `export_qonnx` output and FINN-ONNX.

FINN's own recipe for the BNN-PYNQ models, called (not copied): qonnx cleanup,
ConvertQONNXtoFINN (Quant/BipolarQuant -> MultiThreshold + scalings), FINN's Streamline
(scalings and batch norms folded into integer thresholds), XNOR-popcount conversion, and
a TopK(1) at the output that absorbs the float scaling of the last layer (so the
accelerator outputs the class index, as FINN's BNN-PYNQ accelerators do). The result is
the integer graph the rest of the build takes (tidy, streamline, convert_to_hw, ...).

Input grid: a graph with a float input (Brevitas models trained on torchvision's
ToTensor, i.e. pixels / 255) gets a leading Mul by 1/255 and an 8-bit unsigned input:
the accelerator takes the raw pixels, as FINN's BNN-PYNQ flow does. A graph whose input
already carries an integer datatype annotation is taken as it is.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bnnforge.errors import UserError

# operators a Brevitas/QONNX/FINN-ONNX BNN may contain on the way in
IMPORT_OPS = {
    "Quant", "BipolarQuant", "Trunc", "Conv", "Gemm", "MatMul", "BatchNormalization", "MaxPool", "Reshape",
    "Flatten", "Mul", "Add", "Sub", "Div", "Transpose", "MultiThreshold", "Identity", "Sign", "TopK",
    "XnorPopcountMatMul", "Im2Col", "MaxPoolNHWC",
}
# what the imported graph may hold when handed to the build's own steps
IMPORTED_OPS = {
    "MatMul", "XnorPopcountMatMul", "MultiThreshold", "MaxPool", "MaxPoolNHWC", "Im2Col", "Conv", "Reshape",
    "Flatten", "Transpose", "TopK",
}
PIXEL_SCALE = 1.0 / 255.0  # torchvision ToTensor
PIXEL_INPUT = "pixels"  # the imported graph's input: 8-bit pixels


class ModelImportError(UserError):
    """A graph the importer cannot map to hardware (names each offending node)."""


def is_bnnforge_export(model) -> bool:
    """True for graphs written by `bnnforge export` (exact integer path, no import)."""
    return model.model.producer_name == "bnnforge"


def _nodes(model, keep) -> list[str]:
    return [f"{n.name or '?'} ({n.op_type})" for n in model.graph.node if not keep(n)]


def check_importable(model, path) -> None:
    bad = _nodes(model, lambda n: n.op_type in IMPORT_OPS)
    if bad:
        raise ModelImportError(
            f"{path}: unsupported ONNX operator(s): {', '.join(bad)}. bnnforge build takes graphs written by "
            f"`bnnforge export`, and Brevitas/QONNX/FINN-ONNX BNNs made of: {', '.join(sorted(IMPORT_OPS))}")


def has_float_input(model) -> bool:
    from qonnx.core.datatype import DataType

    return model.get_tensor_datatype(model.graph.input[0].name) == DataType["FLOAT32"]


def to_finn_onnx(model):
    """qonnx cleanup and ConvertQONNXtoFINN (a FINN-ONNX graph passes unchanged)."""
    from finn.transformation.qonnx.convert_qonnx_to_finn import ConvertQONNXtoFINN
    from qonnx.util.cleanup import cleanup_model

    model = cleanup_model(model)
    if any(n.op_type in ("Quant", "BipolarQuant", "Trunc") for n in model.graph.node):
        model = model.transform(ConvertQONNXtoFINN())
    return model


def with_pixel_input(model):
    """A float-input graph fed with 8-bit pixels: input * (1/255), input annotated UINT8."""
    import onnx
    from onnx import helper
    from qonnx.core.datatype import DataType
    from qonnx.transformation.infer_datatypes import InferDataTypes
    from qonnx.transformation.infer_shapes import InferShapes

    old = model.graph.input[0]
    shape = model.get_tensor_shape(old.name)
    scale = model.make_new_valueinfo_name()
    model.set_initializer(scale, np.asarray(PIXEL_SCALE, np.float32))
    model.graph.input.remove(old)
    model.graph.input.insert(0, helper.make_tensor_value_info(PIXEL_INPUT, onnx.TensorProto.FLOAT, shape))
    model.graph.value_info.append(helper.make_tensor_value_info(old.name, onnx.TensorProto.FLOAT, shape))
    model.graph.node.insert(0, helper.make_node("Mul", [PIXEL_INPUT, scale], [old.name], name="pixel_scale"))
    model.set_tensor_datatype(PIXEL_INPUT, DataType["UINT8"])
    return model.transform(InferShapes()).transform(InferDataTypes())


def import_graph(model, path, log=lambda *_: None):
    """A Brevitas/QONNX/FINN-ONNX BNN -> the integer graph the build's steps take."""
    import finn.transformation.streamline.absorb as absorb
    from finn.transformation.streamline import Streamline
    from finn.transformation.streamline.reorder import MakeMaxPoolNHWC
    from finn.transformation.streamline.round_thresholds import RoundAndClipThresholds
    from qonnx.core.datatype import DataType
    from qonnx.transformation.bipolar_to_xnor import ConvertBipolarMatMulToXnorPopcount
    from qonnx.transformation.general import GiveUniqueNodeNames, RemoveUnusedTensors
    from qonnx.transformation.infer_datatypes import InferDataTypes
    from qonnx.transformation.insert_topk import InsertTopK
    from qonnx.transformation.lower_convs_to_matmul import LowerConvsToMatMul

    check_importable(model, path)
    model = to_finn_onnx(model)
    if has_float_input(model):
        model = with_pixel_input(model)
        log("  float input: the accelerator takes 8-bit pixels, scaled by 1/255 (torchvision ToTensor)")
    # the sign bias first: moved past a Reshape it could no longer be absorbed (cnv, 2-bit activations)
    for t in (absorb.AbsorbScalarBiasIntoMultiThreshold(), Streamline(),
              LowerConvsToMatMul(), MakeMaxPoolNHWC(), absorb.AbsorbTransposeIntoMultiThreshold(),
              ConvertBipolarMatMulToXnorPopcount(), Streamline()):
        model = model.transform(t)
    out = model.graph.output[0].name
    if model.get_tensor_datatype(out) == DataType["FLOAT32"] and model.find_producer(out).op_type != "TopK":
        # float logits (the last layer's scaling): the class index instead, the scaling absorbed
        model = model.transform(InsertTopK(k=1)).transform(absorb.AbsorbScalarMulAddIntoTopK())
        log("  float output: a TopK(1) appended, the accelerator outputs the class index")
    for t in (RoundAndClipThresholds(), InferDataTypes(), RemoveUnusedTensors(), GiveUniqueNodeNames()):
        model = model.transform(t)
    bad = _nodes(model, lambda n: n.op_type in IMPORTED_OPS)
    if bad:
        raise ModelImportError(
            f"{path}: after FINN's streamlining, node(s) {', '.join(bad)} remain, which have no hardware layer "
            "(typically a float scaling that could not be folded into thresholds, e.g. a negative batch-norm "
            f"scale in front of a max-pool); the hardware graph may hold: {', '.join(sorted(IMPORTED_OPS))}")
    return model


# --- the user's graph as the reference ------------------------------------------------


def user_reference(path: Path):
    """The user's graph as given (QONNX ops executed by qonnx), and the factor its input
    takes from the accelerator's input grid (1/255 for float-input graphs, else 1)."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.util.cleanup import cleanup_model

    model = cleanup_model(ModelWrapper(str(path)))
    return model, (PIXEL_SCALE if has_float_input(model) else 1.0)


def user_outputs(model, scale: float, x: np.ndarray) -> np.ndarray:
    """The user's graph on inputs of the accelerator's grid (N, ...): (N, outputs)."""
    from qonnx.core.onnx_exec import execute_onnx

    name = model.graph.input[0].name
    shape = model.get_tensor_shape(name)
    out = model.graph.output[0].name
    return np.stack([np.asarray(execute_onnx(model, {name: (np.asarray(xi, np.float32) * np.float32(scale))
                                                      .reshape(shape)})[out]).reshape(-1) for xi in x])


def input_grid(model):
    """(input shape, min, max) of the graph's input grid after import."""
    from qonnx.core.datatype import DataType

    name = model.graph.input[0].name
    dt = model.get_tensor_datatype(name)
    dt = DataType["UINT8"] if dt == DataType["FLOAT32"] else dt
    return model.get_tensor_shape(name), int(dt.min()), int(dt.max())


def random_inputs(path: Path, n: int, seed: int = 0) -> np.ndarray:
    """n random inputs on the model's input grid (N, *input shape[1:])."""
    from qonnx.core.modelwrapper import ModelWrapper

    shape, lo, hi = input_grid(ModelWrapper(str(path)))
    return np.random.default_rng(seed).integers(lo, hi + 1, (n, *shape[1:])).astype(np.float32)
