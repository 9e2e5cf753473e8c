"""`bnnforge verify RUN_DIR` columns: FINN's Python execution, the C simulation and the
RTL simulation of bnnforge's own layers, and the whole accelerator's RTL."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bnnforge.finn_flow import registry
from bnnforge.model import golden
from bnnforge.model.integer import IntResidual


def custom_layer_inputs(net, images, backend: str | None = None):
    """(integer layer, its registry entry, its input) for every layer of ``net`` that one of
    bnnforge's hardware layers implements (with a class for ``backend``, when given), the
    layers inside residual blocks included; inputs taken from the golden model."""
    by_int_layer = {layer.int_layer: layer for layer in registry.custom_layers() if layer.int_layer}
    ref = golden.forward(net, images)
    prev = np.asarray(images, np.int64)
    for outer in net.layers:
        for layer, x in _inner_layers(outer, prev, ref):
            entry = by_int_layer.get(type(layer).__name__)
            if entry is not None and (backend is None or entry.backend_class(backend) is not None):
                yield layer, entry, x
        prev = ref[outer.name]


def _inner_layers(layer, x, ref) -> list:
    """(layer, its input): a layer of the network, or the binarizer (on the block input) and the
    RPReLU stage (on the block's sum) of a residual block."""
    if isinstance(layer, IntResidual):
        return [(layer.binarizer, x), (layer.act, ref[layer.add_name])]
    return [(layer, x)]


def test_pe(channels: int) -> int:
    """A non-trivial PE for simulation: the largest divisor of C up to 4."""
    return max(d for d in range(1, 5) if channels % d == 0)


def finn_column(ctx, images: np.ndarray) -> dict[str, np.ndarray]:
    """FINN Python execution of the hardware graph: custom layers and the logits."""
    from finn.core.onnx_exec import execute_onnx
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.custom_op.registry import getCustomOp

    from bnnforge.finn_flow.flow.build import to_hw_graph

    model = to_hw_graph(ModelWrapper(str(ctx.onnx_path)))
    taps = {}
    for node in model.graph.node:
        if registry.is_custom(node):
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


def _simulation_column(ctx, images: np.ndarray, backend: str, **kw) -> dict[str, np.ndarray]:
    """Every custom layer on ``backend``'s generated code (a one-node model of the layer's
    backend class), fed with the golden input of that layer."""
    from bnnforge.finn_flow.simulate.layer import simulate_params

    out = {}
    for layer, entry, x in custom_layer_inputs(ctx.net, images, backend):
        p, inputs = entry.params_class().from_int_layer(layer, x, test_pe(x.shape[1]))
        out[layer.name], _ = simulate_params(p, backend, inputs, **kw)
    return out


def csim_column(ctx, images: np.ndarray) -> dict[str, np.ndarray]:
    """C simulation of the generated HLS C++ of every custom layer."""
    return _simulation_column(ctx, images, "hls")


def rtl_column(ctx, images: np.ndarray) -> dict[str, np.ndarray]:
    """Verilator simulation of the generated RTL of every custom layer, with random stalls
    on both stream sides."""
    return _simulation_column(ctx, images, "rtl", stall=0.2)


COLUMNS = {"finn": finn_column, "csim": csim_column, "rtl": rtl_column}


VERIFY_BUILD = "verify_rtl_build"  # RUN_DIR/<this>: the build the network-rtl column simulates


def network_rtl_column(ctx, images: np.ndarray) -> dict[str, np.ndarray]:
    """The whole accelerator's RTL (a `build --until rtl` of the run's model, in
    RUN_DIR/verify_rtl_build) with the images back to back, random output stalls. Each golden
    layer is located on the stream whose FINN Python execution carries its values (same
    elements, channels-last, bipolar as 0/1 bits), and that stream's recorded beats are
    compared; the logits come from the accelerator's output."""
    from qonnx.custom_op.registry import getCustomOp

    from bnnforge.finn_flow.flow.layout import BuildLayout
    from bnnforge.finn_flow.rtl import network, stitch
    from bnnforge.finn_flow.simulate import reference
    from bnnforge.finn_flow.simulate.streams import from_beats, to_dataflow_layout
    from bnnforge.finn_flow.verify.build import verify_build

    layout = BuildLayout(verify_build(ctx.onnx_path, Path(ctx.run_dir) / VERIFY_BUILD, "rtl"))
    model, _ = reference.latest_model(layout.root, "rtl")
    x = to_dataflow_layout(images, model.get_tensor_shape(model.graph.input[0].name))
    run, result = network.simulate(model, layout.rtl, x, stall_out=0.2, record_taps=True)
    golden_out = golden.forward(ctx.net, images)
    finn_ref = reference.edge_values(model, x)
    nodes = {n.name: n for n in model.graph.node}
    out = {}
    for e in stitch.design_edges(stitch.load_design(layout.rtl)):
        if e.producer is None:
            continue
        stream_ref = np.concatenate([r[e.tensor] for r in finn_ref])
        for layer, g in golden_out.items():
            if layer in out or g.size != stream_ref.size:
                continue
            as_stream = g.transpose(0, 2, 3, 1) if g.ndim == 4 else g
            bipolar = g.min() < 0 and stream_ref.min() >= 0
            if bipolar:
                as_stream = (as_stream + 1) // 2
            if not np.array_equal(stream_ref.reshape(-1), as_stream.reshape(-1)):
                continue
            prod = getCustomOp(nodes[e.producer])
            o = list(nodes[e.producer].output).index(e.tensor)
            y = from_beats(prod, o, result.taps[f"tap_{e.wire}"], len(images)).reshape(as_stream.shape)
            y = 2 * y - 1 if bipolar else y
            out[layer] = (y.transpose(0, 3, 1, 2) if g.ndim == 4 else y).reshape(g.shape).astype(np.int64)
    out[ctx.net.layers[-1].name] = run.outputs.astype(np.int64)
    return out


COLUMNS["network-rtl"] = network_rtl_column
