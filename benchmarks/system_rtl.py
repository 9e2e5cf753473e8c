"""The board system in RTL: tfc and cnv w0.5 (sign, LAB) at 3,000 fps on PYNQ-Z2 and ZCU104.

For each: `bnnforge build --until rtl` (FIFOs sized in Verilator), then
- `bnnforge sim network` (the accelerator alone, the reference throughput), and
- `bnnforge sim driver` at memory latencies 20 and 100 cycles: the deploy package's own
  driver.py moving N test images through bnnforge_system (DMA engines + accelerator, simulated
  DDR): mismatches (target 0), cycles/frame and fps with the DMAs, and their ratio to the
  accelerator alone (target >= 0.98: the memory side must not bound the throughput);
- yosys LUT/FF/BRAM of the DMA engines (dma_shell with the build's parameters) beside the
  accelerator's (whole-design synthesis, PYNQ-Z2 rows only: it takes minutes per network).
Writes benchmarks/results/system_rtl.json and system_rtl.md.

    .venv/bin/python benchmarks/system_rtl.py                       # the committed configuration
    .venv/bin/python benchmarks/system_rtl.py --images 20 --nets tfc --boards pynq-z2   # a quick look

Accuracy does not matter here (bit-exactness and cycles do): the runs are trained briefly
(benchmarks/runs/system_rtl/, 1 epoch on 10k Fashion-MNIST images).
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RUNS = HERE / "runs" / "system_rtl"
NETS = {"tfc": ("tfc", "sign"), "cnv-sign": ("cnv", "sign"), "cnv-lab": ("cnv", "lab")}
BOARDS = ("pynq-z2", "zcu104")
LATENCIES = (20, 100)
TARGET_FPS = 3000
RATIO_TARGET = 0.98


def bnnforge(*args, timeout=3600) -> subprocess.CompletedProcess:
    out = subprocess.run([sys.executable, "-m", "bnnforge.cli", *map(str, args)], capture_output=True, text=True,
                         timeout=timeout)
    if out.returncode != 0:
        raise SystemExit(f"bnnforge {' '.join(map(str, args))} failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    return out


def commit() -> str:
    root = str(HERE.parent)
    head = subprocess.run(["git", "-C", root, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", root, "status", "--porcelain", "--", "bnnforge", "model", "finn_flow", "sim",
                            "boards"], capture_output=True, text=True)
    return head.stdout.strip() + ("+changes" if dirty.stdout.strip() else "")


def trained(net: str) -> Path:
    arch, binarizer = NETS[net]
    run = RUNS / net
    if not (run / "model.onnx").exists():
        width = ["--width", "0.5"] if arch == "cnv" else []
        print(f"training {net} (1 epoch, 10k images)", flush=True)
        bnnforge("train", "--arch", arch, "--binarizer", binarizer, *width, "--dataset", "fashion-mnist", "--epochs",
                 "1", "--subset", "10000", "--seed", "0", "--out", run, "--quiet")
        bnnforge("export", run)
    return run


def dma_top(shape: dict) -> str:
    """A top that is dma_shell with the build's parameters, every port brought out."""
    from bnnforge.finn_flow.rtl.system import system_ports

    ports = [(d, n, w) for d, n, w in system_ports(shape["bus_bits"], shape["addr_bits"])]
    ports += [("output", "m_axis_acc_tdata", shape["in_bits"]), ("output", "m_axis_acc_tvalid", 1),
              ("input", "m_axis_acc_tready", 1), ("input", "s_axis_acc_tdata", shape["out_bits"]),
              ("input", "s_axis_acc_tvalid", 1), ("output", "s_axis_acc_tready", 1)]
    params = {"BUS_BITS": shape["bus_bits"], "ADDR_BITS": shape["addr_bits"], "IN_BITS": shape["in_bits"],
              "OUT_BITS": shape["out_bits"], "IN_FRAME_BEATS": shape["in_frame_beats"],
              "OUT_FRAME_BEATS": shape["out_frame_beats"]}
    decl = ",\n".join(f"  {d} wire [{w - 1}:0] {n}" for d, n, w in ports)
    conn = ",\n".join(f"    .{n}({n})" for _, n, _ in ports)
    return (f"module dma_bench (\n{decl}\n);\n  dma_shell #(" + ", ".join(f".{k}({v})" for k, v in params.items())
            + f") dmas (\n{conn}\n  );\nendmodule\n")


def dma_synth(build: Path, board: str) -> dict:
    """yosys of dma_shell with the build's parameters (the DMA engines and the control decode)."""
    from bnnforge.boards import load_board
    from bnnforge.sim import synth
    from bnnforge.sim.system_sim import shell_sources

    shape = json.loads((build / "rtl" / "design.json").read_text())["system"]
    work = build / "dma_synth"
    work.mkdir(exist_ok=True)
    (work / "dma_bench.sv").write_text(dma_top(shape))
    counts = synth.synth([*shell_sources(), work / "dma_bench.sv"], "dma_bench", load_board(board).yosys_family, [],
                         work)
    return {"LUT": counts.lut + counts.lutram, "FF": counts.ff, "BRAM18": counts.bram18}


def rtl_state(build: Path) -> dict | None:
    """The build state of a folder whose rtl stage completed, else None (an interrupted build is
    built again)."""
    from bnnforge.errors import BnnforgeError
    from bnnforge.finn_flow.flow.state import require_stage

    try:
        return require_stage(build, "rtl")
    except BnnforgeError:
        return None


