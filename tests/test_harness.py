"""The compiled Verilator harness (bnnforge.sim.harness) on a small design of its own
(tests/rtl/hx_top.sv: slice (+1) -> FIFO -> throttle (~), taps on both inner edges, the
FIFO occupancy as a counter): exact output under random stalls on both sides, wide TDATA,
taps, counter maxima, cycle stamps, deadlocks, cycle limits, a broken stage, build errors.
"""

import dataclasses
import random
from pathlib import Path

import pytest

from bnnforge.sim import harness
from bnnforge.sim.verilator import SimBuildError

RTL = Path(__file__).resolve().parent / "rtl"
DEPTH = 8  # hx_top's default FIFO depth


def hx_spec(width, taps=True, **params):
    return harness.HarnessSpec(
        top="hx_top", sources=(RTL / "hx_stages.sv", RTL / "hx_top.sv"), control=(RTL / "hx.vlt",),
        defines=("BNNFORGE_TAPS",) if taps else (), parameters=(("W", width), *sorted(params.items())),
        s_axis=("s_axis_0", width), m_axis=("m_axis_0", width),
        taps=(("slice_out", width), ("fifo_out", width)) if taps else (),
        counters=(("fifo_count", (DEPTH).bit_length()),))


@pytest.fixture(scope="module")
def exe72():
    return harness.build(hx_spec(72))


@pytest.fixture(scope="module")
def exe130():
    return harness.build(hx_spec(130, II=3))


def beats_for(width, n, seed=0):
    rng = random.Random(seed)
    beats = [rng.getrandbits(width) for _ in range(n)]
    beats[:2] = [0, (1 << width) - 1]  # the carry through every word, and all ones
    return beats


def plus_one(beats, width):
    return [(b + 1) % (1 << width) for b in beats]


def expected(beats, width):
    return [x ^ ((1 << width) - 1) for x in plus_one(beats, width)]


def occupancy_max(push_cycles, pop_cycles, cycles):
    """Largest FIFO count seen by the harness: before edge c, pushes at edges < c minus pops."""
    occ, best, pushes, pops = 0, 0, set(push_cycles), set(pop_cycles)
    for c in range(cycles):
        best = max(best, occ)
        occ += (c in pushes) - (c in pops)
    return best


@pytest.mark.parametrize("width", [72, 130])
@pytest.mark.parametrize("stall", [(0.0, 0.0), (0.3, 0.6), (0.7, 0.2), (0.5, 0.9)])
def test_exact_output_taps_and_counter_under_stalls(width, stall, exe72, exe130):
    exe = exe72 if width == 72 else exe130
    frames, per = 5, 12
    x = beats_for(width, frames * per, seed=width)
    r = harness.run(exe, x, frames, per, stall_in=stall[0], stall_out=stall[1], seed=7, record_taps=True)
    assert r.beats == expected(x, width)
    assert r.in_sent == len(x) and r.deadlock is None and not r.extra_beats
    assert r.taps["slice_out"] == plus_one(x, width) == r.taps["fifo_out"]
    assert r.tap_counts == {"slice_out": len(x), "fifo_out": len(x)}
    # cycle stamps: strictly increasing per stream, each stage at least a cycle after the one before
    assert all(a < b for a, b in zip(r.cycles, r.cycles[1:]))
    assert all(a < b < c for a, b, c in zip(r.tap_cycles["slice_out"], r.tap_cycles["fifo_out"], r.cycles))
    assert r.first_in is not None and r.first_in < r.tap_cycles["slice_out"][0]
    assert r.total_cycles == r.cycles[-1] + 1
    # the counter's maximum is the FIFO occupancy the taps imply
    want = occupancy_max(r.tap_cycles["slice_out"], r.tap_cycles["fifo_out"], r.total_cycles)
    assert r.counters == {"fifo_count": want}
    if stall[1] >= 0.9 and width == 72:
        assert want == DEPTH  # a slow consumer fills the FIFO


def test_seeded_and_reproducible(exe72):
    x = beats_for(72, 30)
    a = harness.run(exe72, x, 3, 10, stall_in=0.4, stall_out=0.4, seed=3)
    b = harness.run(exe72, x, 3, 10, stall_in=0.4, stall_out=0.4, seed=3)
    c = harness.run(exe72, x, 3, 10, stall_in=0.4, stall_out=0.4, seed=4)
    assert a.cycles == b.cycles and a.beats == b.beats == c.beats == expected(x, 72)
    assert a.cycles != c.cycles


