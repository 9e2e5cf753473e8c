"""Verilator + cocotb runs of the custom layers' RTL (sim/rtl/*.sv).

Builds are cached per (module, parameters, waves, source) under the bnnforge cache
folder and compiled through ccache, so a parameter set is built once; weights and
thresholds are read by $readmemh at simulation start from files inside the
build folder, so one build serves any number of weight sets of the same shape.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import tempfile
from pathlib import Path

import numpy as np

from bnnforge import toolenv
from bnnforge.finn_flow.layer_params import DynThreshParams, LabParams

TB_MODULE = "bnnforge.sim.tb_stream"


@dataclasses.dataclass
class RtlRun:
    output: np.ndarray  # int8 +-1, NCHW (the last phase's frames)
    cycles_per_frame: float | None
    ideal_cycles: int
    waves: Path | None
    phases: list  # raw per-phase output beats and cycles


def build(top: str, parameters: dict, waves: bool = False, rtl_dir: Path | None = None) -> Path:
    """Verilate ``<rtl_dir>/<top>.sv`` with ``parameters`` (cached); returns the build folder."""
    from cocotb_tools.runner import get_runner

    from bnnforge.finn_flow.ops.common import rtl_sources

    toolenv.apply_to_current_process()
    sources = rtl_sources(top, rtl_dir)
    key = hashlib.sha256(json.dumps([top, sorted(parameters.items()), waves], default=str).encode())
    for src in sources:
        key.update(src.read_bytes())
    bdir = toolenv.cache_dir("rtl") / f"{top}-{key.hexdigest()[:16]}"
    if (bdir / "Vtop").exists() or (bdir / top).exists():
        return bdir
    bdir.mkdir(parents=True, exist_ok=True)
    params = dict(parameters)
    params.update({k: f'"{bdir / v}"' for k, v in _file_params(top).items()})
    runner = get_runner("verilator")
    runner.build(
        sources=sources,
        hdl_toplevel=top,
        parameters=params,
        build_dir=bdir,
        waves=waves,
        build_args=(["--trace-fst"] if waves else []) + ["-Wno-fatal"],
        timescale=("1ns", "1ps"),
        log_file=bdir / "build.log",
    )
    return bdir


def _file_params(top: str) -> dict[str, str]:
    """Parameter files a module reads at simulation start (name in the build folder)."""
    return {"WEIGHTS_FILE": "weights.hex", "THRESHOLDS_FILE": "thresholds.hex"} if top == "lab_binarizer" else {}


def pack_beats(x: np.ndarray, pe: int, bits: int) -> list[int]:
    """NCHW integers -> FINN stream beats (NHWC, PE lanes per beat, lane 0 in the LSBs)."""
    nhwc = np.asarray(x, np.int64).transpose(0, 2, 3, 1).reshape(-1, pe)
    mask = (1 << bits) - 1
    shifts = np.arange(pe, dtype=object) * bits
    return [int(sum((int(v) & mask) << int(s) for v, s in zip(lanes, shifts))) for lanes in nhwc]


def unpack_bits(beats: list[int], shape: tuple[int, int, int, int], pe: int) -> np.ndarray:
    """Output beats (PE bits) -> int8 +-1, NCHW."""
    n, c, h, w = shape
    bits = np.array([[(b >> p) & 1 for p in range(pe)] for b in beats], np.int8).reshape(n, h, w, c)
    return (2 * bits - 1).transpose(0, 3, 1, 2)


def _frames_phases(inputs_per_frame: list[dict[str, list[int]]], out_beats_per_frame: int, reset_test: bool) -> list:
    """Test phases: all frames back to back; with reset_test, first a phase cut off in the
    middle of its second frame, then the frames, then (after a reset) the frames again."""
    def phase(frames, abort_after=None):
        merged: dict[str, list[int]] = {}
        for fr in frames:
            for k, v in fr.items():
                merged.setdefault(k, []).extend(v)
        return {"inputs": merged, "expect": out_beats_per_frame * len(frames), "abort_after": abort_after}

    if not reset_test:
        return [phase(inputs_per_frame)]
    mid = len(next(iter(inputs_per_frame[0].values()))) * 3 // 2  # half way into the second frame
    return [phase(inputs_per_frame, abort_after=mid), phase(inputs_per_frame), phase(inputs_per_frame)]


def _simulate(top, parameters, file_contents, phases, stall, seed, waves, work_dir, rtl_dir=None):
    from cocotb_tools.runner import get_runner

    bdir = build(top, parameters, waves, rtl_dir)
    for name, text in file_contents.items():
        (bdir / name).write_text(text)
    work = Path(work_dir) if work_dir else Path(tempfile.mkdtemp(prefix="bnnforge-rtl-"))
    work.mkdir(parents=True, exist_ok=True)
    stall_in, stall_out = stall if isinstance(stall, tuple) else (stall, stall)
    cfg = {"seed": seed, "stall_in": stall_in, "stall_out": stall_out, "phases": phases,
           "out_file": str(work / "tb_out.json")}
    (work / "tb_config.json").write_text(json.dumps(cfg))
    results_xml = work / "results.xml"
    runner = get_runner("verilator")
    try:
        _run_test(runner, top, bdir, work, waves, results_xml)
    except SystemExit:  # under pytest, cocotb's runner exits when a cocotb test failed
        pass
    from cocotb_tools.check_results import get_results

    _, failed = get_results(results_xml)
    if failed or not (work / "tb_out.json").exists():
        log = (work / "sim.log").read_text()[-3000:] if (work / "sim.log").exists() else ""
        raise RuntimeError(f"RTL simulation of {top} failed (log {work / 'sim.log'}):\n{log}")
    out = json.loads((work / "tb_out.json").read_text())
    fst = work / "dump.fst"
    return out["phases"], (fst if waves and fst.exists() else None)


def _run_test(runner, top, bdir, work, waves, results_xml):
    runner.test(
        test_module=TB_MODULE,
        hdl_toplevel=top,
        hdl_toplevel_lang="verilog",
        build_dir=bdir,
        test_dir=work,
        extra_env={"BNNFORGE_TB": str(work / "tb_config.json")},
        waves=waves,
        log_file=work / "sim.log",
        results_xml=str(results_xml.resolve()),
    )


def _cycles_per_frame(phase: dict, frames: int, beats_per_frame: int) -> float | None:
    cycles = phase["cycles"]
    if frames >= 2:
        ends = [cycles[(f + 1) * beats_per_frame - 1] for f in range(frames)]
        return (ends[-1] - ends[0]) / (frames - 1)
    if cycles and phase.get("first_in") is not None:
        return float(cycles[-1] - phase["first_in"])
    return None


def run_lab(p: LabParams, x: np.ndarray, stall=0.0, waves: bool = False, work_dir=None,
            seed: int = 1, reset_test: bool = False, rtl_dir=None) -> RtlRun:
    """Stream x (N,C,H,W) through sim/rtl/lab_binarizer.sv; output int8 +-1 NCHW."""
    _check_stall(stall)
    x = p.check_input(x)
    params = p.rtl_parameters()
    files = {"weights.hex": p.weights_hex(), "thresholds.hex": p.thresholds_hex()}
    frames = [{"in0_V": pack_beats(x[i : i + 1], p.pe, p.input_bits)} for i in range(len(x))]
    beats = p.height * p.width * p.fold
    phases, fst = _simulate("lab_binarizer", params, files, _frames_phases(frames, beats, reset_test),
                            stall, seed, waves, work_dir, rtl_dir)
    last = phases[-1]
    return RtlRun(unpack_bits(last["beats"], x.shape, p.pe), _cycles_per_frame(last, len(x), beats),
                  p.exp_cycles_rtl, fst, phases)


def run_dynthresh(p: DynThreshParams, x: np.ndarray, thresholds: np.ndarray, stall=0.0,
                  waves: bool = False, work_dir=None, seed: int = 1, reset_test: bool = False,
                  rtl_dir=None) -> RtlRun:
    """Stream x (N,C,H,W) and per-sample thresholds (N,C) through sim/rtl/dynamic_threshold.sv."""
    _check_stall(stall)
    x, t = p.check(x, thresholds)
    params = p.rtl_parameters()
    frames = [
        {"in0_V": pack_beats(x[i : i + 1], p.pe, p.input_bits),
         "in1_V": pack_beats(t[i].reshape(1, -1, 1, 1), p.pe, p.threshold_bits)}
        for i in range(len(x))
    ]
    beats = p.height * p.width * p.fold
    phases, fst = _simulate("dynamic_threshold", params, {}, _frames_phases(frames, beats, reset_test),
                            stall, seed, waves, work_dir, rtl_dir)
    last = phases[-1]
    return RtlRun(unpack_bits(last["beats"], x.shape, p.pe), _cycles_per_frame(last, len(x), beats),
                  p.exp_cycles_rtl, fst, phases)


def _check_stall(stall) -> None:
    """``stall``: a stall probability per cycle for both stream sides, or (input, output)."""
    for s in stall if isinstance(stall, tuple) else (stall,):
        if not 0.0 <= s <= 0.95:
            raise ValueError(f"--stall {s}: allowed 0..0.95 (probability of a stall per cycle on a stream side)")
