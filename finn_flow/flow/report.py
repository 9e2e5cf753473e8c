"""The per-layer table of a build: op, folding, cycles, LUT, BRAM, and totals vs the board."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from bnnforge.boards import Board
from bnnforge.finn_flow.flow.layout import BuildLayout
from bnnforge.finn_flow.flow.state import read_state


@dataclasses.dataclass
class LayerRow:
    name: str
    op: str
    pe: int | None
    simd: int | None
    cycles: int
    lut: float
    bram18: float


@dataclasses.dataclass
class BuildSummary:
    rows: list[LayerRow]
    fps: float
    max_cycles: int
    bottleneck: str
    lut: float
    bram18: float
    board: Board
    clock_ns: float

    def table(self) -> str:
        head = f"{'layer':<32} {'op':<30} {'PE':>4} {'SIMD':>5} {'cycles':>9} {'LUT':>8} {'BRAM18':>7}"
        lines = [head, "-" * len(head)]
        for r in self.rows:
            pe = "" if r.pe is None else str(r.pe)
            simd = "" if r.simd is None else str(r.simd)
            mark = " <- bottleneck" if r.name == self.bottleneck else ""
            lines.append(
                f"{r.name:<32} {r.op:<30} {pe:>4} {simd:>5} {r.cycles:>9} {r.lut:>8.0f} {r.bram18:>7.1f}{mark}"
            )
        b = self.board
        lines += [
            "-" * len(head),
            f"{'total':<32} {'':<30} {'':>4} {'':>5} {self.max_cycles:>9} {self.lut:>8.0f} {self.bram18:>7.1f}",
            f"{b.name} budget: LUT {self.lut:.0f} / {b.resources['LUT']} ({100 * self.lut / b.resources['LUT']:.1f} %), "
            f"BRAM18 {self.bram18:.1f} / {b.bram18} ({100 * self.bram18 / b.bram18:.1f} %)",
            f"estimated throughput {self.fps:,.0f} fps at {self.clock_ns} ns ({1e3 / self.clock_ns:.0f} MHz); "
            f"bottleneck {self.bottleneck} ({self.max_cycles} cycles/frame)",
        ]
        return "\n".join(lines)

    def to_json(self) -> dict:
        return {
            "board": self.board.name,
            "clock_ns": self.clock_ns,
            "estimated_fps": self.fps,
            "max_cycles": self.max_cycles,
            "bottleneck": self.bottleneck,
            "total": {"LUT": self.lut, "BRAM_18K": self.bram18},
            "budget": {"LUT": self.board.resources["LUT"], "BRAM_18K": self.board.bram18},
            "layers": [dataclasses.asdict(r) for r in self.rows],
        }


def summarize(model, layout: BuildLayout, board: Board, clock_ns: float) -> BuildSummary:
    """Build the summary from FINN's estimate reports and the node attributes."""
    from qonnx.custom_op.registry import getCustomOp

    cycles = json.loads(layout.estimate_cycles.read_text())
    res = json.loads(layout.estimate_resources.read_text())
    perf = json.loads(layout.estimate_performance.read_text())
    rows = []
    for node in model.graph.node:
        if node.name not in cycles:
            continue
        inst = getCustomOp(node)
        attrs = {}
        for a in ("PE", "SIMD"):
            try:
                attrs[a] = inst.get_nodeattr(a)
            except AttributeError:
                attrs[a] = None
        r = res.get(node.name, {})
        rows.append(
            LayerRow(node.name, node.op_type, attrs["PE"], attrs["SIMD"], int(cycles[node.name]),
                     float(r.get("LUT", 0)), float(r.get("BRAM_18K", 0)))
        )
    total = res.get("total", {})
    return BuildSummary(
        rows,
        float(perf["estimated_throughput_fps"]),
        int(perf["max_cycles"]),
        perf["max_cycles_node_name"],
        float(total.get("LUT", sum(r.lut for r in rows))),
        float(total.get("BRAM_18K", sum(r.bram18 for r in rows))),
        board,
        clock_ns,
    )


def summarize_build(out: Path, board: Board, clock_ns: float) -> BuildSummary | None:
    """The summary of a build folder that reached its estimate step (written to
    report/bnnforge_summary.json), or None before that."""
    from qonnx.core.modelwrapper import ModelWrapper

    layout = BuildLayout(out)
    estimated = layout.model_after("estimate")
    record = read_state(layout)
    if record is None or "estimate" not in record["completed"] or not layout.estimate_cycles.exists():
        return None  # this build has not (re)made its estimates
    summary = summarize(ModelWrapper(str(estimated)), layout, board, clock_ns)
    layout.summary.write_text(json.dumps(summary.to_json(), indent=2) + "\n")
    return summary
