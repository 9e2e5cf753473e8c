"""`bnnforge verify MODEL.onnx`: a model without a run folder (e.g. a Brevitas BNN-PYNQ
export), checked through every implementation.

- qonnx: the user's graph executed by qonnx (float), the reference for the top-1 class;
- finn: FINN's Python execution of the build's hardware graph, the reference for every
  integer stage (each hardware node's output);
- rtl: every node of the build on its generated RTL (Verilator, random stalls on both
  stream sides), fed with what it receives in the finn column;
- network-rtl: the whole accelerator's RTL with the inputs back to back, random output
  stalls, every node's output stream recorded.

The build lives next to the model (MODEL_verify_build/, rebuilt when the model changed:
verify/build.py).
"""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path

import numpy as np

from bnnforge.errors import UserError
from bnnforge.finn_flow import registry
from bnnforge.finn_flow.simulate.streams import labels_from_output
from bnnforge.finn_flow.verify.build import verify_build
from bnnforge.model.verify import Cell

MODEL_COLUMNS = ("finn", "rtl", "network-rtl")


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


def model_inputs(onnx_path: Path, input_path: Path | None, samples: int) -> tuple[np.ndarray, str]:
    """(inputs on the model's input grid (N, ...), description)."""
    from bnnforge.finn_flow.flow import qonnx_import

    if input_path is None:
        return qonnx_import.random_inputs(onnx_path, samples), f"{samples} random inputs on the model's input grid"
    x = np.load(input_path, allow_pickle=False)[:samples]
    from qonnx.core.modelwrapper import ModelWrapper

    shape, lo, hi = qonnx_import.input_grid(ModelWrapper(str(onnx_path)))
    if int(np.prod(x.shape[1:])) != int(np.prod(shape[1:])):
        raise UserError(f"{input_path}: inputs of shape {x.shape[1:]} do not fit the model's input {tuple(shape[1:])}")
    if x.min() < lo or x.max() > hi or not np.array_equal(x, np.round(x)):
        raise UserError(f"{input_path}: inputs must be integers in [{lo}, {hi}] (the accelerator's input grid; "
                         "a float-input model sees them divided by 255)")
    return x.astype(np.float32), f"{len(x)} inputs of {input_path}"


def _compare(cells, first, node: str, col: str, got: np.ndarray, want: np.ndarray) -> None:
    got, want = np.asarray(got).reshape(want.shape), np.asarray(want)
    eq = got == want
    cells[(node, col)] = Cell(int(eq.sum()), eq.size)
    if not eq.all() and col not in first:
        idx = tuple(int(i) for i in np.argwhere(~eq)[0])
        first[col] = f"{node}{list(idx)}: got {got[idx]:g}, FINN Python execution {want[idx]:g}"


@dataclasses.dataclass
class _Columns:
    """What every column of a model verification compares against (FINN's Python execution)."""

    model: object  # the build's graph
    x: np.ndarray  # inputs in the dataflow layout
    edges: list  # FINN's Python execution: every tensor, per input
    compute: list  # the nodes that compute (no FIFOs or width converters)
    want: dict  # node -> its output over all inputs
    cells: dict = dataclasses.field(default_factory=dict)
    first: dict = dataclasses.field(default_factory=dict)


def _rtl_column(c: _Columns, log) -> np.ndarray:
    """Every node on its generated RTL (random stalls), fed with what it receives."""
    from bnnforge.finn_flow.simulate.layer import simulate_node

    with tempfile.TemporaryDirectory(prefix="bnnforge-verify-") as work:
        for i, n in enumerate(c.compute):
            log(f"  rtl: {n.name} ({i + 1}/{len(c.compute)})")
            run = simulate_node(c.model, n, c.edges, stall=0.2, work_dir=Path(work) / n.name)
            _compare(c.cells, c.first, n.name, "rtl", run.outputs[0], c.want[n.name])
    return labels_from_output(run.outputs[0])  # the class (or logits) the accelerator outputs