@pytest.mark.parametrize("width,ii", [(72, 1), (130, 3)])
def test_cycle_stamps_and_cycles_per_frame(width, ii, exe72, exe130, tmp_path):
    exe = exe72 if width == 72 else exe130
    frames, per = 4, 10
    x = beats_for(width, frames * per)
    r = harness.run(exe, x, frames, per, record_taps=True, work_dir=tmp_path)
    assert r.beats == expected(x, width)
    # reset released, the first beat taken at edge 0; one register stage per cycle after it
    assert r.first_in == 0
    assert (r.tap_cycles["slice_out"][0], r.tap_cycles["fifo_out"][0], r.cycles[0]) == (1, 2, 3)
    assert r.cycles == [3 + ii * i for i in range(frames * per)]  # the throttle takes a beat every ii cycles
    assert r.cycles_per_frame() == ii * per
    assert r.frame_end_cycles() == [3 + ii * ((f + 1) * per - 1) for f in range(frames)]
    assert r.frame(1) == expected(x, width)[per:2 * per]
    one = harness.run(exe, x[:per], 1, per)
    assert one.cycles_per_frame() == one.cycles[-1] + 1  # first input at cycle 0 to the last output
    assert (tmp_path / "in.hex").read_text().splitlines()[1] == f"{(1 << width) - 1:x}"
    assert (tmp_path / "out.txt").read_text().splitlines()[0] == f"3 {expected(x, width)[0]:x}"


def test_deadlock_names_the_blocked_tap_within_the_bound():
    exe = harness.build(hx_spec(72, STOP_AFTER=20))
    x = beats_for(72, 48)
    with pytest.raises(harness.HarnessDeadlock) as err:
        harness.run(exe, x, 4, 12, stall_in=0.2, stall_out=0.3, max_idle_cycles=300, seed=5)
    d, r = err.value.deadlock, err.value.result
    # the throttle stopped taking: the FIFO's output holds a beat nobody takes, the FIFO
    # filled, the slice and then the input stalled behind it; the output waits
    assert set(d.blocked) == {"fifo_out", "slice_out", "s_axis_0"}
    assert d.waiting == ("m_axis_0",)
    assert d.cycle - d.last_move == 300  # stopped exactly at the bound
    assert "blocked (TVALID=1, TREADY=0): s_axis_0, slice_out, fifo_out" in str(err.value)
    assert r.beats == expected(x, 72)[:20] and len(r.cycles) == 20  # partial results
    assert r.tap_counts["fifo_out"] == 20 and r.counters["fifo_count"] == DEPTH
    assert r.in_sent == 20 + DEPTH + 1  # taken by the throttle, held by the FIFO and the slice


def test_nothing_moves(exe72):
    with pytest.raises(harness.HarnessDeadlock, match="no beat moved at all") as err:
        harness.run(exe72, [], 1, 5, max_idle_cycles=50)
    assert err.value.deadlock.cycle == 49 and err.value.deadlock.waiting == ("m_axis_0", "slice_out", "fifo_out")


def test_cycle_limit_and_extra_beats(exe72):
    x = beats_for(72, 40)
    with pytest.raises(harness.HarnessError, match="cycle limit 25") as err:
        harness.run(exe72, x, 1, 40, max_cycles=25)
    assert err.value.result.total_cycles == 25 and len(err.value.result.beats) == 25 - 3
    # the design sends 40 beats where 36 were expected: the run reports the surplus
    with pytest.raises(harness.HarnessError, match="4 output beats more") as err:
        harness.run(exe72, x, 4, 9)
    assert err.value.result.extra_beats == expected(x, 72)[36:]


def test_broken_stage_caught_under_backpressure():
    """hx_slice with DROP=1 overwrites a beat its consumer has not taken: invisible without
    backpressure, a missing beat (and a stalled run) with it."""
    exe = harness.build(hx_spec(40, taps=False, DROP=1))
    x = beats_for(40, 60)
    ok = harness.run(exe, x, 5, 12)
    assert ok.beats == expected(x, 40) and ok.counters["fifo_count"] == 1
    with pytest.raises(harness.HarnessDeadlock) as err:
        harness.run(exe, x, 5, 12, stall_out=0.8, max_idle_cycles=200)
    r = err.value.result
    assert r.in_sent == len(x) and len(r.beats) < len(x)
    assert err.value.deadlock.waiting == ("m_axis_0",) and not err.value.deadlock.blocked


def test_bad_inputs_rejected(exe72):
    with pytest.raises(ValueError, match="does not fit"):
        harness.run(exe72, [1 << 72], 1, 1)
    with pytest.raises(ValueError, match="split into 3 frames"):
        harness.run(exe72, [1, 2], 3, 1)
    with pytest.raises(ValueError, match="stall_out"):
        harness.run(exe72, [1], 1, 1, stall_out=1.0)
    with pytest.raises(ValueError, match="waves"):
        harness.run(exe72, [1], 1, 1, waves=True)


