"""The critical-path estimate of sim/synth.py (docs/DESIGN.md, "Timing estimate"): exact
against a hand count on tiny handwritten netlists, and ordered right on variants that
differ only in their pipelining."""

import shutil
import subprocess
from pathlib import Path

import pytest

from bnnforge.sim import synth, timing


def lut_chain(k: int) -> str:
    """k LUT6 in series between two registers: register bits with one load each, every LUT
    output feeds only the next LUT (the primitives are instantiated: yosys keeps them)."""
    luts = "\n".join(
        f"  LUT6 #(.INIT(64'h6996966996696996)) l{i} (.O(c[{i + 1}]), .I0(c[{i}]), .I1(r[{5 * i + 1}]), "
        f".I2(r[{5 * i + 2}]), .I3(r[{5 * i + 3}]), .I4(r[{5 * i + 4}]), .I5(r[{5 * i + 5}]));" for i in range(k))
    return (f"module chain (input logic clk, input logic [{5 * k}:0] a, output logic y);\n"
            f"  logic [{5 * k}:0] r;\n  logic [{k}:0] c;\n"
            "  always_ff @(posedge clk) begin\n    r <= a;\n    y <= c[" + str(k) + "];\n  end\n"
            "  assign c[0] = r[0];\n" + luts + "\nendmodule\n")


def run(tmp_path, name: str, text: str, top: str, family: str = "xc7", **kw):
    src = tmp_path / f"{name}.sv"
    src.write_text(text)
    return synth.synth([src], top, family, work_dir=tmp_path / f"{name}-{family}", **kw)


@pytest.mark.parametrize("family", synth.FAMILIES)
@pytest.mark.parametrize("k", [1, 4])
def test_lut_chain_matches_the_hand_count(k, family, tmp_path):
    c = run(tmp_path, f"chain{k}", lut_chain(k), "chain", family)
    assert (c.lut, c.carry, c.muxf) == (k, 0, 0)
    assert c.logic_levels == k
    tm = timing.TIMING_MODELS[family]
    # clock-to-out, k x (one-load net + LUT), the net into the register, its setup, the uncertainty
    hand = tm.ff_clk_to_q + k * (tm.net_delay(1) + tm.lut) + tm.net_delay(1) + tm.ff_setup_d + tm.clock_uncertainty
    assert c.critical_path_ns == pytest.approx(hand, abs=0.002)
    assert c.fmax_mhz == pytest.approx(1000 / hand, abs=0.1)
    assert c.startpoint.startswith("r[") and "FDRE" in c.startpoint
    assert c.endpoint == "y (D)"
    assert [step[1] for step in c.path] == ["FDRE"] + ["LUT6"] * k


def test_families_and_hand_count_of_a_carry_chain(tmp_path):
    """A 12-bit adder: LUT, then three CARRY4 (xc7) along the chain: two logic levels (a chain
    counts once), the carry cells' delays from the model."""
    text = ("module add (input logic clk, input logic [11:0] a, b, output logic [12:0] y);\n"
            "  logic [11:0] ra, rb;\n"
            "  always_ff @(posedge clk) begin\n    ra <= a;\n    rb <= b;\n    y <= ra + rb;\n  end\nendmodule\n")
    c = run(tmp_path, "add", text, "add", "xc7")
    assert c.carry == 4 and c.logic_levels == 2
    tm = timing.XC7_1
    # worst: an operand bit into the lowest cell, up the chain (S -> CO, 2 x CI -> CO, CI -> O),
    # the slice's LUT feeds S without routing
    hand = (tm.ff_clk_to_q + tm.net_delay(2) + tm.lut + tm.carry_entry_co + 2 * tm.carry_ci_co + tm.carry_ci_o
            + tm.net_delay(1) + tm.ff_setup_d + tm.clock_uncertainty)
    assert c.critical_path_ns == pytest.approx(hand, abs=0.002), c.path
    up = run(tmp_path, "add", text, "add", "xcup")
    assert up.critical_path_ns < c.critical_path_ns / 1.5  # UltraScale+ -2 is much faster


POPCOUNT = """
module popcount #(parameter int N = 96) (input logic clk, input logic [N-1:0] x, output logic [7:0] y);
  logic [N-1:0] r;
  always_ff @(posedge clk) r <= x;
{body}
endmodule
"""
UNPIPELINED = "  always_ff @(posedge clk) y <= 8'($countones(r));"
PIPELINED = """  logic [7:0] part[4];
  always_ff @(posedge clk) begin
    for (int i = 0; i < 4; i++) part[i] <= 8'($countones(r[i*(N/4)+:N/4]));
    y <= part[0] + part[1] + part[2] + part[3];
  end"""


@pytest.mark.parametrize("family", synth.FAMILIES)
def test_unpipelined_popcount_is_reported_slower(family, tmp_path):
    flat = run(tmp_path, "flat", POPCOUNT.format(body=UNPIPELINED), "popcount", family)
    piped = run(tmp_path, "piped", POPCOUNT.format(body=PIPELINED), "popcount", family)
    assert piped.ff > flat.ff  # the pipeline registers
    assert flat.critical_path_ns > 1.3 * piped.critical_path_ns, (flat.path, piped.path)
    assert flat.logic_levels > piped.logic_levels
    assert flat.fmax_mhz < piped.fmax_mhz


