"""The folding optimizer's result for people: a per-layer table and the Pareto plot."""

from __future__ import annotations

from pathlib import Path

from bnnforge.boards import Board
from bnnforge.finn_flow.folding.optimizer import Folding, Group


def table(f: Folding, groups: list[Group], board: Board, model) -> str:
    ops = {n.name: n.op_type for n in model.graph.node}
    attrs = {}
    for opt in f.choice:
        for name, a in opt.attrs:
            attrs[name] = dict(a)
    head = f"{'layer':<32} {'op':<30} {'PE':>4} {'SIMD':>5} {'cycles':>9} {'LUT':>8} {'BRAM18':>7} {'bottleneck':>10}"
    lines = [head, "-" * len(head)]
    for opt in f.choice:
        for name, cyc, lut, bram in opt.per_node:
            a = attrs.get(name, {})
            pe, simd = a.get("PE", ""), a.get("SIMD", "")
            lines.append(f"{name:<32} {ops[name]:<30} {pe!s:>4} {simd!s:>5} {cyc:>9} {lut:>8.0f} {bram:>7.1f} "
                         f"{100 * cyc / f.cycles:>9.0f}%")
    lines.append("-" * len(head))
    if f.plumbing is not None:
        lines.append(f"layers: LUT {f.lut:.0f}, BRAM18 {f.bram:.1f}; plus {f.plumbing.summary()}")
    lines += [
        f"total: LUT {f.total_lut:.0f} / {board.resources['LUT']} ({100 * f.total_lut / board.resources['LUT']:.1f} %), "
        f"BRAM18 {f.total_bram:.1f} / {board.bram18} ({100 * f.total_bram / board.bram18:.1f} %)",
        f"estimated throughput {f.fps:,.0f} fps ({f.cycles} cycles/frame at {f.clock_ns} ns)",
    ]
    return "\n".join(lines)


def plot(front: list[Folding], chosen: Folding, board: Board, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    fps = [f.fps for f in front]
    for ax, key, budget, label in (
        (axes[0], "lut", board.resources["LUT"], "LUT"),
        (axes[1], "bram", board.bram18, "BRAM18"),
    ):
        ax.plot([getattr(f, key) for f in front], fps, ".-", label="cheapest folding per throughput")
        ax.axvline(budget, color="red", linestyle="--", label=f"{board.name} {label}")
        ax.plot([getattr(chosen, key)], [chosen.fps], "o", color="black", label="chosen")
        ax.set_xlabel(f"estimated {label}")
        ax.set_ylabel("estimated fps")
        ax.set_yscale("log")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"bnnforge fold: throughput vs resources on {board.name} ({chosen.clock_ns} ns)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
