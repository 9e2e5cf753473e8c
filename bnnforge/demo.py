"""`make demo`: train a small LAB cnv on Fashion-MNIST, export, verify, build for PYNQ-Z2 down
to the whole accelerator's RTL, and run test images through that RTL in Verilator.

Runs the same `bnnforge` commands a user would, then prints where everything is.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bnnforge.finn_flow.flow.build import EXIT_STAGE_UNAVAILABLE

RUN = Path("runs/demo-lab")
BUILD = Path("runs/demo-lab-build")


def bnnforge(*args: str, ok=(0,)) -> int:
    cmd = [sys.executable, "-m", "bnnforge.cli", *args]
    print("\n$ bnnforge " + " ".join(args), flush=True)
    code = subprocess.call(cmd)
    if code not in ok:
        sys.exit(f"demo: `bnnforge {' '.join(args)}` failed with exit code {code}")
    return code


def main() -> None:
    train = ["train", "--arch", "cnv", "--binarizer", "lab", "--dataset", "fashion-mnist", "--width", "0.25",
             "--subset", "20000", "--epochs", "3", "--seed", "0", "--out", str(RUN)]
    if (RUN / "metrics.json").exists():
        print(f"{RUN} already trained: reusing it (delete it to retrain)")
    else:
        bnnforge(*train, *(["--resume"] if (RUN / "checkpoint.pt").exists() else []))
    bnnforge("export", str(RUN))
    bnnforge("verify", str(RUN), "--samples", "8")
    code = bnnforge("build", str(RUN / "model.onnx"), "--board", "pynq-z2", "--target-fps", "3000",
                    "--out", str(BUILD), ok=(0, EXIT_STAGE_UNAVAILABLE))
    bnnforge("sim", "network", str(BUILD), "--run", str(RUN), "--images", "32", "--json", str(BUILD / "sim_network.json"))

    metrics = json.loads((RUN / "metrics.json").read_text())
    summary = json.loads((BUILD / "report" / "bnnforge_summary.json").read_text())
    sim = json.loads((BUILD / "sim_network.json").read_text())
    t, b = summary["total"], summary["budget"]
    print("\n=== bnnforge demo ===")
    print(f"trained model      {RUN}/checkpoint.pt   test accuracy {100 * metrics['test_accuracy']:.2f} % "
          f"(Fashion-MNIST, integer/hardware forward)")
    print(f"QONNX + vectors    {RUN}/model.onnx, {RUN}/vectors.npz")
    print(f"build              {BUILD}/  (folding.json, report/, code/, rtl/, intermediate_models/)")
    print(f"RTL simulation     {sim['images']} test images through {BUILD}/rtl/accelerator.sv in Verilator: "
          f"{sim['mismatches']} mismatches, {sim['fps']:,.0f} fps measured ({sim['cycles_per_frame']:,.0f} cycles/frame)")
    print(f"estimated          {summary['estimated_fps']:,.0f} fps at {summary['clock_ns']} ns on PYNQ-Z2; "
          f"LUT {t['LUT']:.0f} / {b['LUT']}, BRAM18 {t['BRAM_18K']:.0f} / {b['BRAM_18K']}")
    if code == EXIT_STAGE_UNAVAILABLE:
        print("bitstream          not built: Vivado / Vitis HLS are not on PATH (see the build message above)")
    else:
        print(f"bitstream          {BUILD}/bitfile, PYNQ driver {BUILD}/driver, package {BUILD}/deploy")


if __name__ == "__main__":
    main()
