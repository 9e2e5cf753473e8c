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

from bnnforge.finn_flow import nodesim, reference, registry, stitch
from bnnforge.sim import harness


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


def _load(rtl_dir: Path) -> dict:
    path = Path(rtl_dir) / stitch.DESIGN_JSON
    if not path.exists():
        raise FileNotFoundError(f"{rtl_dir} has no {stitch.DESIGN_JSON}: run `bnnforge build ... --until rtl` first")
    return json.loads(path.read_text())


def harness_spec(rtl_dir: Path) -> harness.HarnessSpec:
    d = _load(rtl_dir)
    rtl_dir = Path(rtl_dir).resolve()
    edges = [stitch.Edge(**e) for e in d["edges"]]
    inp = next(e for e in edges if e.producer is None)
    out = next(e for e in edges if e.consumer is None)
    return harness.HarnessSpec(
        top=d["top"],
        sources=tuple(rtl_dir / s for s in d["sources"]),
        control=(rtl_dir / "finn_rtllib_waivers.vlt",),
        defines=(d["taps_define"],),
        s_axis=("s_axis_0", inp.width),
        m_axis=("m_axis_0", out.width),
        taps=tuple((f"tap_{e.wire}", e.width) for e in edges),
        counters=tuple((f"{f}_maxcount", 32) for f in d["fifos"]),
    )


def _io_nodes(model):
    from qonnx.custom_op.registry import getCustomOp

    first = next(n for n in model.graph.node if model.graph.input[0].name in n.input)
    last = next(n for n in model.graph.node if model.graph.output[0].name in n.output)
    return getCustomOp(first), getCustomOp(last)


def input_beats(model, x: np.ndarray) -> list[int]:
    """Images in the dataflow graph's input layout -> s_axis_0 beats (FINN's packing)."""
    first, _ = _io_nodes(model)
    ind = list(first.onnx_node.input).index(model.graph.input[0].name)
    return nodesim.to_beats(first, ind, x)


def outputs_from_beats(model, beats: list[int], frames: int) -> np.ndarray:
    _, last = _io_nodes(model)
    o = list(last.onnx_node.output).index(model.graph.output[0].name)
    return nodesim.from_beats(last, o, beats, frames).reshape(frames, -1)


def output_beats_per_frame(model) -> int:
    _, last = _io_nodes(model)
    return nodesim.beats_per_frame(last.get_folded_output_shape(0))


def simulate(model, rtl_dir: Path, x: np.ndarray, stall_out: float = 0.0, stall_in: float = 0.0, seed: int = 1,
             waves: bool = False, record_taps: bool = False, work_dir: Path | None = None,
             max_idle_cycles: int | None = None):
    """Stream N images (dataflow layout) back to back through the stitched design."""
    spec = harness_spec(rtl_dir)
    exe = harness.build(spec, waves=waves)
    d = _load(rtl_dir)
    frames = len(x)
    per = output_beats_per_frame(model)
    idle = max_idle_cycles or _idle_bound(model)
    t0 = time.perf_counter()
    result = harness.run(exe, input_beats(model, x), frames, per, stall_in=stall_in, stall_out=stall_out, seed=seed,
                         max_idle_cycles=idle, record_taps=record_taps, waves=waves, work_dir=work_dir,
                         data_files=tuple(Path(rtl_dir) / f for f in d["data_files"]))
    wall = time.perf_counter() - t0
    latency = result.cycles[per - 1] - result.first_in if result.cycles and result.first_in is not None else 0
    fifo_max = {name[: -len("_maxcount")]: v for name, v in result.counters.items()}
    run = NetworkRun(outputs_from_beats(model, result.beats, frames), result.cycles_per_frame(), latency,
                     result.total_cycles, wall, fifo_max)
    return run, result


def _idle_bound(model) -> int:
    """No beat moving for this long is a deadlock: well above any layer's per-frame work."""
    from qonnx.custom_op.registry import getCustomOp

    worst = max(registry.exp_cycles(getCustomOp(n)) for n in model.graph.node)
    return 4 * worst + 10_000


def first_divergence(model, result, x_image: np.ndarray, rtl_dir: Path) -> str | None:
    """The first stream (in graph order) whose recorded beats differ from FINN's Python
    execution for one image, described with the layer that produced it."""
    from qonnx.custom_op.registry import getCustomOp

    d = _load(rtl_dir)
    ref = reference.edge_values(model, x_image[None])[0]
    nodes = {n.name: n for n in model.graph.node}
    order = {n.name: i for i, n in enumerate(model.graph.node)}
    edges = sorted((stitch.Edge(**e) for e in d["edges"]),
                   key=lambda e: -1 if e.producer is None else order[e.producer])
    for e in edges:
        got = result.taps.get(f"tap_{e.wire}", [])
        if e.producer is None:
            inst = getCustomOp(nodes[e.consumer])
            want = nodesim.to_beats(inst, list(nodes[e.consumer].input).index(e.tensor), ref[e.tensor])
        else:
            inst = getCustomOp(nodes[e.producer])
            o = list(nodes[e.producer].output).index(e.tensor)
            want = nodesim.output_beats(inst, o, ref[e.tensor])
        if got != want:
            k = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
            return (f"stream {e.tensor} ({e.producer or 'accelerator input'} -> {e.consumer or 'accelerator output'}) "
                    f"differs first at beat {k} of {len(want)}: got {got[k]:#x} expected {want[k]:#x}"
                    if k < min(len(got), len(want)) else
                    f"stream {e.tensor} ({e.producer} -> {e.consumer}): {len(got)} beats, expected {len(want)}")
    return None
