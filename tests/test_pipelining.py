"""The pipelined datapaths of bnnforge's cores (docs/DESIGN.md, "The RTL cores: pipelines"):
configurations deep enough that every register stage of the trees is used, bit-exact under
stalls and a reset with the exact cycles per frame; a fully parallel MVAU reaches the board
clock by the timing estimate, and the same core with its dot-product tree left unregistered
is reported slower (yosys runs cached by content, toolenv cache "synth")."""

import numpy as np
import pytest
from qonnx.custom_op.registry import getCustomOp

from bnnforge.finn_flow.ops.params import LabParams
from bnnforge.finn_flow.simulate import node as nodesim
from bnnforge.finn_flow.simulate.layer import simulate_params
from bnnforge.model import golden

from layer_cases import _thresholds, one_node, reference, specialize, values


def mvau_case(mw, mh, simd, pe, form, seed=1, frames=3):
    """An MVAU of the forms the flow emits at a folding of our choice: XNOR popcount with a
    4-bit output (15 thresholds), or INT6 x INT4 products (wide, registered on their own)."""
    rng = np.random.default_rng(seed)
    if form == "xnor_int4":
        idt, wdt, xnor, lo, hi = "BINARY", "BINARY", 1, 0, mw
    else:
        idt, wdt, xnor, lo, hi = "INT6", "INT4", 0, -200 * mw // 16, 200 * mw // 16
    w = values(rng, wdt, (mw, mh))
    t = _thresholds(rng, lo, hi, mh, 15)
    x = values(rng, idt, (frames, 2, 2, mw))
    x_probe = x.reshape(-1, mw)
    acc = x_probe @ w if not xnor else (x_probe[:, :, None] == w[None]).sum(1)
    t[0, 3] = acc[0, 0]  # a tie
    t = np.sort(t, axis=1)
    m = one_node("MVAU", dict(MW=mw, MH=mh, SIMD=simd, PE=pe, inputDataType=idt, weightDataType=wdt,
                              outputDataType="INT4", accDataType="INT32", ActVal=-8, binaryXnorMode=xnor,
                              numInputVectors=[1, 2, 2], mem_mode="internal_decoupled", noActivation=0),
                 [("in0", idt)], [("weights", w, wdt), ("thresholds", t, "INT32")])
    return m, [x]


# (MW, MH, SIMD, PE, form): XNOR at full parallelism (24 popcount chunks: 5 adder levels, 3
# register stages) and folded (SF = 3, NF = 2); INT6 x INT4 at SIMD = 64 (6 levels, 4 stages)
DEEP = {"xnor full": (288, 4, 288, 4, "xnor_int4"), "xnor folded": (288, 8, 96, 4, "xnor_int4"),
        "int full": (64, 4, 64, 2, "int_hidden")}


@pytest.mark.parametrize("name", list(DEEP))
def test_deep_mvau_pipeline_exact_under_stalls_and_reset(name, tmp_path):
    model, frames = mvau_case(*DEEP[name])
    want = reference(model, frames)
    rtl = specialize(model)
    inst = getCustomOp(rtl.graph.node[0])
    nodesim.prepare(inst, rtl, "rtl", tmp_path / "code")
    run = nodesim.simulate_rtl(inst, frames, stall=(0.3, 0.3), seed=3, reset_test=True, work_dir=tmp_path / "s")
    assert run.phases[0].aborted
    assert all(np.array_equal(g, e) for g, e in zip(run.outputs, want))
    free = nodesim.simulate_rtl(inst, frames, seed=3, work_dir=tmp_path / "f")
    assert all(np.array_equal(g, e) for g, e in zip(free.outputs, want))
    assert free.cycles_per_frame == free.exp_cycles


