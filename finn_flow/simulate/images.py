"""The inputs a command streams through a build, and what they are compared with.

One place decides, for `sim network`, `sim driver` and the checks around them:
- ``--run RUN_DIR``: the run's test images and its golden model (the run must be the one the
  build was made from: same model file contents);
- ``--input X.npy``: the user's inputs, checked against the accelerator's input shape and
  datatype, compared with FINN's Python execution of the build's graph;
- neither: the test set of the run the build's model was exported from, if there is one;
  else the build's golden test vectors; else random inputs on the input grid, compared with
  FINN's Python execution.
Every input, whatever its source, goes through ``check_input``.
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import numpy as np

from bnnforge.errors import UserError
from bnnforge.finn_flow.flow.layout import BuildLayout
from bnnforge.finn_flow.simulate import reference
from bnnforge.finn_flow.simulate.streams import to_dataflow_layout

FINN_REFERENCE = "FINN's Python execution of the build's graph"


@dataclasses.dataclass
class Images:
    x: np.ndarray  # (N, C, H, W) images or (N, features), integers on the input grid (float32)
    want: np.ndarray  # expected outputs (N, outputs)
    source: str  # where the inputs come from
    reference: str  # what the outputs are compared with


def expected_input(model) -> tuple[tuple[int, ...], object]:
    """(per-image shape the user gives: (C, H, W) for images, (features,) else; datatype)."""
    name = model.graph.input[0].name
    shape = model.get_tensor_shape(name)
    per = (shape[3], shape[1], shape[2]) if len(shape) == 4 else tuple(shape[1:])
    return per, model.get_tensor_datatype(name)


def check_input(model, x, source: str) -> np.ndarray:
    """``x`` as float32 integers on the accelerator's input grid, or a UserError naming
    ``source`` and what the accelerator takes."""
    per, dt = expected_input(model)
    x = np.asarray(x)
    want = f"(N, {', '.join(map(str, per))})"
    if x.ndim < 2 or len(x) < 1:
        raise UserError(f"{source}: inputs of shape {x.shape}; the accelerator takes {want}")
    if tuple(x.shape[1:]) != per and not (len(per) == 1 and int(np.prod(x.shape[1:])) == per[0]):
        raise UserError(f"{source}: inputs of shape {tuple(x.shape)}; the accelerator takes {want}")
    if x.dtype.kind not in "iuf" or (x.dtype.kind == "f" and not np.all(np.isfinite(x))):
        raise UserError(f"{source}: inputs must be finite numbers (dtype {x.dtype})")
    lo, hi = int(dt.min()), int(dt.max())
    if not np.array_equal(x, np.round(x)) or x.min() < lo or x.max() > hi:
        raise UserError(f"{source}: inputs must be integers in [{lo}, {hi}] (the accelerator's {dt.name} input), "
                        f"got values in [{x.min():g}, {x.max():g}]"
                        + (" that are not all integers" if not np.array_equal(x, np.round(x)) else ""))
    return x.astype(np.float32)


def finn_outputs(model, x: np.ndarray) -> np.ndarray:
    """FINN's Python execution of the build's graph on images ``x``: (N, outputs)."""
    x_df = to_dataflow_layout(x, model.get_tensor_shape(model.graph.input[0].name))
    out = model.graph.output[0].name
    return np.stack([e[out].reshape(-1) for e in reference.edge_values(model, x_df)])


def _run_images(build_dir: Path, run_dir: Path, images: int):
    from bnnforge.model import golden
    from bnnforge.model.data import load_dataset
    from bnnforge.model.run import load_model

    built_from = BuildLayout(build_dir).read_config().get("model_sha256")
    onnx = Path(run_dir) / "model.onnx"
    if not onnx.exists():
        raise UserError(f"--run {run_dir}: no model.onnx there (run `bnnforge export {run_dir}` first)")
    if hashlib.sha256(onnx.read_bytes()).hexdigest() != built_from:
        raise UserError(f"--run {run_dir}: its model.onnx is not the model {build_dir} was built from "
                        f"({BuildLayout(build_dir).read_config().get('model')}); give the run the build was made from")
    net_model, _, train_cfg = load_model(Path(run_dir))
    ds = load_dataset(train_cfg.dataset, train_cfg.data_dir, train_cfg.image_size, train_cfg.channels)
    x = ds.x_test[:images].numpy()
    net = net_model.to_integer()
    want = golden.forward(net, x)[net.layers[-1].name].reshape(len(x), -1)
    return x, want, f"{len(x)} {train_cfg.dataset} test image(s) of {run_dir}", f"the golden model of {run_dir}"


def _default_run(build_dir: Path) -> Path | None:
    """The run the build's model was exported from, if it is still there."""
    model = BuildLayout(build_dir).read_config().get("model")
    run = Path(model).parent if model else None
    return run if run is not None and (run / "config.json").exists() and (run / "checkpoint.pt").exists() else None


def load_images(build_dir: Path, model, run_dir: Path | None, input_path: Path | None, images: int) -> Images:
    """The inputs and their reference (see the module docstring)."""
    if images < 1:
        raise UserError(f"--images {images}: must be at least 1")
    if run_dir is not None and input_path is not None:
        raise UserError("give --run or --input, not both")
    if input_path is not None:
        try:
            raw = np.load(input_path, allow_pickle=False)
        except (OSError, ValueError) as e:
            raise UserError(f"--input {input_path}: not a readable .npy array ({e})") from None
        x = check_input(model, raw[:images], f"--input {input_path}")
        return Images(x, finn_outputs(model, x), f"{len(x)} input(s) of {input_path}", FINN_REFERENCE)
    run_dir = run_dir or _default_run(build_dir)
    if run_dir is not None:
        x, want, source, ref = _run_images(build_dir, run_dir, images)
        return Images(check_input(model, x, source), want, source, ref)
    vectors = BuildLayout(build_dir).read_config().get("vectors")
    if vectors and Path(vectors).exists():
        vec = np.load(vectors)
        x = check_input(model, vec["input"][:images], str(vectors))
        want = vec[f"golden/{list(vec['layers'])[-1]}"][:images].reshape(len(x), -1)
        return Images(x, want, f"{len(x)} golden test vector(s) of {vectors}", "the golden model (test vectors)")
    x_df, source = reference.build_inputs(build_dir, model, images)
    shape = model.get_tensor_shape(model.graph.input[0].name)
    x = x_df.transpose(0, 3, 1, 2) if len(shape) == 4 else x_df
    return Images(x, finn_outputs(model, x), source, FINN_REFERENCE)
