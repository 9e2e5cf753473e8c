"""Verilator builds (cached) and cocotb stream runs of any AXI-Stream design.

Generic: a design is a list of source files, a top module and its parameters; a run
streams beats into its slave ports and collects beats from its master ports (see
``tb_stream``). Nothing here knows about layers or FINN: bnnforge.finn_flow turns
nodes into designs and tensors into beats.

Builds are cached under the bnnforge cache folder, keyed by the top module, the
parameters, the build options and the contents of every source, and compiled through
ccache. Memory files ($readmemh) are read at simulation start from the run folder,
so one build serves any number of weight sets of the same shape.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import shutil
import tempfile
from pathlib import Path

from bnnforge import toolenv
from bnnforge.errors import UserError

TB_MODULE = "bnnforge.sim.tb_stream"
STALL_MAX = 0.95


class SimBuildError(RuntimeError):
    """Verilator could not build a design (the message holds the first errors of its log)."""


class SimRunError(RuntimeError):
    """A simulation ran but failed (lost beats, timeout, deadlock)."""


@dataclasses.dataclass(frozen=True)
class Design:
    """An RTL design: sources (dependencies first), top module, top-level parameters.
    ``control`` files are Verilator control files (.vlt: lint waivers for sources we do
    not own); ``data_files`` are memory files the design reads by name at start-up."""

    sources: tuple[Path, ...]
    top: str
    parameters: tuple = ()  # ((name, value), ...)
    control: tuple[Path, ...] = ()
    data_files: tuple[Path, ...] = ()

    def key(self, *extra) -> str:
        h = hashlib.sha256(json.dumps([self.top, sorted(self.parameters), extra], default=str).encode())
        for src in (*self.sources, *self.control):
            h.update(Path(src).name.encode())
            h.update(Path(src).read_bytes())
        return h.hexdigest()[:16]


def check_stall(stall) -> tuple[float, float]:
    """``stall``: a stall probability per cycle for both stream sides, or (input, output)."""
    pair = stall if isinstance(stall, tuple) else (stall, stall)
    for s in pair:
        if not 0.0 <= s <= STALL_MAX:
            raise UserError(f"--stall {s}: allowed 0..{STALL_MAX} (probability of a stall per cycle on a stream side)")
    return float(pair[0]), float(pair[1])


def first_errors(log: str, lines: int = 12) -> str:
    """The first error lines of a Verilator / C++ compiler log (what a user needs to see)."""
    pattern = re.compile(r"%Error|%Warning|error:|Error ", re.IGNORECASE)
    hits = [ln for ln in log.splitlines() if pattern.search(ln)]
    return "\n".join((hits or log.strip().splitlines())[:lines])


def build(design: Design, waves: bool = False) -> Path:
    """Verilate and compile ``design`` (cached); returns the build folder.
    Warnings are fatal: the sources must be lint clean (control files hold the waivers)."""
    from cocotb_tools.config import libs_dir

    toolenv.apply_to_current_process()
    # the executable loads cocotb's VPI library from this installation's path (its RUNPATH):
    # a build cached by another checkout or virtualenv must not be reused
    bdir = toolenv.cache_dir("rtl") / f"{design.top}-{design.key(waves, str(libs_dir), 'top ports public')}"
    with toolenv.cache_lock(bdir):
        return _build_locked(design, bdir, waves)


def _top_ports_runner(top: str, bdir: Path):
    """cocotb's Verilator runner without ``--public-flat-rw``: that flag makes every signal of the
    design reachable over VPI, so Verilator keeps and registers all of them (a LAB core with a few
    lanes became 6 MB of C++ instead of 0.68 MB). The testbench drives and reads
    the top module's ports only: a control file makes just those public."""
    from cocotb_tools.runner import Verilator

    control = bdir / "top_ports_public.vlt"
    control.write_text(f'`verilator_config\npublic_flat_rw -module "{top}" -var "*"\n')

    class TopPortsVerilator(Verilator):
        def _build_command(self):
            cmds = super()._build_command()
            verilate = [arg for arg in cmds[0] if arg != "--public-flat-rw"]
            return [verilate[:1] + [str(control)] + verilate[1:], *cmds[1:]]

    return TopPortsVerilator()


def _build_locked(design: Design, bdir: Path, waves: bool) -> Path:
    if (bdir / design.top).exists():
        return bdir
    if bdir.exists():  # an earlier, failed or interrupted build
        shutil.rmtree(bdir)
    bdir.mkdir(parents=True)
    runner = _top_ports_runner(design.top, bdir)
    log = bdir / "build.log"
    try:
        runner.build(
            sources=[*map(str, design.control), *map(str, design.sources)],
            hdl_toplevel=design.top,
            parameters=dict(design.parameters),
            build_dir=bdir,
            waves=waves,
            build_args=["-Wall"] + (["--trace-fst"] if waves else []),
            timescale=("1ns", "1ps"),
            log_file=log,
        )
    except (RuntimeError, SystemExit) as e:  # the folder is rebuilt on the next call
        text = log.read_text(errors="replace") if log.exists() else str(e)
        raise SimBuildError(f"Verilator could not build {design.top} (log {log}):\n{first_errors(text)}") from None
    return bdir