def lab_case(c, pe, in_bits, w_bits, k=5, h=5, w=6, seed=5):
    """A LAB layer with random weights of the full range and thresholds among its sums."""
    rng = np.random.default_rng(seed)
    weights = rng.integers(-(2 ** (w_bits - 1)), 2 ** (w_bits - 1), (c, k, k))
    x = rng.integers(-(2 ** (in_bits - 1)), 2 ** (in_bits - 1), (3, c, h, w))
    acc = golden.conv2d(x, weights[:, None], k // 2, groups=c)
    t = rng.integers(acc.min() - 1, acc.max() + 2, c)
    t[0] = acc[0, 0, 0, 0]
    p = LabParams(weights, t, h, w, in_bits, w_bits, pe)
    return p, x, golden.lab_binarizer(x, p.weights, p.thresholds)


# (C, PE, input bits, weight bits): 8 x 8 at PE = C (constant weights: one fold), and products
# split into 2-bit weight slices with the weights read per fold (4 and 3 slices)
@pytest.mark.parametrize("c,pe,in_bits,w_bits", [(4, 4, 8, 8), (6, 2, 7, 8), (4, 1, 5, 5)])
def test_lab_k5_wide_products_exact(c, pe, in_bits, w_bits, tmp_path):
    """LAB at K = 5 with wide products: the deepest LAB pipelines."""
    p, x, want = lab_case(c, pe, in_bits, w_bits)
    y, run = simulate_params(p, "rtl", [x], stall=(0.3, 0.4), reset_test=True, seed=2, work_dir=tmp_path / "a")
    assert np.array_equal(y, want) and run.phases[0].aborted
    y, run = simulate_params(p, "rtl", [x], seed=2, work_dir=tmp_path / "c")
    assert np.array_equal(y, want)
    assert run.cycles_per_frame == run.exp_cycles


def test_lab_weight_slice_sign_error_is_caught(tmp_path):
    """A low weight slice taken as signed (its top bit as -2^2 instead of +2^2) must fail."""
    from bnnforge.finn_flow.simulate.layer import layer_of_params

    p, x, want = lab_case(6, 2, 7, 8)
    model = p.to_model(layer_of_params(p).backend_class("rtl").__name__)
    inst = getCustomOp(model.graph.node[0])
    nodesim.prepare(inst, model, "rtl", tmp_path / "code")
    src = tmp_path / "code" / "lab_binarizer.sv"

    def output():
        y = nodesim.simulate_rtl(inst, [x.transpose(0, 2, 3, 1)], work_dir=tmp_path / "w").outputs[0]
        return y.transpose(0, 3, 1, 2)

    assert np.array_equal(output(), want)
    good = "x * $signed({1'b0, w[LO+:SLB]})"
    assert good in src.read_text()
    src.write_text(src.read_text().replace(good, "x * $signed(w[LO+:SLB])"))
    assert not np.array_equal(output(), want)


def _synth_mvau(tmp_path, edit=None, family="xc7"):
    from bnnforge.finn_flow.rtl.synth import synth_node_cached

    # two lanes: they are independent copies apart from the shared input (the timing benchmark
    # synthesizes more); half the yosys time of four
    model, _ = mvau_case(256, 2, 256, 2, "xnor_int4")
    rtl = specialize(model)
    node = rtl.graph.node[0]
    nodesim.prepare(getCustomOp(node), rtl, "rtl", tmp_path / "code")
    if edit:
        src = tmp_path / "code" / "dot_threshold.sv"
        assert edit[0] in src.read_text()
        src.write_text(src.read_text().replace(*edit))
    return synth_node_cached(rtl, node, family, tmp_path / "synth")


# the dot-product tree registered once (after its chunk popcounts), not every two levels
UNPIPELINED = ("localparam int LPS = 2;  // adder levels per register stage",
               "localparam int LPS = 64;  // adder levels per register stage")


def test_full_parallel_mvau_reaches_the_clock_and_unpipelined_is_slower(tmp_path):
    """MVAU, 256 XNOR bits per lane at SIMD = MW, PE = MH = 2, 15 thresholds: at least 1.25x
    PYNQ-Z2's 100 MHz by the estimate; without the tree's register stages it is slower."""
    piped = _synth_mvau(tmp_path / "p")
    flat = _synth_mvau(tmp_path / "f", UNPIPELINED)
    assert piped.fmax_mhz >= 125, (piped.fmax_mhz, piped.path)
    assert flat.logic_levels > piped.logic_levels
    assert flat.fmax_mhz < piped.fmax_mhz
    assert flat.ff < piped.ff  # the pipeline registers
