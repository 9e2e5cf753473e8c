"""Helpers shared by bnnforge's custom FINN ops."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
from qonnx.core.datatype import DataType

from bnnforge import toolenv

# BRAM18 aspect ratios (width bits, depth) in simple dual-port mode (UG473)
BRAM18_SHAPES = ((36, 512), (18, 1024), (9, 2048), (4, 4096), (2, 8192), (1, 16384))
LUTRAM_DEPTH_LIMIT = 128  # shallower memories go to LUTRAM when ram_style is "auto"


def bram18_count(width_bits: int, depth: int) -> int:
    """BRAM18 blocks for a width x depth memory (best aspect ratio)."""
    if width_bits <= 0 or depth <= 0:
        return 0
    return min(math.ceil(width_bits / w) * math.ceil(depth / d) for w, d in BRAM18_SHAPES)


def lutram_luts(width_bits: int, depth: int) -> int:
    """LUTs for a width x depth LUTRAM (RAM64X1D-style: 64 entries per LUT pair)."""
    return math.ceil(depth / 64) * width_bits * 2 if depth > 0 else 0


def memory_cost(width_bits: int, depth: int, ram_style: str) -> tuple[int, int]:
    """(LUT, BRAM18) of one memory under FINN's ram_style convention."""
    if ram_style == "distributed" or (ram_style == "auto" and depth <= LUTRAM_DEPTH_LIMIT):
        return lutram_luts(width_bits, depth), 0
    return 0, bram18_count(width_bits, depth)


def copy_header(name: str, dest: str | Path) -> None:
    """Copy hls/<name> next to the generated top-level C++ (FINN's Tcl has no include-path hook)."""
    shutil.copy(toolenv.hls_dir() / name, Path(dest) / name)


def nhwc_to_nchw(x: np.ndarray) -> np.ndarray:
    return np.asarray(x).transpose(0, 3, 1, 2)


def nchw_to_nhwc(x: np.ndarray) -> np.ndarray:
    return np.asarray(x).transpose(0, 2, 3, 1)


def bipolar_as(y: np.ndarray, dtype_name: str) -> np.ndarray:
    """+-1 values in the node's output encoding (BINARY: 0/1, BIPOLAR: -1/+1) as float32."""
    if dtype_name == "BINARY":
        y = (np.asarray(y) + 1) // 2
    return np.asarray(y, dtype=np.float32)


def dt(name: str) -> DataType:
    return DataType[name]
