"""finn_flow: C simulation, custom FINN ops in the FINN graph, `bnnforge build`."""

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from bnnforge import toolenv
from bnnforge.finn_flow.simulate import node as nodesim
from bnnforge.finn_flow.ops.params import DynThreshParams, LabParams, ParamError
from bnnforge.finn_flow.simulate.layer import simulate_params
from bnnforge.model import golden

from conftest import run_cli

# (C, H, W, k, PE, input bits, weight bits): C not a power of two, H != W, 1x1 maps, k = 1 and 5
LAB_CASES = [
    (6, 5, 7, 3, 2, 4, 4),
    (3, 1, 1, 3, 3, 2, 2),
    (10, 6, 4, 5, 5, 8, 3),
    (5, 4, 9, 1, 1, 3, 8),
    (12, 3, 3, 3, 4, 4, 4),
]


def _random_lab(rng, c, h, w, k, pe, ib, wb, frames=3):
    weights = rng.integers(-(2 ** (wb - 1)), 2 ** (wb - 1), (c, k, k))
    x = rng.integers(-(2 ** (ib - 1)), 2 ** (ib - 1), (frames, c, h, w))
    acc = golden.conv2d(x, weights[:, None], k // 2, groups=c)
    # thresholds: exact ties, both extremes of the accumulator range and beyond
    t = rng.integers(acc.min() - 1, acc.max() + 2, c)
    t[0] = acc.max() + 1  # never +1
    if c > 1:
        t[1] = acc.min()  # always +1
    if c > 2:
        t[2] = acc[0, 2, 0, 0]  # a tie at pixel (0, 0)
    return LabParams(weights, t, h, w, ib, wb, pe), x


@pytest.mark.parametrize("case", LAB_CASES, ids=lambda c: "C{}H{}W{}k{}pe{}x{}w{}".format(*c))
def test_csim_lab_bit_exact(case):
    p, x = _random_lab(np.random.default_rng(sum(case)), *case)
    y, _ = simulate_params(p, "hls", [x])
    assert y.dtype == np.int8
    assert np.array_equal(y, golden.lab_binarizer(x, p.weights, p.thresholds))


@pytest.mark.parametrize("c,h,w,pe,ib", [(6, 3, 5, 3, 4), (7, 2, 2, 7, 2), (16, 4, 1, 4, 8)])
def test_csim_dynthresh_bit_exact(c, h, w, pe, ib):
    rng = np.random.default_rng(c * h)
    lo, hi = -(2 ** (ib - 1)), 2 ** (ib - 1) - 1
    x = rng.integers(lo, hi + 1, (4, c, h, w))
    t = rng.integers(lo, hi + 2, (4, c))
    t[0, 0], t[1, 0] = lo, hi + 1  # extremes: all +1, all -1
    t[2, :] = x[2, :, 0, 0]  # ties
    p = DynThreshParams.for_data(x, t, ib, pe)
    assert np.array_equal(simulate_params(p, "hls", [x, t])[0], golden.dynamic_threshold(x, t))


def test_csim_catches_a_broken_kernel(tmp_path):
    """A kernel with the wrong tie rule (acc > T instead of >=) in the generated code must be reported."""
    from qonnx.custom_op.registry import getCustomOp

    p, x = _random_lab(np.random.default_rng(0), *LAB_CASES[4])
    good = golden.lab_binarizer(x, p.weights, p.thresholds)
    model = p.to_model("LabBinarizer_hls")
    inst = getCustomOp(model.graph.node[0])
    nodesim.prepare(inst, model, "hls", tmp_path / "code")
    header = tmp_path / "code" / "lab_binarizer.hpp"
    assert "(acc >= thresholds[f][p])" in header.read_text()
    x_nhwc = x.transpose(0, 2, 3, 1)
    assert np.array_equal(nodesim.simulate_cpp(inst, [x_nhwc])[0].transpose(0, 3, 1, 2), good)
    header.write_text(header.read_text().replace("(acc >= thresholds[f][p])", "(acc > thresholds[f][p])"))
    assert not np.array_equal(nodesim.simulate_cpp(inst, [x_nhwc])[0].transpose(0, 3, 1, 2), good)


def test_layer_params_errors():
    with pytest.raises(ParamError, match=r"PE=4 does not divide the 6 channels; allowed: \[1, 2, 3, 6\]"):
        LabParams(np.zeros((6, 3, 3)), np.zeros(6), 4, 4, pe=4)
    with pytest.raises(ParamError, match="input_bits=9 is out of range; allowed: 2..8"):
        LabParams(np.zeros((2, 3, 3)), np.zeros(2), 4, 4, input_bits=9)
    with pytest.raises(ParamError, match="weights has values"):
        LabParams(np.full((2, 3, 3), 9), np.zeros(2), 4, 4, weight_bits=4)


def test_sim_layer_cli_hls(tmp_path):
    rng = np.random.default_rng(2)
    p, x = _random_lab(rng, 6, 4, 5, 3, 2, 4, 4)
    np.savez(tmp_path / "p.npz", weights=p.weights, thresholds=p.thresholds, input_bits=4, weight_bits=4)
    np.save(tmp_path / "x.npy", x)
    out = run_cli("sim", "layer", "lab", "--backend", "hls", "--params", tmp_path / "p.npz",
                  "--input", tmp_path / "x.npy", "--output", tmp_path / "y.npy", "--pe", "3")
    assert out.returncode == 0 and "bit-exact" in out.stdout, out.stdout + out.stderr
    assert np.array_equal(np.load(tmp_path / "y.npy"), golden.lab_binarizer(x, p.weights, p.thresholds))

    t = rng.integers(-9, 9, (x.shape[0], 6))
    np.savez(tmp_path / "d.npz", thresholds=t, input_bits=4)
    out = run_cli("sim", "layer", "dynthresh", "--backend", "hls", "--params", tmp_path / "d.npz",
                  "--input", tmp_path / "x.npy", "--output", tmp_path / "y.npy", "--pe", "4")
    assert out.returncode == 2 and "allowed: [1, 2, 3, 6]" in out.stderr


# --- the FINN graph -------------------------------------------------------------------


@pytest.mark.parametrize("binarizer,lab_impl", [("sign", "fused"), ("lab", "fused"), ("lab", "stock"), ("dybnn", "fused")])
def test_finn_graph_executes_like_golden(small_runs, binarizer, lab_impl):
    from finn.core.onnx_exec import execute_onnx
    from qonnx.core.modelwrapper import ModelWrapper

    from bnnforge.finn_flow.flow.build import to_hw_graph
    from bnnforge.model.run import load_model

    run = small_runs[binarizer]
    hw = to_hw_graph(ModelWrapper(str(run / "model.onnx")), lab_impl=lab_impl)
    ops = {n.op_type for n in hw.graph.node}
    if binarizer == "lab":
        assert ("LabBinarizer" in ops) == (lab_impl == "fused")
        assert ("VectorVectorActivation" in ops or "VVAU" in ops) == (lab_impl == "stock")
    elif binarizer == "dybnn":
        assert {"DynamicThreshold", "GlobalAccPool", "DuplicateStreams"} <= ops
    else:
        assert "MVAU" in ops and not {"LabBinarizer", "DynamicThreshold"} & ops
    model, _, _ = load_model(run)
    net = model.to_integer()
    vec = np.load(run / "vectors.npz")
    for image, want in zip(vec["input"][:2], vec["golden/fc_out"][:2]):
        got = execute_onnx(hw, {hw.graph.input[0].name: image[None].astype(np.float32)})[hw.graph.output[0].name]
        assert np.array_equal(np.asarray(got).reshape(-1), want)
    # the vectors (written by the golden model) agree with an independent implementation:
    # the trained model's own eval forward (torch integer ops)
    import torch

    with torch.no_grad():
        logits = model.eval()(torch.from_numpy(vec["input"][:2]).float()).numpy()
    assert np.array_equal(logits, vec["golden/fc_out"][:2])


def test_verify_has_finn_csim_and_rtl_columns(small_runs):
    # (the whole accelerator's column, network-rtl, is tested on the DyBNN reactnet in
    # tests/test_reactnet_hw.py; this test took 99 s with it, 68 s without, on a fresh clone)
    out = run_cli("verify", small_runs["dybnn"], "--samples", "2", "--columns", "finn", "csim", "rtl")
    assert out.returncode == 0, out.stdout + out.stderr
    header = out.stdout.splitlines()[0]
    assert "finn" in header and "csim" in header and "rtl" in header
    assert "dynthresh1" in out.stdout and "BIT-EXACT" in out.stdout


# --- bnnforge build -------------------------------------------------------------------


def _compile_generated_hls(code_dir: Path, tmp_path: Path) -> int:
    """Compile every generated top_*.cpp of our custom layers with g++ (syntax and types)."""
    stub = tmp_path / "stub"
    stub.mkdir(exist_ok=True)
    (stub / "bnn-library.h").write_text("// finn-hlslib is not needed by bnnforge's kernels\n")
    tops = [t for t in code_dir.glob("*/top_*.cpp") if "LabBinarizer" in t.name or "DynamicThreshold" in t.name]
    for top in tops:
        cmd = toolenv.hls_compile_command([top], tmp_path / "unused", include_dirs=[stub, top.parent])
        cmd = [c for c in cmd if c not in ("-o", str(tmp_path / "unused"))] + ["-fsyntax-only"]
        out = subprocess.run(cmd, capture_output=True, text=True)
        assert out.returncode == 0, f"{top}:\n{out.stderr}"
    return len(tops)


@pytest.mark.parametrize("board", ["pynq-z2", "zcu104"])
def test_build_through_codegen(small_runs, tmp_path, board):
    out_dir = tmp_path / "build"
    out = run_cli("build", small_runs["lab"] / "model.onnx", "--board", board, "--target-fps", "2000",
                  "--until", "codegen", "--backend", "hls", "--out", out_dir)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "LabBinarizer_hls_0" in out.stdout and "budget" in out.stdout
    for f in ("folding.json", "report/estimate_layer_resources.json", "report/estimate_network_performance.json",
              "report/bnnforge_summary.json", "intermediate_models/09_codegen.onnx"):
        assert (out_dir / f).exists(), f
    summary = json.loads((out_dir / "report" / "bnnforge_summary.json").read_text())
    assert summary["estimated_fps"] >= 2000
    if board == "pynq-z2":  # the generated C++ does not depend on the board: compiled and run once
        assert _compile_generated_hls(out_dir / "code", tmp_path) == 5
        # and one of them runs (C simulation of the node's generated code) bit-exact
        from bnnforge.finn_flow.simulate.layer import run_node

        run = run_node(out_dir, "LabBinarizer_hls_1", images=2)
        assert run.mismatch is None and "golden test vector" in run.source
    folding = json.loads((out_dir / "folding.json").read_text())
    assert any(k.startswith("LabBinarizer") for k in folding)

    # the written folding is accepted as is
    out2 = run_cli("build", small_runs["lab"] / "model.onnx", "--board", board, "--folding", out_dir / "folding.json",
                   "--backend", "hls", "--until", "estimate", "--out", tmp_path / "build2")
    assert out2.returncode == 0, out2.stdout + out2.stderr
    assert json.loads((tmp_path / "build2" / "folding.json").read_text()) == folding
    # a bitstream is built from the RTL backend only: refused before anything is written
    out3 = run_cli("build", small_runs["lab"] / "model.onnx", "--board", board, "--backend", "hls",
                   "--out", tmp_path / "build3")
    assert out3.returncode == 2 and "--until bitfile needs --backend rtl" in out3.stderr, out3.stdout + out3.stderr
    assert not (tmp_path / "build3").exists()


def test_build_resumes_from_a_step(small_runs, tmp_path):
    out_dir = tmp_path / "b"
    assert run_cli("build", small_runs["dybnn"] / "model.onnx", "--board", "pynq-z2", "--until", "estimate",
                   "--backend", "hls", "--out", out_dir).returncode == 0
    out = run_cli("build", small_runs["dybnn"] / "model.onnx", "--board", "pynq-z2", "--until", "estimate",
                  "--backend", "hls", "--from-step", "estimate", "--out", out_dir)
    assert out.returncode == 0 and "[ 9/9] estimate" in out.stdout and "tidy" not in out.stdout


def test_build_bad_inputs(small_runs, tmp_path):
    model = small_runs["lab"] / "model.onnx"
    out = run_cli("build", model, "--board", "arty", "--out", tmp_path / "x")
    assert out.returncode == 2 and "pynq-z2" in out.stderr and "zcu104" in out.stderr

    # a folding whose PE does not divide the channel count
    ok = tmp_path / "ok"
    assert run_cli("build", model, "--board", "pynq-z2", "--until", "estimate", "--backend", "hls",
                   "--out", ok).returncode == 0
    folding = json.loads((ok / "folding.json").read_text())
    lab = next(k for k in folding if k.startswith("LabBinarizer"))
    folding[lab]["PE"] = 3
    (tmp_path / "bad.json").write_text(json.dumps(folding))
    out = run_cli("build", model, "--board", "pynq-z2", "--folding", tmp_path / "bad.json", "--until", "estimate",
                  "--backend", "hls", "--out", tmp_path / "bad")
    assert out.returncode == 2
    assert f"{lab}: PE=3 does not divide NumChannels=8; allowed: [1, 2, 4, 8]" in out.stderr

    folding[lab] = {"PE": 2, "Bogus": 1}
    (tmp_path / "bad2.json").write_text(json.dumps({"NoSuchNode": {"PE": 2}, **folding}))
    out = run_cli("build", model, "--board", "pynq-z2", "--folding", tmp_path / "bad2.json", "--until", "estimate",
                  "--backend", "hls", "--out", tmp_path / "bad2")
    assert out.returncode == 2 and "'NoSuchNode' is not in the graph" in out.stderr and "'Bogus'" in out.stderr

    # an operator the flow cannot map
    from onnx import helper
    from qonnx.core.modelwrapper import ModelWrapper

    m = ModelWrapper(str(model))
    last = m.graph.output[0].name
    m.graph.node.append(helper.make_node("Softmax", [last], ["probs"], name="my_softmax"))
    m.graph.output[0].name = "probs"
    m.save(str(tmp_path / "softmax.onnx"))
    out = run_cli("build", tmp_path / "softmax.onnx", "--board", "pynq-z2", "--out", tmp_path / "sm")
    assert out.returncode == 2 and "my_softmax (Softmax)" in out.stderr and "unsupported ONNX operator" in out.stderr
