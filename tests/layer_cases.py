"""Seeded random one-node FINN models of every hardware layer type, with inputs that hit
the extremes of their datatypes and ties, for the per-layer RTL tests.

A case is the abstract FINN node (its Python execution is the reference) and N input
frames; ``specialize`` turns it into the RTL class the registry names for it.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
from onnx import TensorProto, helper
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp
from qonnx.util.basic import qonnx_make_model

from bnnforge.finn_flow import FINN_DOMAIN as DOMAIN
from bnnforge.finn_flow import registry
from bnnforge.finn_flow.flow.transforms import annotate_estimates

registry.load()  # prepares FINN, registers bnnforge's classes
LAYER_RTL_RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "layer_rtl.json"


def measured_lut_error(op: str) -> float:
    """The largest relative LUT error of ``op``'s estimate against yosys that
    benchmarks/layer_rtl.py measured on the nodes of real builds: what the estimate tests allow."""
    summary = {row["op"]: row for row in json.loads(LAYER_RTL_RESULTS.read_text())["summary"]}
    return summary[op]["lut_err_max"]


def heldout_lut_error(op: str) -> float:
    """The largest relative LUT error of ``op``'s estimate against yosys on the seeded random
    configurations of benchmarks/layer_heldout.py, which no fit has seen, and at least its target
    (15 %: the largest of 16 draws can fall below the error of another): what the estimate tests
    of random cases allow."""
    path = LAYER_RTL_RESULTS.with_name("layer_heldout.json")
    result = json.loads(path.read_text())
    summary = {row["op"]: row for row in result["summary"]}
    return max(summary[op]["lut_err_max"], result["target"])


def divisors(n):
    return [d for d in range(1, n + 1) if n % d == 0]


def values(rng, dtype: str, shape, extremes: float = 0.15) -> np.ndarray:
    """Random values of a FINN datatype, a share of them at its extremes."""
    dt = DataType[dtype]
    if dtype == "BIPOLAR":
        return rng.choice([-1, 1], size=shape).astype(np.float32)
    lo, hi = int(dt.min()), int(dt.max())
    v = rng.integers(lo, hi + 1, size=shape)
    mask = rng.random(shape) < extremes
    v[mask] = rng.choice([lo, hi], size=int(mask.sum()))
    return v.astype(np.float32)


def one_node(op_type: str, attrs: dict, inputs: list[tuple[str, str]], inits: list[tuple[str, np.ndarray, str]],
             n_outputs: int = 1, out_dtypes: list[str] | None = None) -> ModelWrapper:
    """A model of one abstract FINN node; shapes come from the op itself."""
    names = [n for n, _ in inputs] + [n for n, _, _ in inits]
    outs = [f"out{i}" for i in range(n_outputs)]
    node = helper.make_node(op_type, names, outs, domain=DOMAIN, backend="fpgadataflow", name=f"{op_type}_0", **attrs)
    inst = getCustomOp(node)
    in_vi = [helper.make_tensor_value_info(n, TensorProto.FLOAT, list(inst.get_normal_input_shape(i)))
             for i, (n, _) in enumerate(inputs)]
    out_vi = [helper.make_tensor_value_info(o, TensorProto.FLOAT, list(inst.get_normal_output_shape(i)))
              for i, o in enumerate(outs)]
    model = ModelWrapper(qonnx_make_model(helper.make_graph([node], "case", in_vi, out_vi), producer_name="bnnforge"))
    for n, dt in inputs:
        model.set_tensor_datatype(n, DataType[dt])
    for n, value, dt in inits:
        model.set_initializer(n, np.asarray(value, np.float32))
        model.set_tensor_datatype(n, DataType[dt])
    for i, o in enumerate(outs):
        model.set_tensor_datatype(o, DataType[(out_dtypes or [None] * n_outputs)[i] or
                                              getCustomOp(model.graph.node[0]).get_output_datatype(i).name])
    return model


def reference(model: ModelWrapper, frames: list[np.ndarray]) -> list[np.ndarray]:
    """FINN's Python execution of the node, frame by frame: one array (N, ...) per output."""
    from finn.core.onnx_exec import execute_onnx

    names = [i.name for i in model.graph.input]
    outs = [o.name for o in model.graph.output]
    per = [[] for _ in outs]
    for f in range(len(frames[0])):
        res = execute_onnx(model, {n: x[f:f + 1] for n, x in zip(names, frames)}, return_full_exec_context=True)
        for k, o in enumerate(outs):
            per[k].append(np.asarray(res[o], np.float32))
    return [np.concatenate(p) for p in per]


