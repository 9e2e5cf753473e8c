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

from bnnforge.finn_flow import registry

BUILD_CONFIG = "build_config.json"


def abstract_model(model):
    """A copy of ``model`` whose hardware nodes are their abstract FINN ops."""
    model = copy.deepcopy(model)
    for node in model.graph.node:
        if node.domain.startswith(registry.FINN_DOMAIN):
            node.op_type = registry.abstract_op(node.op_type)
            node.domain = registry.FINN_DOMAIN
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


def latest_model(build_dir: Path):
    """The build's newest graph (intermediate_models/NN_step.onnx) and its path."""
    from qonnx.core.modelwrapper import ModelWrapper

    models = sorted(Path(build_dir, "intermediate_models").glob("[0-9][0-9]_*.onnx"))
    if not models:
        raise FileNotFoundError(f"{build_dir} has no intermediate_models/: is it a `bnnforge build` folder?")
    partitioned = [m for m in models if int(m.name[:2]) >= _step_index("dataflow_partition")]
    if not partitioned:
        raise FileNotFoundError(f"{build_dir}: the build has not reached its dataflow partition step yet")
    return ModelWrapper(str(partitioned[-1])), partitioned[-1]


def _step_index(step: str) -> int:
    from bnnforge.finn_flow.build import STEP_NAMES

    return STEP_NAMES.index(step)


def build_inputs(build_dir: Path, model, images: int) -> tuple[np.ndarray, str]:
    """Accelerator inputs (in the dataflow graph's layout) for the build's golden test
    vectors, or random inputs on the input's grid when the build has none; and a
    description of where they came from."""
    import json

    from qonnx.core.datatype import DataType

    cfg_path = Path(build_dir, BUILD_CONFIG)
    cfg = json.loads(cfg_path.read_text()) if cfg_path.exists() else {}
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


def to_dataflow_layout(x: np.ndarray, shape) -> np.ndarray:
    """NCHW images -> the dataflow graph's input layout (NHWC for image inputs, the parent
    graph's only node before the partition being that Transpose; flat inputs unchanged)."""
    x = np.asarray(x, np.float32)
    if x.ndim == 4 and len(shape) == 4 and tuple(x.shape[1:]) != tuple(shape[1:]):
        x = x.transpose(0, 2, 3, 1)
    return x.reshape(len(x), *shape[1:])
