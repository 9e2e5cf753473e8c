"""FINN's Python execution as the reference for every node of a build.

After specialization most FINN classes (MVAU_hls, ...) no longer execute in Python, so
the reference runs an *abstract view* of the graph: every node turned back into its
abstract op (MVAU, LabBinarizer, StreamingDataWidthConverter, ...) with the same
attributes and parameters. The tensors it produces at every edge are what each node's
hardware must produce, exactly.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np

from bnnforge.errors import UserError
from bnnforge.finn_flow import FINN_DOMAIN, registry
from bnnforge.finn_flow.flow.layout import BuildLayout, step_index
from bnnforge.finn_flow.flow.state import require_stage
from bnnforge.finn_flow.simulate.streams import to_dataflow_layout


def abstract_model(model):
    """A copy of ``model`` whose hardware nodes are their abstract FINN ops."""
    model = copy.deepcopy(model)
    for node in model.graph.node:
        if registry.is_hw_node(node):
            node.op_type = registry.abstract_op(node.op_type)
            node.domain = FINN_DOMAIN
    return model


def edge_values(model, x: np.ndarray) -> list[dict[str, np.ndarray]]:
    """Every tensor of ``model`` (a dataflow graph, input in its own layout) for each image
    in ``x`` (N, *input shape[1:]), by FINN's Python execution of the abstract view."""
    from finn.core.onnx_exec import execute_onnx

    ref = abstract_model(model)
    name = ref.graph.input[0].name
    shape = ref.get_tensor_shape(name)
    out = []
    for image in np.asarray(x, np.float32):
        out.append(execute_onnx(ref, {name: image.reshape(shape)}, return_full_exec_context=True))
    return out


def latest_model(build_dir: Path, stage: str = "estimate"):
    """The newest graph (intermediate_models/NN_step.onnx) of a build whose ``stage``
    completed (flow/state.py: never a graph of an interrupted or older build), and its path."""
    from qonnx.core.modelwrapper import ModelWrapper

    registry.load()  # the graph holds bnnforge's ops
    completed = require_stage(build_dir, stage)["completed"]
    layout = BuildLayout(build_dir)
    models = [layout.model_after(s) for s in completed if step_index(s) >= step_index("dataflow_partition")]
    models = [m for m in models if m.exists()]
    if not models:
        raise UserError(f"{build_dir}: the build has not reached its dataflow partition step")
    return ModelWrapper(str(models[-1])), models[-1]


def build_inputs(build_dir: Path, model, images: int) -> tuple[np.ndarray, str]:
    """Accelerator inputs (in the dataflow graph's layout) for the build's golden test
    vectors, or random inputs on the input's grid when the build has none; and a
    description of where they came from."""
    from qonnx.core.datatype import DataType

    cfg = BuildLayout(build_dir).read_config()
    name = model.graph.input[0].name
    shape = model.get_tensor_shape(name)
    vectors = Path(cfg["vectors"]) if cfg.get("vectors") else None
    if vectors is not None and vectors.exists():
        x = np.load(vectors)["input"][:images]
        return to_dataflow_layout(x, shape), f"{len(x)} golden test vector(s) of {vectors.name}"
    dt = DataType[model.get_tensor_datatype(name).name]
    rng = np.random.default_rng(0)
    x = rng.integers(int(dt.min()), int(dt.max()) + 1, (images, *shape[1:]))
    return x.astype(np.float32), f"{images} random input(s) (the build has no test vectors)"
