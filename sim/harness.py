"""Compiled Verilator harness: whole frames through an AXI-Stream design, no Python per cycle.

The cocotb flow (``verilator.run``) runs Python every clock cycle; this one compiles a C++
testbench (``sim/harness/harness.cpp``) with the design, so a run of many frames is one
process at native speed. Python writes the input beats, starts the executable and reads
back the output beats with their cycle stamps.

Port names follow FINN's stitched IP: ``ap_clk``, ``ap_rst_n`` (active low), one slave
stream ``<s>_tdata/_tvalid/_tready``, one master stream ``<m>_tdata/_tvalid/_tready``.
Taps are internal streams the design exposes as output ports ``<tap>_tdata/_tvalid/_tready``
(observed, never driven); counters are plain output ports whose maximum is recorded
(e.g. a FIFO's occupancy). A run stops with ``HarnessDeadlock`` when no beat moves on any
stream or tap for ``max_idle_cycles``, naming what was blocked and what was waiting.

Files (in the run folder): ``in.hex`` one input beat per line, hexadecimal; ``out.txt``
and ``tap_<name>.txt`` one beat per line, ``<cycle> <hex>``; ``status.json`` the
executable's summary. Cycle k is the k-th rising clock edge after reset (from 0); a beat
is stamped with the edge that took it.

A build verilates the design (-Wall, warnings fatal), checks its top-level ports against
the spec (names, directions, widths), then compiles it with the template and a generated
``harness_ports.h``. Builds are cached under ``toolenv.cache_dir("harness")``, keyed by
the spec, the contents of every source and control file and of the C++ template, the
build flags and the Verilator version, and compiled through ccache.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import importlib.metadata
import json
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from bnnforge import toolenv
from bnnforge.errors import UserError
from bnnforge.sim.verilator import SimBuildError, SimRunError, first_errors

TEMPLATE = Path(__file__).resolve().parent / "harness" / "harness.cpp"
SCOPE = "dut"  # the harness's instance of the top module: %m of an instance is dut.<top>.<instance>...
EXE_NAME = "harness"
META_NAME = "harness.json"
EXIT_DONE, EXIT_USAGE, EXIT_DEADLOCK, EXIT_CYCLE_LIMIT = 0, 1, 2, 3
# small C++ functions and files: gcc time grows faster than linearly with function size, and a
# highly parallel layer otherwise becomes one huge function (tens of minutes to compile)
# (no --threads: cnv-sign @ 3,000 fps ran 8.1-11.8 frames/s with --threads 2 vs 12.7-12.8 with
# one thread on this 2-core machine, 300 images: many small layers, synchronization dominates)
FAST_FLAGS = ("-O3", "--x-assign", "fast", "--x-initial", "fast", "--noassert", "--output-split", "20000",
              "--output-split-cfuncs", "2000")
# gcc -O1 for the model: as fast a simulation as -O2 here (cnv-sign @ 3,000 fps: 14.5 vs 13.8
# frames/s, -Os 12.4-13.5), while -O2 spent 600 s and 2.3 GB on one 1.3 MB file of the
# max-folded LAB cnv that -O1 compiles in 21 s
CXX_OPT = ("OPT_FAST=-O1", "OPT_SLOW=-O1", "OPT_GLOBAL=-O2")
# Verilator's makefile compiles a model's C++ files one by one, after two precompiled headers
# (its default whenever a model spans several files: always here); this make variable compiles
# one file that includes them all. The tests' reactnet (2.5-3 MB of C++): 62 -> 44 s of CPU for
# its two builds, simulation as fast (5.6/4.8 vs 5.2/5.3 frames/s). A large network's model
# stays split: gcc's time grows faster than linearly with a file's size
ONE_UNIT = "VM_PARALLEL_BUILDS=0"
ONE_UNIT_MAX_BYTES = 4_000_000


def compile_units(obj_dir: Path) -> list[str]:
    """``ONE_UNIT`` when the verilated model in ``obj_dir`` is small enough, else nothing."""
    size = sum(f.stat().st_size for f in obj_dir.glob("Vdut*.cpp"))
    return [ONE_UNIT] if size <= ONE_UNIT_MAX_BYTES else []


def build_options() -> tuple:
    """What a compiled harness depends on besides its sources and parameters (part of every
    harness's and system's cache key)."""
    return FAST_FLAGS, CXX_OPT, ONE_UNIT_MAX_BYTES, verilator_version()


@dataclasses.dataclass(frozen=True)
class HarnessSpec:
    """A design for the harness: top module, sources (dependencies first), Verilator control
    files (.vlt, the only place for lint waivers), preprocessor defines ("NAME" or
    "NAME=VALUE"), top-level parameters, stream ports (prefix, TDATA bits), taps
    (prefix, TDATA bits) and counters (port, bits <= 64)."""

    top: str
    sources: tuple[Path, ...]
    s_axis: tuple[str, int]
    m_axis: tuple[str, int]
    control: tuple[Path, ...] = ()
    defines: tuple[str, ...] = ()
    parameters: tuple = ()  # ((name, value), ...)
    taps: tuple[tuple[str, int], ...] = ()
    counters: tuple[tuple[str, int], ...] = ()

    def __post_init__(self):
        names = [self.s_axis[0], self.m_axis[0], *(t for t, _ in self.taps), *(c for c, _ in self.counters)]
        if len(set(names)) != len(names):
            raise ValueError(f"harness spec of {self.top}: duplicate port names {names}")
        for name, bits in [self.s_axis, self.m_axis, *self.taps]:
            if not name.isidentifier() or bits < 1:
                raise ValueError(f"harness spec of {self.top}: bad stream {name!r} of {bits} bits")
        for name, bits in self.counters:
            if not name.isidentifier() or not 1 <= bits <= 64:
                raise ValueError(f"harness spec of {self.top}: counter {name!r} must be 1..64 bits, not {bits}")

    def key(self, *extra) -> str:
        h = hashlib.sha256(json.dumps([self.top, self.s_axis, self.m_axis, self.defines, sorted(self.parameters),
                                       self.taps, self.counters, extra], default=str).encode())
        for src in (*self.sources, *self.control, TEMPLATE):
            h.update(Path(src).name.encode())
            h.update(Path(src).read_bytes())
        return h.hexdigest()[:16]


@dataclasses.dataclass(frozen=True)
class StreamState:
    """One stream (kind "in", "out" or "tap") when the run stopped."""

    name: str
    kind: str
    beats: int  # beats moved during the run
    last: int | None  # cycle of its last beat
    valid: bool
    ready: bool


@dataclasses.dataclass(frozen=True)
class Deadlock:
    """Where progress stopped: streams holding a beat nobody takes (TVALID=1, TREADY=0) and
    streams with nothing to offer (TVALID=0), at the last cycle simulated."""

    cycle: int
    last_move: int | None  # cycle of the last beat on any stream (None: none moved)
    blocked: tuple[str, ...]
    waiting: tuple[str, ...]
    streams: tuple[StreamState, ...]

    def __str__(self) -> str:
        counts = ", ".join(f"{x.name} {x.beats}" for x in self.streams)
        since = "at all" if self.last_move is None else f"since cycle {self.last_move}"
        return (f"no beat moved {since} (stopped at cycle {self.cycle}); "
                f"blocked (TVALID=1, TREADY=0): {', '.join(self.blocked) or '-'}; "
                f"waiting (TVALID=0): {', '.join(self.waiting) or '-'}; beats moved: {counts}")


@dataclasses.dataclass
class HarnessResult:
    """Output of one run. ``beats``/``cycles`` hold at most the expected output beats;
    anything the design sent after them (while TREADY stayed high for a few cycles) is
    ``extra_beats``. Tap beats are there only with ``record_taps``; ``tap_counts`` always."""

    beats: list[int]
    cycles: list[int]
    first_in: int | None  # cycle of the first input beat
    total_cycles: int  # cycles from reset release to the end (the last beat, or the stop)
    in_sent: int
    frames: int
    beats_per_frame: int
    extra_beats: list[int]
    taps: dict[str, list[int]]
    tap_cycles: dict[str, list[int]]
    tap_counts: dict[str, int]
    counters: dict[str, int]  # maximum value seen on each counter port
    deadlock: Deadlock | None
    wall_seconds: float  # the executable's run time (build excluded)

    def frame(self, i: int) -> list[int]:
        return self.beats[i * self.beats_per_frame:(i + 1) * self.beats_per_frame]

    def frame_end_cycles(self) -> list[int]:
        """Cycle of the last output beat of every complete frame."""
        n = self.beats_per_frame
        return [self.cycles[(f + 1) * n - 1] for f in range(len(self.cycles) // n)] if n else []

    def cycles_per_frame(self) -> float | None:
        """Steady state: cycles between the last beats of consecutive frames, averaged over
        all but the first frame; for one frame, the cycles from the edge taking the first
        input beat to the edge delivering the last output beat, both included."""
        ends = self.frame_end_cycles()
        if len(ends) >= 2:
            return (ends[-1] - ends[0]) / (len(ends) - 1)
        if ends and self.first_in is not None:
            return float(ends[0] - self.first_in + 1)
        return None

    @property
    def cycles_per_second(self) -> float:
        return self.total_cycles / self.wall_seconds if self.wall_seconds > 0 else float("inf")


class HarnessError(SimRunError):
    """A harness run failed; ``result`` holds what it produced up to then."""

    def __init__(self, message: str, result: HarnessResult | None = None):
        super().__init__(message)
        self.result = result


class HarnessDeadlock(HarnessError):
    """No beat moved on any stream or tap for ``max_idle_cycles``; ``deadlock`` says where."""

    def __init__(self, message: str, deadlock: Deadlock, result: HarnessResult):
        super().__init__(message, result)
        self.deadlock = deadlock


def ports_header(spec: HarnessSpec) -> str:
    """The generated C++ header (harness_ports.h) naming the design's ports for harness.cpp."""
    (s, s_bits), (m, m_bits) = spec.s_axis, spec.m_axis
    taps, counters = spec.taps, spec.counters
    lines = [f"// generated by bnnforge.sim.harness for {spec.top}; do not edit", "#pragma once",
             f'#define IN_NAME "{s}"', f'#define OUT_NAME "{m}"',
             f"#define IN_PORT(sig) {s}_##sig", f"#define OUT_PORT(sig) {m}_##sig",
             f"#define IN_BITS {s_bits}", f"#define OUT_BITS {m_bits}",
             f"#define N_TAPS {len(taps)}", f"#define MAX_TAP_BITS {max([b for _, b in taps], default=0)}",
             f"#define N_COUNTERS {len(counters)}",
             "static const char* const TAP_NAMES[] = {" + "".join(f'"{t}", ' for t, _ in taps) + "nullptr};",
             "static const int TAP_BITS[] = {" + "".join(f"{b}, " for _, b in taps) + "0};",
             "static const char* const COUNTER_NAMES[] = {" + "".join(f'"{c}", ' for c, _ in counters) + "nullptr};"]
    for port, b in [*((f"{t}_tdata", b) for t, b in taps), *counters]:  # check_ports checked them already
        lines.append(f'static_assert(PORT_BITS_OK(static_cast<Vdut*>(nullptr)->{port}, {b}), "{port} width");')
    lines.append("static inline void sample_taps(Vdut* d, uint8_t* v, uint8_t* r) {")
    lines.append("    (void)d; (void)v; (void)r;")
    lines += [f"    v[{i}] = d->{t}_tvalid; r[{i}] = d->{t}_tready;" for i, (t, _) in enumerate(taps)]
    lines.append("}")
    lines.append("static inline void tap_data(Vdut* d, int i, uint32_t* w) {")
    lines.append("    (void)d; (void)w;")
    lines.append("    switch (i) {")
    lines += [f"    case {i}: get_words(d->{t}_tdata, w, {(b + 31) // 32}); break;" for i, (t, b) in enumerate(taps)]
    lines += ["    default: break;", "    }", "}"]
    lines.append("static inline void sample_counters(Vdut* d, uint64_t* v) {")
    lines.append("    (void)d; (void)v;")
    lines += [f"    v[{i}] = static_cast<uint64_t>(d->{c});" for i, (c, _) in enumerate(counters)]
    lines.append("}")
    return "\n".join(lines) + "\n"


