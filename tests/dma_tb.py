"""cocotb testbench of the DMA engines (sim/rtl/dma_reader.sv, sim/rtl/dma_writer.sv).

Runs inside the simulator (Verilator); tests/test_dma.py builds the designs and starts it.
The memory is cocotbext-axi's AxiRamRead / AxiRamWrite on a sparse 2^62-byte memory (an
address truncated to 32 bits reads or writes another place), the control port is driven by
its AxiLiteMaster, the stream side by AxiStreamSink / AxiStreamSource. On top of them:

- random stalls on every channel (pause generators on AR, R, AW, W, B and the stream);
- memory latency: an AR is handed to the RAM model (reader) and a B response returned to
  the DMA (writer) only after a random number of cycles, in order, with any number in
  flight (a pipelined memory: latency does not serialize the bursts);
- a monitor that samples every channel each cycle (in the read-only phase before the
  edge that moves it) and records an error when a VALID drops or its payload changes
  before READY, and keeps every handshake for the checks of a transfer: the AR/AW
  sequence must be exactly the bursts SPEC prescribes (contiguous from the buffer
  address, INCR, full bus size, <= 256 beats, never across 4 KiB, each as long as those
  rules allow), WLAST exactly on each burst's last beat, WSTRB all ones except the last
  beat of the transfer, which covers exactly the transfer's remaining bytes.

Configuration: JSON in $DMA_TB: kind (reader|writer), bus_bytes, stream_bytes,
frame_beats, addr_bits, seed, out_file (measured rates are written there).
"""

from __future__ import annotations

import json
import logging
import os
import random
from collections import deque

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ReadOnly, RisingEdge
from cocotbext.axi import (AxiLiteBus, AxiLiteMaster, AxiReadBus, AxiStreamBus, AxiStreamFrame, AxiStreamSink,
                           AxiStreamSource, AxiWriteBus)
from cocotbext.axi.axi_ram import AxiRamRead, AxiRamWrite
from cocotbext.axi.sparse_memory import SparseMemory

CFG = json.loads(os.environ.get("DMA_TB", "{}"))
CTRL, ADDR_LO, ADDR_HI, FRAMES, STATUS = 0x00, 0x10, 0x14, 0x1C, 0x24
AP_START, AP_DONE, AP_IDLE, AP_READY = 0x1, 0x2, 0x4, 0x8
PAGE = 4096


