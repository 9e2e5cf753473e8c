"""cocotb testbench for bnnforge's AXI-Stream layers (runs inside the simulator).

Generic: it drives the input streams named in a JSON config (env BNNFORGE_TB) with
random TVALID gaps, drains the output with random TREADY stalls, and records
every output beat with its cycle. The layer-specific packing and the comparison
with the golden model happen in bnnforge.sim.runner, outside the simulator.

Config: {"seed": int, "stall_in": p, "stall_out": p, "phases": [{"inputs": {"in0_V": [beat, ...], ...},
         "expect": n_output_beats, "abort_after": null | cycles}], "out_file": path}
A reset (3 cycles) precedes every phase; a phase with "abort_after" is cut off
after that many cycles (a reset in the middle of a frame) and its outputs dropped.
The output file gets {"phases": [{"beats": [...], "cycles": [...], "first_in": cycle}]}.
"""

from __future__ import annotations

import json
import os
import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, Event, FallingEdge, ReadOnly, RisingEdge

CLOCK_NS = 10
RESET_CYCLES = 3


def _out_prefix(dut) -> str:
    # bnnforge's RTL names the output out_V; FINN-generated HLS RTL names it out0_V
    for prefix in ("out_V", "out0_V"):
        if hasattr(dut, f"{prefix}_TDATA"):
            return prefix
    raise AssertionError("DUT has no out_V_TDATA or out0_V_TDATA port")


class Clocked:
    """Cycle counter shared by the drivers and the monitor."""

    def __init__(self):
        self.cycle = 0

    async def run(self, clk):
        while True:
            await RisingEdge(clk)
            self.cycle += 1


async def drive(dut, prefix, beats, stall, rng, clock, first_in):
    """Send ``beats`` on stream ``prefix``; before each beat TVALID stays low with probability
    ``stall`` per cycle. A raised TVALID is held until the beat is taken (AXI-Stream rule)."""
    data, valid, ready = (getattr(dut, f"{prefix}_{s}") for s in ("TDATA", "TVALID", "TREADY"))
    i, holding = 0, False
    while i < len(beats):
        await FallingEdge(dut.ap_clk)
        if not holding:
            if rng.random() >= stall:
                data.value = beats[i]
                valid.value = 1
                holding = True
            else:
                valid.value = 0
        await ReadOnly()
        fire = holding and int(ready.value)
        await RisingEdge(dut.ap_clk)
        if fire:
            first_in.setdefault(prefix, clock.cycle)
            i += 1
            holding = False
    await FallingEdge(dut.ap_clk)
    valid.value = 0


async def monitor(dut, prefix, expect, stall, rng, clock, got, done):
    data, valid, ready = (getattr(dut, f"{prefix}_{s}") for s in ("TDATA", "TVALID", "TREADY"))
    while len(got["beats"]) < expect:
        await FallingEdge(dut.ap_clk)
        ready.value = int(rng.random() >= stall)
        await ReadOnly()
        fire = int(valid.value) and int(ready.value)
        value = int(data.value) if fire else None
        await RisingEdge(dut.ap_clk)
        if fire:
            got["beats"].append(value)
            got["cycles"].append(clock.cycle)
    await FallingEdge(dut.ap_clk)
    ready.value = 0
    done.set()


async def reset(dut, prefixes, out_prefix):
    await FallingEdge(dut.ap_clk)
    for p in prefixes:
        getattr(dut, f"{p}_TVALID").value = 0
    getattr(dut, f"{out_prefix}_TREADY").value = 0
    dut.ap_rst_n.value = 0
    await ClockCycles(dut.ap_clk, RESET_CYCLES)
    await FallingEdge(dut.ap_clk)
    dut.ap_rst_n.value = 1


@cocotb.test()
async def stream_test(dut):
    with open(os.environ["BNNFORGE_TB"]) as f:
        cfg = json.load(f)
    rng = random.Random(cfg["seed"])
    stall_in, stall_out = float(cfg["stall_in"]), float(cfg["stall_out"])
    out_prefix = _out_prefix(dut)
    prefixes = sorted({p for phase in cfg["phases"] for p in phase["inputs"]})
    Clock(dut.ap_clk, CLOCK_NS, unit="ns").start()
    clock = Clocked()
    cocotb.start_soon(clock.run(dut.ap_clk))
    results = []
    for phase in cfg["phases"]:
        await reset(dut, prefixes, out_prefix)
        got = {"beats": [], "cycles": []}
        first_in: dict = {}
        done = Event()
        n_in = sum(len(b) for b in phase["inputs"].values())
        drivers = [
            cocotb.start_soon(drive(dut, p, beats, stall_in, rng, clock, first_in))
            for p, beats in phase["inputs"].items()
        ]
        mon = cocotb.start_soon(monitor(dut, out_prefix, phase["expect"], stall_out, rng, clock, got, done))
        if phase.get("abort_after") is not None:
            await ClockCycles(dut.ap_clk, int(phase["abort_after"]))
            for task in drivers + [mon]:
                task.cancel()
            results.append({"beats": [], "cycles": [], "aborted": True})
            continue
        # generous limit: every beat may wait for several stalls, plus frame buffering
        slowest = max(0.05, (1 - stall_in) * (1 - stall_out))
        limit = int((n_in + 2 * phase["expect"]) * 4 / slowest) + 10_000
        start = clock.cycle
        while not done.is_set():
            await ClockCycles(dut.ap_clk, 100)
            assert clock.cycle - start < limit, (
                f"timeout: {len(got['beats'])} of {phase['expect']} output beats after {limit} cycles"
            )
        for task in drivers:
            task.cancel()
        got["first_in"] = min(first_in.values()) if first_in else None
        results.append(got)
    with open(cfg["out_file"], "w") as f:
        json.dump({"phases": results}, f)
