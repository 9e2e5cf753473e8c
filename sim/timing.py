"""Static timing estimate of a yosys ``synth_xilinx`` netlist: the worst register-to-register
path with the cell delays of the family's speed grade (``TIMING_MODELS``) and a routing
allowance per net that grows with its fanout. No placement: an estimate of what Vivado would
report, not a sign-off. docs/DESIGN.md ("Timing estimate") explains the model and where every
figure comes from.
"""

from __future__ import annotations

import dataclasses
import math
import re

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
    graph = _TimingGraph(netlist["modules"][top], TIMING_MODELS[family])
    graph.add_cells()
    arrival, loops = graph.arrival_times()
    return graph.worst_path(arrival, loops)


# a LUT-like cell: an inverter before or after one disappears into it
_LUT_LIKE = re.compile(r"LUT[1-6](_2)?|INV")


class _TimingGraph:
    """Timing arcs between the bits of one flattened module, with their start and end points."""

    def __init__(self, mod: dict, tm: TimingModel):
        self.mod, self.cells, self.tm = mod, mod["cells"], tm
        self.driver: dict = {}  # bit -> (cell name or None for a port, cell type, pin)
        self.sinks: dict = {}  # bit -> number of (non-clock) input pins and output-port bits it feeds
        self.sink_types: dict = {}  # bit -> set of reading cell types
        self.arcs: list = []  # (src bit, dst bit, delay, levels, dedicated: True or the driver types that make it so)
        self.starts: dict = {}  # bit -> clock-to-out
        self.ends: list = []  # (bit, setup, name)
        self.unknown: set = set()  # primitives without a model (treated as registered)
        self._connect()

    def _connect(self) -> None:
        clock_bits = set()
        for pname, port in self.mod["ports"].items():
            for b in port["bits"]:
                if port["direction"] == "input":
                    self.driver[b] = (None, "port", pname)
                else:
                    self._sink(b, "port")
        for cname, c in self.cells.items():
            dirs = c.get("port_directions", {})
            for pin, bits in c["connections"].items():
                for b in (b for b in bits if not isinstance(b, str)):
                    if dirs.get(pin, "input") == "output":
                        self.driver[b] = (cname, c["type"], pin)
                    elif _is_clock_pin(pin):
                        clock_bits.add(b)
                    else:
                        self._sink(b, c["type"])
        self.clock_only = {b for b in clock_bits if b not in self.sinks}

    def _sink(self, b, cell_type: str) -> None:
        self.sinks[b] = self.sinks.get(b, 0) + 1
        self.sink_types.setdefault(b, set()).add(cell_type)

    def fanout(self, b) -> int:
        return self.sinks.get(b, 1)

    def driver_type(self, b) -> str | None:
        d = self.driver.get(b)
        return d[1] if d else None

    def start(self, bits, t: float) -> None:
        for b in bits:
            if not isinstance(b, str):
                self.starts[b] = max(self.starts.get(b, 0.0), t)

    def end(self, bits, setup: float, name) -> None:
        for i, b in enumerate(bits):
            if not isinstance(b, str):
                self.ends.append((b, setup, name if len(bits) == 1 or not isinstance(name, str) else f"{name}[{i}]"))

    # --- cells -> arcs ----------------------------------------------------------------------------
    def add_cells(self) -> None:
        inverters = []
        for cname, c in self.cells.items():
            t = c["type"]
            dirs = c.get("port_directions", {})
            outs = [p for p in c["connections"] if dirs.get(p) == "output"]
            ins = [p for p in c["connections"] if dirs.get(p, "input") == "input" and not _is_clock_pin(p)]
            if t.startswith("$") or t in ("GND", "VCC"):
                continue  # constants; $scopeinfo and other simulation-only cells
            if t == "INV":
                inverters.append(c)
            else:
                self._cell_arcs(cname, c, t, ins, outs)
        for c in inverters:
            self._inverter(c)
        self._ports()
        # a dedicated wire (no routing) only where the driver really is the cell below in the chain,
        # the slice's LUT before a carry or a wide mux (ded: the drivers that qualify), or where an
        # inverter is absorbed (its routing is the next net's)
        self.arcs = [(s, d, dl, lv, ded is True or (bool(ded) and (self.driver_type(s) or "").startswith(ded)))
                     for s, d, dl, lv, ded in self.arcs if not isinstance(s, str) and not isinstance(d, str)]

    def _cell_arcs(self, cname: str, c: dict, t: str, ins: list, outs: list) -> None:
        conns, tm = c["connections"], self.tm
        if re.fullmatch(r"LUT[1-6](_2)?", t):
            self.arcs += [(conns[i][0], conns[o][0], tm.lut, 1, ()) for i in ins for o in outs]
        elif t in ("MUXF7", "MUXF8", "MUXF9"):
            self.arcs += [(conns[i][0], conns["O"][0], tm.muxf, 1, ("LUT", "MUXF") if i in ("I0", "I1") else ())
                          for i in ins]
        elif t in ("CARRY4", "CARRY8"):
            self._carry(conns, ins, 4 if t == "CARRY4" else 8)
        elif t.startswith("RAMB"):
            self._block_ram(cname, c, ins, outs)
        elif t.startswith("RAM"):
            self._lutram(cname, c, t, ins, outs)
        elif t.startswith(("SRL", "SRLC")):
            self.start([b for o in outs for b in conns[o]], tm.srl_clk_to_out)
            for i in ins:
                if re.fullmatch(r"A\d*", i):
                    self.arcs += [(b, conns["Q"][0], tm.lut, 1, ()) for b in conns[i]]
                else:
                    self.end(conns[i], tm.srl_setup, f"{cname}/{i}")
        elif t.startswith(("FD", "LD")):
            self.start(conns["Q"], tm.ff_clk_to_q)
            for i in ins:
                setup = {"D": tm.ff_setup_d, "CE": tm.ff_setup_ce, "GE": tm.ff_setup_ce}.get(i, tm.ff_setup_sr)
                self.end(conns[i], setup, ("ff", cname, i))
        else:  # a primitive without a timing model here (DSP, ...): registered in and out
            self.unknown.add(t)
            self.start([b for o in outs for b in conns[o]], tm.ff_clk_to_q)
            for i in ins:
                self.end(conns[i], tm.ff_setup_d, f"{cname}/{i}")

    def _carry(self, conns: dict, ins: list, n: int) -> None:
        tm = self.tm
        for i in ins:
            chain = i in ("CI", "CI_TOP")
            for k, b in enumerate(conns[i]):
                for o in ("O", "CO"):
                    for j, ob in enumerate(conns.get(o, [])):
                        if isinstance(ob, str) or (not chain and i != "CYINIT" and j < k):
                            continue
                        if chain:
                            d = tm.carry_ci_co if (o == "CO" and j == n - 1) else tm.carry_ci_o
                        else:
                            d = tm.carry_entry_co if o == "CO" else tm.carry_entry_o
                        # the chain's CI comes from the cell below; S and DI from the slice's LUTs
                        self.arcs.append((b, ob, d, 0 if chain else 1, ("CARRY",) if chain else ("LUT",)))

    def _block_ram(self, cname: str, c: dict, ins: list, outs: list) -> None:
        conns, params, tm = c["connections"], c.get("parameters", {}), self.tm
        for o in outs:
            port_b = re.search(r"DO(UT)?P?B", o) or o.endswith("B")  # DOBDO, DOUTPBDOUTP, CASDOUTB
            reg = _param_int(params.get("DOB_REG" if port_b else "DOA_REG", 0))
            self.start(conns[o], tm.bram_clk_to_out_reg if reg else tm.bram_clk_to_out)
        for i in ins:
            self.end(conns[i], tm.bram_setup, f"{cname}/{i}")

    def _lutram(self, cname: str, c: dict, t: str, ins: list, outs: list) -> None:
        """LUTRAM: asynchronous read, synchronous write."""
        conns, tm = c["connections"], self.tm
        depth = int(re.match(r"RAM(\d+)", t).group(1))
        extra = max(0, math.ceil(math.log2(max(depth, 64) / 64)))  # MUXF7/8 above 64 words
        self.start([b for o in outs for b in conns[o]], tm.lutram_clk_to_out)
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
            self.arcs += [(b, ob, tm.lut + extra * tm.muxf, 1 + extra, ())
                          for ro in read_outs for b in conns[i] for ob in conns.get(ro, [])]
            if writes:
                self.end(conns[i], tm.lutram_setup, f"{cname}/{i}")

    def _inverter(self, c: dict) -> None:
        """An inverter disappears into the LUT that drives it or into the LUTs it feeds (Vivado
        absorbs it); elsewhere it is a LUT1."""
        i, o = c["connections"]["I"][0], c["connections"]["O"][0]
        absorbed = bool(_LUT_LIKE.fullmatch(self.driver_type(i) or "")) or \
            all(_LUT_LIKE.fullmatch(st) for st in self.sink_types.get(o, {"port"}))
        self.arcs.append((i, o, 0.0 if absorbed else self.tm.lut, 0 if absorbed else 1, True if absorbed else ()))

    def _ports(self) -> None:
        for pname, port in self.mod["ports"].items():
            if port["direction"] == "input":
                self.start([b for b in port["bits"] if b not in self.clock_only], self.tm.ff_clk_to_q)
            else:
                self.end(port["bits"], self.tm.ff_setup_d, pname)

    # --- propagation ------------------------------------------------------------------------------
    def arrival_times(self) -> tuple[dict, int]:
        """bit -> (arrival ns, logic levels, predecessor bit), in topological order; and the number
        of bits left on combinational loops."""
        out_arcs: dict = {}
        indeg: dict = {}
        for a in self.arcs:
            out_arcs.setdefault(a[0], []).append(a)
            indeg[a[1]] = indeg.get(a[1], 0) + 1
        arrival = {b: (t, 0, None) for b, t in self.starts.items()}
        ready = [b for b in set(out_arcs) | set(self.starts) if indeg.get(b, 0) == 0]
        while ready:
            b = ready.pop()
            at = arrival.get(b)
            for _, dst, delay, levels, dedicated in out_arcs.get(b, ()):
                if at is not None:
                    t = at[0] + (0.0 if dedicated else self.tm.net_delay(self.fanout(b))) + delay
                    cur = arrival.get(dst)
                    if cur is None or t > cur[0]:
                        arrival[dst] = (t, at[1] + levels, b)
                indeg[dst] -= 1
                if indeg[dst] == 0:
                    ready.append(dst)
        return arrival, sum(1 for n in indeg.values() if n > 0)

    def net_names(self) -> dict:
        """bit -> its shortest visible net name."""
        names: dict = {}
        for name, net in self.mod["netnames"].items():
            for i, b in enumerate(net["bits"]):
                if isinstance(b, str):
                    continue
                label = name if len(net["bits"]) == 1 else f"{name}[{i}]"
                key = (net.get("hide_name", 0), len(label))
                if b not in names or key < names[b][0]:
                    names[b] = (key, label)
        return {b: label for b, (_, label) in names.items()}

    def worst_path(self, arrival: dict, loops: int) -> Timing:
        tm = self.tm
        worst = None
        for b, setup, name in self.ends:
            at = arrival.get(b)
            if at is None:
                continue
            t = at[0] + tm.net_delay(self.fanout(b)) + setup + tm.clock_uncertainty
            if worst is None or t > worst[0]:
                worst = (t, b, name, at[1])
        if worst is None:
            return Timing(None, None, None, None, None, [], loops)
        t, b, name, levels = worst
        names = self.net_names()

        def net_name(bit):
            return names.get(bit, f"net{bit}")

        if isinstance(name, tuple):  # a flip-flop pin: name it by the register (its Q net)
            _, cname, pin = name
            name = f"{net_name(self.cells[cname]['connections']['Q'][0])} ({pin})"
        path = []
        cur = b
        while cur is not None:
            path.append((round(arrival[cur][0], 3), self.driver_type(cur) or "?", net_name(cur)))
            start_bit, cur = cur, arrival[cur][2]
        path.reverse()
        d = self.driver.get(start_bit)
        startpoint = net_name(start_bit) + (f" ({d[1]})" if d and d[0] is not None else " (input port)")
        return Timing(round(t, 3), round(1000.0 / t, 1), levels, startpoint, name, path, loops)
