"""`bnnforge sim node BUILD_DIR NODE`: simulate one custom node of a build with its real
parameters, on the input it really receives (from the build's golden test vectors)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from bnnforge.finn_flow.layer_params import ParamError
from bnnforge.sim.layer import LayerRun

BUILD_CONFIG = "build_config.json"


def _latest_model(build_dir: Path):
    from qonnx.core.modelwrapper import ModelWrapper

    models = sorted((build_dir / "intermediate_models").glob("[0-9][0-9]_*.onnx"))
    if not models:
        raise ParamError(f"{build_dir} has no intermediate_models/: is it a `bnnforge build` folder?")
    return ModelWrapper(str(models[-1])), models


def _node_input(build_dir: Path, models, layer_name: str, op_type: str, rng):
    """The node's input tensors for a few golden test images (FINN Python execution of the
    hardware graph before partitioning), or None without test vectors."""
    from finn.core.onnx_exec import execute_onnx
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.custom_op.registry import getCustomOp

    cfg = json.loads((build_dir / BUILD_CONFIG).read_text()) if (build_dir / BUILD_CONFIG).exists() else {}
    vectors = Path(cfg["vectors"]) if cfg.get("vectors") else None
    hw = next((m for m in models if m.name.endswith("_convert_to_hw.onnx")), None)
    if vectors is None or not vectors.exists() or hw is None:
        return None
    model = ModelWrapper(str(hw))
    node = next((n for n in model.graph.node if n.op_type == op_type
                 and getCustomOp(n).get_nodeattr("layer_name") == layer_name), None)
    if node is None:
        return None
    images = np.load(vectors)["input"][:2].astype(np.float32)
    per_input = [[] for _ in node.input]
    for image in images:
        ctx = execute_onnx(model, {model.graph.input[0].name: image[None]}, return_full_exec_context=True)
        for i, name in enumerate(node.input):
            per_input[i].append(ctx[name])
    return [np.concatenate(v) for v in per_input]


def run_node(build_dir: Path, node_name: str, backend: str = "rtl", stall: float = 0.0, waves: bool = False,
             seed: int = 0) -> tuple[LayerRun, str]:
    from qonnx.custom_op.registry import getCustomOp

    import bnnforge.finn_flow.ops  # noqa: F401
    from bnnforge.finn_flow.layer_params import DynThreshParams
    from bnnforge.model import golden
    from bnnforge.sim import runner

    build_dir = Path(build_dir)
    model, models = _latest_model(build_dir)
    node = next((n for n in model.graph.node if n.name == node_name), None)
    custom = [n.name for n in model.graph.node if n.op_type.startswith(("LabBinarizer", "DynamicThreshold"))]
    if node is None or node.name not in custom:
        raise ParamError(f"{node_name!r} is not a custom node of {build_dir}; custom nodes: {', '.join(custom) or 'none'}")
    inst = getCustomOp(node)
    rng = np.random.default_rng(seed)
    base = "LabBinarizer" if node.op_type.startswith("LabBinarizer") else "DynamicThreshold"
    real = _node_input(build_dir, models, inst.get_nodeattr("layer_name"), base, rng)
    source = "the build's golden test vectors" if real is not None else "random data (no test vectors found)"
    if base == "LabBinarizer":
        p = inst.lab_params(model)
        x = real[0].transpose(0, 3, 1, 2) if real is not None else _random((2, p.channels, p.height, p.width), p.input_bits, rng)
        expected = golden.lab_binarizer(x, p.weights, p.thresholds)
        if backend == "hls":
            from bnnforge.finn_flow import csim

            return LayerRun(csim.run_lab(p, x), expected), source
        r = runner.run_lab(p, x, stall=stall, waves=waves)
    else:
        p: DynThreshParams = inst.dyn_params()
        if real is not None:
            x, t = real[0].transpose(0, 3, 1, 2), real[1].reshape(len(real[1]), -1)
        else:
            x = _random((2, p.channels, p.height, p.width), p.input_bits, rng)
            t = _random((2, p.channels), p.threshold_bits, rng)
        expected = golden.dynamic_threshold(x, t)
        if backend == "hls":
            from bnnforge.finn_flow import csim

            return LayerRun(csim.run_dynthresh(p, x, t), expected), source
        r = runner.run_dynthresh(p, x, t, stall=stall, waves=waves)
    return LayerRun(r.output, expected, r.cycles_per_frame, r.ideal_cycles, r.waves), source


def _random(shape, bits, rng):
    return rng.integers(-(2 ** (bits - 1)), 2 ** (bits - 1), shape)