def specialize(model: ModelWrapper) -> ModelWrapper:
    """The same node as the RTL class the registry names for it."""
    model = copy.deepcopy(model)
    node = model.graph.node[0]
    node.op_type = registry.by_op(node.op_type).class_name("rtl")
    node.domain = DOMAIN + ".rtl"
    return annotate_estimates(model)  # as the build's specialization does


# --- cases per op -------------------------------------------------------------------------


# channel counts of real layers (a cnv's 16..256, a reactnet's 16..128) for the estimates'
# calibration and scoring (benchmarks/layer_heldout.py "wide" forms); the exact tests keep a few
WIDE_CHANNELS = [16, 32, 64, 128]


def pool(rng, frames=3, wide=False):
    c = int(rng.choice(WIDE_CHANNELS if wide else [2, 3, 4, 6]))
    pe = int(rng.choice(divisors(c)))
    k = int(rng.choice([2, 3]))
    oh, ow = int(rng.integers(1, 4)), int(rng.integers(1, 4))
    dt = str(rng.choice(["INT4", "UINT3", "INT8", "BIPOLAR"]))
    m = one_node("Pool", dict(Channels=c, PE=pe, KernelSize=[k, k], Function="MaxPool", OutImgDims=[oh, ow],
                              InputDataType=dt, OutputDataType=dt), [("in0", dt)], [])
    return m, [values(rng, dt, (frames, oh, ow, k * k * c))]


def duplicate_streams(rng, frames=3, wide=False):
    c = int(rng.choice(WIDE_CHANNELS if wide else [1, 3, 4, 8]))
    pe = int(rng.choice(divisors(c)))
    n = int(rng.choice([2, 3]))
    h, w = int(rng.integers(1, 4)), int(rng.integers(1, 4))
    dt = str(rng.choice(["INT4", "BINARY", "UINT7"]))
    m = one_node("DuplicateStreams", dict(NumChannels=c, PE=pe, NumOutputStreams=n, inputDataType=dt,
                                          numInputVectors=[1, h, w]), [("in0", dt)], [], n_outputs=n)
    return m, [values(rng, dt, (frames, h, w, c))]


def global_acc_pool(rng, frames=3, wide=False):
    c = int(rng.choice(WIDE_CHANNELS if wide else [1, 4, 6]))
    pe = int(rng.choice(divisors(c)))
    h, w = int(rng.integers(1, 5)), int(rng.integers(1, 5))
    if wide:  # a reactnet's last feature maps (DyBNN's statistics are taken of every block's)
        h = w = int(rng.choice([2, 4, 7, 14, 28]))
    dt = str(rng.choice(["INT4", "UINT4", "INT2", "BINARY"]))
    m = one_node("GlobalAccPool", dict(NumChannels=c, PE=pe, inputDataType=dt, numInputVectors=[1, h, w]),
                 [("in0", dt)], [])
    return m, [values(rng, dt, (frames, h, w, c), extremes=0.5)]


def label_select(rng, frames=3):
    labels = int(rng.choice([1, 2, 6, 10, 12]))
    pe = int(rng.choice(divisors(labels)))
    k = int(rng.integers(1, min(labels, 4) + 1))
    dt = str(rng.choice(["INT4", "UINT3", "INT10"]))
    odt = "BINARY" if labels <= 2 else "UINT8"
    m = one_node("LabelSelect", dict(Labels=labels, PE=pe, K=k, inputDataType=dt, outputDataType=odt,
                                     numInputVectors=[1]), [("in0", dt)], [])
    x = values(rng, dt, (frames, labels), extremes=0.6)  # many ties at the extremes
    return m, [x]


