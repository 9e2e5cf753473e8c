"""RTL of the custom layers: cycles per frame vs ideal, yosys resources, and the error of
bnnforge's resource model (the one `build` and `fold` use) against yosys.

For each layer size and PE: a Verilator simulation (3 frames back to back, no stalls)
measures steady-state cycles per frame (ideal: H*W*C/PE); yosys synth_xilinx (xc7,
pre place-and-route) counts LUT (+LUTRAM), FF, CARRY, BRAM18; the FINN op's
lut_estimation/bram_estimation give the model's numbers.

    .venv/bin/python benchmarks/rtl_layers.py

Writes benchmarks/results/rtl_layers.json and .md.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from onnx import helper

HERE = Path(__file__).resolve().parent
LAB_CASES = [(16, 14, 14, 1), (16, 14, 14, 4), (32, 12, 12, 2), (64, 12, 12, 1), (64, 12, 12, 8), (128, 5, 5, 4)]
DT_CASES = [(16, 14, 14, 1), (16, 14, 14, 4), (64, 12, 12, 2), (128, 5, 5, 8)]


def model_estimate(op_type, **attrs):
    from qonnx.custom_op.registry import getCustomOp

    import bnnforge.finn_flow.ops  # noqa: F401

    node = helper.make_node(f"{op_type}_rtl", ["x"], ["y"], domain="finn.custom_op.fpgadataflow.rtl",
                            backend="fpgadataflow", **attrs)
    inst = getCustomOp(node)
    return {"LUT": inst.lut_estimation(), "BRAM18": inst.bram_estimation(), "cycles": inst.get_exp_cycles()}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--results", type=Path, default=HERE / "results")
    args = ap.parse_args()

    from bnnforge.finn_flow.layer_params import DynThreshParams, LabParams
    from bnnforge.model import golden
    from bnnforge.sim import runner, synth

    rng = np.random.default_rng(0)
    rows = []
    for c, h, w, pe in LAB_CASES:
        weights = rng.integers(-7, 8, (c, 3, 3))
        x = rng.integers(-8, 8, (3, c, h, w))
        thresholds = rng.integers(-40, 40, c)
        p = LabParams(weights, thresholds, h, w, 4, 4, pe)
        run = runner.run_lab(p, x)
        assert np.array_equal(run.output, golden.lab_binarizer(x, weights, thresholds)), "RTL mismatch"
        cells = synth.synth_lab(p)
        est = model_estimate("LabBinarizer", NumChannels=c, ImgH=h, ImgW=w, KernelSize=3, PE=pe,
                             inputDataType="INT4", weightDataType="INT4", accDataType=f"INT{p.acc_bits}")
        rows.append(_row("lab", c, h, w, pe, run, cells, est))
    for c, h, w, pe in DT_CASES:
        x = rng.integers(-8, 8, (3, c, h, w))
        t = rng.integers(-8, 9, (3, c))
        p = DynThreshParams(c, h, w, 4, 5, pe)
        run = runner.run_dynthresh(p, x, t)
        assert np.array_equal(run.output, golden.dynamic_threshold(x, t)), "RTL mismatch"
        cells = synth.synth_dynthresh(p)
        est = model_estimate("DynamicThreshold", NumChannels=c, ImgH=h, ImgW=w, PE=pe,
                             inputDataType="INT4", thresholdDataType="INT5")
        rows.append(_row("dynthresh", c, h, w, pe, run, cells, est))

    lut_err = [abs(r["model"]["LUT"] - r["yosys"]["LUT_total"]) / r["yosys"]["LUT_total"] for r in rows]
    result = {
        "benchmark": "rtl_layers",
        "simulator": "Verilator (cocotb), 3 frames back to back, no stalls",
        "synthesis": "yosys synth_xilinx -family xc7 -nodsp (pre place-and-route; LUT includes INV cells)",
        "model_lut_error_mean": float(np.mean(lut_err)),
        "model_lut_error_max": float(np.max(lut_err)),
        "rows": rows,
    }
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "rtl_layers.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        "# RTL of the custom layers: throughput and resources",
        "",
        "Cycles: Verilator, steady state over 3 back-to-back frames, ideal = H*W*C/PE. Resources: yosys "
        "synth_xilinx xc7 (pre place-and-route; LUT = LUT + LUTRAM cells, INV counted) vs bnnforge's model "
        "(FINN op lut/bram_estimation).",
        "",
        "| layer | C | HxW | PE | cycles/frame | ideal | ratio | yosys LUT | model LUT | LUT error | FF | CARRY "
        "| yosys BRAM18 | model BRAM18 |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        y, m = r["yosys"], r["model"]
        lines.append(
            f"| {r['layer']} | {r['C']} | {r['H']}x{r['W']} | {r['PE']} | {r['cycles_per_frame']:.0f} | {r['ideal']} | "
            f"{r['cycles_per_frame'] / r['ideal']:.3f} | {y['LUT_total']} | {m['LUT']} | "
            f"{100 * (m['LUT'] - y['LUT_total']) / y['LUT_total']:+.0f} % | {y['ff']} | {y['carry']} | "
            f"{y['bram18']} | {m['BRAM18']} |"
        )
    lines += ["", f"Model LUT error vs yosys: mean {100 * result['model_lut_error_mean']:.0f} %, "
              f"max {100 * result['model_lut_error_max']:.0f} %."]
    (args.results / "rtl_layers.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def _row(layer, c, h, w, pe, run, cells, est):
    y = cells.row()
    y["LUT_total"] = y["lut"] + y["lutram"]
    print(f"{layer} C={c} {h}x{w} PE={pe}: {run.cycles_per_frame:.0f} cycles/frame (ideal {h * w * c // pe}), "
          f"yosys LUT {y['LUT_total']} model {est['LUT']}", flush=True)
    return {"layer": layer, "C": c, "H": h, "W": w, "PE": pe, "cycles_per_frame": run.cycles_per_frame,
            "ideal": h * w * c // pe, "yosys": y, "model": est}


if __name__ == "__main__":
    main()