def required_ports(spec: HarnessSpec) -> dict[str, tuple[str, int]]:
    """Every port the harness touches: name -> (direction as seen from the design, bits)."""
    (s, s_bits), (m, m_bits) = spec.s_axis, spec.m_axis
    ports = {"ap_clk": ("in", 1), "ap_rst_n": ("in", 1), f"{s}_tdata": ("in", s_bits), f"{s}_tvalid": ("in", 1),
             f"{s}_tready": ("out", 1), f"{m}_tdata": ("out", m_bits), f"{m}_tvalid": ("out", 1),
             f"{m}_tready": ("in", 1)}
    for t, bits in spec.taps:
        ports |= {f"{t}_tdata": ("out", bits), f"{t}_tvalid": ("out", 1), f"{t}_tready": ("out", 1)}
    ports |= {c: ("out", bits) for c, bits in spec.counters}
    return ports


def check_ports(spec: HarnessSpec, model_header: str) -> list[str]:
    """Mismatches between the spec and the top-level ports Verilator generated (Vdut.h)."""
    found = {name: (d.lower(), int(msb) - int(lsb) + 1)
             for d, name, msb, lsb in re.findall(r"VL_(IN|OUT|INOUT)(?:8|16|64|W)?\(&(\w+),(\d+),(\d+)", model_header)}
    wrong = []
    for name, (direction, bits) in required_ports(spec).items():
        if name not in found:
            wrong.append(f"no port {name} ({direction}put, {bits} bits)")
        elif found[name] != (direction, bits):
            wrong.append(f"port {name} is {found[name][0]}put of {found[name][1]} bits, the spec says "
                         f"{direction}put of {bits} bits")
    if wrong:
        wrong.append(f"ports of {spec.top}: {', '.join(sorted(found))}")
    return wrong