def elementwise(rng, op: str, frames=3):
    c = int(rng.choice([1, 4, 6]))
    pe = int(rng.choice(divisors(c)))
    h, w = int(rng.integers(1, 4)), int(rng.integers(1, 4))
    lhs = str(rng.choice(["UINT7", "INT9", "INT4"]))
    rhs = str(rng.choice(["UINT2", "INT7", "INT4"]))
    shape = [[1], [c], [1, 1, 1, c]][int(rng.integers(0, 3))]
    out = {"ElementwiseAdd": "INT12", "ElementwiseMul": "INT18", "ElementwiseSub": "INT12"}[op]
    const = values(rng, rhs, shape)
    m = one_node(op, dict(lhs_dtype=lhs, rhs_dtype=rhs, out_dtype=out, lhs_shape=[1, h, w, c], rhs_shape=shape,
                          out_shape=[1, h, w, c], lhs_style="input", rhs_style="const", PE=pe,
                          mem_mode="internal_embedded"), [("in0", lhs)], [("const", const, rhs)])
    return m, [values(rng, lhs, (frames, h, w, c))]


def streamed_add(rng, frames=3):
    """A residual join as the flow builds it: two streams of one shape added (rhs_style
    "input"), the integer widths of a reactnet block (a few bits) up to 8-bit sums."""
    c = int(rng.choice([8, 16, 32, 64]))
    pe = int(rng.choice([d for d in divisors(c) if d <= 16]))
    h = w = int(rng.integers(1, 9))
    a, b = (f"INT{int(rng.integers(2, 9))}" for _ in range(2))
    out = f"INT{max(DataType[a].bitwidth(), DataType[b].bitwidth()) + 1}"
    m = one_node("ElementwiseAdd", dict(lhs_dtype=a, rhs_dtype=b, out_dtype=out, lhs_shape=[1, h, w, c],
                                        rhs_shape=[1, h, w, c], out_shape=[1, h, w, c], lhs_style="input",
                                        rhs_style="input", PE=pe), [("in0", a), ("in1", b)], [])
    return m, [values(rng, a, (frames, h, w, c)), values(rng, b, (frames, h, w, c))]


def _thresholds(rng, acc_lo, acc_hi, channels, steps):
    """Ascending integer thresholds per channel, some beyond both ends of the accumulator."""
    t = np.sort(rng.integers(acc_lo - 2, acc_hi + 3, (channels, steps)), axis=1)
    return t.astype(np.float32)


MVAU_FORMS = ("xnor_bit", "xnor_int4", "xnor_acc", "pixels_bipolar", "int_hidden", "uint_int5")
# how often the flow emits each form: every hidden layer of a tfc / cnv / reactnet is XNOR (the
# logits without activation), one first layer on pixels, the DyBNN hyper branch's integers
MVAU_FORM_WEIGHTS = (0.3, 0.2, 0.1, 0.2, 0.1, 0.1)


