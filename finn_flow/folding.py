"""Folding configs: read, validate (with clear errors), apply, and write.

A folding config is FINN's JSON: {"Defaults": {...}, "<node name>": {"PE": 4, ...}}
with node names after specialization.
"""

from __future__ import annotations

import json
from pathlib import Path

from qonnx.custom_op.registry import getCustomOp

from bnnforge.finn_flow import registry
from bnnforge.finn_flow.layer_params import divisors

FOLDING_ATTRS = (
    "PE",
    "SIMD",
    "ram_style",
    "ram_style_thresholds",
    "mem_mode",
    "resType",
    "parallel_window",
    "depth_trigger_uram",
    "depth_trigger_bram",
)
HLS_MVAU_MAX_SF = 1024  # FINN's HLS MVAU: MW / SIMD must not exceed this


class FoldingError(ValueError):
    pass


def base_op(node) -> str:
    """The node's abstract op (LabBinarizer_rtl -> LabBinarizer, MVAU_hls -> MVAU)."""
    return registry.abstract_op(node.op_type)


def parallel_dims(node) -> dict[str, tuple[int, str]]:
    """{attribute: (size it must divide, what the size is)} for a hardware node."""
    inst = getCustomOp(node)
    g = inst.get_nodeattr
    op = base_op(node)
    if op == "MVAU":
        return {"PE": (g("MH"), "MH (output channels)"), "SIMD": (g("MW"), "MW (input channels x kernel)")}
    if op == "VVAU":
        kh, kw = g("Kernel")
        return {"PE": (g("Channels"), "Channels"), "SIMD": (kh * kw, "kernel size k*k")}
    if op == "ConvolutionInputGenerator":
        return {"SIMD": (g("IFMChannels"), "IFMChannels")}
    if op == "FMPadding":
        return {"SIMD": (g("NumChannels"), "NumChannels")}
    if op == "Pool":
        return {"PE": (g("Channels"), "Channels")}
    if op in ("Thresholding", "GlobalAccPool", "DuplicateStreams") + registry.CUSTOM_OPS:
        return {"PE": (g("NumChannels"), "NumChannels")}
    if op == "LabelSelect":
        return {"PE": (g("Labels"), "Labels")}
    if op.startswith("Elementwise"):
        return {"PE": (inst.get_normal_input_shape(0)[-1], "channels")}
    return {}


def check_folding(model) -> None:
    """Raise FoldingError naming every node whose PE/SIMD breaks a hardware rule."""
    problems = []
    for node in model.graph.node:
        if not node.domain.startswith("finn.custom_op.fpgadataflow"):
            continue
        inst = getCustomOp(node)
        for attr, (size, what) in parallel_dims(node).items():
            value = inst.get_nodeattr(attr)
            if value < 1 or size % value:
                problems.append(f"{node.name}: {attr}={value} does not divide {what}={size}; allowed: {divisors(size)}")
        if node.op_type == "MVAU_hls":
            mw, simd = inst.get_nodeattr("MW"), inst.get_nodeattr("SIMD")
            if mw / simd > HLS_MVAU_MAX_SF:
                problems.append(f"{node.name}: MW/SIMD = {mw}/{simd} exceeds {HLS_MVAU_MAX_SF} (FINN's HLS MVAU "
                                "limit); raise SIMD")
        if base_op(node) == "ConvolutionInputGenerator":
            problems += _swg_coupling(model, node, inst)
            if inst.get_nodeattr("parallel_window") and not parallel_window_ok(inst):
                problems.append(f"{node.name}: parallel_window=1 needs an output map at least "
                                f"{PARALLEL_WINDOW_MIN_OFM_W} wide (OFMDim {inst.get_nodeattr('OFMDim')}); "
                                "FINN's parallel-window RTL is wrong below that")
    if problems:
        raise FoldingError("invalid folding:\n  " + "\n  ".join(problems))


# finn-plus 1.6.1's parallel-window sliding window generator is wrong for output maps
# narrower than 3 columns (measured: output width 2 streams wrong windows, width 1 fails in
# its code generation with a math domain error)
PARALLEL_WINDOW_MIN_OFM_W = 3