@dataclasses.dataclass
class Phase:
    """One test phase: beats per slave port, beats expected per master port; with
    ``abort_after`` the phase is cut off after that many cycles (a reset mid-frame)."""

    inputs: dict[str, list[int]]
    expect: dict[str, int]
    abort_after: int | None = None

    def to_json(self) -> dict:
        return dataclasses.asdict(self)


@dataclasses.dataclass
class PhaseResult:
    beats: dict[str, list[int]]  # per master port
    cycles: dict[str, list[int]]  # cycle of every output beat
    first_in: int | None  # cycle of the first input beat
    aborted: bool = False


def run(design: Design, phases: list[Phase], stall=0.0, seed: int = 1, waves: bool = False,
        work_dir: Path | None = None, timeout_cycles: int | None = None) -> tuple[list[PhaseResult], Path | None]:
    """Run the stream testbench on ``design``: a reset before every phase, random TVALID
    gaps on every slave port and TREADY stalls on every master port (``stall``)."""
    from cocotb_tools.check_results import get_results
    from cocotb_tools.runner import get_runner

    stall_in, stall_out = check_stall(stall)
    bdir = build(design, waves)
    work = Path(work_dir) if work_dir else Path(tempfile.mkdtemp(prefix="bnnforge-rtl-"))
    work.mkdir(parents=True, exist_ok=True)
    for f in design.data_files:  # $readmemh names are relative to the simulator's folder
        shutil.copy(f, work / Path(f).name)
    cfg = {"seed": seed, "stall_in": stall_in, "stall_out": stall_out, "phases": [p.to_json() for p in phases],
           "out_file": str(work / "tb_out.json"), "timeout_cycles": timeout_cycles}
    (work / "tb_config.json").write_text(json.dumps(cfg))
    results_xml = work / "results.xml"
    runner = get_runner("verilator")
    try:
        runner.test(test_module=TB_MODULE, hdl_toplevel=design.top, hdl_toplevel_lang="verilog", build_dir=bdir,
                    test_dir=work, extra_env={"BNNFORGE_TB": str(work / "tb_config.json")}, waves=waves,
                    log_file=work / "sim.log", results_xml=str(results_xml.resolve()))
    except (SystemExit, RuntimeError):  # a failed cocotb test; details below
        pass
    failed = True
    if results_xml.exists():
        _, failed = get_results(results_xml)
    if failed or not (work / "tb_out.json").exists():
        log = (work / "sim.log").read_text(errors="replace") if (work / "sim.log").exists() else ""
        reason = re.findall(r"(timeout: .*|deadlock: .*|AssertionError: .*)", log)
        raise SimRunError(f"RTL simulation of {design.top} failed: {reason[0] if reason else 'see log'} "
                          f"(log {work / 'sim.log'})")
    out = json.loads((work / "tb_out.json").read_text())
    results = [PhaseResult(r["beats"], r["cycles"], r.get("first_in"), r.get("aborted", False)) for r in out["phases"]]
    fst = work / "dump.fst"
    if waves and fst.exists():
        return results, fst
    if not work_dir:  # a scratch folder of a passed run (a failed run keeps its log for the message above)
        shutil.rmtree(work, ignore_errors=True)
    return results, None


def steady_cycles_per_frame(result: PhaseResult, port: str, frames: int) -> float | None:
    """Cycles between the last output beats of consecutive frames (averaged), or for one
    frame the cycles from its first input beat to its last output beat."""
    cycles = result.cycles[port]
    if not cycles or len(cycles) % frames:
        return None
    per = len(cycles) // frames
    if frames >= 2:
        ends = [cycles[(f + 1) * per - 1] for f in range(frames)]
        return (ends[-1] - ends[0]) / (frames - 1)
    return float(cycles[-1] - result.first_in) if result.first_in is not None else None


def lint(design: Design) -> str:
    """`verilator --lint-only -Wall` of a design; returns the warnings ('' when clean)."""
    import subprocess

    cmd = [toolenv.require("verilator", "RTL lint", "make setup"), "--lint-only", "-Wall",
           *[f"-G{k}={_g_value(v)}" for k, v in design.parameters], *map(str, design.control),
           *map(str, design.sources), "--top-module", design.top]
    out = subprocess.run(cmd, capture_output=True, text=True, env=toolenv.tool_env())
    return "" if out.returncode == 0 and not out.stderr.strip() else (out.stderr or out.stdout)


def _g_value(v) -> str:
    return f'"{v}"' if isinstance(v, str) and not v.startswith('"') else str(v)