def mvau(rng, frames=3, form=None, shape=None, in_dtype=None):
    """The MVAU forms the flow emits: XNOR-popcount with a 1-bit or a 4-bit output, XNOR without
    activation (the logits), 8-bit pixels x bipolar weights (first conv), and the DyBNN hyper
    branch's integer forms. ``shape``: (MW, MH, SIMD, PE, numInputVectors) instead of a small
    random one; ``in_dtype``: the input datatype of a multi-bit form instead of its own."""
    form = form or str(rng.choice(MVAU_FORMS))
    if shape:
        mw, mh, simd, pe, vecs = shape
    else:
        mw = int(rng.choice([4, 6, 9, 12, 16]))
        mh = int(rng.choice([2, 4, 6, 8]))
        simd, pe = int(rng.choice(divisors(mw))), int(rng.choice(divisors(mh)))
        vecs = [[1], [1, 2, 3], [1, 1, 1]][int(rng.integers(0, 3))]
    xnor, act, out = 0, 0, None
    if form.startswith("xnor"):
        idt, wdt, xnor = "BINARY", "BINARY", 1
        lo, hi = 0, mw
    else:
        idt, wdt = {"pixels_bipolar": ("UINT8", "BIPOLAR"), "pixels_bit": ("UINT8", "BIPOLAR"),
                    "int_hidden": ("INT6", "INT4"),
                    "uint_int5": ("UINT4", "INT4"), "int4_bipolar": ("INT4", "BIPOLAR")}[form]
        idt = in_dtype or idt
        lo, hi = -(2 ** (DataType[idt].bitwidth() + DataType[wdt].bitwidth())) * mw, \
            2 ** (DataType[idt].bitwidth() + DataType[wdt].bitwidth()) * mw
    pixels = form.startswith("pixels")
    w = values(rng, wdt, (mw, mh)) if not pixels else rng.choice([-1, 1], (mw, mh)).astype(np.float32)
    inits = [("weights", w, wdt)]
    if form == "xnor_acc":
        attrs, out = dict(noActivation=1), "UINT5"
    else:
        steps, out, act = {"xnor_bit": (1, "BINARY", 0), "xnor_int4": (15, "INT4", -8),
                           "pixels_bipolar": (15, "INT4", -8), "pixels_bit": (1, "BINARY", 0),
                           "int4_bipolar": (15, "INT4", -8),
                           "int_hidden": (15, "UINT4", 0),
                           "uint_int5": (16, "INT5", -8)}[form]
        x_probe = values(rng, idt, (64, mw))
        acc = x_probe @ w if not xnor else (x_probe[:, :, None] == w[None]).sum(1)
        t = _thresholds(rng, int(acc.min()), int(acc.max()), mh, steps)
        inits.append(("thresholds", t, "INT32"))
        attrs = dict(noActivation=0)
    m = one_node("MVAU", dict(MW=mw, MH=mh, SIMD=simd, PE=pe, inputDataType=idt, weightDataType=wdt,
                              outputDataType=out, accDataType="INT32", ActVal=act, binaryXnorMode=xnor,
                              numInputVectors=vecs, mem_mode="internal_decoupled", **attrs),
                 [("in0", idt)], inits)
    x = values(rng, idt, (frames, *vecs[1:], mw))
    return m, [x.reshape(frames, *vecs[1:], mw) if len(vecs) > 1 else x.reshape(frames, mw)]


def realistic_mvau(rng, frames=1):
    """An MVAU like the layers of tfc / cnv / reactnet builds, in the forms the flow emits them
    (MVAU_FORM_WEIGHTS): dot lengths of a 3x3 conv over 3..128 channels or an FC layer (9, 27 or
    784 for 8-bit pixels), 10..256 outputs, a folding from one lane to 2,048 XNOR lanes (SIMD
    <= 256, PE <= 16: a full-width cnv's layers at 3,000 fps have 1,024-1,152) or 16 x 4
    multi-bit products (yosys needs minutes beyond), one vector or a feature map. What
    benchmarks/layer_heldout.py calibrates and scores the MVAU's LUT model on."""
    form = str(rng.choice(MVAU_FORMS, p=MVAU_FORM_WEIGHTS))
    xnor = form.startswith("xnor")
    mw = int(rng.choice([27, 64, 144, 256, 288, 576, 784, 1152] if form != "pixels_bipolar" else [9, 27, 784]))
    mh = int(rng.choice([10, 16, 32, 64, 128, 256]))
    simd = int(rng.choice([d for d in divisors(mw) if d <= (256 if xnor else 16)]))
    pe = int(rng.choice([d for d in divisors(mh) if d <= (16 if xnor else 4) and d * simd <= 2048]))
    side = int(rng.choice([1, 4, 8, 16, 30]))
    return mvau(rng, frames, form, (mw, mh, simd, pe, [1] if side == 1 else [1, side, side]))


