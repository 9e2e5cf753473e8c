"""The build's own graph transformations: specialization to bnnforge's backend classes, and the
width converters and FIFOs between layers (the rtl stage inserts them; fold counts them)."""

from __future__ import annotations

import logging

from qonnx.custom_op.registry import getCustomOp
from qonnx.transformation.base import Transformation

from bnnforge.finn_flow import FINN_DOMAIN, finn_compat, registry

log = logging.getLogger("bnnforge")


class SpecializeToBnnforge(Transformation):
    """Give every abstract hardware node that bnnforge implements for ``backend`` its
    bnnforge backend class (registry); FINN's SpecializeLayers then handles the rest,
    since it only touches nodes still in the abstract domain."""

    def __init__(self, backend: str):
        super().__init__()
        self.backend = backend

    def apply(self, model):
        from qonnx.transformation.general import GiveUniqueNodeNames

        changed = False
        for node in model.graph.node:
            layer = registry.by_op(node.op_type) if node.domain == FINN_DOMAIN else None
            name = layer.class_name(self.backend) if layer else None
            if name is None or not registry.is_ours(name):
                continue
            reason = layer.backend_class(self.backend).rtl_unsupported(getCustomOp(node)) if self.backend == "rtl" else None
            if reason:
                log.warning(f"{node.name}: no bnnforge RTL for {reason}; FINN's implementation is used")
                continue
            node.op_type = name
            node.domain = f"{FINN_DOMAIN}.{self.backend}"
            for attr in [a for a in node.attribute if a.name == "preferred_impl_style"]:
                node.attribute.remove(attr)
            if self.backend == "rtl":
                layer.backend_class("rtl").rtl_adapt(getCustomOp(node))
                getCustomOp(node).annotate(model)
            changed = True
        if changed:
            model = model.transform(GiveUniqueNodeNames())
        return model, False


def annotate_estimates(model):
    """Every hardware node's summaries of its initializers for its estimate, where its class
    keeps any (BnnforgeRTL.annotate; FINN's thresholding gets one in finn_compat), again after
    a step that changed them (thresholds clipped)."""
    for node in model.graph.node:
        inst = getCustomOp(node) if registry.is_hw_node(node) else None
        if hasattr(inst, "annotate"):
            inst.annotate(model)
    return model


def insert_width_converters_and_fifos(model, part: str):
    """The width converters and FIFOs the stitched design needs, where FINN's InsertDWC and
    InsertFIFO place them, as RTL nodes: FIFOs at FINN's minimum depth, or what a node's rules
    need to be deadlock free (a frame into the Add of a residual block)."""
    from finn.transformation.fpgadataflow.insert_dwc import InsertDWC
    from finn.transformation.fpgadataflow.insert_fifo import InsertFIFO
    from finn.transformation.fpgadataflow.specialize_layers import SpecializeLayers

    for node in model.graph.node:  # joins of a fork's branches: FIFOs deep enough to be deadlock free
        depths = registry.rules_of(node).input_fifo_depths(getCustomOp(node))
        if depths:
            getCustomOp(node).set_nodeattr("inFIFODepths", depths)
    for t in (InsertDWC(), InsertFIFO(create_shallow_fifos=True)):
        model = model.transform(t)
        for node in model.graph.node:  # the inserted nodes are abstract: make them RTL
            if node.domain == FINN_DOMAIN:
                getCustomOp(node).set_nodeattr("preferred_impl_style", "rtl")
        named = {tuple(n.output): n.name for n in model.graph.node if n.name}  # the inserted nodes have none
        model = finn_compat.keep_node_names(model.transform(SpecializeLayers(part)), named)
    return model

