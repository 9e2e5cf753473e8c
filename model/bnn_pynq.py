"""Brevitas' BNN-PYNQ example models (brevitas_examples.bnn_pynq), exported with
Brevitas' own `export_qonnx`: the files every FINN user starts from, made here without
a download (random, seeded parameters), for tests and benchmarks of `bnnforge build`'s
QONNX import.
"""

from __future__ import annotations

from pathlib import Path

# the configurations brevitas_examples ships (cfg/*.ini)
NAMES = ("tfc_1w1a", "tfc_1w2a", "tfc_2w2a", "sfc_1w1a", "sfc_1w2a", "sfc_2w2a", "lfc_1w1a", "lfc_1w2a",
         "cnv_1w1a", "cnv_1w2a", "cnv_2w2a")


def input_shape(name: str) -> tuple[int, ...]:
    """MNIST 28x28 for the fully connected models, CIFAR-10 32x32x3 for cnv."""
    return (1, 3, 32, 32) if name.startswith("cnv") else (1, 1, 28, 28)


def export(name: str, path: Path, seed: int = 0) -> Path:
    """``name`` with random parameters (seed), batch-norm statistics drawn so the
    thresholds are not all at zero, exported to ``path`` by brevitas.export.export_qonnx."""
    import torch
    from brevitas.export import export_qonnx
    from brevitas_examples.bnn_pynq.models import model_with_cfg

    if name not in NAMES:
        raise ValueError(f"unknown BNN-PYNQ model {name!r}; allowed: {', '.join(NAMES)}")
    torch.manual_seed(seed)
    model, _ = model_with_cfg(name, pretrained=False)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                # positive scales (as trained BNNs nearly always have), offsets around the
                # popcount range of a few units
                m.running_mean.uniform_(-4.0, 4.0)
                m.running_var.uniform_(1.0, 4.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
    model.eval()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    export_qonnx(model, torch.randn(input_shape(name)), str(path))
    return path
