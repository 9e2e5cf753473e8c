"""`bnnforge verify` columns for the FINN graph and the HLS C simulation."""

from __future__ import annotations

import numpy as np

from bnnforge.model import golden
from bnnforge.model.integer import IntDynamicThreshold, IntLab

CUSTOM_LAYERS = (IntLab, IntDynamicThreshold)


def custom_layer_inputs(net, images):
    """(layer, its input) for every custom layer, inputs taken from the golden model."""
    ref = golden.forward(net, images)
    prev = np.asarray(images, np.int64)
    for layer in net.layers:
        if isinstance(layer, CUSTOM_LAYERS):
            yield layer, prev
        prev = ref[layer.name]


def test_pe(channels: int) -> int:
    """A non-trivial PE for simulation: the largest divisor of C up to 4."""
    return max(d for d in range(1, 5) if channels % d == 0)


def finn_column(ctx, images: np.ndarray) -> dict[str, np.ndarray]:
    """FINN Python execution of the hardware graph: custom layers and the logits."""
    from finn.core.onnx_exec import execute_onnx
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.custom_op.registry import getCustomOp

    from bnnforge.finn_flow.build import to_hw_graph

    model = to_hw_graph(ModelWrapper(str(ctx.onnx_path)))
    taps = {}
    for node in model.graph.node:
        if node.op_type in ("LabBinarizer", "DynamicThreshold"):
            inst = getCustomOp(node)
            taps[node.output[0]] = (inst.get_nodeattr("layer_name"), inst.get_nodeattr("outputDataType"))
    out_name = model.graph.output[0].name
    last = ctx.net.layers[-1].name
    results: dict[str, list] = {}
    for image in np.asarray(images, np.float32):
        res = execute_onnx(model, {model.graph.input[0].name: image[None]}, return_full_exec_context=True)
        for tensor, (layer, dtype) in taps.items():
            y = np.asarray(res[tensor]).transpose(0, 3, 1, 2)
            results.setdefault(layer, []).append(2 * y - 1 if dtype == "BINARY" else y)
        results.setdefault(last, []).append(np.asarray(res[out_name]).reshape(1, -1))
    return {k: np.concatenate(v).astype(np.int64) for k, v in results.items()}


def csim_column(ctx, images: np.ndarray) -> dict[str, np.ndarray]:
    """C simulation of hls/*.hpp for every custom layer, fed with the golden input of that layer."""
    from bnnforge.finn_flow import csim
    from bnnforge.finn_flow.layer_params import DynThreshParams, LabParams

    out = {}
    for layer, x in custom_layer_inputs(ctx.net, images):
        pe = test_pe(x.shape[1])
        if isinstance(layer, IntLab):
            p = LabParams(layer.weights, layer.thresholds, x.shape[2], x.shape[3], layer.input_bits, layer.weight_bits, pe)
            out[layer.name] = csim.run_lab(p, x)
        else:
            t = golden.dybnn_thresholds(x, layer)
            out[layer.name] = csim.run_dynthresh(DynThreshParams.for_data(x, t, layer.input_bits, pe), x, t)
    return out


def _rtl_column(ctx, images):
    from bnnforge.sim.verify_columns import rtl_column

    return rtl_column(ctx, images)


COLUMNS = {"finn": finn_column, "csim": csim_column, "rtl": _rtl_column}
