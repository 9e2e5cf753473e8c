"""`bnnforge verify MODEL.onnx`: a model without a run folder (e.g. a Brevitas BNN-PYNQ
export), checked through every implementation.

- qonnx: the user's graph executed by qonnx (float), the reference for the top-1 class;
- finn: FINN's Python execution of the build's hardware graph, the reference for every
  integer stage (each hardware node's output);
- rtl: every node of the build on its generated RTL (Verilator, random stalls on both
  stream sides), fed with what it receives in the finn column;
- network-rtl: the whole accelerator's RTL with the inputs back to back, random output
  stalls, every node's output stream recorded.

The build lives next to the model (MODEL_verify_build/, rebuilt when the model is newer).
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
from pathlib import Path

import numpy as np

from bnnforge.model.verify import Cell

MODEL_COLUMNS = ("finn", "rtl", "network-rtl")
VERIFY_FPS = (5000, 1000)  # folding targets tried in turn (fast to simulate, fits PYNQ-Z2)


@dataclasses.dataclass
class ModelReport:
    nodes: list[str]
    shapes: dict[str, tuple]
    columns: list[str]
    cells: dict[tuple[str, str], Cell]
    labels: dict[str, np.ndarray]  # "qonnx" and every column
    source: str
    first_mismatch: dict[str, str]

    @property
    def ok(self) -> bool:
        return (all(np.array_equal(v, self.labels["qonnx"]) for v in self.labels.values())
                and all(c.ok for c in self.cells.values()))

    def table(self) -> str:
        from bnnforge.model.verify import layer_table, verdict_lines

        lines = layer_table("node", self.nodes, self.shapes, self.columns,
                            lambda node, c: "reference" if c == "finn" else str(self.cells.get((node, c), "-")))
        n = len(self.labels["qonnx"])
        lines += ["", f"top-1 class ({self.source}):"]
        for col, lab in self.labels.items():
            if col != "qonnx":
                lines.append(f"  {col:<14} agrees with qonnx execution of the model on {int((lab == self.labels['qonnx']).sum())}/{n}")
        return "\n".join(lines + verdict_lines(self.first_mismatch, self.ok))


def verify_build(onnx_path: Path, out: Path, until: str, log=lambda *_: None) -> Path:
    """``out`` built from ``onnx_path`` through stage ``until`` for PYNQ-Z2 (kept while newer
    than the model and at least that far), FINN's minimum FIFO depths (bit-exactness does
    not depend on them)."""
    from bnnforge.finn_flow import STAGES
    from bnnforge.finn_flow.boards import load_board
    from bnnforge.finn_flow.build import BuildError, BuildOptions, build

    stamp = out / "verify_stage.json"
    if stamp.exists() and stamp.stat().st_mtime >= Path(onnx_path).stat().st_mtime:
        if STAGES.index(json.loads(stamp.read_text())["stage"]) >= STAGES.index(until):
            return out
    error = None
    for fps in VERIFY_FPS:
        try:
            build(BuildOptions(model=Path(onnx_path), board=load_board("pynq-z2"), out=out, target_fps=fps,
                               until=until, fifo_sizing="minimal"), log=lambda *_: None)
            stamp.write_text(json.dumps({"stage": until}) + "\n")
            return out
        except BuildError as e:
            error = e
            log(f"  build for {fps} fps failed ({e}); trying the next target")
    raise error


def model_inputs(onnx_path: Path, input_path: Path | None, samples: int) -> tuple[np.ndarray, str]:
    """(inputs on the model's input grid (N, ...), description)."""
    from bnnforge.finn_flow import qonnx_import

    if input_path is None:
        return qonnx_import.random_inputs(onnx_path, samples), f"{samples} random inputs on the model's input grid"
    x = np.load(input_path, allow_pickle=False)[:samples]
    from qonnx.core.modelwrapper import ModelWrapper

    shape, lo, hi = qonnx_import.input_grid(ModelWrapper(str(onnx_path)))
    if int(np.prod(x.shape[1:])) != int(np.prod(shape[1:])):
        raise ValueError(f"{input_path}: inputs of shape {x.shape[1:]} do not fit the model's input {tuple(shape[1:])}")
    if x.min() < lo or x.max() > hi or not np.array_equal(x, np.round(x)):
        raise ValueError(f"{input_path}: inputs must be integers in [{lo}, {hi}] (the accelerator's input grid; "
                         "a float-input model sees them divided by 255)")
    return x.astype(np.float32), f"{len(x)} inputs of {input_path}"


def _labels(y: np.ndarray) -> np.ndarray:
    """Class per frame from a graph output: a TopK index (one value) or logits."""
    y = y.reshape(len(y), -1)
    return y[:, 0].astype(np.int64) if y.shape[1] == 1 else y.argmax(1)


def _compare(cells, first, node: str, col: str, got: np.ndarray, want: np.ndarray) -> None:
    got, want = np.asarray(got).reshape(want.shape), np.asarray(want)
    eq = got == want
    cells[(node, col)] = Cell(int(eq.sum()), eq.size)
    if not eq.all() and col not in first:
        idx = tuple(int(i) for i in np.argwhere(~eq)[0])
        first[col] = f"{node}{list(idx)}: got {got[idx]:g}, FINN Python execution {want[idx]:g}"


def verify_model(onnx_path: Path, input_path: Path | None = None, samples: int = 8,
                 columns=MODEL_COLUMNS, log=print) -> ModelReport:
    import bnnforge.finn_flow.ops  # noqa: F401
    from qonnx.custom_op.registry import getCustomOp

    from bnnforge.finn_flow import layer_sim, netsim, nodesim, qonnx_import, reference, stitch

    onnx_path = Path(onnx_path)
    if not onnx_path.exists():
        raise FileNotFoundError(f"model file {onnx_path} not found")
    bad = [c for c in columns if c not in MODEL_COLUMNS]
    if bad:
        raise ValueError(f"column(s) {bad} do not apply to a model file; allowed: {', '.join(MODEL_COLUMNS)}")
    x, source = model_inputs(onnx_path, input_path, samples)
    ref, scale = qonnx_import.user_reference(onnx_path)
    labels = {"qonnx": qonnx_import.user_outputs(ref, scale, x).argmax(1)}

    until = "rtl" if "network-rtl" in columns else "codegen" if "rtl" in columns else "estimate"
    build_dir = onnx_path.with_name(f"{onnx_path.stem}_verify_build")
    log(f"building {onnx_path} through the {until} stage into {build_dir}")
    verify_build(onnx_path, build_dir, until, log)
    model, _ = reference.latest_model(build_dir)
    x_df = reference.to_dataflow_layout(x, model.get_tensor_shape(model.graph.input[0].name))
    edges = reference.edge_values(model, x_df)
    compute = [n for n in model.graph.node if not n.op_type.startswith(("StreamingFIFO", "StreamingDataWidthConverter"))]
    want = {n.name: np.concatenate([e[n.output[0]] for e in edges]) for n in compute}
    cells, first = {}, {}
    out_name = model.graph.output[0].name
    if "finn" in columns:
        labels["finn"] = _labels(np.concatenate([e[out_name] for e in edges]))
    if "rtl" in columns:
        with tempfile.TemporaryDirectory(prefix="bnnforge-verify-") as work:
            for i, n in enumerate(compute):
                log(f"  rtl: {n.name} ({i + 1}/{len(compute)})")
                run = layer_sim.simulate_node(model, n, edges, stall=0.2, work_dir=Path(work) / n.name)
                _compare(cells, first, n.name, "rtl", run.outputs[0], want[n.name])
                if n is compute[-1]:  # the class (or logits) the accelerator outputs
                    labels["rtl"] = _labels(run.outputs[0])
    if "network-rtl" in columns:
        log(f"  network-rtl: {len(x)} inputs through {build_dir}/rtl/")
        run, result = netsim.simulate(model, build_dir / "rtl", x_df, stall_out=0.2, record_taps=True)
        design = json.loads((build_dir / "rtl" / stitch.DESIGN_JSON).read_text())
        nodes = {n.name: n for n in model.graph.node}
        for e in (stitch.Edge(**d) for d in design["edges"]):
            if e.producer in want and e.tensor == nodes[e.producer].output[0] and f"tap_{e.wire}" in result.taps:
                y = nodesim.from_beats(getCustomOp(nodes[e.producer]), 0, result.taps[f"tap_{e.wire}"], len(x))
                _compare(cells, first, e.producer, "network-rtl", y, want[e.producer])
        labels["network-rtl"] = _labels(run.outputs)
        _compare(cells, first, compute[-1].name, "network-rtl", run.outputs, want[compute[-1].name])
    shapes = {n: w.shape for n, w in want.items()}
    return ModelReport([n.name for n in compute], shapes, [c for c in MODEL_COLUMNS if c in columns], cells,
                       labels, source, first)
