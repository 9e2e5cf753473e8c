"""`bnnforge verify`: run test images through every implementation and compare each
layer's integer output with the golden model, exactly.

A column is one implementation (Brevitas eval, QONNX execution, FINN Python
execution, HLS C simulation, RTL simulation). Each produces {layer name: outputs}
for some or all layers; cells it does not cover are shown as "-".
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable

import numpy as np

from bnnforge.model import golden
from bnnforge.model.integer import IntegerNet

# A column function gets (run context, images) and returns {layer name: array (N, ...)}.
ColumnFn = Callable[["VerifyContext", np.ndarray], dict[str, np.ndarray]]


@dataclasses.dataclass
class VerifyContext:
    run_dir: Path
    model: object  # BNN in eval mode
    net: IntegerNet
    onnx_path: Path


@dataclasses.dataclass
class Cell:
    matches: int
    total: int

    @property
    def ok(self) -> bool:
        return self.matches == self.total

    def __str__(self):
        return f"{self.matches}/{self.total}" + ("" if self.ok else " MISMATCH")


@dataclasses.dataclass
class Report:
    layers: list[str]
    shapes: dict[str, tuple]
    columns: list[str]
    cells: dict[tuple[str, str], Cell]
    labels: dict[str, np.ndarray]  # predicted labels per column (+ "golden")
    true_labels: np.ndarray
    first_mismatch: dict[str, str]

    @property
    def ok(self) -> bool:
        label_ok = all(np.array_equal(v, self.labels["golden"]) for v in self.labels.values())
        return label_ok and all(c.ok for c in self.cells.values())

    def table(self) -> str:
        lines = layer_table("layer", self.layers, self.shapes, self.columns,
                            lambda layer, c: str(self.cells.get((layer, c), "-")))
        n = len(self.true_labels)
        lines.append("")
        g = self.labels["golden"]
        lines.append(f"labels (golden accuracy {int((g == self.true_labels).sum())}/{n}):")
        for col, lab in self.labels.items():
            if col != "golden":
                lines.append(f"  {col:<14} agrees with golden on {int((lab == g).sum())}/{n}")
        return "\n".join(lines + verdict_lines(self.first_mismatch, self.ok))


def layer_table(first: str, names, shapes: dict, columns, cell) -> list[str]:
    """The per-layer grid of a verify report: name, shape, then ``cell(name, column)`` per column."""
    widths = [max(len(first), *map(len, names)), 16] + [max(14, len(c)) for c in columns]
    lines = ["  ".join(h.ljust(w) for h, w in zip([first, "shape", *columns], widths)),
             "  ".join("-" * w for w in widths)]
    for name in names:
        row = [name, "x".join(map(str, shapes[name][1:])) or "-", *(cell(name, c) for c in columns)]
        lines.append("  ".join(v.ljust(w) for v, w in zip(row, widths)))
    return lines


def verdict_lines(first_mismatch: dict, ok: bool) -> list[str]:
    return [f"first mismatch in {col}: {where}" for col, where in first_mismatch.items()] + [
        "verify: BIT-EXACT" if ok else "verify: MISMATCH"]


def compare(net: IntegerNet, images: np.ndarray, true_labels: np.ndarray, columns: dict[str, ColumnFn], ctx) -> Report:
    ref = golden.forward(net, images)
    names = list(ref)  # every layer's output, and the inner tensors of residual blocks
    cells, labels, first = {}, {"golden": ref[names[-1]].argmax(1)}, {}
    for col, fn in columns.items():
        outputs = fn(ctx, images)
        for name in names:
            if name not in outputs:
                continue
            got, want = np.asarray(outputs[name]), ref[name]
            if got.shape != want.shape:
                cells[(name, col)] = Cell(0, want.size)
                first.setdefault(col, f"{name}: shape {got.shape} != golden {want.shape}")
                continue
            eq = got == want
            cells[(name, col)] = Cell(int(eq.sum()), eq.size)
            if not eq.all() and col not in first:
                idx = tuple(int(i) for i in np.argwhere(~eq)[0])
                first[col] = f"{name}{list(idx)}: got {got[idx]}, golden {want[idx]}"
        if names[-1] in outputs:
            labels[col] = np.asarray(outputs[names[-1]]).argmax(1)
    return Report(names, {k: v.shape for k, v in ref.items()}, list(columns), cells, labels, true_labels, first)


def torch_column(ctx: VerifyContext, images: np.ndarray) -> dict[str, np.ndarray]:
    """The trained Brevitas model in eval mode (its integer forward), layer by layer."""
    import torch

    with torch.no_grad():
        outputs = ctx.model.to_integer().torch_forward(torch.from_numpy(images).float(), keep_all=True)
    return {k: v.numpy() for k, v in outputs.items()}


def qonnx_column(ctx: VerifyContext, images: np.ndarray) -> dict[str, np.ndarray]:
    """The exported QONNX graph executed with qonnx (layer outputs are named after layers)."""
    from qonnx.core.modelwrapper import ModelWrapper

    from bnnforge.model.export import execute_qonnx

    return execute_qonnx(ModelWrapper(str(ctx.onnx_path)), images)


BASE_COLUMNS: dict[str, ColumnFn] = {"brevitas": torch_column, "qonnx": qonnx_column}


def verify_run(run_dir: Path, samples: int = 16, extra_columns: dict[str, ColumnFn] | None = None) -> Report:
    """Compare every implementation with the golden model on the first ``samples`` test images."""
    from bnnforge.model.data import load_dataset
    from bnnforge.model.export import export_run
    from bnnforge.model.run import load_model

    run_dir = Path(run_dir)
    model, _, train_cfg = load_model(run_dir)
    onnx_path = run_dir / "model.onnx"
    if not onnx_path.exists():
        export_run(run_dir)
    ds = load_dataset(train_cfg.dataset, train_cfg.data_dir, train_cfg.image_size, train_cfg.channels)
    images, labels = ds.x_test[:samples].numpy(), ds.y_test[:samples].numpy()
    ctx = VerifyContext(run_dir, model, model.to_integer(), onnx_path)
    columns = {**BASE_COLUMNS, **(extra_columns or {})}
    return compare(ctx.net, images, labels, columns, ctx)