def parallel_window_ok(inst) -> bool:
    return inst.get_nodeattr("OFMDim")[1] >= PARALLEL_WINDOW_MIN_OFM_W


def swg_beat(inst) -> int:
    """Elements per output beat of a sliding-window generator (the whole k*k window in parallel mode)."""
    parallel = inst.get_nodeattr("parallel_window") if "parallel_window" in inst.get_nodeattr_types() else 0
    kh, kw = inst.get_nodeattr("ConvKernelDim")
    return inst.get_nodeattr("SIMD") * (kh * kw if parallel else 1)


def _swg_coupling(model, node, inst) -> list[str]:
    """A sliding-window generator's beat must match its consumer's (exactly for depthwise
    consumers; for an MVAU up to a width converter, so the two must divide one another)."""
    consumer = model.find_consumer(node.output[0])
    if consumer is None:
        return []
    simd = inst.get_nodeattr("SIMD")
    cop = base_op(consumer)
    cinst = getCustomOp(consumer) if cop in ("MVAU", "VVAU", "Pool") else None
    if cop == "MVAU":
        want, beat = cinst.get_nodeattr("SIMD"), swg_beat(inst)
        if want % beat and beat % want:
            return [f"{node.name}: its {beat}-element beats and the SIMD={want} of its consumer {consumer.name} "
                    "must divide one another"]
        return []
    if cop in ("VVAU", "Pool"):
        want = cinst.get_nodeattr("PE")
        if simd != want:
            return [f"{node.name}: SIMD={simd} must equal PE={want} of its depthwise consumer {consumer.name}"]
    return []


def load_folding(path: Path) -> dict:
    try:
        cfg = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise FoldingError(f"folding file {path} not found") from None
    except json.JSONDecodeError as e:
        raise FoldingError(f"{path}: not valid JSON ({e})") from e
    if not isinstance(cfg, dict):
        raise FoldingError(f"{path}: a folding config is a JSON object of node name -> attributes")
    return cfg


def apply_folding(model, cfg: dict, source: str = "folding config"):
    """Validate ``cfg`` against the model's nodes, apply it, and check the hardware rules."""
    from finn.transformation.general import ApplyConfig

    names = {n.name: n for n in model.graph.node}
    problems = []
    for key, attrs in cfg.items():
        if key == "Defaults":
            continue
        if key not in names:
            problems.append(f"node {key!r} is not in the graph (hardware nodes: {', '.join(hw_node_names(model))})")
            continue
        if not isinstance(attrs, dict):
            problems.append(f"{key}: expected an object of attributes, got {attrs!r}")
            continue
        inst = getCustomOp(names[key])
        for attr, value in attrs.items():
            try:
                inst.get_nodeattr(attr)
            except AttributeError:
                problems.append(f"{key}: {names[key].op_type} has no attribute {attr!r}")
                continue
            if attr in ("PE", "SIMD") and (not isinstance(value, int) or isinstance(value, bool)):
                problems.append(f"{key}: {attr} must be an integer, got {value!r}")
    if problems:
        raise FoldingError(f"{source}:\n  " + "\n  ".join(problems))
    model = model.transform(ApplyConfig(cfg))
    check_folding(model)
    return model


def hw_node_names(model) -> list[str]:
    return [n.name for n in model.graph.node if n.domain.startswith("finn.custom_op.fpgadataflow")]


def folding_config(model) -> dict:
    """The model's current folding as a config ApplyConfig (and `build --folding`) accepts."""
    from finn.util.config import extract_model_config

    return extract_model_config(model, None, FOLDING_ATTRS)


def fold_custom_ops(model, target_cycles: int):
    """Smallest PE per custom node that meets ``target_cycles`` (FINN's SetFolding skips them)."""
    for node in model.graph.node:
        if not registry.is_custom(node):
            continue
        inst = getCustomOp(node)
        for pe in divisors(inst.get_nodeattr("NumChannels")):
            inst.set_nodeattr("PE", pe)
            if inst.get_exp_cycles() <= target_cycles:
                break
    return model