def build(spec: HarnessSpec, waves: bool = False) -> Path:
    """Verilate and compile ``spec`` with the harness (cached); returns the executable.
    Warnings are fatal (-Wall): waivers only through the spec's control files. With
    ``waves`` the build can dump FST waveforms (slower; without Verilator's -O3)."""
    meta = {"top": spec.top, "s_axis": spec.s_axis, "m_axis": spec.m_axis, "taps": spec.taps,
            "counters": spec.counters, "waves": waves}
    return compile_cached(
        f"{spec.top}-{spec.key(waves, *build_options())}", TEMPLATE, spec.top, spec.sources,
        control=spec.control, defines=spec.defines, parameters=spec.parameters, waves=waves, meta=meta,
        headers={"harness_ports.h": ports_header(spec)}, check_model=lambda h: (check_ports(spec, h), {}),
        what=f"the harness for {spec.top}")


def compile_cached(name: str, template: Path, top: str, sources, control=(), defines=(), parameters=(),
                   waves: bool = False, meta: dict | None = None, headers: dict[str, str] | None = None,
                   check_model=None, exe_name: str = EXE_NAME, what: str = "the harness") -> Path:
    """Verilate ``sources`` (top module ``top``) and compile them with the C++ testbench
    ``template`` into ``cache_dir("harness")/name/exe_name`` unless that exists (``name``
    must change with everything that goes into the build). ``headers`` (file name -> text)
    are written next to the template; ``check_model(text of Vdut.h)`` runs after verilating
    and returns (errors, more headers): any error fails the build. ``meta`` is written as
    ``harness.json`` next to the executable. Same flags, ccache and Verilator workarounds
    for every harness; a failed build raises SimBuildError with the first lines of its log."""
    toolenv.apply_to_current_process()
    env = toolenv.tool_env()
    verilator = toolenv.require("verilator", "the compiled RTL harness", "make setup")
    make = toolenv.require("make", "the compiled RTL harness", "apt-get install make")
    root = toolenv.cache_dir("harness")
    bdir = root / name
    if (bdir / META_NAME).exists() and (bdir / exe_name).exists():
        return bdir / exe_name
    work = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=root))  # renamed into place when built
    log = work / "build.log"
    try:
        shutil.copy(template, work / template.name)
        for fname, text in (headers or {}).items():
            (work / fname).write_text(text)
        verilate = [verilator, "--cc", "--exe", "-j", "2", "-Wall", "--prefix", "Vdut", "--top-module", top,
                    "--Mdir", "obj", "-o", exe_name, "--timescale", "1ns/1ps", "-CFLAGS", "-std=c++17",
                    *(["--trace-fst"] if waves else FAST_FLAGS), *(f"-D{d}" for d in defines),
                    *(f"-G{k}={_g_value(v)}" for k, v in parameters),
                    *(str(Path(c).resolve()) for c in control), *(str(Path(s).resolve()) for s in sources),
                    template.name]
        with open(log, "w") as f:
            def run_step(cmd):
                f.write("$ " + " ".join(cmd) + "\n")
                f.flush()
                if subprocess.run(cmd, cwd=work, env=env, stdout=f, stderr=subprocess.STDOUT).returncode != 0:
                    _build_failed(what, log, root / f"{name}.failed.log")

            run_step(verilate)
            if check_model is not None:
                wrong, more = check_model((work / "obj" / "Vdut.h").read_text())
                if wrong:
                    f.write("%Error: harness ports: " + "\n%Error: harness ports: ".join(wrong) + "\n")
                    f.flush()
                    _build_failed(what, log, root / f"{name}.failed.log")
                for fname, text in more.items():
                    (work / fname).write_text(text)
            # the model's size decides how it compiles (compile_units): known once Verilator has run
            run_step([make, "-j", "2", "-C", "obj", "-f", "Vdut.mk", *([] if waves else CXX_OPT),
                      *compile_units(work / "obj")])
        (work / "obj" / exe_name).rename(work / exe_name)
        shutil.rmtree(work / "obj")  # ccache keeps the objects
        (work / META_NAME).write_text(json.dumps(meta or {}))
        try:
            work.rename(bdir)
        except OSError:  # built meanwhile by another process (or an incomplete folder)
            if not (bdir / META_NAME).exists():
                shutil.rmtree(bdir, ignore_errors=True)
                work.rename(bdir)
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)
    return bdir / exe_name


