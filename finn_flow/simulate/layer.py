"""One layer or one node on its generated code: `bnnforge sim layer`, `bnnforge sim node`
and verify's simulation columns.

A layer is turned into a one-node FINN model of the requested backend class (registry),
its code generated exactly as in a build, and simulated (node.py); a build's node is
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

from bnnforge.finn_flow import registry
from bnnforge.finn_flow.ops.backends import nchw_to_nhwc, nhwc_to_nchw
from bnnforge.finn_flow.ops.params import ParamError
from bnnforge.finn_flow.simulate import node as nodesim
from bnnforge.finn_flow.simulate import reference


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
    cls = layer_of_params(params).backend_class(backend)
    model = params.to_model(cls.__name__)
    ins = [nchw_to_nhwc(x) if x.ndim == 4 else x.reshape(len(x), 1, 1, -1) for x in inputs_nchw]
    outputs, run = simulate_model(model, backend, ins, **kw)
    return nhwc_to_nchw(outputs[0]).astype(np.int8), run


def layer_of_params(params) -> "registry.Layer":
    """The registry entry of a parameter object's layer (its classes loaded)."""
    registry.load()
    return next(lay for lay in registry.custom_layers() if lay.params_class() is type(params))


def load_input(path: Path) -> np.ndarray:
    try:
        x = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise ParamError(f"input file {path} not found") from None
    except Exception as e:
        raise ParamError(f"{path}: not a readable .npy array ({e})") from e
    if x.ndim != 4:
        raise ParamError(f"{path}: input must be (N, C, H, W), got shape {x.shape}")
    return x


def run_layer(name: str, backend: str, params_path: Path, x: np.ndarray, pe: int = 1, stall=0.0,
              waves: bool = False, work_dir: Path | None = None) -> LayerRun:
    """`bnnforge sim layer NAME`: a custom layer from a parameter file, vs its golden function."""
    check_backend(backend)
    layers = registry.cli_layers()
    if name not in layers:
        raise ParamError(f"unknown layer {name!r}; allowed: {', '.join(layers)}")
    p, inputs = layers[name].params_class().load_case(params_path, x, pe)
    expected = p.golden(inputs)
    y, run = simulate_params(p, backend, inputs, stall=stall, waves=waves, work_dir=work_dir)
    if run is None:
        return LayerRun([y], [expected])
    return LayerRun([y], [expected], run.cycles_per_frame, run.exp_cycles, run.waves)


def run_node(build_dir: Path, node_name: str, images: int = 2, stall=0.0, waves: bool = False,
             work_dir: Path | None = None, seed: int = 1) -> LayerRun:
    """`bnnforge sim node BUILD NODE`: one node of a build, with its real parameters and
    folding, on its generated RTL, fed with what it receives for the build's test vectors,
    compared exactly with FINN's Python execution of that node."""
    registry.load()
    build_dir = Path(build_dir)
    model, _ = reference.latest_model(build_dir, "codegen")
    nodes = {n.name: n for n in model.graph.node}
    if node_name not in nodes:
        raise ParamError(f"{node_name!r} is not a node of {build_dir}; nodes: {', '.join(nodes)}")
    node = nodes[node_name]
    reason = registry.no_simulation(node)
    if reason:
        raise ParamError(reason)
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
    if work_dir is None and not waves:  # nothing of the run is kept: its scratch folder goes with it
        with tempfile.TemporaryDirectory(prefix=f"bnnforge-{node_name}-") as tmp:
            return simulate_node(model, node, edges, stall, waves, Path(tmp), seed, source)
    work = Path(work_dir or tempfile.mkdtemp(prefix=f"bnnforge-{node_name}-"))  # with waves: kept for them
    if not registry.is_rtl(node):
        nodesim.prepare(inst, model, "hls", work / "code")
        return LayerRun(nodesim.simulate_cpp(inst, inputs), expected, source=source)
    if not Path(inst.get_nodeattr("code_gen_dir_ipgen") or "/nonexistent").is_dir():
        nodesim.prepare(inst, model, "rtl", work / "code")
    run = nodesim.simulate_rtl(inst, inputs, stall=stall, seed=seed, waves=waves, work_dir=work / "sim")
    return LayerRun(run.outputs, expected, run.cycles_per_frame, run.exp_cycles, run.waves, source)
