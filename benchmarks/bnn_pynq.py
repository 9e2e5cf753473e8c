"""Brevitas' BNN-PYNQ models through bnnforge: every configuration brevitas_examples ships
(tfc, sfc, lfc, cnv in w1a1 / w1a2 / w2a2), random seeded parameters, exported with
Brevitas' export_qonnx, then `bnnforge verify MODEL.onnx` (which builds it for PYNQ-Z2):
top-1 of FINN's Python execution of the hardware graph vs qonnx execution of the Brevitas
graph on random 8-bit inputs, and for the fully connected models also the whole
accelerator's RTL in Verilator (every node's output stream vs FINN's Python execution).

    .venv/bin/python benchmarks/bnn_pynq.py                 # all 11, 16 inputs each
    .venv/bin/python benchmarks/bnn_pynq.py --names tfc_1w1a cnv_1w1a --samples 4

Writes benchmarks/results/bnn_pynq.json and .md.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RTL_NAMES = ("tfc_1w1a", "tfc_1w2a", "tfc_2w2a", "sfc_1w1a", "sfc_1w2a", "sfc_2w2a")  # whole-accelerator RTL too


def main() -> None:
    from bnnforge.model import bnn_pynq

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--names", nargs="+", default=list(bnn_pynq.NAMES), choices=bnn_pynq.NAMES)
    ap.add_argument("--samples", type=int, default=16)
    ap.add_argument("--results", type=Path, default=HERE / "results")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bnnforge-bnnpynq-"))
    rows = []
    for name in args.names:
        model = bnn_pynq.export(name, work / f"{name}.onnx")
        columns = ["finn", "network-rtl"] if name in RTL_NAMES else ["finn"]
        t0 = time.time()
        out = subprocess.run([sys.executable, "-m", "bnnforge.cli", "verify", str(model), "--samples",
                              str(args.samples), "--columns", *columns], capture_output=True, text=True)
        row = {"name": name, "columns": columns, "exit": out.returncode, "seconds": time.time() - t0}
        for col in columns:
            m = re.search(rf"{re.escape(col)}\s+agrees with qonnx execution of the model on (\d+)/(\d+)", out.stdout)
            row[col] = f"{m.group(1)}/{m.group(2)}" if m else "-"
        cells = re.findall(r"(\d+)/(\d+)(?: MISMATCH)?", "\n".join(
            line for line in out.stdout.splitlines() if line.split() and "_rtl_" in line.split()[0]))
        row["rtl_values"] = f"{sum(int(a) for a, _ in cells):,}/{sum(int(b) for _, b in cells):,}" if cells else "-"
        build = work / f"{name}_verify_build"
        perf, res = build / "report" / "estimate_network_performance.json", build / "report" / "estimate_layer_resources.json"
        if perf.exists() and res.exists():
            total = json.loads(res.read_text())["total"]
            row["estimate"] = {"LUT": total["LUT"], "BRAM18": total["BRAM_18K"],
                               "fps": json.loads(perf.read_text())["estimated_throughput_fps"]}
        if out.returncode not in (0, 1):
            row["error"] = (out.stderr.strip().splitlines() or ["?"])[-1][:300]
        rows.append(row)
        print(json.dumps(row), flush=True)
    lines = [
        "# Brevitas BNN-PYNQ models through bnnforge (benchmarks/bnn_pynq.py)",
        "",
        f"Random seeded parameters (batch-norm statistics drawn), Brevitas export_qonnx, `bnnforge verify MODEL.onnx` "
        f"on {args.samples} random 8-bit inputs; the build behind it: PYNQ-Z2, 5,000 fps folding (1,000 if that does "
        "not fit), FINN's minimum FIFO depths. finn / network-rtl: images whose top-1 class equals qonnx execution "
        "of the Brevitas graph; RTL values: integer outputs of every node's stream in the whole accelerator equal "
        "to FINN's Python execution.",
        "",
        "| model | verify exit | finn top-1 | network-rtl top-1 | RTL values equal | estimate fps / LUT / BRAM18 | seconds |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        e = r.get("estimate")
        est = f"{e['fps']:,.0f} / {e['LUT']:,.0f} / {e['BRAM18']:.0f}" if e else "-"
        err = f" ({r['error']})" if "error" in r else ""
        lines.append(f"| {r['name']} | {r['exit']}{err} | {r['finn']} | {r.get('network-rtl', '-')} | "
                     f"{r['rtl_values']} | {est} | {r['seconds']:.0f} |")
    md = "\n".join(lines) + "\n"
    print(md)
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "bnn_pynq.json").write_text(json.dumps({"machine": platform.platform(), "samples": args.samples,
                                                            "rows": rows}, indent=2) + "\n")
    (args.results / "bnn_pynq.md").write_text(md)


if __name__ == "__main__":
    main()
