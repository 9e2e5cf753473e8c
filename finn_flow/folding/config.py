"""Folding configs: read, validate (with clear errors), apply, and write.

A folding config is FINN's JSON: {"Defaults": {...}, "<node name>": {"PE": 4, ...}}
with node names after specialization.
"""

from __future__ import annotations

import json
from pathlib import Path

from qonnx.custom_op.registry import getCustomOp

from bnnforge.errors import UserError
from bnnforge.finn_flow import registry
from bnnforge.finn_flow.ops.rules import divisors

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


class FoldingError(UserError):
    """A folding that cannot be: a config that does not fit the graph or breaks a hardware rule,
    or a target no folding meets within the budget (the message names layers and limits)."""


def check_folding(model) -> None:
    """Raise FoldingError naming every node whose folding breaks a hardware rule: the
    divisibility of every folding attribute, and each op's own rules (registry)."""
    problems = []
    for node in model.graph.node:
        if not registry.is_hw_node(node):
            continue
        inst = getCustomOp(node)
        rules = registry.rules_of(node)
        for attr, (size, what) in rules.dims(inst).items():
            value = inst.get_nodeattr(attr)
            if value < 1 or size % value:
                problems.append(f"{node.name}: {attr}={value} does not divide {what}={size}; allowed: {divisors(size)}")
        problems += [f"{node.name}: {p}" for p in rules.check(inst, node.op_type)]
        consumer = model.find_consumer(node.output[0]) if rules.window_role == "generator" else None
        if consumer is not None and registry.rules_of(consumer).window_role in ("depthwise", "matrix"):
            problems += [f"{node.name}: {p}" for p in rules.coupling_check(
                inst, getCustomOp(consumer), registry.rules_of(consumer).window_role, consumer.name)]
    if problems:
        raise FoldingError("invalid folding:\n  " + "\n  ".join(problems))


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


def uncovered_nodes(model, cfg: dict) -> list[str]:
    """Foldable hardware nodes the config neither names nor covers by a "Defaults" entry:
    they would keep PE = SIMD = 1."""
    defaults = cfg.get("Defaults", {}) or {}
    covered_types = set()
    for value in defaults.values():
        if isinstance(value, list) and len(value) == 2:
            covered_types |= {"*"} if value[1] == "all" else set(value[1])
    out = []
    for node in model.graph.node:
        if not registry.is_hw_node(node) or node.name in cfg or {"*", node.op_type} & covered_types:
            continue
        if registry.rules_of(node).dims(getCustomOp(node)):
            out.append(node.name)
    return out


def apply_folding(model, cfg: dict, source: str = "folding config", partial: bool = False, log=lambda *_: None):
    """Validate ``cfg`` against the model's nodes, apply it, and check the hardware rules. A
    config that leaves foldable nodes out is refused unless ``partial`` (then they are named)."""
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
    missing = uncovered_nodes(model, cfg)
    if missing and not partial:
        raise FoldingError(f"{source} does not fold {len(missing)} of the graph's layers ({', '.join(missing)}); "
                           "give every layer, or --partial-folding to leave these at PE = SIMD = 1")
    if missing:
        log(f"  --partial-folding: {len(missing)} layer(s) at PE = SIMD = 1: {', '.join(missing)}")
    model = model.transform(ApplyConfig(cfg))
    check_folding(model)
    return model


def hw_node_names(model) -> list[str]:
    return [n.name for n in model.graph.node if registry.is_hw_node(n)]


def folding_config(model) -> dict:
    """The model's current folding as a config ApplyConfig (and `build --folding`) accepts."""
    from finn.util.config import extract_model_config

    return extract_model_config(model, None, FOLDING_ATTRS)
