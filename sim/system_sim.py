"""The whole board system in a compiled Verilator harness, driven from Python like a PYNQ driver.

A system is any top with the ports ``ap_clk``, ``ap_rst_n`` (active low), ``s_axi_control_*``
(AXI4-Lite slave, 32-bit data) and ``m_axi_mem_*`` (AXI4 master); for bnnforge it is
``dma_shell`` (sim/rtl/dma_shell.sv: DMA reader + writer + AXI4-Lite decode) around an
accelerator. ``build_system`` verilates and compiles it with ``sim/harness/system_harness.cpp``
(cached like ``sim.harness``: same cache folder, flags, ccache and Verilator workarounds).
The executable holds a simulated DDR (sparse, 64-bit addresses; latency, random stalls,
several bursts in flight, AXI4 protocol checks) and an AXI4-Lite master; ``SystemSim``
starts it and speaks its line protocol (see the head of system_harness.cpp): register
writes and reads, polling, running cycles, DDR contents in and out. The clock runs in C++
only: a poll or a run of any length is one command.

BUS_BITS, ADDR_BITS and the control address width are read from the verilated model's
ports; the optional ID (awid/bid, arid/rid), AxCACHE, AxPROT, AxLOCK and AxQOS ports are
used when the top has them (IDs are returned with the responses, the others are held
stable like the rest of a request). Generic: nothing here knows FINN or layers; the
register map of dma_shell is given below for drivers.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import operator
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from bnnforge import toolenv
from bnnforge.errors import CheckFailed, UserError
from bnnforge.sim import harness
from bnnforge.sim.verilator import SimRunError

TEMPLATE = Path(__file__).resolve().parent / "harness" / "system_harness.cpp"
EXE_NAME = "system_harness"
EXIT_OK, EXIT_USAGE, EXIT_FATAL = 0, 1, 4

# dma_shell's address map (docs/SPEC.md, "DMA engines"): two FINN IODMA register blocks
READER, WRITER = 0x0000, 0x1000  # idma0, odma0
AP_CTRL, ADDR_LO, ADDR_HI, FRAMES, STATUS = 0x00, 0x10, 0x14, 0x1C, 0x24
AP_START, AP_DONE, AP_IDLE, AP_READY = 0x1, 0x2, 0x4, 0x8
SHELL_SOURCES = ("ram_sdp.sv", "dma_fifo.sv", "dma_gearbox.sv", "dma_burst.sv", "dma_ctrl.sv", "dma_reader.sv",
                 "dma_writer.sv", "axil_split.sv", "dma_shell.sv")


def shell_sources() -> tuple[Path, ...]:
    """The RTL files of dma_shell, dependencies first."""
    return tuple(toolenv.rtl_dir() / f for f in SHELL_SOURCES)


class SystemSimError(SimRunError):
    """A system simulation failed (the message says how)."""


class ProtocolError(SystemSimError, CheckFailed):
    """The design broke an AXI rule the harness checks (the message names the cycle and the rule)."""


class SystemTimeout(SystemSimError, CheckFailed):
    """An AXI4-Lite transaction was not answered, or a register did not reach the awaited value."""


class HarnessCrashed(SystemSimError):
    """The harness process ended unexpectedly (the message holds its exit code and last output)."""


# ---- ports ----------------------------------------------------------------------------------

LITE_PORTS = {"awaddr": ("in", "C"), "awvalid": ("in", 1), "awready": ("out", 1), "wdata": ("in", 32),
              "wstrb": ("in", 4), "wvalid": ("in", 1), "wready": ("out", 1), "bresp": ("out", 2),
              "bvalid": ("out", 1), "bready": ("in", 1), "araddr": ("in", "C"), "arvalid": ("in", 1),
              "arready": ("out", 1), "rdata": ("out", 32), "rresp": ("out", 2), "rvalid": ("out", 1),
              "rready": ("in", 1)}
MEM_PORTS = {"awaddr": ("out", "A"), "awlen": ("out", 8), "awsize": ("out", 3), "awburst": ("out", 2),
             "awvalid": ("out", 1), "awready": ("in", 1), "wdata": ("out", "B"), "wstrb": ("out", "S"),
             "wlast": ("out", 1), "wvalid": ("out", 1), "wready": ("in", 1), "bresp": ("in", 2), "bvalid": ("in", 1),
             "bready": ("out", 1), "araddr": ("out", "A"), "arlen": ("out", 8), "arsize": ("out", 3),
             "arburst": ("out", 2), "arvalid": ("out", 1), "arready": ("in", 1), "rdata": ("in", "B"),
             "rresp": ("in", 2), "rlast": ("in", 1), "rvalid": ("in", 1), "rready": ("out", 1)}
# optional: (direction, bits or None for any width up to 32), bit offset in the request's "extra" payload
MEM_OPTIONAL = {"awid": ("out", None), "arid": ("out", None), "bid": ("in", None), "rid": ("in", None),
                "awcache": ("out", 4), "arcache": ("out", 4), "awprot": ("out", 3), "arprot": ("out", 3),
                "awlock": ("out", 1), "arlock": ("out", 1), "awqos": ("out", 4), "arqos": ("out", 4)}
EXTRA_OFFSET = {"cache": 0, "prot": 4, "lock": 7, "qos": 8}


def model_ports(model_header: str) -> dict[str, tuple[str, int]]:
    """Top-level ports of a verilated model (Vdut.h): name -> (direction, bits)."""
    return {name: (d.lower(), int(msb) - int(lsb) + 1)
            for d, name, msb, lsb in re.findall(r"VL_(IN|OUT|INOUT)(?:8|16|64|W)?\(&(\w+),(\d+),(\d+)", model_header)}


def check_system_ports(found: dict[str, tuple[str, int]]) -> tuple[list[str], dict]:
    """Mismatches between a top's ports and what the system harness drives, and the widths
    it reads from them: {"bus_bits", "addr_bits", "ctrl_addr_bits", "optional": {port: bits}}."""
    get = lambda n: found.get(n, (None, 0))[1]  # noqa: E731
    widths = {"C": get("s_axi_control_awaddr"), "A": get("m_axi_mem_araddr"), "B": get("m_axi_mem_rdata")}
    widths["S"] = widths["B"] // 8
    wrong = []
    if not 1 <= widths["C"] <= 32:
        wrong.append(f"s_axi_control_awaddr must be 1..32 bits, not {widths['C']}")
    if not 12 <= widths["A"] <= 64:
        wrong.append(f"m_axi_mem_araddr must be 12..64 bits, not {widths['A']}")
    if widths["B"] not in [8 << i for i in range(8)]:
        wrong.append(f"m_axi_mem_rdata must be 8, 16, ..., 1024 bits, not {widths['B']}")
    want = {"ap_clk": ("in", 1), "ap_rst_n": ("in", 1)}
    want |= {f"s_axi_control_{k}": (d, widths.get(b, b)) for k, (d, b) in LITE_PORTS.items()}
    want |= {f"m_axi_mem_{k}": (d, widths.get(b, b)) for k, (d, b) in MEM_PORTS.items()}
    for name, (direction, bits) in want.items():
        if name not in found:
            wrong.append(f"no port {name} ({direction}put, {bits} bits)")
        elif found[name] != (direction, bits):
            wrong.append(f"port {name} is {found[name][0]}put of {found[name][1]} bits, the system harness needs "
                         f"{direction}put of {bits} bits")
    optional = {}
    for k, (direction, bits) in MEM_OPTIONAL.items():
        name = f"m_axi_mem_{k}"
        if name in found:
            ok = found[name][0] == direction and (found[name][1] == bits if bits else found[name][1] <= 32)
            if not ok:
                wrong.append(f"port {name} is {found[name][0]}put of {found[name][1]} bits, the system harness needs "
                             f"{direction}put of {bits or 'at most 32'} bits")
            optional[k] = found[name][1]
    known = set(want) | {f"m_axi_mem_{k}" for k in MEM_OPTIONAL}
    wrong += [f"input port {n} is not driven by the system harness" for n, (d, _) in sorted(found.items())
              if d != "out" and n not in known]
    if wrong:
        wrong.append(f"ports of the top: {', '.join(sorted(found))}")
    info = {"bus_bits": widths["B"], "addr_bits": widths["A"], "ctrl_addr_bits": widths["C"], "optional": optional}
    return wrong, info


def ports_header(info: dict) -> str:
    """system_ports.h: the widths and the optional-port accessors for system_harness.cpp."""
    opt = info["optional"]
    lines = ["// generated by bnnforge.sim.system_sim; do not edit", "#pragma once",
             f"#define BUS_BITS {info['bus_bits']}", f"#define ADDR_BITS {info['addr_bits']}",
             f"#define CTRL_BITS {info['ctrl_addr_bits']}"]
    for get in ("arid", "awid"):
        body = f"return static_cast<uint64_t>(d->m_axi_mem_{get});" if get in opt else "(void)d; return 0;"
        lines.append(f"static inline uint64_t get_{get}(Vdut* d) {{ {body} }}")
    for put in ("rid", "bid"):
        port = f"d->m_axi_mem_{put}"
        body = f"{port} = static_cast<std::remove_reference_t<decltype({port})>>(v);" if put in opt else \
            "(void)d; (void)v;"
        lines.append(f"static inline void set_{put}(Vdut* d, uint64_t v) {{ {body} }}")
    for ch in ("ar", "aw"):
        terms = [f"(static_cast<uint64_t>(d->m_axi_mem_{ch}{k}) << {off})" for k, off in EXTRA_OFFSET.items()
                 if f"{ch}{k}" in opt]
        lines.append(f"static inline uint64_t {ch}_extra(Vdut* d) {{ (void)d; return {' | '.join(terms) or '0'}; }}")
    return "\n".join(lines) + "\n"


# ---- build ----------------------------------------------------------------------------------

def build_system(sources, top: str, control=(), defines=(), parameters=(), waves: bool = False) -> Path:
    """Verilate ``sources`` (dependencies first; top module ``top``) with the system harness
    and compile them (cached); returns the executable. ``control``: Verilator control files
    (.vlt, the only place for lint waivers: warnings are fatal), ``defines``: "NAME" or
    "NAME=VALUE", ``parameters``: ((name, value), ...) of the top. ``waves``: the build can
    write FST waveforms (``SystemSim(..., waves=True)``)."""
    sources, control = tuple(map(Path, sources)), tuple(map(Path, control))
    for f in (*sources, *control):
        if not f.is_file():
            raise UserError(f"build_system: no such file {f}")
    h = hashlib.sha256(json.dumps(["system", top, list(defines), sorted(parameters), waves,
                                   *harness.build_options()], default=str).encode())
    for f in (*sources, *control, TEMPLATE):
        h.update(f.name.encode())
        h.update(f.read_bytes())
    meta = {"kind": "system", "top": top, "waves": waves}

    def check_model(model_header: str):
        wrong, info = check_system_ports(model_ports(model_header))
        meta.update(info)  # written next to the executable once it is built
        return wrong, ({} if wrong else {"system_ports.h": ports_header(info)})

    return harness.compile_cached(f"{top}-system-{h.hexdigest()[:16]}", TEMPLATE, top, sources, control=control,
                                  defines=tuple(defines), parameters=tuple(parameters), waves=waves, meta=meta,
                                  check_model=check_model, exe_name=EXE_NAME, what=f"the system harness for {top}")


# ---- run ------------------------------------------------------------------------------------

def _probability(name: str, p) -> float:
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p < 1.0:
        raise UserError(f"{name}={p!r}: allowed 0 <= p < 1 (probability of a stall per cycle)")
    return float(p)


def _count(name: str, v, low: int = 0, high: int = 1 << 64) -> int:
    """``v`` as an int (numpy integers too; not a bool or a float) in low .. high - 1."""
    try:
        n = None if isinstance(v, bool) else operator.index(v)
    except TypeError:
        n = None
    if n is None or not low <= n < high:
        raise UserError(f"{name}={v!r}: allowed integers {low} .. {high - 1}")
    return n


class SystemSim:
    """A running system harness (a context manager: ``with SystemSim(exe) as sim: ...``).

    ``mem_latency``: cycles from an AR handshake to the first R beat, and from a write
    burst's last W beat to its B (>= 1); ``stall``: probability of a stall per cycle on the
    memory's handshakes, one number for both sides or (read side: ARREADY/RVALID, write side:
    AWREADY/WREADY/BVALID); ``lite_stall``: gaps in the AXI4-Lite master's VALIDs and READYs;
    ``max_reads``/``max_writes``: bursts the memory takes in flight; ``lite_timeout``: cycles
    an AXI4-Lite transaction may take; ``plusargs``: "+name[=value]" for the design;
    ``data_files``: memory files the design reads by name ($readmemh), copied into the run
    folder (``work_dir``, or a temporary folder removed on close; ``run_dir`` once started);
    ``waves``: write ``dump.fst`` there (needs ``build_system(..., waves=True)``). What the
    design prints is in ``output()`` (the run folder's harness.log)."""

    def __init__(self, exe, data_files=(), mem_latency: int = 20, stall=0.0, seed: int = 1, work_dir=None,
                 lite_stall: float = 0.0, max_reads: int = 16, max_writes: int = 16, lite_timeout: int = 100_000,
                 plusargs=(), waves: bool = False):
        self.exe = Path(exe)
        meta_file = self.exe.parent / harness.META_NAME
        if not self.exe.is_file() or not meta_file.is_file():
            raise UserError(f"{self.exe} is not a system harness from build_system()")
        self.meta = json.loads(meta_file.read_text())
        if self.meta.get("kind") != "system":
            raise UserError(f"{self.exe} is not a system harness from build_system()")
        if waves and not self.meta["waves"]:
            raise UserError("waves=True needs an executable from build_system(..., waves=True)")
        if isinstance(stall, (tuple, list)) and len(stall) != 2:
            raise UserError(f"stall={stall!r}: one probability, or (read side, write side)")
        read, write = stall if isinstance(stall, (tuple, list)) else (stall, stall)
        self.args = ["--mem-latency", str(_count("mem_latency", mem_latency, 1, 1 << 32)),
                     "--stall-read", repr(_probability("stall", read)),
                     "--stall-write", repr(_probability("stall", write)),
                     "--lite-stall", repr(_probability("lite_stall", lite_stall)), "--seed", str(_count("seed", seed)),
                     "--max-reads", str(_count("max_reads", max_reads, 1, 1 << 20)),
                     "--max-writes", str(_count("max_writes", max_writes, 1, 1 << 20)),
                     "--lite-timeout", str(_count("lite_timeout", lite_timeout, 1))]
        for p in plusargs:
            if not isinstance(p, str) or not p.startswith("+") or any(c.isspace() for c in p):
                raise UserError(f"plusarg {p!r}: must look like +name or +name=value")
        self.args += [*plusargs, *(["--waves", "dump.fst"] if waves else [])]
        self.data_files = tuple(map(Path, data_files))
        for f in self.data_files:
            if not f.is_file():
                raise UserError(f"data file {f} does not exist")
        self.work_dir = None if work_dir is None else Path(work_dir)
        self.bus_bits, self.addr_bits = self.meta["bus_bits"], self.meta["addr_bits"]
        self.ctrl_addr_bits = self.meta["ctrl_addr_bits"]
        self._proc = None
        self._tmp = None
        self._last = ""

    # --- process ---------------------------------------------------------------------------
    def __enter__(self) -> SystemSim:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def start(self) -> None:
        if self._proc is not None:
            raise UserError("this SystemSim is already running")
        if self.work_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="bnnforge-system-")
            work = Path(self._tmp.name)
        else:
            work = self.work_dir
            work.mkdir(parents=True, exist_ok=True)
        self.run_dir = work
        for f in self.data_files:
            shutil.copy(f, work / f.name)
        self._stderr = open(work / "harness.log", "w+b")  # the harness's stderr: also what the design prints
        self._proc = subprocess.Popen([str(self.exe.resolve()), *self.args], cwd=work, stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, stderr=self._stderr)

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            with contextlib.suppress(OSError, ValueError):
                if proc.poll() is None:
                    proc.stdin.write(b"quit\n")
                    proc.stdin.flush()
            with contextlib.suppress(OSError, ValueError):
                proc.stdin.close()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            proc.stdout.close()
            self._stderr.close()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def _call(self, line: str) -> str:
        """Send one command; returns what follows "ok" in its answer (raises on "err")."""
        if self._proc is None:
            raise UserError("the system simulation is not running (use it as a context manager, or start())")
        self._last = line if len(line) < 80 else line[:60] + "..."
        try:
            self._proc.stdin.write(line.encode() + b"\n")
            self._proc.stdin.flush()
            answer = self._proc.stdout.readline().decode()
        except (BrokenPipeError, OSError):
            answer = ""
        if not answer.endswith("\n"):
            raise self._crashed()
        words = answer.split(None, 2)
        if words and words[0] == "ok":
            return answer[2:].strip()
        if not words or words[0] != "err":
            raise SystemSimError(f"system harness answered '{answer.strip()[:200]}' to '{self._last}'")
        kind, message = (words[1], words[2].strip()) if len(words) == 3 else ("?", answer.strip())
        if kind in ("protocol", "finish"):
            self._proc.wait()
            self.close()
            raise (ProtocolError if kind == "protocol" else SystemSimError)(f"{self.meta['top']}: {message}")
        if kind == "timeout":
            raise SystemTimeout(f"{self.meta['top']}: {message}")
        raise SystemSimError(f"system harness rejected '{self._last}': {message}")

    def _crashed(self) -> HarnessCrashed:
        proc = self._proc
        try:
            code = proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
        self._stderr.flush()
        self._stderr.seek(0)
        err = self._stderr.read().decode(errors="replace").strip()[-2000:]
        self.close()
        return HarnessCrashed(f"system harness {self.exe} of {self.meta['top']} ended (exit {code}) during "
                              f"'{self._last}':\n{err or '(no message)'}")

    def output(self) -> str:
        """What the harness and the design printed so far ($display, Verilator's messages)."""
        if self._proc is None:
            raise UserError("the system simulation is not running")
        self._stderr.flush()
        return (self.run_dir / "harness.log").read_text(errors="replace")

    # --- AXI4-Lite --------------------------------------------------------------------------
    def _offset(self, offset) -> int:
        limit = 1 << self.ctrl_addr_bits
        offset = _count("control offset", offset, 0, limit)
        if offset % 4:
            raise UserError(f"control offset {offset:#x}: a multiple of 4 in 0 .. {limit - 4:#x}")
        return offset

    def write32(self, offset: int, value: int, strb: int = 0xF) -> None:
        """AXI4-Lite write of a 32-bit register; returns when its response arrived (raises
        SystemSimError on a response other than OKAY)."""
        value = _count("value", value, 0, 1 << 32)
        resp = int(self._call(f"w32 {self._offset(offset):#x} {value:#x} {_count('strb', strb, 0, 16):#x}"))
        if resp:
            raise SystemSimError(f"{self.meta['top']}: write of {offset:#x} answered BRESP {resp}")

    def read32(self, offset: int) -> int:
        """AXI4-Lite read of a 32-bit register (raises SystemSimError on RRESP other than OKAY)."""
        value, resp = map(int, self._call(f"r32 {self._offset(offset):#x}").split())
        if resp:
            raise SystemSimError(f"{self.meta['top']}: read of {offset:#x} answered RRESP {resp}")
        return value

    def poll32(self, offset: int, mask: int, max_cycles: int, interval: int = 0) -> tuple[int, int]:
        """Read ``offset`` again and again (``interval`` idle cycles between reads) until
        ``value & mask`` is not 0 or ``max_cycles`` have passed; returns (the last value read,
        cycles used). Each read is a real bus read (clear-on-read bits behave as on a board)."""
        line = (f"poll {self._offset(offset):#x} {_count('mask', mask, 1, 1 << 32):#x} "
                f"{_count('max_cycles', max_cycles, 1)} {_count('interval', interval)}")
        value, cycles = map(int, self._call(line).split())
        return value, cycles

    def wait32(self, offset: int, mask: int, max_cycles: int, interval: int = 0) -> int:
        """poll32 that raises SystemTimeout (with the memory side's state) when ``value & mask``
        stays 0 for ``max_cycles``; returns the value."""
        value, cycles = self.poll32(offset, mask, max_cycles, interval)
        if not value & mask:
            raise SystemTimeout(f"{self.meta['top']}: register {offset:#x} & {mask:#x} still 0 after {cycles} cycles "
                                f"(value {value:#x}, cycle {self.cycle}); memory side: {self.stats()}")
        return value

    # --- time, memory, state ------------------------------------------------------------------
    def run(self, cycles: int) -> None:
        """Let the design run ``cycles`` clock cycles."""
        self._call(f"run {_count('cycles', cycles)}")

    def reset(self, cycles: int = 4) -> None:
        """ap_rst_n low for ``cycles`` cycles; bursts in flight are dropped, DDR keeps its bytes."""
        self._call(f"reset {_count('cycles', cycles, 1, 1_000_001)}")

    def _range(self, addr, n) -> tuple[int, int]:
        addr, n = _count("address", addr), _count("length", n, 0, (1 << 32) + 1)
        if addr + n > 1 << 64:
            raise UserError(f"{n} bytes at {addr:#x} pass the end of the 64-bit address space")
        return addr, n

    def mem_write(self, addr: int, data) -> None:
        """Write bytes into the DDR (bytes, bytearray, memoryview, or a numpy array: its bytes in
        C order)."""
        if not isinstance(data, bytes):
            data = data.tobytes() if hasattr(data, "tobytes") else bytes(data)
        addr, n = self._range(addr, len(data))
        if n:
            self._call(f"memw {addr:#x} {data.hex()}")

    def mem_read(self, addr: int, n: int) -> bytes:
        """``n`` bytes of the DDR from ``addr`` (never written bytes read 0)."""
        addr, n = self._range(addr, n)
        if not n:
            return b""
        return bytes.fromhex(self._call(f"memr {addr:#x} {n}"))

    @property
    def cycle(self) -> int:
        """Clock cycles since the initial reset."""
        return int(self._call("cycle"))

    def stats(self) -> dict:
        """The memory side's counters: bursts and beats per channel, bursts in flight (now and
        at most), the cycle of the last handshake on each channel, WSTRB outside a beat's bytes."""
        return json.loads(self._call("stats"))
