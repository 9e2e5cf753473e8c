"""What a folding adds between the layers: the width converters and FIFOs the build's rtl stage
inserts (flow/transforms.py, the same function), estimated so that `fold`'s budget holds them.

FIFOs are counted at the depth the rtl stage starts from (FINN's minimum, or a frame into a
residual block's Add); FIFO sizing in simulation deepens some of them later, so their share
is a lower bound.
"""

from __future__ import annotations

import copy
import dataclasses

from qonnx.custom_op.registry import getCustomOp

from bnnforge.finn_flow import registry
from bnnforge.finn_flow.flow.transforms import insert_width_converters_and_fifos
from bnnforge.finn_flow.folding.config import apply_folding


@dataclasses.dataclass(frozen=True)
class Plumbing:
    lut: float
    bram: float
    nodes: tuple  # ((node name, op type, LUT, BRAM18), ...): the inserted width converters and FIFOs
    fifos: int

    def summary(self) -> str:
        return (f"{len(self.nodes) - self.fifos} width converters and {self.fifos} FIFOs (at their starting depth): LUT {self.lut:.0f}, "
                f"BRAM18 {self.bram:.1f}")


def estimate(model, folding_config: dict, part: str) -> Plumbing:
    """The width converters and FIFOs of ``model`` folded as ``folding_config``, with their estimates."""
    folded = apply_folding(copy.deepcopy(model), folding_config)
    before = {n.name for n in folded.graph.node}
    with_plumbing = insert_width_converters_and_fifos(folded, part)
    added = [n for n in with_plumbing.graph.node if n.name not in before and registry.is_plumbing(n)]
    nodes = tuple((n.name, n.op_type, float(getCustomOp(n).lut_estimation(part)),
                   float(getCustomOp(n).bram_estimation(part))) for n in added)
    return Plumbing(sum(n[2] for n in nodes), sum(n[3] for n in nodes), nodes, sum(map(registry.is_fifo, added)))
