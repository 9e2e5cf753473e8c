"""FIFO sizing without Vivado: the stitched design in Verilator (netsim).

The sizing runs use one build of the design in which every FIFO is bnnforge's stand-in for
finn-rtllib's (sim/rtl/sizing_fifo.sv, as deep as the deep run below) whose depth is a
plusarg: every trial is a run, not a Verilator build.

1. *Deep*: every FIFO one frame of its stream deep (no layer ever waits for room), the input
   at full rate, frames back to back, the output always ready: the throughput the layers
   allow (``cycles_deep``). FIFOs fed by a fork (a residual block's DuplicateStreams, through
   width converters) get SKIP_DEEP_FRAMES: a branch layer that buffers whole frames
   (DynamicThreshold: ping-pong, up to two) lets the fork run up to two frames ahead, and the
   skip FIFO holds them.
2. *Peaks*: the same design with the input throttled to that throughput (random gaps, so
   the bursts are no smaller than a DMA's); every FIFO's maximum occupancy is the slack its
   stream needs. FIFOs get ``max(FINN's minimum depth, peak)``.
3. *Check*: the sized design at full input rate. Slower than the deep run, or stopped (a
   fork whose short branch, e.g. a residual block's skip path, cannot hold what the long
   branch takes in before its first output), means a FIFO is still too shallow: those that
   ran full are doubled and the check repeats.
4. *Shrink*: peaks are an upper bound (a producer may wait without slowing the bottleneck),
   so all depths are scaled down by the smallest of SHRINK_FACTORS that keeps the
   throughput without a deadlock; then each FIFO deeper than SHRINK_EACH_MIN_DEPTH on its
   own, the most bits first (one FIFO that must keep its peak, a residual block's skip FIFO,
   would otherwise hold every other FIFO at its peak).
5. *Real check*: the chosen depths with finn-rtllib's FIFOs, the design that ships (one more
   Verilator build). Should it be slower than the deep run or stop (the stand-in is not the
   real FIFO cycle for cycle), step 3 runs again on real builds from there.

A design that stops making progress raises a SizingError naming the stalled streams
(within a bound of cycles, never a hang).
"""

from __future__ import annotations

import copy
import dataclasses
import math
import tempfile
from pathlib import Path

import numpy as np

from bnnforge import toolenv
from bnnforge.errors import CheckFailed
from bnnforge.finn_flow import registry
from bnnforge.finn_flow.rtl import network as netsim
from bnnforge.finn_flow.rtl import stitch
from bnnforge.finn_flow.simulate import reference
from bnnforge.finn_flow.simulate.streams import input_beats
from bnnforge.sim import harness

FINN_MIN_DEPTH = 2  # FINN's InsertFIFO minimum (finn-rtllib's fifo needs DEPTH >= 2)
DEEP_CAP = 1 << 15  # a FIFO deeper than this would not be built: the deep run caps there
# the deep run's FIFOs after a fork, in frames (measured: a DyBNN reactnet, width 0.125, 3,000 fps,
# sized to 33,028 cycles/frame with one frame, 32,769 with two; estimate 32,768)
SKIP_DEEP_FRAMES = 2
SIZING_FRAMES = 3
MAX_ROUNDS = 6
SHRINK_FACTORS = (1 / 64, 1 / 8, 1 / 2)
# FIFOs this shallow are shift registers of a few LUTs: not worth a trial each
SHRINK_EACH_MIN_DEPTH = 32
# pacing limit: a design that takes 1000x the input beats' cycles per frame is still paced at
# 1/1000 of the full input rate (capping lower let the input run ahead of slow designs and the
# first FIFOs fill with whole frames)
MAX_RATE_GAP = 0.999


class SizingError(CheckFailed):
    """The stitched design stopped making progress while its FIFOs were sized."""


@dataclasses.dataclass
class FifoSize:
    width: int
    initial: int  # depth before sizing (FINN's InsertFIFO)
    deep: int  # depth in the deep run
    peak: int  # maximum occupancy with the input at the design's rate
    depth: int  # chosen depth