def _build_failed(what: str, log: Path, keep: Path):
    shutil.copy(log, keep)
    text = "\n".join(ln for ln in log.read_text(errors="replace").splitlines() if not ln.startswith("$ "))
    raise SimBuildError(f"Verilator could not build {what} (log {keep}):\n{first_errors(text)}")


def run(exe: Path, input_beats: list[int], frames: int, out_beats_per_frame: int, stall_in: float = 0.0,
        stall_out: float = 0.0, seed: int = 1, max_idle_cycles: int = 100_000, max_cycles: int | None = None,
        record_taps: bool = False, waves: bool = False, work_dir: Path | None = None,
        tail_cycles: int = 32, data_files: tuple[Path, ...] = (), plusargs: tuple[str, ...] = ()) -> HarnessResult:
    """Stream ``input_beats`` (all ``frames`` back to back) through the design built as
    ``exe`` and collect ``frames * out_beats_per_frame`` output beats. TVALID has a random
    gap before each beat with probability ``stall_in`` per cycle, TREADY is low with
    probability ``stall_out`` per cycle (seeded by ``seed``). Raises ``HarnessDeadlock``
    after ``max_idle_cycles`` without any beat moving, ``HarnessError`` at ``max_cycles``,
    when the executable fails or when the design sends more beats than expected (within
    ``tail_cycles`` after the last one). ``waves`` writes ``work_dir/dump.fst`` (needs a
    ``build(..., waves=True)`` executable). ``data_files`` (memory files the design reads by
    name with $readmemh) are copied into the run folder; ``plusargs`` ("+name=value") reach the
    design's $value$plusargs."""
    exe = Path(exe)
    input_beats = [int(b) for b in input_beats]  # numpy integers too
    meta = json.loads((exe.parent / META_NAME).read_text())
    _check_run(meta, input_beats, frames, stall_in, stall_out, max_idle_cycles, waves)
    keep = work_dir is not None  # else a temporary folder, removed afterwards (also when the run fails)
    with contextlib.nullcontext(work_dir) if keep else tempfile.TemporaryDirectory(prefix="bnnforge-harness-") as w:
        work = Path(w)
        work.mkdir(parents=True, exist_ok=True)
        where = f"; run folder {work}" if keep else ""
        for f in data_files:
            shutil.copy(f, work / Path(f).name)
        (work / "in.hex").write_text("".join(f"{b:x}\n" for b in input_beats))
        expect = frames * out_beats_per_frame
        status_file, out_file = work / "status.json", work / "out.txt"
        status_file.unlink(missing_ok=True)
        cmd = [str(exe), "--in", "in.hex", "--expect", str(expect), "--out", out_file.name,
               "--status", status_file.name, "--stall-in", repr(float(stall_in)), "--stall-out", repr(float(stall_out)),
               "--seed", str(seed), "--max-idle", str(max_idle_cycles), "--tail", str(tail_cycles)]
        cmd += (["--max-cycles", str(max_cycles)] if max_cycles is not None else []) + \
            (["--taps", "."] if record_taps else []) + (["--waves", "dump.fst"] if waves else []) + list(plusargs)
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=work, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if proc.returncode not in (EXIT_DONE, EXIT_DEADLOCK, EXIT_CYCLE_LIMIT) or not status_file.exists():
            raise HarnessError(f"harness {exe} failed (exit {proc.returncode}{where}):\n"
                               f"{(proc.stderr or proc.stdout).strip()[-2000:]}")
        status = json.loads(status_file.read_text())
        result = _result(status, meta, work, out_file, record_taps, len(input_beats), frames, out_beats_per_frame,
                         wall)
    progress = (f"{meta['s_axis'][0]} sent {result.in_sent}/{len(input_beats)}, "
                f"{meta['m_axis'][0]} got {len(result.beats)}/{expect}{where}")
    if result.deadlock is not None:
        raise HarnessDeadlock(f"{meta['top']}: deadlock: {result.deadlock}; {progress}", result.deadlock, result)
    if status["status"] == "cycle_limit":
        raise HarnessError(f"{meta['top']}: cycle limit {max_cycles} reached; {progress}", result)
    if result.extra_beats:
        raise HarnessError(f"{meta['top']}: {len(result.extra_beats)} output beats more than the {expect} "
                           f"expected; {progress}", result)
    return result