def constant_weight_mvau(rng, frames=1):
    """An MVAU folded fully (SIMD = MW, PE = MH), as fold --max-fps picks for small layers
    (a reactnet's stem and first blocks): one weight word, so the weights are constants that
    synthesis folds into the popcount or the sum (about half the LUTs of a ROM-fed layer)."""
    form = str(rng.choice(["xnor_bit", "xnor_int4", "pixels_bipolar"], p=[0.4, 0.3, 0.3]))
    mw = int(rng.choice([9, 27] if form == "pixels_bipolar" else [27, 64, 144]))
    mh = int(rng.choice([m for m in (10, 16, 32) if mw * m <= 2304]))
    side = int(rng.choice([1, 4, 28]))
    return mvau(rng, frames, form, (mw, mh, mw, mh, [1] if side == 1 else [1, side, side]))


def binary_pixel_mvau(rng, frames=1):
    """A sign or LAB network's first layer: 8-bit pixels x +-1 weights to one threshold per
    channel (BINARY outputs; the pixel draws above have 15), folded from a few dozen weight
    words to fully (fold --max-fps: SIMD = MW, PE = MH), up to 576 lanes."""
    mw, mh = int(rng.choice([9, 27])), int(rng.choice([16, 32, 64]))
    shapes = [(s, p) for s in divisors(mw) for p in divisors(mh) if s >= 3 and 4 <= s * p <= 576]
    simd, pe = shapes[int(rng.integers(len(shapes)))]
    side = int(rng.choice([1, 4, 28]))
    return mvau(rng, frames, "pixels_bit", (mw, mh, simd, pe, [1] if side == 1 else [1, side, side]))


def slow_mvau(rng, frames=1):
    """A reactnet's layer at a low fps target: one output channel per beat (PE 1, NF = MH deep
    threshold ROMs), a few lanes, 4-bit outputs, XNOR or 4-bit shortcut sums x +-1 weights (the
    downsampling convs and the classifier's input; a form realistic_mvau never draws). The
    1,000 fps reactnets' MVAUs were 12-25 % above their estimates before the fit saw any."""
    form = str(rng.choice(["int4_bipolar", "xnor_int4"]))
    mw = int(rng.choice([64, 128, 144, 288, 576]))
    mh = int(rng.choice([16, 32, 64]))
    simd = int(rng.choice([d for d in divisors(mw) if 2 <= d <= 32]))
    side = int(rng.choice([4, 7, 14]))
    return mvau(rng, frames, form, (mw, mh, simd, int(rng.choice([1, 1, 2])), [1, side, side]))