def one(net: str, board: str, images: int, synth_accelerator: bool) -> dict:
    run = trained(net)
    build = RUNS / f"{net}-{board}"
    t0 = time.time()
    if rtl_state(build) is None:
        bnnforge("build", run / "model.onnx", "--board", board, "--target-fps", TARGET_FPS, "--until", "rtl", "--out",
                 build)
    row = {"net": net, "board": board, "target_fps": TARGET_FPS, "images": images, "build_s": time.time() - t0}
    bnnforge("sim", "network", build, "--run", run, "--images", images, "--json", build / "alone.json", "--quiet")
    alone = json.loads((build / "alone.json").read_text())
    row["alone"] = {"cycles_per_frame": alone["cycles_per_frame"], "fps": alone["fps"],
                    "mismatches": alone["mismatches"]}
    for latency in LATENCIES:
        bnnforge("sim", "driver", build, "--run", run, "--images", images, "--mem-latency", latency, "--json",
                 build / f"system-{latency}.json")
        r = json.loads((build / f"system-{latency}.json").read_text())
        row[f"latency_{latency}"] = {"cycles_per_frame": r["cycles_per_frame"], "fps": r["fps"],
                                     "mismatches": r["mismatches"], "latency_cycles": r["latency_cycles"],
                                     "steady_cycles_per_frame": r["steady_cycles_per_frame"],
                                     "ratio": alone["cycles_per_frame"] / r["steady_cycles_per_frame"],
                                     "ratio_with_fill": alone["cycles_per_frame"] / r["cycles_per_frame"]}
    row["dma_yosys"] = dma_synth(build, board)
    if synth_accelerator:
        bnnforge("sim", "synth", "--network", build, "--json", build / "synth.json")
        total = json.loads((build / "synth.json").read_text())["total"]
        row["accelerator_yosys"] = {"LUT": total["LUT"] + total["LUTRAM"], "FF": total["FF"], "BRAM18": total["BRAM18"]}
    return row


def _cells(m: dict) -> str:
    return (f"{m['steady_cycles_per_frame']:,.1f} ({m['cycles_per_frame']:,.1f}) | {m['ratio']:.3f} "
            f"({m['ratio_with_fill']:.3f})")


def report(rows: list[dict]) -> str:
    lines = ["# The board system in RTL: driver + DMA engines + accelerator", "",
             f"`bnnforge sim driver` (the deploy package's driver.py, the DMAs, a simulated DDR) vs `bnnforge sim "
             f"network` (the accelerator alone), {TARGET_FPS} fps foldings, N test images per row, no memory stalls. "
             "Both in steady state: `sim network` measures it between output frames; `sim driver` runs the N images, then "
             "the first image alone (one pipeline fill, its latency), and takes (N-image time - 1-image time) / (N - 1). "
             f"Ratio = steady cycles/frame alone / with the DMAs (target >= {RATIO_TARGET}); in brackets the "
             "N-image time / N (input DMA start to output DMA done, one fill included) and its ratio.",
             "", "| network | board | images | mismatches | alone cyc/frame | latency (1 image) | lat 20: cyc/frame "
             "| ratio | lat 100: cyc/frame | ratio | DMA LUT/FF/BRAM18 | accelerator LUT/FF/BRAM18 |", "|" + "---|" * 12]
    for r in rows:
        mism = sum(r[f"latency_{lat}"]["mismatches"] for lat in LATENCIES) + r["alone"]["mismatches"]
        acc = r.get("accelerator_yosys")
        d = r["dma_yosys"]
        lines.append(
            f"| {r['net']} | {r['board']} | {r['images']} | {mism} | {r['alone']['cycles_per_frame']:,.1f} | "
            + f"{r[f'latency_{LATENCIES[0]}']['latency_cycles']:,} | "
            + " | ".join(_cells(r[f"latency_{lat}"]) for lat in LATENCIES)
            + f" | {d['LUT']:,}/{d['FF']:,}/{d['BRAM18']:g} | "
            + (f"{acc['LUT']:,}/{acc['FF']:,}/{acc['BRAM18']:g}" if acc else "-") + " |")
    worst = min(r[f"latency_{lat}"]["ratio"] for r in rows for lat in LATENCIES)
    total_mismatches = sum(r[f"latency_{lat}"]["mismatches"] for r in rows for lat in LATENCIES)
    lines += ["", f"- mismatches: {total_mismatches} (target 0): {'met' if total_mismatches == 0 else 'NOT met'}",
              f"- smallest ratio with the DMAs: {worst:.3f} (target >= {RATIO_TARGET}): "
              f"{'met' if worst >= RATIO_TARGET else 'NOT met'}"]
    done = {(r["net"], r["board"]) for r in rows}
    missing = [f"{n} on {b}" for n in NETS for b in BOARDS if (n, b) not in done]
    if missing:
        lines.append(f"- not run: {', '.join(missing)}")
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=100)
    ap.add_argument("--nets", nargs="+", default=list(NETS), choices=list(NETS))
    ap.add_argument("--boards", nargs="+", default=list(BOARDS), choices=BOARDS)
    ap.add_argument("--results", type=Path, default=HERE / "results")
    args = ap.parse_args()
    rows = []
    args.results.mkdir(parents=True, exist_ok=True)
    for net in args.nets:
        for board in args.boards:
            print(f"{net} on {board}", flush=True)
            rows.append(one(net, board, args.images, synth_accelerator=board == "pynq-z2"))
            print(json.dumps(rows[-1]), flush=True)
            # written after every row: a run stopped for time keeps what it measured
            (args.results / "system_rtl.json").write_text(json.dumps(
                {"benchmark": "system_rtl", "commit": commit(), "machine": platform.node(), "rows": rows},
                indent=2) + "\n")
            text = report(rows)
            (args.results / "system_rtl.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
