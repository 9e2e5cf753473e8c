"""The build's own graph transformation: specialization to bnnforge's backend classes."""

from __future__ import annotations

import logging

from qonnx.custom_op.registry import getCustomOp
from qonnx.transformation.base import Transformation

from bnnforge.finn_flow import FINN_DOMAIN, registry

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
            changed = True
        if changed:
            model = model.transform(GiveUniqueNodeNames())
        return model, False