def _network_rtl_column(c: _Columns, rtl_dir: Path, log) -> np.ndarray:
    """The whole accelerator (random output stalls), every node's output stream recorded."""
    from qonnx.custom_op.registry import getCustomOp

    from bnnforge.finn_flow.rtl import network, stitch
    from bnnforge.finn_flow.simulate.streams import from_beats

    log(f"  network-rtl: {len(c.x)} inputs through {rtl_dir}/")
    run, result = network.simulate(c.model, rtl_dir, c.x, stall_out=0.2, record_taps=True)
    nodes = {n.name: n for n in c.model.graph.node}
    for e in stitch.design_edges(stitch.load_design(rtl_dir)):
        if e.producer in c.want and e.tensor == nodes[e.producer].output[0] and f"tap_{e.wire}" in result.taps:
            y = from_beats(getCustomOp(nodes[e.producer]), 0, result.taps[f"tap_{e.wire}"], len(c.x))
            _compare(c.cells, c.first, e.producer, "network-rtl", y, c.want[e.producer])
    last = c.compute[-1].name
    _compare(c.cells, c.first, last, "network-rtl", run.outputs, c.want[last])
    return labels_from_output(run.outputs)


def qonnx_outputs(onnx_path: Path, x: np.ndarray) -> np.ndarray:
    """The user's graph, executed by qonnx, on inputs of the accelerator's grid: (N, outputs)."""
    from bnnforge.finn_flow.flow import qonnx_import

    ref, scale = qonnx_import.user_reference(onnx_path)
    return qonnx_import.user_outputs(ref, scale, x)


def qonnx_labels(onnx_path: Path, x: np.ndarray) -> np.ndarray:
    """The top-1 class the user's graph picks: the reference of every column's labels."""
    return labels_from_output(qonnx_outputs(onnx_path, x))


def verify_model(onnx_path: Path, input_path: Path | None = None, samples: int = 8,
                 columns=MODEL_COLUMNS, log=print) -> ModelReport:
    from bnnforge.finn_flow.flow.layout import BuildLayout
    from bnnforge.finn_flow.simulate import reference
    from bnnforge.finn_flow.simulate.streams import to_dataflow_layout

    registry.load()
    from bnnforge.finn_flow.flow.build import load_model_file

    onnx_path = Path(onnx_path)
    load_model_file(onnx_path)  # missing, empty, truncated, not ONNX: named
    bad = [c for c in columns if c not in MODEL_COLUMNS]
    if bad:
        raise UserError(f"column(s) {bad} do not apply to a model file; allowed: {', '.join(MODEL_COLUMNS)}")
    x, source = model_inputs(onnx_path, input_path, samples)
    labels = {"qonnx": qonnx_labels(onnx_path, x)}
    until = "rtl" if "network-rtl" in columns else "codegen" if "rtl" in columns else "estimate"
    layout = BuildLayout(onnx_path.with_name(f"{onnx_path.stem}_verify_build"))
    log(f"building {onnx_path} through the {until} stage into {layout.root}")
    verify_build(onnx_path, layout.root, until, log)
    model, _ = reference.latest_model(layout.root, until)
    x_df = to_dataflow_layout(x, model.get_tensor_shape(model.graph.input[0].name))
    edges = reference.edge_values(model, x_df)
    compute = [n for n in model.graph.node if not registry.is_plumbing(n)]
    c = _Columns(model, x_df, edges, compute,
                 {n.name: np.concatenate([e[n.output[0]] for e in edges]) for n in compute})
    if "finn" in columns:
        labels["finn"] = labels_from_output(np.concatenate([e[model.graph.output[0].name] for e in edges]))
    if "rtl" in columns:
        labels["rtl"] = _rtl_column(c, log)
    if "network-rtl" in columns:
        labels["network-rtl"] = _network_rtl_column(c, layout.rtl, log)
    shapes = {n: w.shape for n, w in c.want.items()}
    return ModelReport([n.name for n in compute], shapes, [col for col in MODEL_COLUMNS if col in columns], c.cells,
                       labels, source, c.first)