@pytest.mark.parametrize("body,message", [
    ("assign y = a +;", "%Error: .*bad_top.sv"),  # syntax
    ("assign y = a[3:0];", "%Warning-WIDTHEXPAND: .*bad_top.sv"),  # -Wall: warnings are fatal
])
def test_build_errors_show_the_first_log_lines(tmp_path, body, message):
    src = tmp_path / "bad_top.sv"
    src.write_text(f"module bad_top (input logic [7:0] a, output logic [7:0] y);\n  {body}\nendmodule\n")
    spec = harness.HarnessSpec(top="bad_top", sources=(src,), s_axis=("s_axis_0", 8), m_axis=("m_axis_0", 8))
    with pytest.raises(SimBuildError, match=message):
        harness.build(spec)


def test_port_mismatch_is_a_build_error():
    spec = dataclasses.replace(hx_spec(72), defines=(), s_axis=("s_axis_0", 64))
    with pytest.raises(SimBuildError) as err:
        harness.build(spec)
    msg = str(err.value)
    assert "port s_axis_0_tdata is input of 72 bits, the spec says input of 64 bits" in msg
    assert "no port slice_out_tdata (output, 72 bits)" in msg  # taps exist only with BNNFORGE_TAPS


def test_waves(tmp_path):
    exe = harness.build(hx_spec(72), waves=True)
    x = beats_for(72, 8)
    r = harness.run(exe, x, 1, 8, stall_out=0.5, waves=True, work_dir=tmp_path)
    assert r.beats == expected(x, 72)
    assert (tmp_path / "dump.fst").stat().st_size > 100


SIZING_TOP = """
module sizing_top (
    input logic ap_clk, input logic ap_rst_n,
    input logic [7:0] s_axis_0_tdata, input logic s_axis_0_tvalid, output logic s_axis_0_tready,
    output logic [7:0] m_axis_0_tdata, output logic m_axis_0_tvalid, input logic m_axis_0_tready,
    output logic [5:0] f_maxcount
);
  /* verilator lint_off UNUSEDSIGNAL */
  logic [5:0] count;
  /* verilator lint_on UNUSEDSIGNAL */
  fifo #(.DEPTH(20), .DATA_WIDTH(8)) fifo (
      .clk(ap_clk), .rst(!ap_rst_n), .idat(s_axis_0_tdata), .ivld(s_axis_0_tvalid), .irdy(s_axis_0_tready),
      .odat(m_axis_0_tdata), .ovld(m_axis_0_tvalid), .ordy(m_axis_0_tready), .count(count), .maxcount(f_maxcount));
endmodule
"""


def test_sizing_fifo_depth_is_a_plusarg(tmp_path):
    """FIFO sizing's stand-in for finn-rtllib's fifo (one build, many depths): its capacity is
    the +fifo_limit of its instance (the occupancy never exceeds it and reaches it when the
    output stalls), data in order; a FIFO without one is fatal under +fifo_limit_required."""
    from bnnforge import toolenv

    top = tmp_path / "sizing_top.sv"
    top.write_text(SIZING_TOP)
    exe = harness.build(harness.HarnessSpec(top="sizing_top", sources=(toolenv.rtl_dir() / "sizing_fifo.sv", top),
                                            s_axis=("s_axis_0", 8), m_axis=("m_axis_0", 8),
                                            counters=(("f_maxcount", 6),)))
    beats = [random.Random(5).randrange(256) for _ in range(300)]
    peaks = {}
    for depth in (2, 7, 20):
        r = harness.run(exe, beats, 3, 100, stall_out=0.9, seed=2, plusargs=(f"+fifo_limit:dut.sizing_top.fifo={depth}",))
        assert r.beats == beats
        peaks[depth] = r.counters["f_maxcount"]
    assert peaks == {2: 2, 7: 7, 20: 20}, peaks
    with pytest.raises(harness.HarnessError, match="no \\+fifo_limit"):
        harness.run(exe, beats, 3, 100, plusargs=("+fifo_limit_required", "+fifo_limit:dut.other.fifo=4"))
    with pytest.raises(harness.HarnessError, match="outside 2..20"):
        harness.run(exe, beats, 3, 100, plusargs=("+fifo_limit:dut.sizing_top.fifo=21",))


def test_small_model_compiles_as_one_unit_large_one_split(exe72, tmp_path):
    """The compile step's make variables: one C++ file for a small model (its build log), Verilator's
    file-by-file compile above harness.ONE_UNIT_MAX_BYTES of generated C++."""
    compile_line = [ln for ln in (exe72.parent / "build.log").read_text().splitlines()
                    if ln.startswith("$ ") and "Vdut.mk" in ln]
    assert len(compile_line) == 1 and harness.ONE_UNIT in compile_line[0].split(), compile_line
    (tmp_path / "Vdut__0.cpp").write_bytes(b" " * (harness.ONE_UNIT_MAX_BYTES // 2))
    assert harness.compile_units(tmp_path) == [harness.ONE_UNIT]
    (tmp_path / "Vdut__1.cpp").write_bytes(b" " * (harness.ONE_UNIT_MAX_BYTES // 2 + 1))
    assert harness.compile_units(tmp_path) == []
