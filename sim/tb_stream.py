"""cocotb testbench for any AXI-Stream design (runs inside the simulator).

Generic: it drives the slave ports named in a JSON config (env BNNFORGE_TB) with
random TVALID gaps, drains every master port with its own random TREADY stalls, and
records every output beat with its cycle. Packing and the comparison with the
reference happen outside the simulator (bnnforge.finn_flow).

Config: {"seed": int, "stall_in": p, "stall_out": p, "timeout_cycles": int | null,
         "phases": [{"inputs": {"in0_V": [beat, ...], ...}, "expect": {"out0_V": n, ...},
                     "abort_after": null | cycles}],
         "out_file": path}
A reset (3 cycles) precedes every phase; a phase with "abort_after" is cut off after
that many cycles (a reset in the middle of a frame) and its outputs dropped. A phase
fails when no beat moves on any port for "timeout_cycles" cycles (a deadlock; default:
generous for the phase's size), naming the ports that still wait.
The output file gets {"phases": [{"beats": {port: [...]}, "cycles": {port: [...]}, "first_in": cycle}]}.
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


class Clocked:
    """Cycle counter and the cycle of the last beat that moved (for deadlock detection)."""

    def __init__(self):
        self.cycle = 0
        self.last_move = 0

    async def run(self, clk):
        while True:
            await RisingEdge(clk)
            self.cycle += 1


def _port(dut, prefix):
    """TDATA/TVALID/TREADY of a port: FINN's layer names (in0_V_TDATA) or its stitched-IP
    names (s_axis_0_tdata)."""
    names = ("TDATA", "TVALID", "TREADY")
    if not hasattr(dut, f"{prefix}_TDATA"):
        names = tuple(n.lower() for n in names)
    return tuple(getattr(dut, f"{prefix}_{s}") for s in names)


async def drive(dut, prefix, beats, stall, rng, clock, first_in, sent):
    """Send ``beats`` on slave port ``prefix``; before each beat TVALID stays low with
    probability ``stall`` per cycle. A raised TVALID is held until the beat is taken."""
    data, valid, ready = _port(dut, prefix)
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
            clock.last_move = clock.cycle
            i += 1
            sent[prefix] = i
            holding = False
    await FallingEdge(dut.ap_clk)
    valid.value = 0


async def monitor(dut, prefix, expect, stall, rng, clock, got, done):
    data, valid, ready = _port(dut, prefix)
    beats, cycles = got["beats"][prefix], got["cycles"][prefix]
    while len(beats) < expect:
        await FallingEdge(dut.ap_clk)
        ready.value = int(rng.random() >= stall)
        await ReadOnly()
        fire = int(valid.value) and int(ready.value)
        value = int(data.value) if fire else None
        await RisingEdge(dut.ap_clk)
        if fire:
            beats.append(value)
            cycles.append(clock.cycle)
            clock.last_move = clock.cycle
    await FallingEdge(dut.ap_clk)
    ready.value = 0
    done.set()


async def reset(dut, slaves, masters):
    await FallingEdge(dut.ap_clk)
    for p in slaves:
        _port(dut, p)[1].value = 0
    for p in masters:
        _port(dut, p)[2].value = 0
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
    slaves = sorted({p for phase in cfg["phases"] for p in phase["inputs"]})
    masters = sorted({p for phase in cfg["phases"] for p in phase["expect"]})
    Clock(dut.ap_clk, CLOCK_NS, unit="ns").start()
    clock = Clocked()
    cocotb.start_soon(clock.run(dut.ap_clk))
    results = []
    for phase in cfg["phases"]:
        await reset(dut, slaves, masters)
        got = {"beats": {p: [] for p in phase["expect"]}, "cycles": {p: [] for p in phase["expect"]}}
        first_in: dict = {}
        sent = {p: 0 for p in phase["inputs"]}
        dones = {p: Event() for p in phase["expect"]}
        drivers = [cocotb.start_soon(drive(dut, p, beats, stall_in, rng, clock, first_in, sent))
                   for p, beats in phase["inputs"].items()]
        monitors = [cocotb.start_soon(monitor(dut, p, n, stall_out, rng, clock, got, dones[p]))
                    for p, n in phase["expect"].items()]
        if phase.get("abort_after") is not None:
            await ClockCycles(dut.ap_clk, int(phase["abort_after"]))
            for task in drivers + monitors:
                task.cancel()
            results.append({"beats": {}, "cycles": {}, "aborted": True})
            continue
        # no beat moving for this long means the design stopped making progress
        slowest = max(0.05, (1 - stall_in) * (1 - stall_out))
        n_beats = sum(len(b) for b in phase["inputs"].values()) + sum(phase["expect"].values())
        quiet_limit = cfg.get("timeout_cycles") or int(2 * n_beats / slowest) + 2_000
        clock.last_move = clock.cycle
        while not all(d.is_set() for d in dones.values()):
            await ClockCycles(dut.ap_clk, 50)
            if clock.cycle - clock.last_move > quiet_limit:
                waiting = [f"{p} sent {sent[p]}/{len(b)}" for p, b in phase["inputs"].items() if sent[p] < len(b)]
                waiting += [f"{p} got {len(got['beats'][p])}/{n}" for p, n in phase["expect"].items()
                            if len(got["beats"][p]) < n]
                raise AssertionError(f"deadlock: no beat moved for {quiet_limit} cycles; {', '.join(waiting)}")
        for task in drivers:
            task.cancel()
        got["first_in"] = min(first_in.values()) if first_in else None
        results.append(got)
    with open(cfg["out_file"], "w") as f:
        json.dump({"phases": results}, f)