def hyper_mvau(rng, frames=1):
    """A DyBNN hyper function's FC layers as a reactnet build has them, one vector per frame
    at PE = SIMD = 1 whatever the fps: C -> C/4 over the global sums (INT10..INT16) x INT4
    weights to a 4-bit hidden activation, and C/4 -> C from it to the thresholds' offsets."""
    c = int(rng.choice(WIDE_CHANNELS))
    simd, pe = [(1, 1), (1, 1), (1, 1), (2, 1), (1, 2)][int(rng.integers(5))]
    if rng.random() < 0.5:
        model, x = mvau(rng, frames, "int_hidden", (c, c // 4, simd, pe, [1]),
                        in_dtype=f"INT{int(rng.integers(10, 17))}")
    else:
        model, x = mvau(rng, frames, "uint_int5", (c // 4, c, simd, pe, [1]))
    model.set_initializer("thresholds", hyper_thresholds(rng, model))
    return model, x


def hyper_thresholds(rng, model):
    """Thresholds as bnnforge's export gives a DyBNN hyper function's FCs (seen in a reactnet
    build): the hidden layer's 15 are one uniform quantizer per channel (its own offset and
    step, BatchNorm folded); the output layer's 16 or 31 are all at the two ends of the
    accumulator's range but for one to three per channel (the offsets a sample can reach)."""
    t = model.get_initializer("thresholds")
    w, idt = model.get_initializer("weights"), model.get_tensor_datatype("in0")
    acc = values(rng, idt.name, (256, w.shape[0])) @ w
    lo, hi = int(np.percentile(acc, 1)), int(np.percentile(acc, 99))
    channels, steps = t.shape
    if steps == 15:  # hidden: ReLU to 4 bits
        step = (hi - lo) / 15 * rng.uniform(0.5, 2, (channels, 1))
        start = rng.uniform(lo, (lo + hi) / 2, (channels, 1))
        return np.round(start + step * np.arange(steps)).astype(np.float32)
    steps = int(rng.choice([16, 31]))
    if steps == 31:  # all of INT5's levels: -16..15
        getCustomOp(model.graph.node[0]).set_nodeattr("ActVal", -16)
    out = np.empty((channels, steps), np.float32)
    for c in range(channels):
        live = int(rng.integers(1, 4))
        first = (steps - live) // 2
        out[c, :first], out[c, first + live:] = lo - 1, hi + 1
        out[c, first:first + live] = np.sort(rng.integers(lo, hi + 1, live))
    return out


def wide_pixel_mvau(rng, frames=1):
    """A first layer folded wide: 8-bit pixels x +-1 weights over 64-400 lanes (fold --max-fps
    on a tfc or a cnv's first conv), the multi-bit datapath where the LUTs per lane are largest."""
    mw = int(rng.choice([27, 784]))
    simd = int(rng.choice([d for d in divisors(mw) if 9 <= d <= 49]))
    mh = int(rng.choice([16, 32, 64]))
    pe = int(rng.choice([p for p in (2, 4, 8) if 64 <= p * simd <= 400] or [2]))
    return mvau(rng, frames, "pixels_bipolar", (mw, mh, simd, pe, [1]))


def widest_pixel_mvau(rng, frames=1):
    """A tfc's first layer at fold --max-fps: 8-bit pixels x +-1 weights over 392-1,568 lanes
    (MW 784 at SIMD 49 or 98, PE 8 or 16), the weights in block RAM as the build has them
    (wide_pixel_mvau stops at 400 lanes; yosys needs minutes here)."""
    simd, pe = int(rng.choice([49, 98])), int(rng.choice([8, 16]))
    model, x = mvau(rng, frames, "pixels_bipolar", (784, 64, simd, pe, [1]))
    getCustomOp(model.graph.node[0]).set_nodeattr("ram_style", "block")
    return model, x


def wide_xnor_mvau(rng, frames=1):
    """A full-width cnv's middle layer at fold --max-fps: an XNOR MVAU over 256-2,304 lanes
    whose weights are deep enough for block RAM (the calibration draws had seen wide XNOR
    layers only behind LUT ROMs)."""
    from bnnforge.finn_flow.ops.memory import resolve_ram_style

    form = str(rng.choice(["xnor_bit", "xnor_int4"], p=[0.6, 0.4]))
    while True:
        mw, mh = int(rng.choice([576, 1152, 2304])), int(rng.choice([128, 256]))
        simd = int(rng.choice([d for d in divisors(mw) if 32 <= d <= 288]))
        pes = [p for p in (2, 4, 8, 16) if 256 <= p * simd <= 2304]
        if not pes:
            continue
        pe = int(rng.choice(pes))
        if resolve_ram_style(simd * pe, (mw // simd) * (mh // pe), "auto") == "block":
            break
    side = int(rng.choice([1, 2, 4]))
    return mvau(rng, frames, form, (mw, mh, simd, pe, [1] if side == 1 else [1, side, side]))


def shallow_weight_mvau(rng, frames=1):
    """An MVAU folded nearly fully: a weight memory 2..8 words deep (fold --max-fps on small
    layers: a reactnet's first conv at PE = MH/2, a tfc's hidden layers at NF = 4), where
    synthesis merges the few weight words into the XNORs or products as it does one constant
    word, plus their select logic (the depths the estimate models so: memory.SHALLOW_ROM_WORDS)."""
    from bnnforge.finn_flow.ops.memory import SHALLOW_ROM_WORDS

    form = str(rng.choice(["xnor_bit", "xnor_int4", "pixels_bipolar"], p=[0.4, 0.3, 0.3]))
    mw = int(rng.choice([9, 27] if form == "pixels_bipolar" else [27, 64, 144]))
    mh = int(rng.choice([16, 32, 64]))
    lanes = 2048 if form != "pixels_bipolar" else 256  # yosys needs minutes beyond
    shapes = [(s, p) for s in divisors(mw) for p in divisors(mh)
              if 2 <= (mw // s) * (mh // p) <= SHALLOW_ROM_WORDS and s * p <= lanes]
    simd, pe = shapes[int(rng.integers(len(shapes)))]
    side = int(rng.choice([1, 4, 28]))
    return mvau(rng, frames, form, (mw, mh, simd, pe, [1] if side == 1 else [1, side, side]))


def shallow_xnor_mvau(rng, frames=1):
    """An XNOR MVAU nearly fully folded over a wide popcount (fold --max-fps on a reactnet's or a
    cnv w0.5's 3x3 convs, a tfc's hidden layers on ZCU104): SIMD 16-288 lanes per PE, 2-4
    weight words, PE 4-64, up to 2,304 lanes (the shallow draws mostly had narrower popcounts or
    more words)."""
    form = str(rng.choice(["xnor_bit", "xnor_int4"], p=[0.5, 0.5]))
    while True:
        mw, mh = int(rng.choice([64, 144, 288])), int(rng.choice([10, 16, 32, 64]))
        shapes = [(s, p) for s in divisors(mw) for p in divisors(mh)
                  if s >= 16 and p >= 4 and 2 <= (mw // s) * (mh // p) <= 4 and s * p <= 2304]
        if shapes:
            break
    simd, pe = shapes[int(rng.integers(len(shapes)))]
    side = int(rng.choice([1, 4, 28]))
    return mvau(rng, frames, form, (mw, mh, simd, pe, [1] if side == 1 else [1, side, side]))


def vvau(rng, frames=3):
    """The depthwise VVAU of --lab-impl stock: INT4 x INT4, one threshold per channel."""
    c = int(rng.choice([2, 4, 6]))
    k = int(rng.choice([1, 3]))
    pe = int(rng.choice(divisors(c)))
    simd = int(rng.choice([1, k * k]))
    h, w = int(rng.integers(1, 4)), int(rng.integers(1, 4))
    idt, wdt = str(rng.choice(["INT4", "INT3"])), "INT4"
    weights = values(rng, wdt, (c, 1, k, k))
    t = _thresholds(rng, -20, 20, c, 1)
    m = one_node("VVAU", dict(PE=pe, SIMD=simd, Dim=[h, w], Channels=c, Kernel=[k, k], inputDataType=idt,
                              weightDataType=wdt, outputDataType="BINARY", accDataType="INT12", ActVal=0,
                              noActivation=0, mem_mode="internal_decoupled"),
                 [("in0", idt)], [("weights", weights, wdt), ("thresholds", t, "INT12")])
    return m, [values(rng, idt, (frames, h, w, k * k * c))]


def swg(rng, frames=3, depthwise=False, parallel=False, pool=False):
    """FINN's sliding window generator: convolution windows, depthwise windows for VVAU/Pool
    (channel-fold major stream order), parallel-window mode, 2x2 stride-2 pooling windows."""
    c = int(rng.choice([2, 4, 6]))
    simd = c if parallel and not depthwise else int(rng.choice(divisors(c)))
    k, stride = (2, 2) if pool else (int(rng.choice([2, 3])), 1)
    # at least two windows per row and column: FINN's SWG code generation fails on a single
    # window (log2(0) in its counter widths)
    ih = int(rng.integers(k + 1, k + 3)) * (2 if pool else 1)
    iw = ih if pool else int(rng.integers(k + 2, k + 4))  # parallel windows: >= 3 output columns
    oh, ow = (ih - k) // stride + 1, (iw - k) // stride + 1
    dt = str(rng.choice(["INT4", "BINARY", "UINT8"]))
    m = one_node("ConvolutionInputGenerator", dict(ConvKernelDim=[k, k], IFMChannels=c, IFMDim=[ih, iw], OFMDim=[oh, ow],
                                                   SIMD=simd, Stride=[stride, stride], Dilation=[1, 1],
                                                   inputDataType=dt, outputDataType=dt, depthwise=int(depthwise),
                                                   parallel_window=int(parallel)), [("in0", dt)], [])
    return m, [values(rng, dt, (frames, ih, iw, c))]


def fmpadding(rng, frames=3):
    c = int(rng.choice([2, 3, 4]))
    h, w = int(rng.integers(1, 5)), int(rng.integers(1, 5))
    pad = [int(v) for v in rng.integers(0, 3, 4)]
    dt = str(rng.choice(["INT4", "BINARY"]))
    m = one_node("FMPadding", dict(ImgDim=[h, w], Padding=pad, NumChannels=c, SIMD=int(rng.choice(divisors(c))),
                                   inputDataType=dt, numInputVectors=1), [("in0", dt)], [])
    return m, [values(rng, dt, (frames, h, w, c))]


def thresholding(rng, frames=3):
    c = int(rng.choice([2, 4, 8]))
    pe = int(rng.choice(divisors(c)))
    steps, out, act = [(1, "BINARY", 0), (3, "UINT2", 0), (15, "INT4", -8)][int(rng.integers(0, 3))]
    idt = "INT8"
    t = _thresholds(rng, -128, 127, c, steps)
    m = one_node("Thresholding", dict(PE=pe, NumChannels=c, numSteps=steps, inputDataType=idt, weightDataType="INT9",
                                      outputDataType=out, ActVal=act, numInputVectors=[1, 2, 2]),
                 [("in0", idt)], [("thresholds", t, "INT9")])
    return m, [values(rng, idt, (frames, 2, 2, c))]


def dwc(rng, frames=3):
    c = 12
    elems_in, elems_out = [(2, 6), (6, 2), (4, 6), (3, 4)][int(rng.integers(0, 4))]
    dt = "INT4"
    bits = DataType[dt].bitwidth()
    m = one_node("StreamingDataWidthConverter", dict(inShape=[1, 2, c], outShape=[1, 2, c],
                                                     inWidth=elems_in * bits, outWidth=elems_out * bits, dataType=dt),
                 [("in0", dt)], [])
    return m, [values(rng, dt, (frames, 2, c))]


def fifo(rng, frames=3):
    depth = int(rng.choice([2, 8, 40, 300]))
    dt = "INT4"
    m = one_node("StreamingFIFO", dict(depth=depth, folded_shape=[1, 6, 2], normal_shape=[1, 12], dataType=dt,
                                       impl_style="rtl", ram_style=str(rng.choice(["auto", "block", "distributed"]))),
                 [("in0", dt)], [])
    return m, [values(rng, dt, (frames, 12))]


CASES = {
    **{f"MVAU/{form}": (lambda f: lambda rng, frames=3: mvau(rng, frames, f))(form) for form in MVAU_FORMS},
    "VVAU": vvau,
    "ConvolutionInputGenerator": swg,
    "ConvolutionInputGenerator/depthwise": lambda rng, frames=3: swg(rng, frames, depthwise=True),
    "ConvolutionInputGenerator/parallel": lambda rng, frames=3: swg(rng, frames, parallel=True),
    "ConvolutionInputGenerator/pool": lambda rng, frames=3: swg(rng, frames, depthwise=True, pool=True),
    "FMPadding": fmpadding,
    "Thresholding": thresholding,
    "StreamingDataWidthConverter": dwc,
    "StreamingFIFO": fifo,
    "Pool": pool,
    "DuplicateStreams": duplicate_streams,
    "GlobalAccPool": global_acc_pool,
    "LabelSelect": label_select,
    "ElementwiseAdd": lambda rng, frames=3: elementwise(rng, "ElementwiseAdd", frames),
    "ElementwiseMul": lambda rng, frames=3: elementwise(rng, "ElementwiseMul", frames),
    "ElementwiseSub": lambda rng, frames=3: elementwise(rng, "ElementwiseSub", frames),
}
