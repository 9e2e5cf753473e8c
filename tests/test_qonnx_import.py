"""Standard QONNX models in: Brevitas' BNN-PYNQ models (random seeded parameters, exported with
Brevitas' export_qonnx) through `bnnforge build` and `bnnforge verify MODEL.onnx`."""

import json

import numpy as np
import pytest

from conftest import run_cli


@pytest.fixture(scope="module")
def bnn_pynq(tmp_path_factory):
    """BNN-PYNQ exports, one per configuration used here."""
    from bnnforge.model import bnn_pynq

    d = tmp_path_factory.mktemp("bnn-pynq")
    return {name: bnn_pynq.export(name, d / f"{name}.onnx") for name in ("tfc_1w1a", "cnv_1w1a", "tfc_1w2a", "tfc_2w2a")}


def test_tfc_1w1a_builds_and_verifies_through_the_rtl(bnn_pynq):
    """`verify MODEL.onnx` builds the model (MODEL_verify_build/, through the rtl stage) and compares
    FINN Python, every node's RTL and the whole accelerator with qonnx execution of the Brevitas graph."""
    model = bnn_pynq["tfc_1w1a"]
    out = run_cli("verify", model, "--samples", "8")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "verify: BIT-EXACT" in out.stdout
    for col in ("finn", "rtl", "network-rtl"):
        assert f"{col:<14} agrees with qonnx execution of the model on 8/8" in out.stdout
    rows = [line for line in out.stdout.splitlines() if line.startswith(("MVAU", "Thresholding", "LabelSelect"))]
    # pixel thresholds in, four matrix layers, the class index out; rtl and network-rtl cells per node
    assert len(rows) == 6 and all(line.count("/") == 2 and "MISMATCH" not in line for line in rows), out.stdout
    assert (model.parent / "tfc_1w1a_verify_build" / "rtl" / "accelerator.sv").exists()


def test_cnv_1w1a_builds_and_verifies_in_python(bnn_pynq, tmp_path):
    model = bnn_pynq["cnv_1w1a"]
    x = np.random.default_rng(3).integers(0, 256, (4, 3, 32, 32)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    out = run_cli("verify", model, "--input", tmp_path / "x.npy", "--samples", "4", "--columns", "finn")
    assert out.returncode == 0 and "agrees with qonnx execution of the model on 4/4" in out.stdout, out.stdout + out.stderr
    # the build behind it went through the estimate stage: sliding windows, pools, matrix layers
    build = model.parent / "cnv_1w1a_verify_build"
    assert (build / "report" / "estimate_network_performance.json").exists()
    ops = {n.split("_")[0] for n in json.loads((build / "folding.json").read_text()) if n != "Defaults"}
    assert {"ConvolutionInputGenerator", "Pool", "MVAU", "Thresholding", "LabelSelect"} <= ops, ops


@pytest.mark.parametrize("name", ["tfc_1w2a", "tfc_2w2a"])
def test_multibit_tfc_verifies_in_python(bnn_pynq, name):
    from bnnforge.finn_flow.verify.model import verify_model

    report = verify_model(bnn_pynq[name], samples=6, columns=("finn",), log=lambda *_: None)
    assert report.ok and np.array_equal(report.labels["finn"], report.labels["qonnx"]), report.table()


def test_verify_model_reports_a_disagreement(bnn_pynq, monkeypatch, tmp_path):
    """The comparison can fail: a reference whose logits are negated picks other classes. Only
    verify's reference is changed (not the build's own check), in a model of its own (no
    build to reuse)."""
    import shutil

    from bnnforge.finn_flow.verify import model as verify_model

    model = tmp_path / "tfc_1w2a.onnx"
    shutil.copy(bnn_pynq["tfc_1w2a"], model)
    real = verify_model.qonnx_outputs
    monkeypatch.setattr(verify_model, "qonnx_outputs", lambda *a: -real(*a))
    report = verify_model.verify_model(model, samples=6, columns=("finn",), log=lambda *_: None)
    assert not report.ok and "verify: MISMATCH" in report.table()
    monkeypatch.setattr(verify_model, "qonnx_outputs", real)
    assert verify_model.verify_model(model, samples=6, columns=("finn",), log=lambda *_: None).ok


def test_unsupported_qonnx_node_is_named(bnn_pynq, tmp_path):
    from onnx import helper
    from qonnx.core.modelwrapper import ModelWrapper

    m = ModelWrapper(str(bnn_pynq["tfc_1w1a"]))
    last = m.graph.output[0].name
    m.graph.node.append(helper.make_node("Softmax", [last], ["probs"], name="my_softmax"))
    m.graph.output[0].name = "probs"
    m.save(str(tmp_path / "softmax.onnx"))
    out = run_cli("build", tmp_path / "softmax.onnx", "--board", "pynq-z2", "--until", "estimate", "--out", tmp_path / "b")
    assert out.returncode == 2, out.stdout + out.stderr
    assert "my_softmax (Softmax)" in out.stderr and "BipolarQuant" in out.stderr  # what is supported
    from bnnforge.finn_flow.verify.model import verify_model

    with pytest.raises(ValueError, match="allowed: finn, rtl, network-rtl"):
        verify_model(bnn_pynq["tfc_1w1a"], columns=("csim",))


def test_fold_takes_a_brevitas_model_unchanged(bnn_pynq, tmp_path):
    out = run_cli("fold", bnn_pynq["tfc_1w2a"], "--board", "pynq-z2", "--target-fps", "20000", "--out",
                  tmp_path / "f.json")
    assert out.returncode == 0, out.stdout + out.stderr
    cfg = json.loads((tmp_path / "f.json").read_text())
    assert {"Thresholding_rtl_0", "MVAU_lut_rtl_3", "LabelSelect_rtl_0"} <= set(cfg)
    assert cfg["MVAU_lut_rtl_0"]["PE"] * cfg["MVAU_lut_rtl_0"]["SIMD"] > 1  # folded for the target


def test_class_labels_of_a_topk_output(bnn_pynq, tmp_path):
    """BNN-PYNQ accelerators end in TopK: one class index per frame, read as the label itself
    (an argmax of that one column would call every frame class 0). The accelerator's labels
    equal qonnx's top-1 of the Brevitas graph."""
    from bnnforge.finn_flow.simulate.streams import labels_from_output
    from bnnforge.finn_flow.verify.build import verify_build
    from bnnforge.finn_flow.verify.model import qonnx_labels

    assert labels_from_output(np.array([[3], [7]])).tolist() == [3, 7]
    assert labels_from_output(np.array([[0.1, 0.9, 0.2], [5, -1, 0]])).tolist() == [1, 0]
    model = bnn_pynq["tfc_1w1a"]
    build = verify_build(model, tmp_path / "build", "rtl")
    x = np.random.default_rng(5).integers(0, 256, (8, 1, 28, 28)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    out = run_cli("sim", "network", build, "--input", tmp_path / "x.npy", "--output", tmp_path / "y.npy", "--quiet")
    assert out.returncode == 0 and "bit-exact: 8 images" in out.stdout, out.stdout + out.stderr
    y = np.load(tmp_path / "y.npy")
    assert y.shape == (8, 1)
    want = qonnx_labels(model, x)
    assert np.array_equal(labels_from_output(y), want) and len(set(want.tolist())) > 1