def _fifos(model):
    from qonnx.custom_op.registry import getCustomOp

    return {n.name: getCustomOp(n) for n in model.graph.node if registry.is_fifo(n)}


def set_depths(model, depths: dict[str, int], part: str, clock_ns: float, code_root: Path | None = None):
    """Set FIFO depths and regenerate their RTL (into ``code_root`` for a scratch copy,
    else in place, in each node's own code folder)."""
    for name, inst in _fifos(model).items():
        if name not in depths:
            continue
        inst.set_nodeattr("depth", int(depths[name]))
        if code_root is not None:
            folder = Path(code_root) / name
            folder.mkdir(parents=True, exist_ok=True)
            inst.set_nodeattr("code_gen_dir_ipgen", str(folder))
        inst.generate_hdl(model, part, clock_ns)
    return model


def _deepen_full(try_depths, sizes: dict[str, FifoSize], target: float, log, what: str = "") -> _Trial:
    """The check at full input rate: FIFOs that ran full while the design was slower than
    ``target`` or stopped (a deadlock: a fork whose short branch cannot hold what the long
    one needs before its first output) are doubled, up to MAX_ROUNDS times.
    ``try_depths(depths) -> _Trial`` runs one candidate."""
    for round_ in range(MAX_ROUNDS):
        check = try_depths({n: s.depth for n, s in sizes.items()})
        if check.keeps(target):
            break
        full = [n for n, s in sizes.items() if check.fifo_max.get(n, 0) >= s.depth and s.depth < s.deep]
        if not full:
            break
        for n in full:
            sizes[n].depth = min(sizes[n].deep, 2 * sizes[n].depth)
        result = "a deadlock" if check.deadlock else f"{check.cycles_per_frame:.0f} cycles/frame"
        log(f"  round {round_ + 1}{what}: {result}, deepening {len(full)} full FIFO(s): {', '.join(full)}")
    return check


def _shrink_each(try_depths, sizes: dict[str, FifoSize], target: float, log) -> "_Trial | None":
    """Each FIFO deeper than SHRINK_EACH_MIN_DEPTH, the most bits first, scaled by the smallest of
    SHRINK_FACTORS that keeps ``target`` with the others as they are. Returns the last trial that
    kept it (None: no FIFO shrank)."""
    kept, before = None, sum(s.width * s.depth for s in sizes.values())
    for name in sorted(sizes, key=lambda n: -sizes[n].width * sizes[n].depth):
        if sizes[name].depth <= SHRINK_EACH_MIN_DEPTH:
            continue
        for factor in SHRINK_FACTORS:
            depth = max(FINN_MIN_DEPTH, math.ceil(sizes[name].depth * factor))
            trial = try_depths({**{n: s.depth for n, s in sizes.items()}, name: depth})
            if trial.keeps(target):
                sizes[name].depth, kept = depth, trial
                break
    if kept is not None:
        log(f"  FIFOs shrunk one by one: {before:,} -> {sum(s.width * s.depth for s in sizes.values()):,} bits")
    return kept


@dataclasses.dataclass
class _Trial:
    """A full-rate run of candidate depths: its throughput, or the deadlock it ran into (a
    residual block's skip FIFO shallower than the other branch's latency)."""

    cycles_per_frame: float  # inf on a deadlock
    fifo_max: dict[str, int]
    deadlock: str | None = None

    def keeps(self, cycles: float) -> bool:
        return self.deadlock is None and self.cycles_per_frame <= cycles


def _trial(model, folder: Path, x, plusargs: tuple[str, ...] = ()) -> _Trial:
    """A full-rate run of the design stitched in ``folder``."""
    try:
        run, _ = netsim.simulate(model, folder, x, plusargs=plusargs)
    except harness.HarnessDeadlock as e:
        counters = e.result.counters if e.result is not None else {}
        fifo_max = {name[: -len("_maxcount")]: v for name, v in counters.items()}
        return _Trial(math.inf, fifo_max, netsim.describe_deadlock(e.deadlock, folder))
    return _Trial(run.cycles_per_frame, run.fifo_max)


