"""C simulation of the custom layers' HLS C++ (hls/*.hpp), compiled with g++ and the
ap_types headers, outside FINN (FINN's own cppsim needs finn-hlslib).

The layer parameters are compiled into the binary (as in hardware); binaries are
cached by the hash of everything that goes into them.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from bnnforge import toolenv
from bnnforge.finn_flow.layer_params import DynThreshParams, LabParams


class CSimError(RuntimeError):
    pass


def _compile(harness: str, params_h: str, hls: Path | None = None) -> Path:
    """Compile <hls>/<harness> (default: the installed hls/) with the generated csim_params.h;
    returns the cached executable."""
    hls = Path(hls or toolenv.hls_dir())
    sources = [hls / harness] + sorted(hls.glob("*.hpp"))
    digest = hashlib.sha256(params_h.encode())
    for s in sources:
        digest.update(s.read_bytes())
    digest.update(" ".join(toolenv.hls_compile_command([Path("x")], Path("y"))).encode())
    build = toolenv.cache_dir("csim") / f"{Path(harness).stem}-{digest.hexdigest()[:16]}"
    exe = build / "csim"
    if exe.exists():
        return exe
    build.mkdir(parents=True, exist_ok=True)
    (build / "csim_params.h").write_text(params_h)
    cmd = toolenv.hls_compile_command([hls / harness], build / "csim.tmp", include_dirs=[hls, build])
    out = subprocess.run(cmd, capture_output=True, text=True, env=toolenv.tool_env())
    if out.returncode != 0:
        raise CSimError(f"g++ failed to compile {harness}:\n{out.stderr[-3000:]}")
    os.replace(build / "csim.tmp", exe)
    return exe


def _run(exe: Path, args: list[Path]) -> None:
    out = subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True)
    if out.returncode != 0:
        raise CSimError(f"C simulation {exe} failed (exit {out.returncode}): {out.stderr.strip()}")


def _write_nhwc(path: Path, x: np.ndarray) -> None:
    nhwc = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    with open(path, "w") as f:
        f.write(f"{len(x)}\n")
        np.savetxt(f, nhwc.reshape(-1, 1), fmt="%d")


def _read_nchw(path: Path, shape: tuple[int, ...]) -> np.ndarray:
    n, c, h, w = shape
    y = np.loadtxt(path, dtype=np.int64, ndmin=1)
    if y.size != n * c * h * w:
        raise CSimError(f"C simulation wrote {y.size} values, expected {n * c * h * w}")
    return y.reshape(n, h, w, c).transpose(0, 3, 1, 2).astype(np.int8)


def lab_params_h(p: LabParams) -> str:
    return (
        "#pragma once\n#include <ap_int.h>\n"
        f"#define LAB_C {p.channels}\n#define LAB_H {p.height}\n#define LAB_W {p.width}\n"
        f"#define LAB_K {p.kernel}\n#define LAB_PE {p.pe}\n#define LAB_IN_BITS {p.input_bits}\n"
        f"#define LAB_W_BITS {p.weight_bits}\n#define LAB_ACC_BITS {p.acc_bits}\n" + p.params_header("lab")
    )


def run_lab(p: LabParams, x: np.ndarray, hls: Path | None = None) -> np.ndarray:
    """Stream x (N, C, H, W) through hls/lab_binarizer.hpp; returns int8 +-1 (N, C, H, W)."""
    x = p.check_input(x)
    exe = _compile("csim_lab_binarizer.cpp", lab_params_h(p), hls)
    with tempfile.TemporaryDirectory(prefix="bnnforge-csim-") as tmp:
        tmp = Path(tmp)
        _write_nhwc(tmp / "in.txt", x)
        _run(exe, [tmp / "in.txt", tmp / "out.txt"])
        return _read_nchw(tmp / "out.txt", x.shape)


def dynthresh_params_h(p: DynThreshParams) -> str:
    return (
        "#pragma once\n"
        f"#define DT_C {p.channels}\n#define DT_HW {p.height * p.width}\n#define DT_PE {p.pe}\n"
        f"#define DT_IN_BITS {p.input_bits}\n#define DT_T_BITS {p.threshold_bits}\n"
    )


def run_dynthresh(p: DynThreshParams, x: np.ndarray, thresholds: np.ndarray, hls: Path | None = None) -> np.ndarray:
    """Stream x (N, C, H, W) and per-sample thresholds (N, C) through hls/dynamic_threshold.hpp."""
    x, t = p.check(x, thresholds)
    exe = _compile("csim_dynamic_threshold.cpp", dynthresh_params_h(p), hls)
    with tempfile.TemporaryDirectory(prefix="bnnforge-csim-") as tmp:
        tmp = Path(tmp)
        _write_nhwc(tmp / "in.txt", x)
        np.savetxt(tmp / "thr.txt", t.reshape(-1, 1), fmt="%d")
        _run(exe, [tmp / "in.txt", tmp / "thr.txt", tmp / "out.txt"])
        return _read_nchw(tmp / "out.txt", x.shape)