def _check_run(meta: dict, input_beats: list[int], frames: int, stall_in: float, stall_out: float,
               max_idle_cycles: int, waves: bool) -> None:
    s_name, s_bits = meta["s_axis"]
    if waves and not meta["waves"]:
        raise UserError("waves=True needs an executable from build(spec, waves=True)")
    for name, p in (("stall_in", stall_in), ("stall_out", stall_out)):
        if not 0.0 <= p < 1.0:  # users get STALL_MAX (check_stall); FIFO sizing paces slow designs closer to 1
            raise UserError(f"{name}={p}: allowed 0 <= p < 1 (probability of a stall per cycle)")
    if frames < 1 or len(input_beats) % frames:
        raise UserError(f"{len(input_beats)} input beats do not split into {frames} frames")
    if max_idle_cycles < 1:
        raise UserError("max_idle_cycles must be >= 1")
    bad = next((b for b in input_beats if not 0 <= b < 1 << s_bits), None)
    if bad is not None:
        raise UserError(f"input beat {bad:#x} does not fit {s_name} ({s_bits} bits, unsigned)")


def _result(status: dict, meta: dict, work: Path, out_file: Path, record_taps: bool, n_in: int, frames: int,
            out_beats_per_frame: int, wall: float) -> HarnessResult:
    """The harness's status and output files as a HarnessResult (with the deadlock, if any)."""
    expect = frames * out_beats_per_frame
    beats, cycles = _read_beats(out_file)
    streams = tuple(StreamState(s["name"], s["kind"], s["beats"], None if s["last"] < 0 else s["last"],
                                bool(s["valid"]), bool(s["ready"])) for s in status["streams"])
    taps, tap_cycles = {}, {}
    if record_taps:
        for t, _ in meta["taps"]:
            taps[t], tap_cycles[t] = _read_beats(work / f"tap_{t}.txt")
    deadlock = None
    if status["status"] == "deadlock":
        sent_all = status["streams"][0]["beats"] >= n_in
        blocked = tuple(x.name for x in streams if x.valid and not x.ready)
        waiting = tuple(x.name for x in streams if not x.valid and not (x.kind == "in" and sent_all))
        last = status["last_move"]
        deadlock = Deadlock(status["cycles"] - 1, None if last < 0 else last, blocked, waiting, streams)
    return HarnessResult(
        beats=beats[:expect], cycles=cycles[:expect],
        first_in=None if status["first_in"] < 0 else status["first_in"], total_cycles=status["cycles"],
        in_sent=streams[0].beats, frames=frames, beats_per_frame=out_beats_per_frame,
        extra_beats=beats[expect:], taps=taps, tap_cycles=tap_cycles,
        tap_counts={x.name: x.beats for x in streams if x.kind == "tap"}, counters=dict(status["counters"]),
        deadlock=deadlock, wall_seconds=wall)


def _read_beats(path: Path) -> tuple[list[int], list[int]]:
    beats, cycles = [], []
    if path.exists():
        with open(path) as f:
            for line in f:
                c, b = line.split()
                cycles.append(int(c))
                beats.append(int(b, 16))
    return beats, cycles


def verilator_version() -> str:
    """The Verilator version (part of every harness build's cache key)."""
    try:
        return importlib.metadata.version("verilator")
    except importlib.metadata.PackageNotFoundError:
        return str(toolenv.which("verilator"))


def _g_value(v) -> str:
    return f'"{v}"' if isinstance(v, str) and not v.startswith('"') else str(v)
