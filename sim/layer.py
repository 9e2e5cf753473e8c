"""`bnnforge sim layer`: run one custom layer on a backend and compare with the golden model.

Backends: ``hls`` (C simulation of hls/*.hpp with g++) and ``rtl`` (sim/rtl/*.sv under
Verilator + cocotb). Same contract for both: int8 +-1 output, NCHW.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from bnnforge.finn_flow.layer_params import DynThreshParams, LabParams, ParamError
from bnnforge.model import golden

LAYERS = ("lab", "dynthresh")
BACKENDS = ("hls", "rtl")


@dataclasses.dataclass
class LayerRun:
    output: np.ndarray  # int8 +-1, NCHW
    expected: np.ndarray
    cycles_per_frame: float | None = None  # rtl only
    ideal_cycles: int | None = None
    waves: Path | None = None

    @property
    def mismatch(self) -> tuple[int, int, int, int] | None:
        bad = np.argwhere(self.output != self.expected)
        return tuple(int(i) for i in bad[0]) if len(bad) else None


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


def run_layer(layer: str, backend: str, params: Path, x: np.ndarray, pe: int = 1, stall: float = 0.0,
              waves: bool = False, work_dir: Path | None = None) -> LayerRun:
    if layer not in LAYERS:
        raise ParamError(f"unknown layer {layer!r}; allowed: {', '.join(LAYERS)}")
    if backend not in BACKENDS:
        raise ParamError(f"unknown backend {backend!r}; allowed: {', '.join(BACKENDS)}")
    if layer == "lab":
        p = LabParams.from_npz(params, x.shape[2], x.shape[3], pe)
        x = p.check_input(x)
        expected = golden.lab_binarizer(x, p.weights, p.thresholds)
        if backend == "hls":
            from bnnforge.finn_flow import csim

            return LayerRun(csim.run_lab(p, x), expected)
        from bnnforge.sim import runner

        r = runner.run_lab(p, x, stall=stall, waves=waves, work_dir=work_dir)
    else:
        p, thresholds = DynThreshParams.from_npz(params, x, pe)
        x, thresholds = p.check(x, thresholds)
        expected = golden.dynamic_threshold(x, thresholds)
        if backend == "hls":
            from bnnforge.finn_flow import csim

            return LayerRun(csim.run_dynthresh(p, x, thresholds), expected)
        from bnnforge.sim import runner

        r = runner.run_dynthresh(p, x, thresholds, stall=stall, waves=waves, work_dir=work_dir)
    return LayerRun(r.output, expected, r.cycles_per_frame, r.ideal_cycles, r.waves)