def stitch_for_sizing(model, folder: Path) -> None:
    """The stitched design with sizing_fifo.sv in place of finn-rtllib's fifo.sv: its FIFOs as
    deep as the model's depths, each one's depth set per run by depth_plusargs."""
    design = stitch.stitch(model, folder)
    if "fifo.sv" not in design.sources:  # the stand-in would not be built: every trial would size nothing
        raise SizingError(f"the stitched design has FIFOs but no finn-rtllib fifo.sv among its sources "
                          f"({', '.join(design.sources)}): FIFO sizing needs FINN's RTL FIFOs (impl_style rtl)")
    (Path(folder) / "fifo.sv").write_text((toolenv.rtl_dir() / "sizing_fifo.sv").read_text())


def depth_plusargs(depths: dict[str, int]) -> tuple[str, ...]:
    """Plusargs setting each sizing FIFO's depth (FIFO node name -> depth); a FIFO left out is fatal."""
    inst = "fifo"  # finn-rtllib's fifo inside FINN's StreamingFIFO_rtl wrapper
    return ("+fifo_limit_required",
            *(f"+fifo_limit:{harness.SCOPE}.{stitch.TOP}.{stitch.instance_name(n)}.{inst}={d}" for n, d in depths.items()))


def _after_fork(model, fifo) -> bool:
    """The FIFO is fed by a fork (a node of several output streams: DuplicateStreams), through
    width converters and FIFOs only."""
    node = model.find_producer(fifo.input[0])
    while node is not None and registry.is_plumbing(node):
        node = model.find_producer(node.input[0])
    return node is not None and len(node.output) > 1


def _deep_sizes(model, fifos) -> dict[str, FifoSize]:
    """Every FIFO's depth in the deep run: a frame of its stream (SKIP_DEEP_FRAMES after a fork)."""
    sizes = {}
    for name, inst in fifos.items():
        beats = int(np.prod(inst.get_folded_output_shape()[:-1]))
        in_frames = SKIP_DEEP_FRAMES if _after_fork(model, inst.onnx_node) else 1
        deep = min(DEEP_CAP, max(FINN_MIN_DEPTH, in_frames * beats))
        sizes[name] = FifoSize(inst.get_outstream_width(), inst.get_nodeattr("depth"), deep, 0, 0)
    return sizes


