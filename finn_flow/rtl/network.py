"""The whole accelerator in Verilator: `bnnforge sim network` and the FIFO sizing step.

The stitched design of BUILD/rtl/ (stitch.py) is compiled once into a C++ harness
(bnnforge.sim.harness: no Python per cycle) with the simulation-only taps: every internal
stream and every FIFO's maximum occupancy. Images go in back to back as FINN packs them;
the outputs come back as integers in the graph output's order. On a mismatch the first
wrong image is run again with the taps recorded, and every stream is compared with
FINN's Python execution of the graph to find the first layer whose output diverges.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import numpy as np

from bnnforge.errors import CheckFailed
from bnnforge.finn_flow import registry
from bnnforge.finn_flow.flow.layout import BuildLayout
from bnnforge.finn_flow.rtl import stitch
from bnnforge.finn_flow.simulate import reference
from bnnforge.finn_flow.simulate.images import load_images
from bnnforge.finn_flow.simulate.streams import (
    input_beats,
    labels_from_output,
    output_beats,
    output_beats_per_frame,
    outputs_from_beats,
    to_beats,
    to_dataflow_layout,
)
from bnnforge.sim import harness, verilator


@dataclasses.dataclass
class NetworkRun:
    outputs: np.ndarray  # (N, outputs): the accelerator's integer outputs
    cycles_per_frame: float | None  # steady state (None for one image)
    latency_cycles: int  # first input beat to the last output beat of frame 0
    total_cycles: int
    wall_seconds: float
    fifo_max: dict[str, int]  # FIFO node -> maximum occupancy seen

    @property
    def frames_per_second_simulated(self) -> float:
        return len(self.outputs) / self.wall_seconds if self.wall_seconds else float("inf")


def harness_spec(rtl_dir: Path) -> harness.HarnessSpec:
    d = stitch.load_design(rtl_dir)
    rtl_dir = Path(rtl_dir).resolve()
    edges = stitch.design_edges(d)
    inp = next(e for e in edges if e.producer is None)
    out = next(e for e in edges if e.consumer is None)
    return harness.HarnessSpec(
        top=d["top"],
        sources=tuple(rtl_dir / s for s in stitch.accelerator_sources(d)),
        control=(rtl_dir / stitch.RTL_WAIVERS,),
        defines=(d["taps_define"],),
        s_axis=("s_axis_0", inp.width),
        m_axis=("m_axis_0", out.width),
        taps=tuple((f"tap_{e.wire}", e.width) for e in edges),
        counters=tuple((f"{f}_maxcount", 32) for f in d["fifos"]),
    )


def simulate_beats(model, rtl_dir: Path, beats: list[int], frames: int, stall_out: float = 0.0, seed: int = 1):
    """Raw s_axis_0 beats of ``frames`` frames through the stitched design (a driver's bytes):
    (m_axis_0 beats, the harness result)."""
    spec = harness_spec(rtl_dir)
    exe = harness.build(spec)
    d = stitch.load_design(rtl_dir)
    per = output_beats_per_frame(model)
    result = harness.run(exe, beats, frames, per, stall_out=stall_out, seed=seed, max_idle_cycles=_idle_bound(model),
                         data_files=tuple(Path(rtl_dir) / f for f in d["data_files"]))
    return result.beats, result


def simulate(model, rtl_dir: Path, x: np.ndarray, stall_out: float = 0.0, stall_in: float = 0.0, seed: int = 1,
             waves: bool = False, record_taps: bool = False, work_dir: Path | None = None,
             max_idle_cycles: int | None = None, plusargs: tuple[str, ...] = ()):
    """Stream N images (dataflow layout) back to back through the stitched design
    (``plusargs``: for the design's $value$plusargs, e.g. the sizing FIFOs' depths)."""
    spec = harness_spec(rtl_dir)
    exe = harness.build(spec, waves=waves)
    d = stitch.load_design(rtl_dir)
    frames = len(x)
    per = output_beats_per_frame(model)
    idle = max_idle_cycles or _idle_bound(model)
    t0 = time.perf_counter()
    result = harness.run(exe, input_beats(model, x), frames, per, stall_in=stall_in, stall_out=stall_out, seed=seed,
                         max_idle_cycles=idle, record_taps=record_taps, waves=waves, work_dir=work_dir,
                         data_files=tuple(Path(rtl_dir) / f for f in d["data_files"]), plusargs=plusargs)
    wall = time.perf_counter() - t0
    latency = result.cycles[per - 1] - result.first_in if result.cycles and result.first_in is not None else 0
    fifo_max = {name[: -len("_maxcount")]: v for name, v in result.counters.items()}
    run = NetworkRun(outputs_from_beats(model, result.beats, frames), result.cycles_per_frame(), latency,
                     result.total_cycles, wall, fifo_max)
    return run, result


class NetworkDeadlock(CheckFailed):
    """The stitched design stopped making progress (named streams, partial results)."""


def describe_deadlock(deadlock, rtl_dir: Path) -> str:
    """A harness deadlock in terms of the graph: which streams (producer -> consumer) hold a
    beat nobody takes, and which wait for data."""
    edges = {f"tap_{e['wire']}": e for e in stitch.load_design(rtl_dir)["edges"]}

    def name(tap):
        e = edges[tap]
        return f"{e['tensor']} ({e['producer'] or 'input'} -> {e['consumer'] or 'output'})"

    blocked = [name(t) for t in deadlock.blocked if t in edges]
    waiting = [name(t) for t in deadlock.waiting if t in edges]
    since = "at all" if deadlock.last_move is None else f"since cycle {deadlock.last_move}"
    return (f"no beat moved {since} (stopped at cycle {deadlock.cycle}); stalled streams, holding a beat nobody "
            f"takes: {', '.join(blocked) or 'none'}; waiting for data: {', '.join(waiting) or 'none'}")


def _idle_bound(model) -> int:
    """No beat moving for this long is a deadlock: well above any layer's per-frame work."""
    from qonnx.custom_op.registry import getCustomOp

    worst = max(registry.exp_cycles(getCustomOp(n)) for n in model.graph.node)
    return 4 * worst + 10_000


def topological_order(model) -> dict[str, int]:
    """Node name -> position in a topological order (FINN's insertions may append nodes)."""
    producers = {out: n.name for n in model.graph.node for out in n.output}
    deps = {n.name: {producers[i] for i in n.input if i in producers} for n in model.graph.node}
    order: dict[str, int] = {}
    while len(order) < len(deps):
        ready = [n for n, d in deps.items() if n not in order and d <= order.keys()]
        if not ready:
            raise RuntimeError("the dataflow graph has a cycle")
        for n in ready:
            order[n] = len(order)
    return order


def edge_beats(model, e: stitch.Edge, tensor: np.ndarray) -> list[int]:
    """The beats a stream carries for a tensor of FINN's Python layout. The element order is
    the producer's (a depthwise window generator's channel-fold major order) and passes
    unchanged through FIFOs and width converters, so a stream whose producer has no order of
    its own takes its consumer's (a VVAU or Pool reading depthwise windows)."""
    from qonnx.custom_op.registry import getCustomOp

    nodes = {n.name: n for n in model.graph.node}
    cons = getCustomOp(nodes[e.consumer]) if e.consumer else None
    ci = list(nodes[e.consumer].input).index(e.tensor) if e.consumer else 0
    if e.producer is None:
        return to_beats(cons, ci, tensor)
    prod = getCustomOp(nodes[e.producer])
    o = list(nodes[e.producer].output).index(e.tensor)
    if cons is not None and not registry.has_window_layout(prod, o, output=True):
        tensor = registry.to_stream_order(cons, ci, np.asarray(tensor, np.float32))
    return output_beats(prod, o, tensor)


def first_divergence(model, result, x_image: np.ndarray, rtl_dir: Path) -> str | None:
    """The first stream (in graph order) whose recorded beats differ from FINN's Python
    execution for one image, described with the layer that produced it."""
    d = stitch.load_design(rtl_dir)
    ref = reference.edge_values(model, x_image[None])[0]
    order = topological_order(model)
    edges = sorted(stitch.design_edges(d),
                   key=lambda e: -1 if e.producer is None else order[e.producer])
    for e in edges:
        got = result.taps.get(f"tap_{e.wire}", [])
        want = edge_beats(model, e, ref[e.tensor])
        if got != want:
            k = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
            return (f"stream {e.tensor} ({e.producer or 'accelerator input'} -> {e.consumer or 'accelerator output'}) "
                    f"differs first at beat {k} of {len(want)}: got {got[k]:#x} expected {want[k]:#x}"
                    if k < min(len(got), len(want)) else
                    f"stream {e.tensor} ({e.producer} -> {e.consumer}): {len(got)} beats, expected {len(want)}")
    return None


# --- `bnnforge sim network` -----------------------------------------------------------------


@dataclasses.dataclass
class NetworkReport:
    images: int
    mismatches: int
    first_mismatch: int | None  # image index
    divergence: str | None  # the first stream that differs on that image
    cycles_per_frame: float | None
    estimated_cycles_per_frame: int | None
    latency_cycles: int
    fps: float | None
    sim_frames_per_s: float
    source: str
    outputs: np.ndarray
    labels_agree: int | None = None  # accelerator top-1 == golden top-1 (with a reference)

    def to_json(self) -> dict:
        return {"images": self.images, "mismatches": self.mismatches, "cycles_per_frame": self.cycles_per_frame,
                "estimated_cycles_per_frame": self.estimated_cycles_per_frame, "latency_cycles": self.latency_cycles,
                "fps": self.fps, "sim_frames_per_s": self.sim_frames_per_s, "first_mismatch": self.first_mismatch,
                "first_divergence": self.divergence}


def run_network(build_dir: Path, run_dir: Path | None = None, input_path: Path | None = None, images: int = 16,
                stall: float = 0.0, waves: bool = False, chunk: int = 100, progress=None) -> NetworkReport:
    """N images back to back through BUILD/rtl (in chunks of ``chunk`` images, each a fresh
    run from reset), every output compared exactly with the reference when there is one."""
    layout = BuildLayout(build_dir)
    rtl_dir = layout.rtl
    verilator.check_stall(stall)
    model, _ = reference.latest_model(build_dir, "rtl")  # a clear error before any work
    stitch.load_design(rtl_dir)
    imgs = load_images(build_dir, model, run_dir, input_path, images)
    x, want, source = imgs.x, imgs.want, f"{imgs.source}, compared with {imgs.reference}"
    x_df = to_dataflow_layout(x, model.get_tensor_shape(model.graph.input[0].name))
    cfg = layout.read_config()
    outputs, cpfs, wall, latency = [], [], 0.0, 0
    for start in range(0, len(x_df), chunk):
        part = x_df[start:start + chunk]
        try:
            run, _ = simulate(model, rtl_dir, part, stall_out=stall, seed=start + 1, waves=waves and start == 0,
                              work_dir=layout.rtl_sim if waves else None)
        except harness.HarnessDeadlock as e:
            raise NetworkDeadlock(f"deadlock in {rtl_dir} (images {start}..{start + len(part) - 1}): "
                                  f"{describe_deadlock(e.deadlock, rtl_dir)}") from None
        outputs.append(run.outputs)
        wall += run.wall_seconds
        if start == 0:
            latency = run.latency_cycles
        if run.cycles_per_frame is not None and len(part) >= 2:
            cpfs.append((run.cycles_per_frame, len(part)))
        if progress:
            progress(len(part))
    out = np.concatenate(outputs)
    cpf = sum(c * n for c, n in cpfs) / sum(n for _, n in cpfs) if cpfs else None
    mismatches, first, divergence, agree = 0, None, None, None
    if want is not None:
        bad = [i for i in range(len(out)) if not np.array_equal(out[i], want[i])]
        mismatches = len(bad)
        agree = int((labels_from_output(out) == labels_from_output(want)).sum())
        if bad:
            first = bad[0]
            _, result = simulate(model, rtl_dir, x_df[first:first + 1], record_taps=True)
            divergence = first_divergence(model, result, x_df[first], rtl_dir)
    perf = layout.estimate_performance
    est = int(json.loads(perf.read_text())["max_cycles"]) if perf.exists() else None
    fps = 1e9 / (cfg["clock_ns"] * cpf) if cpf else None
    return NetworkReport(len(out), mismatches, first, divergence, cpf, est, latency, fps,
                         len(out) / wall if wall else float("inf"), source, out, agree)
