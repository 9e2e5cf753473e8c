"""`fold --timing`: the estimated critical path of a folding before anything is built.

The folding is applied to a copy of the prepared graph, the build's own steps generate every
layer's RTL with the width converters and FIFOs the rtl stage adds (minimize_bit_width ..
rtl_fifos, in a scratch folder), and each node is synthesized out of context as the rtl
stage's timing estimate does (cached by content, so a second fold of the same layers
synthesizes nothing). With --raise-clock, --max-fps runs the design at the fastest clock its
estimate allows with a margin, and says so.
"""

from __future__ import annotations

import copy
import math
import tempfile
from pathlib import Path

from bnnforge.finn_flow.flow.build import FlowOptions, run_steps
from bnnforge.finn_flow.folding.config import apply_folding
from bnnforge.finn_flow.rtl import synth

# a raised clock keeps this margin over the estimated critical path (the estimate has no
# placement: routing is an allowance, docs/DESIGN.md "Timing estimate")
RAISE_MARGIN = 1.25
CLOCK_STEP_NS = 0.25  # raised clock periods are multiples of this


def synthesize(model, folding_config: dict, board, clock_ns: float, lab_impl: str, backend: str):
    """Every node of ``model`` folded as ``folding_config`` (and the width converters and FIFOs
    it brings) synthesized out of context: a NetworkSynthesis (``synth.timing_report`` of it
    against a clock is what the rtl stage reports)."""
    folded = apply_folding(copy.deepcopy(model), folding_config)
    opts = FlowOptions(board=board, clock_ns=clock_ns, lab_impl=lab_impl, backend=backend)
    with tempfile.TemporaryDirectory(prefix="bnnforge-fold-timing-") as tmp:
        design = run_steps(folded, "minimize_bit_width", "rtl_fifos", opts, Path(tmp))
        return synth.synth_nodes(design, board, work_dir=Path(tmp) / "synth")


def raised_clock(report: dict, clock_ns: float) -> float | None:
    """The fastest clock period (ns) the estimate allows with RAISE_MARGIN, when it is faster
    than ``clock_ns``; else None."""
    if report.get("critical_path_ns") is None:
        return None
    period = math.ceil(report["critical_path_ns"] * RAISE_MARGIN / CLOCK_STEP_NS) * CLOCK_STEP_NS
    return period if period < clock_ns else None