def size_fifos(model, work: Path, board, clock_ns: float, log=print, frames: int = SIZING_FRAMES):
    """Choose every FIFO's depth (see the module docstring); returns the model with the
    depths set and its FIFOs' RTL regenerated, and a report."""
    fifos = _fifos(model)
    if not fifos:
        return model, {"fifos": {}}
    work = Path(work or tempfile.mkdtemp(prefix="bnnforge-sizing-"))
    part = board.part
    sizes = _deep_sizes(model, fifos)
    x, _ = reference.build_inputs(work / "no-vectors", model, frames)  # random inputs: timing is data independent
    scratch = copy.deepcopy(model)
    deep_depths = {n: s.deep for n, s in sizes.items()}
    set_depths(scratch, deep_depths, part, clock_ns, work / "code")
    stitch_for_sizing(scratch, work / "sizing")

    def simulated(depths: dict[str, int], stall_in: float = 0.0):
        try:
            return netsim.simulate(scratch, work / "sizing", x, stall_in=stall_in, plusargs=depth_plusargs(depths))[0]
        except harness.HarnessDeadlock as e:
            raise SizingError(f"the stitched design stopped making progress: "
                              f"{netsim.describe_deadlock(e.deadlock, work / 'sizing')}") from None

    deep = simulated(deep_depths)
    in_beats = len(input_beats(scratch, x[:1]))
    # the input at the design's own rate: a gap before a beat with this probability per cycle
    rate_gap = max(0.0, min(MAX_RATE_GAP, 1.0 - in_beats / deep.cycles_per_frame))
    paced = simulated(deep_depths, rate_gap)
    for name, s in sizes.items():
        s.peak = paced.fifo_max.get(name, 0)
        s.depth = min(s.deep, max(FINN_MIN_DEPTH, s.peak))
    log(f"  deep FIFOs (stand-ins, one build): {deep.cycles_per_frame:.0f} cycles/frame; sizing to peak occupancy at that rate")

    def sizing_trial(depths: dict[str, int]) -> _Trial:
        return _trial(scratch, work / "sizing", x, depth_plusargs(depths))

    check = _deepen_full(sizing_trial, sizes, deep.cycles_per_frame, log)
    if check.keeps(deep.cycles_per_frame):
        for factor in SHRINK_FACTORS:  # the smallest scaling of all depths that keeps the throughput
            scaled = {n: max(FINN_MIN_DEPTH, math.ceil(s.depth * factor)) for n, s in sizes.items()}
            trial = sizing_trial(scaled)
            if trial.keeps(deep.cycles_per_frame):
                for n, d in scaled.items():
                    sizes[n].depth = d
                check = trial
                break
        check = _shrink_each(sizing_trial, sizes, deep.cycles_per_frame, log) or check

    def real_trial(depths: dict[str, int], folder: str = "check") -> _Trial:
        set_depths(scratch, depths, part, clock_ns, work / "code")
        stitch.stitch(scratch, work / folder)
        return _trial(scratch, work / folder, x)

    # the design that ships: finn-rtllib's FIFOs at the chosen depths; slower than the deep
    # stand-ins, it is held to the same FIFOs deep (their latencies differ from the stand-in's:
    # DyBNN's reactnet ran 32,768 cycles/frame with deep stand-ins, 32,769 with deep finn-rtllib FIFOs)
    real = real_trial({n: s.depth for n, s in sizes.items()})
    if not real.keeps(deep.cycles_per_frame):
        real_deep = real_trial(deep_depths, "deep")
        if real_deep.deadlock is not None:
            raise SizingError(f"the stitched design stopped making progress: {real_deep.deadlock}")
        deep = dataclasses.replace(deep, cycles_per_frame=real_deep.cycles_per_frame)
        real = real_trial({n: s.depth for n, s in sizes.items()})  # (built: the cached harness)
    if not real.keeps(deep.cycles_per_frame):
        result = "a deadlock" if real.deadlock else f"{real.cycles_per_frame:.0f} cycles/frame"
        log(f"  with finn-rtllib's FIFOs: {result} (deep: {deep.cycles_per_frame:.0f}); deepening on real builds")
        real = _deepen_full(real_trial, sizes, deep.cycles_per_frame, log, " (finn-rtllib FIFOs)")
    check = real
    if check.deadlock is not None:
        raise SizingError(f"the stitched design stopped making progress with FIFOs sized to their peaks (doubled "
                          f"{MAX_ROUNDS} times where full): {check.deadlock}")
    set_depths(model, {n: s.depth for n, s in sizes.items()}, part, clock_ns)
    bits = {k: sum(s.width * getattr(s, k) for s in sizes.values()) for k in ("initial", "deep", "depth")}
    log(f"  sized {len(sizes)} FIFOs: {bits['depth']:,} bits (deep run {bits['deep']:,}); "
        f"{check.cycles_per_frame:.0f} cycles/frame vs {deep.cycles_per_frame:.0f} with deep FIFOs")
    return model, {
        "cycles_per_frame_deep": deep.cycles_per_frame,
        "cycles_per_frame_sized": check.cycles_per_frame,
        "fifo_bits": {"initial": bits["initial"], "deep": bits["deep"], "sized": bits["depth"]},
        "fifos": {n: dataclasses.asdict(s) for n, s in sizes.items()},
    }