def bursts(addr: int, beats: int, bus_bytes: int, max_burst: int = 256) -> list[tuple[int, int]]:
    """The (address, beats) of every burst SPEC prescribes for a transfer."""
    out = []
    while beats:
        n = min(beats, max_burst, (PAGE - addr % PAGE) // bus_bytes)
        out.append((addr, n))
        addr += n * bus_bytes
        beats -= n
    return out


def pause_gen(rng: random.Random, p: float):
    while True:
        yield rng.random() < p


class PoisonMixin:
    """A RAM model answering SLVERR for accesses inside ``poison`` (a byte range)."""

    poison: tuple[int, int] | None = None

    def poisoned(self, address):
        return self.poison is not None and self.poison[0] <= address < self.poison[1]


class TbRamRead(PoisonMixin, AxiRamRead):
    async def _read(self, address, length):
        if self.poisoned(address):
            raise OSError("poisoned address")  # the model answers SLVERR
        return await super()._read(address, length)


class TbRamWrite(PoisonMixin, AxiRamWrite):
    async def _write(self, address, data):
        if self.poisoned(address):
            raise OSError("poisoned address")
        await super()._write(address, data)


class DelayedAR:
    """Stands in for the RAM model's AR channel: every AR the real sink accepts reaches the
    model `latency` cycles later (a random draw per AR, order kept)."""

    def __init__(self, env, sink):
        self.env, self.sink, self.q, self.last_due = env, sink, deque(), 0
        cocotb.start_soon(self._pump())

    async def _pump(self):
        while True:
            ar = await self.sink.recv()
            self.last_due = max(self.last_due, self.env.cycle + self.env.rng.randint(*self.env.latency))
            self.q.append((self.last_due, ar))

    async def recv(self):
        while not self.q or self.q[0][0] > self.env.cycle:
            await RisingEdge(self.env.clk)
        return self.q.popleft()[1]

    def clear(self):
        self.sink.clear()
        self.q.clear()


class DelayedB:
    """Stands in for the RAM model's B channel: a write response reaches the DMA `latency`
    cycles after the model produced it (order kept, any number in flight)."""

    def __init__(self, env, source):
        self.env, self.source, self.q, self.last_due = env, source, deque(), 0
        self._transaction_obj = source._transaction_obj
        cocotb.start_soon(self._pump())

    async def send(self, b):
        self.last_due = max(self.last_due, self.env.cycle + self.env.rng.randint(*self.env.latency))
        self.q.append((self.last_due, b))

    async def _pump(self):
        while True:
            while not self.q or self.q[0][0] > self.env.cycle:
                await RisingEdge(self.env.clk)
            await self.source.send(self.q.popleft()[1])

    def clear(self):
        self.source.clear()
        self.q.clear()


class Channel:
    """One ready/valid channel as the monitor sees it."""

    def __init__(self, name, valid, ready, payload, checked=True):
        self.name, self.valid, self.ready, self.payload, self.checked = name, valid, ready, payload, checked
        self.held = None  # payload of a VALID without READY in the previous cycle
        self.moves = []  # (cycle, payload) of every handshake
        self.on_move = None  # check of a handshake's payload: returns an error message or None
        self.valid_now = 0
        self.waits = 0  # cycles with VALID and not READY

    def sample(self, cycle, errors):
        valid = self.valid_now = int(self.valid.value)
        if self.checked and self.held is not None:
            if not valid:
                errors.append(f"cycle {cycle}: {self.name} VALID dropped before READY")
        if not valid:
            self.held = None
            return
        pl = tuple(int(s.value) for s in self.payload)
        if self.checked and self.held is not None and pl != self.held:
            errors.append(f"cycle {cycle}: {self.name} payload changed while VALID waited for READY: "
                          f"{self.held} -> {pl}")
        if int(self.ready.value):
            self.moves.append((cycle, pl))
            self.held = None
            err = self.on_move(pl) if self.on_move else None
            if err:
                errors.append(f"cycle {cycle}: {self.name} {err}")
        else:
            self.held = pl
            self.waits += 1


class Env:
    def __init__(self, dut, seed_offset=0):
        self.dut, self.clk = dut, dut.ap_clk
        self.kind = CFG["kind"]
        self.bb, self.sb, self.beats = CFG["bus_bytes"], CFG["stream_bytes"], CFG["frame_beats"]
        self.frame_bytes = self.sb * self.beats
        self.addr_bits = CFG["addr_bits"]
        self.rng = random.Random(CFG["seed"] * 1000 + seed_offset)
        self.latency = (0, 0)
        self.cycle = 0
        self.errors: list[str] = []
        self.w_mid = False  # the writer has sent part of a burst
        self.mem = SparseMemory(2**62)  # len() of the model must fit a Py_ssize_t
        self.guards: dict[int, bytes] = {}
        Clock(self.clk, 10, unit="ns").start()
        dut.ap_rst_n.value = 0
        rst = dut.ap_rst_n
        self.ctrl = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "s_axi_control"), self.clk, rst,
                                  reset_active_level=False)
        if self.kind == "reader":
            self.ram = TbRamRead(AxiReadBus.from_prefix(dut, "m_axi"), self.clk, rst, reset_active_level=False,
                                 mem=self.mem)
            self.ram.ar_channel = DelayedAR(self, self.ram.ar_channel)
            self.stream = AxiStreamSink(AxiStreamBus.from_prefix(dut, "m_axis"), self.clk, rst,
                                        reset_active_level=False)
            self.ar = Channel("AR", dut.m_axi_arvalid, dut.m_axi_arready,
                              [dut.m_axi_araddr, dut.m_axi_arlen, dut.m_axi_arsize, dut.m_axi_arburst, dut.m_axi_arid])
            self.r = Channel("R", dut.m_axi_rvalid, dut.m_axi_rready, [dut.m_axi_rlast, dut.m_axi_rresp], False)
            self.axis = Channel("m_axis", dut.m_axis_tvalid, dut.m_axis_tready, [dut.m_axis_tdata])
            self.channels = [self.ar, self.r, self.axis]
            self.pausable = [self.ram.ar_channel.sink, self.ram.r_channel, self.stream]
        else:
            self.ram = TbRamWrite(AxiWriteBus.from_prefix(dut, "m_axi"), self.clk, rst, reset_active_level=False,
                                  mem=self.mem)
            self.ram.b_channel = DelayedB(self, self.ram.b_channel)
            self.stream = AxiStreamSource(AxiStreamBus.from_prefix(dut, "s_axis"), self.clk, rst,
                                          reset_active_level=False)
            self.aw = Channel("AW", dut.m_axi_awvalid, dut.m_axi_awready,
                              [dut.m_axi_awaddr, dut.m_axi_awlen, dut.m_axi_awsize, dut.m_axi_awburst, dut.m_axi_awid])
            self.w = Channel("W", dut.m_axi_wvalid, dut.m_axi_wready, [dut.m_axi_wdata, dut.m_axi_wstrb, dut.m_axi_wlast])
            self.b = Channel("B", dut.m_axi_bvalid, dut.m_axi_bready, [dut.m_axi_bresp], False)
            self.axis = Channel("s_axis", dut.s_axis_tvalid, dut.s_axis_tready, [dut.s_axis_tdata], False)
            self.channels = [self.aw, self.w, self.b, self.axis]
            self.pausable = [self.ram.aw_channel, self.ram.w_channel, self.ram.b_channel.source, self.stream]
        (self.ar if self.kind == "reader" else self.aw).on_move = self._address_rules
        for model in (self.ram, self.stream, self.ctrl.write_if, self.ctrl.read_if):
            model.log.setLevel(logging.WARNING)  # they log every burst and stream beat
        cocotb.start_soon(self._monitor())

    # --- cycle-by-cycle monitor -------------------------------------------------------
    async def _monitor(self):
        while True:
            await RisingEdge(self.clk)
            self.cycle += 1
            await ReadOnly()
            if not int(self.dut.ap_rst_n.value):
                for ch in self.channels:
                    ch.held = None
                self.w_mid = False
                continue
            for ch in self.channels:
                ch.sample(self.cycle, self.errors)
            if self.kind == "writer":  # a burst's data is buffered before its AW: W never pauses inside it
                if self.w_mid and not self.w.valid_now:
                    self.errors.append(f"cycle {self.cycle}: WVALID low inside a burst")
                if self.w.moves and self.w.moves[-1][0] == self.cycle:
                    self.w_mid = not self.w.moves[-1][1][2]
            self.assert_rules()  # fails the test in the cycle that broke a rule

    def _address_rules(self, pl):
        a, ln, size, burst, _id = pl
        if a % PAGE + (ln + 1) * self.bb > PAGE:
            return f"{a:#x} len {ln + 1} crosses 4 KiB"
        if size != self.bb.bit_length() - 1 or burst != 1 or a % self.bb:
            return f"{a:#x} size {size} burst {burst}: not INCR of whole bus words"
        return None

    def clear_records(self):
        for ch in self.channels:
            ch.moves.clear()
            ch.waits = 0

    def in_flight_max(self) -> int:
        """Most bursts in flight at once: reader ARs whose last R beat had not arrived,
        writer AWs whose B had not arrived."""
        if self.kind == "reader":
            ends = [c for c, (last, _) in self.r.moves if last]
            starts = [c for c, _ in self.ar.moves]
        else:
            ends = [c for c, _ in self.b.moves]
            starts = [c for c, _ in self.aw.moves]
        events = sorted([(c, 1) for c in starts] + [(c, -1) for c in ends], key=lambda e: (e[0], -e[1]))
        n = best = 0
        for _, d in events:
            n += d
            best = max(best, n)
        return best

    # --- stimulus settings -----------------------------------------------------------------
    def set_stalls(self, p):
        """Stall probability per cycle on every channel: a float, or one per channel."""
        ps = p if isinstance(p, (list, tuple)) else [p] * len(self.pausable)
        for ch, q in zip(self.pausable, ps):
            if q:
                ch.set_pause_generator(pause_gen(self.rng, q))
            else:
                ch.clear_pause_generator()
                ch.pause = False

    async def reset(self, cycles=4):
        self.dut.ap_rst_n.value = 0
        for _ in range(cycles):
            await RisingEdge(self.clk)
        self.dut.ap_rst_n.value = 1
        for _ in range(2):
            await RisingEdge(self.clk)
        self.stream.clear()

    async def idle(self, cycles):
        for _ in range(cycles):
            await RisingEdge(self.clk)

    # --- control port ------------------------------------------------------------------------
    async def program(self, addr, frames):
        await self.ctrl.write_dword(ADDR_LO, addr & 0xFFFFFFFF)
        await self.ctrl.write_dword(ADDR_HI, addr >> 32)
        await self.ctrl.write_dword(FRAMES, frames)

    async def start(self, addr, frames):
        await self.program(addr, frames)
        await self.ctrl.write_dword(CTRL, AP_START)

    def assert_rules(self):
        assert not self.errors, "AXI handshake rules broken:\n" + "\n".join(self.errors[:10])

    async def wait_done(self, timeout=200_000):
        t0 = self.cycle
        while True:
            v = await self.ctrl.read_dword(CTRL)
            self.assert_rules()  # fail at the first broken rule, not at a later hang
            if v & AP_DONE:
                return v
            assert self.cycle - t0 < timeout, f"ap_done not set after {timeout} cycles (ap_ctrl {v:#x})"

    # --- one transfer ----------------------------------------------------------------------
    def bus_beats(self, frames):
        return -(-frames * self.frame_bytes // self.bb)

    def random_address(self, span):
        """A bus-aligned buffer start, often a few beats before a 4 KiB boundary, below or
        (when the address width allows) above 4 GiB."""
        high = self.addr_bits > 32 and self.rng.random() < 0.6
        page = self.rng.randrange(1 << 12, 1 << (min(self.addr_bits, 48) - 12)) if high else self.rng.randrange(1, 1 << 18)
        if high:
            page |= 1 << (min(self.addr_bits, 48) - 13)  # certainly above 4 GiB
        if self.rng.random() < 0.7:
            off = PAGE - self.bb * self.rng.randint(1, max(1, min(PAGE // self.bb, span // self.bb)))
        else:
            off = self.bb * self.rng.randrange(PAGE // self.bb)
        return page * PAGE + off

    def prepare(self, addr, frames):
        """Memory and stream contents of a transfer; returns its data bytes."""
        total = frames * self.frame_bytes
        data = self.rng.randbytes(total)
        if self.kind == "reader":
            self.mem.write(addr, data)
            self.mem.write(addr + total, self.rng.randbytes(self.bb + 64))  # read past the end, dropped
        else:
            self.guards[addr] = self.rng.randbytes(total + 2 * 256)  # old memory around the buffer
            self.mem.write(addr - 256, self.guards[addr])
            self.stream.send_nowait(AxiStreamFrame(data))
        return data

    async def transfer(self, addr, frames, stalls=0.0, latency=(0, 0), data=None):
        """Start, wait for done, check everything the transfer did; returns its cycles."""
        self.set_stalls(stalls)
        self.latency = latency
        if data is None:
            data = self.prepare(addr, frames)
        self.clear_records()
        t0 = self.cycle
        await self.start(addr, frames)
        v = await self.wait_done()
        cycles = self.cycle - t0
        assert v & AP_IDLE and v & AP_READY and not v & AP_START, f"ap_ctrl {v:#x} at done"
        if self.kind == "writer":
            assert len(self.b.moves) == len(self.aw.moves), "ap_done before every write response arrived"
        moved = {ch.name: len(ch.moves) for ch in self.channels}
        await self.idle(30)
        assert {ch.name: len(ch.moves) for ch in self.channels} == moved, "bus or stream traffic after ap_done"
        self.set_stalls(0.0)
        self.check(addr, frames, data)
        return cycles

    def check(self, addr, frames, data):
        self.assert_rules()
        total = frames * self.frame_bytes
        beats = self.bus_beats(frames)
        want = bursts(addr, beats, self.bb, CFG.get("max_burst", 256))
        lb = self.bb.bit_length() - 1
        addr_ch = self.ar if self.kind == "reader" else self.aw
        got = []
        for _, (a, ln, size, burst, _id) in addr_ch.moves:
            assert a % PAGE + (ln + 1) * self.bb <= PAGE, f"{addr_ch.name} {a:#x} len {ln + 1} crosses 4 KiB"
            assert size == lb and burst == 1, f"{addr_ch.name} size {size} burst {burst}"
            got.append((a, ln + 1))
        assert got == want, (f"{addr_ch.name} bursts {[(hex(a), n) for a, n in got[:8]]}... "
                             f"want {[(hex(a), n) for a, n in want[:8]]}...")
        stream = b"".join(d.to_bytes(self.sb, "little") for _, (d,) in self.axis.moves)
        assert len(self.axis.moves) == frames * self.beats, f"{len(self.axis.moves)} stream beats, want {frames * self.beats}"
        if self.kind == "reader":
            assert sum(1 for _ in self.r.moves) == beats and sum(last for _, (last, _) in self.r.moves) == len(want)
            assert self.r.waits == 0, f"RREADY low for {self.r.waits} cycles (room is reserved before each AR)"
            assert stream == data, f"stream differs from memory at byte {first_diff(stream, data)}"
        else:
            assert stream == data
            ws = self.w.moves
            assert len(ws) == beats, f"{len(ws)} W beats, want {beats}"
            i = 0
            for a, n in want:
                lasts = [last for _, (_, _, last) in ws[i:i + n]]
                assert lasts == [0] * (n - 1) + [1], f"WLAST of the burst at {a:#x}: {lasts}"
                i += n
            full = (1 << self.bb) - 1
            tail = total % self.bb
            strbs = [s for _, (_, s, _) in ws]
            assert strbs[:-1] == [full] * (beats - 1), "WSTRB not all ones before the last beat"
            assert strbs[-1] == ((1 << tail) - 1 if tail else full), f"last WSTRB {strbs[-1]:#x}, transfer ends at byte {tail}"
            got_mem = self.mem.read(addr - 256, total + 512)
            assert got_mem[256:256 + total] == data, f"memory differs at byte {first_diff(got_mem[256:256 + total], data)}"
            guard = self.guards[addr]
            assert got_mem[:256] == guard[:256] and got_mem[256 + total:] == guard[256 + total:], \
                "bytes outside the buffer were written"


def first_diff(a, b):
    return next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))


def record(key, value):
    path = CFG.get("out_file")
    if not path:
        return
    d = json.loads(open(path).read()) if os.path.exists(path) else {}
    d[key] = value
    with open(path, "w") as f:
        json.dump(d, f)


async def setup(dut, seed_offset):
    env = Env(dut, seed_offset)
    await env.reset()
    return env


# --- tests -------------------------------------------------------------------------------

@cocotb.test()
async def registers(dut):
    """Register map: read back, byte strobes, unmapped offsets, 0 frames, unaligned address,
    ap_done/ap_ready clear on read, a bus error response sets status bit 1."""
    env = await setup(dut, 1)
    c = env.ctrl
    assert await c.read_dword(CTRL) == AP_IDLE
    mask_hi = (1 << (env.addr_bits - 32)) - 1 if env.addr_bits > 32 else 0
    await c.write_dword(ADDR_LO, 0x89ABCDEF)
    await c.write_dword(ADDR_HI, 0xFFFFFFFF)
    await c.write_dword(FRAMES, 0x12345678)
    assert await c.read_dword(ADDR_LO) == 0x89ABCDEF
    assert await c.read_dword(ADDR_HI) == mask_hi
    assert await c.read_dword(FRAMES) == 0x12345678
    await c.write(FRAMES + 2, b"\xAA")  # one byte lane (WSTRB 0100)
    assert await c.read_dword(FRAMES) == 0x12AA5678
    for off in (0x04, 0x08, 0x0C, 0x18, 0x20, 0x28, 0x2C, 0x30, 0x3C):
        await c.write_dword(off, 0xFFFFFFFF)
    for off in (0x04, 0x08, 0x0C, 0x18, 0x20, 0x28, 0x2C, 0x30, 0x3C):
        assert await c.read_dword(off) == 0, f"unmapped offset {off:#x} reads non-zero"
    assert await c.read_dword(ADDR_LO) == 0x89ABCDEF and await c.read_dword(FRAMES) == 0x12AA5678
    assert await c.read_dword(CTRL) == AP_IDLE, "a write to an unmapped offset started something"
    await c.write_dword(STATUS, 0xFFFFFFFF)  # read only
    await c.write_dword(CTRL, 0xFFFFFFFE)  # every bit but ap_start: no auto-restart, done/idle read only
    assert await c.read_dword(STATUS) == 0 and await c.read_dword(CTRL) == AP_IDLE

    env.clear_records()
    if env.kind == "writer":  # beats waiting on the stream must not be taken
        env.stream.send_nowait(AxiStreamFrame(bytes(range(env.sb * 3))))
    # 0 frames: done at once, no bus access
    await env.start(0x2000, 0)
    v = await env.wait_done(200)
    assert v == AP_IDLE | AP_DONE | AP_READY, hex(v)
    assert await c.read_dword(CTRL) == AP_IDLE, "ap_done/ap_ready not cleared on read"
    assert await c.read_dword(STATUS) == 0
    # unaligned address: done at once, status bit 0, no bus access
    await env.start(0x2000 + env.bb // 2, 3)
    v = await env.wait_done(200)
    assert v & AP_DONE and await c.read_dword(STATUS) == 1
    await env.idle(20)
    assert all(not ch.moves for ch in env.channels), "bus or stream traffic for 0 frames / an unaligned address"
    assert not env.errors
    if env.kind == "writer":
        env.stream.clear()
        await env.reset()
    # a good transfer clears the status
    addr = 0x3000 - env.bb
    await env.transfer(addr, 2)
    assert await c.read_dword(STATUS) == 0
    # an error response (SLVERR on one bus word) sets status bit 1; the transfer completes
    env.ram.poison = (addr + env.bb, addr + 2 * env.bb)
    env.prepare(addr, 2)
    env.clear_records()
    await env.start(addr, 2)
    await env.wait_done()
    assert await c.read_dword(STATUS) == 2
    env.ram.poison = None
    if env.kind == "reader":
        assert len(env.axis.moves) == 2 * env.beats
    await env.transfer(addr, 1)
    assert await c.read_dword(STATUS) == 0


@cocotb.test()
async def random_transfers(dut):
    """Random frame counts, addresses (4 KiB crossings, above 4 GiB), stalls on every
    channel and memory latencies; one long transfer of many full bursts."""
    env = await setup(dut, 2)
    n = CFG.get("transfers", 8)
    long_frames = -(-3 * 256 * env.bb // env.frame_bytes)  # > 3 bursts of 256 beats
    long_frames = min(long_frames, max(1, 4000 // env.beats))  # but a few thousand stream beats at most
    crossed = high = 0
    for i in range(n):
        frames = long_frames if i == 1 else (1 if i == 0 else env.rng.randint(1, 7))
        span = frames * env.frame_bytes
        # the first starts one bus word before a 4 KiB boundary (0x1_0000_0FF8 on a 64-bit bus)
        addr = ((1 << 32) if env.addr_bits > 32 else 0) + PAGE - env.bb if i == 0 else env.random_address(span)
        stalls = [env.rng.choice([0.0, 0.2, 0.5, 0.8]) for _ in env.pausable]
        lat = env.rng.choice([(0, 0), (1, 8), (10, 40), (50, 120)])
        await env.transfer(addr, frames, stalls=stalls, latency=lat)
        crossed += addr // PAGE != (addr + span - 1) // PAGE
        high += addr >= 1 << 32
    assert crossed >= n // 2 and (high >= 2 or env.addr_bits <= 32), (crossed, high)


@cocotb.test()
async def reset_mid_transfer(dut):
    """ap_rst_n low in the middle of a transfer (bursts in flight, stream half done), then
    transfers work as after power-up."""
    env = await setup(dut, 3)
    for trial in range(2):
        frames = max(2, -(-1024 * env.bb // env.frame_bytes)) if trial == 0 else 3
        frames = min(frames, max(2, 3000 // env.beats))
        addr = env.random_address(frames * env.frame_bytes)
        env.prepare(addr, frames)
        env.set_stalls(0.3)
        env.latency = (5, 30)
        env.clear_records()
        await env.start(addr, frames)
        target = max(2, frames * env.beats // 3)
        while len(env.axis.moves) < target:
            await RisingEdge(env.clk)
            env.assert_rules()
        assert (await env.ctrl.read_dword(CTRL)) & AP_IDLE == 0, "transfer over before the reset"
        await env.reset(3 + trial)
        env.set_stalls(0.0)
        assert await env.ctrl.read_dword(CTRL) == AP_IDLE
        assert await env.ctrl.read_dword(FRAMES) == 0, "registers not reset"
        env.errors.clear()
        await env.idle(50)
        env.clear_records()
        assert not env.errors
        addr = env.random_address(2 * env.frame_bytes)
        await env.transfer(addr, 2, stalls=0.3, latency=(5, 30))


@cocotb.test()
async def start_while_busy(dut):
    """ap_start written again while a transfer runs (with new address and frame count):
    ignored, the running transfer completes untouched, nothing else moves (the writer
    leaves the next transfer's beats waiting on the stream), and the new registers serve
    the next start."""
    env = await setup(dut, 4)
    fa, fb = max(4, -(-64 * env.bb // env.frame_bytes)), 2
    a = env.random_address(fa * env.frame_bytes)
    b = a + (1 << 20)
    data_a = env.prepare(a, fa)
    data_b = env.prepare(b, fb)  # writer: B's beats queue right behind A's on the stream
    env.set_stalls(0.7 if env.kind == "reader" else [0.7, 0.7, 0.7, 0.0])
    env.latency = (20, 40)
    env.clear_records()
    await env.start(a, fa)
    await env.program(b, fb)
    await env.ctrl.write_dword(CTRL, AP_START)
    v = await env.ctrl.read_dword(CTRL)
    assert v & AP_START and not v & AP_IDLE, f"transfer A over before the second start ({v:#x}): make it longer"
    await env.wait_done()
    await env.idle(200)
    env.set_stalls(0.0)
    env.check(a, fa, data_a)  # A's bursts and stream beats only, nothing after its done
    assert await env.ctrl.read_dword(CTRL) == AP_IDLE, "a second transfer started"
    assert await env.ctrl.read_dword(ADDR_LO) == b & 0xFFFFFFFF and await env.ctrl.read_dword(FRAMES) == fb
    await env.transfer(b, fb, data=data_b)


@cocotb.test()
async def stream_rate(dut):
    """No stalls, memory latency 20 and 100 cycles: the stream side moves at >= 0.98 of the
    rate its width allows (one bus word per cycle, at most one stream beat per cycle)."""
    env = await setup(dut, 5)
    bound = min(1.0, env.bb / env.sb)
    # long enough to pass the writer's 512-word FIFO twice when the bus is the bottleneck
    beats_target = min(CFG.get("rate_stream_beats", 3000), int(1024 * env.bb / env.sb))
    frames = max(1, beats_target // env.beats)
    out = {}
    for lat in (20, 100):
        addr = (0x1_2345_6000 if env.addr_bits > 32 else 0x2345_6000) + PAGE - 8 * env.bb
        cycles = await env.transfer(addr, frames, latency=(lat, lat))
        moves = [c for c, _ in env.axis.moves]
        rate = (len(moves) - 1) / (moves[-1] - moves[0])
        out[lat] = {"rate": rate, "bound": bound, "stream_beats": len(moves), "cycles_start_to_done": cycles,
                    "in_flight_max": env.in_flight_max(), "bus_beats": env.bus_beats(frames)}
        dut._log.info("latency %d: %.4f stream beats/cycle (bound %.4f), %d beats, %d bursts in flight at most",
                      lat, rate, bound, len(moves), env.in_flight_max())
    record("rate", out)
    for lat, r in out.items():
        assert r["rate"] >= 0.98 * bound, f"latency {lat}: stream rate {r['rate']:.4f} < 0.98 x {bound:.4f}"