def test_block_ram_read_counts_its_clock_to_out(tmp_path):
    """A registered ROM read in block RAM feeding logic: the path starts at the RAMB18E1 with its
    clock-to-out (no output register), far slower than a flip-flop's."""
    text = """
module romlogic (input logic clk, input logic [9:0] addr, output logic y);
  (* rom_style = "block", ram_style = "block" *) logic [17:0] mem[1024];
  initial for (int i = 0; i < 1024; i++) mem[i] = 18'(i * 2654435761);
  logic [17:0] d;
  always_ff @(posedge clk) begin
    d <= mem[addr];
    y <= ^d;
  end
endmodule
"""
    c = run(tmp_path, "romlogic", text, "romlogic", "xc7")
    assert c.bram18 == 1
    assert c.path[0][1].startswith("RAMB18") and c.path[0][0] == pytest.approx(timing.XC7_1.bram_clk_to_out)
    assert c.critical_path_ns > timing.XC7_1.bram_clk_to_out + 2 * timing.XC7_1.lut


def test_counts_unchanged_and_timing_optional(tmp_path):
    with_timing = run(tmp_path, "chain2", lut_chain(2), "chain")
    without = run(tmp_path, "chain2", lut_chain(2), "chain", timing=False)
    assert with_timing.row() == {**without.row(), **{k: v for k, v in with_timing.row().items()
                                                     if k in ("critical_path_ns", "fmax_mhz", "logic_levels",
                                                              "startpoint", "endpoint")}}
    assert without.critical_path_ns is None and without.path == []
    assert "path" not in with_timing.row() and "cells" not in with_timing.row()


def test_xcup_memory_yosys_cannot_put_in_lutram_still_synthesizes(tmp_path):
    """A 784 x 8 RAM (an MVAU's input buffer) on UltraScale+: Debian's yosys 0.23 fails in its
    LUT RAM mapping; synth retries without LUT RAM, so such a layer still gets counts and timing."""
    text = ("module ram (input logic clk, input logic we, input logic [9:0] a, input logic [7:0] d, "
            "output logic [7:0] q);\n  logic [7:0] mem [784];\n"
            "  always_ff @(posedge clk) begin\n    if (we) mem[a] <= d;\n    q <= mem[a];\n  end\nendmodule\n")
    src = tmp_path / "ram.sv"
    src.write_text(text)
    plain = subprocess.run(["yosys", "-q", "-p", f"read_verilog -sv {src}; synth_xilinx -family xcup -top ram"],
                           capture_output=True, text=True)
    assert synth.XCUP_LUTRAM_BUG in plain.stderr  # the case really is one yosys fails on
    c = run(tmp_path, "ram", text, "ram", "xcup")
    assert c.lutram == 0 and c.bram18 + c.ff > 0 and c.fmax_mhz is not None


def test_killed_yosys_is_an_interruption_not_a_failed_design(tmp_path, monkeypatch):
    """A yosys killed by a signal (Ctrl-C, kill, the kernel out of memory) once left a build's
    timing report saying "yosys failed on MVAU_lut_rtl_5:" over a few warnings, recorded as done,
    so rerunning the build never retried it. It is ToolKilled (exit 130: the step is not
    recorded, the same command resumes), not the RuntimeError of a design yosys rejects, which
    the build's timing step reports and goes on."""
    import os

    from bnnforge.errors import ToolKilled

    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "yosys").write_text("#!/bin/sh\nkill -KILL $$\n")
    (fake / "yosys").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(ToolKilled, match="killed by signal 9 while synthesizing chain"):
        run(tmp_path, "chain1", lut_chain(1), "chain")
    (fake / "yosys").write_text("#!/bin/sh\necho 'ERROR: syntax error' >&2\nexit 1\n")
    with pytest.raises(RuntimeError, match="yosys failed on chain"):
        run(tmp_path, "chain1", lut_chain(1), "chain")


def test_a_primitive_outside_cells_sim_is_still_counted(tmp_path):
    """xc7 synthesis reads only the cells synthesis maps to (cells_sim.v, not the 1.4 MB of
    blackboxes in cells_xtra.v: 30-40 % of a layer's yosys time). A design that instantiates a
    primitive from cells_xtra.v by hand (IDELAYE2) is synthesized again with the whole library:
    counted, never an error."""
    cells_sim = (Path(shutil.which("yosys")).resolve().parents[1] / "share/yosys/xilinx/cells_sim.v").read_text()
    assert "module IDELAYE2" not in cells_sim and "module LUT6" in cells_sim  # the case is the one meant
    text = ("module top (input logic clk, input logic a, output logic q);\n  logic d;\n"
            "  IDELAYE2 u (.IDATAIN(a), .DATAOUT(d));\n  always_ff @(posedge clk) q <= d;\nendmodule\n")
    c = run(tmp_path, "top", text, "top")
    assert c.cells.get("IDELAYE2") == 1 and c.ff == 1
    assert run(tmp_path, "chain1", lut_chain(1), "chain").cells.get("LUT6") == 1  # and the short way still maps
