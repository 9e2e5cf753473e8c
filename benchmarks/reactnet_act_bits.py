"""Ablation for the default --act-bits of `--arch reactnet`: the bits of every block's integer stream.

The same small residual network (the same seed, data and schedule) trained with act_bits 2, 3
and 4 on a Fashion-MNIST subset; test accuracy of the integer (hardware) forward on the 10k test
images, and what each width costs the hardware (threshold stages of 2^b - 1 thresholds per
channel, the Add's b+1 bits, the shortcut stream of b bits per value). Writes
benchmarks/results/reactnet_act_bits.{json,md}. Finished runs are reused (resumable).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/reactnet_act_bits.py     # ~18 min of training on one core

(The committed result took 34 min of wall time beside other jobs on the 2 cores.)

Rule for the default (stated before the measurement): the fewest bits whose mean accuracy over
the binarizers measured is within TOLERANCE points of the best; hardware cost grows with b
(thresholds per channel double per bit).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch

from bnnforge.model import run as runlib
from bnnforge.model.data import load_dataset
from bnnforge.model.train import model_config_for, train

HERE = Path(__file__).resolve().parent
TOLERANCE = 0.5  # points


def run_one(ds, run_dir: Path, binarizer: str, bits: int, args) -> dict:
    model_cfg = model_config_for(ds, arch="reactnet", binarizer=binarizer, width=args.width, blocks=args.blocks,
                                 act_bits=bits)
    train_cfg = runlib.TrainConfig(dataset="fashion-mnist", epochs=args.epochs, subset=args.subset, seed=args.seed)
    metrics_path = run_dir / runlib.METRICS
    if metrics_path.exists() and runlib.load_config(run_dir) == (model_cfg, train_cfg):
        metrics = json.loads(metrics_path.read_text())
        print(f"{run_dir.name}: reusing finished run ({metrics['test_accuracy']:.4f})", flush=True)
        return metrics
    t0 = time.time()
    metrics = train(run_dir, model_cfg, train_cfg, dataset=ds, resume=True, progress=False)
    print(f"{run_dir.name}: test accuracy {metrics['test_accuracy']:.4f} in {time.time() - t0:.0f} s", flush=True)
    return metrics


def choose(summary: dict) -> int:
    best = max(v["mean_accuracy"] for v in summary.values())
    return min(b for b, v in summary.items() if v["mean_accuracy"] >= best - TOLERANCE / 100)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bits", type=int, nargs="+", default=[2, 3, 4])
    ap.add_argument("--binarizers", nargs="+", default=["sign"], help="sign (default); lab / dybnn add rows")
    ap.add_argument("--width", type=float, default=0.25)
    ap.add_argument("--blocks", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--subset", type=int, default=8000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--runs", type=Path, default=HERE / "runs" / "reactnet_act_bits")
    ap.add_argument("--results", type=Path, default=HERE / "results")
    args = ap.parse_args()

    t_start = time.time()
    ds = load_dataset("fashion-mnist")
    rows = []
    for binarizer in args.binarizers:
        for bits in args.bits:
            m = run_one(ds, args.runs / f"{binarizer}-a{bits}", binarizer, bits, args)
            rows.append({"binarizer": binarizer, "act_bits": bits, "test_accuracy": m["test_accuracy"],
                         "best_test_accuracy": m["best_test_accuracy"], "parameter_count": m["parameter_count"],
                         "train_seconds": sum(h["train_seconds"] for h in m["history"]),
                         "curve": [h["test_accuracy"] for h in m["history"]]})
    summary = {}
    for bits in args.bits:
        accs = [r["test_accuracy"] for r in rows if r["act_bits"] == bits]
        summary[bits] = {"mean_accuracy": sum(accs) / len(accs), "thresholds_per_channel": 2**bits - 1,
                         "sum_bits": bits + 1}
    chosen = choose(summary)
    result = {
        "benchmark": "reactnet_act_bits",
        "dataset": "fashion-mnist",
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "test_images": len(ds.x_test),
        "machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads",
        "wall_seconds": time.time() - t_start,
        "rows": rows,
        "summary": {str(b): v for b, v in summary.items()},
        "tolerance_points": TOLERANCE,
        "chosen_act_bits": chosen,
    }
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "reactnet_act_bits.json").write_text(json.dumps(result, indent=2) + "\n")
    md = markdown(result, args)
    (args.results / "reactnet_act_bits.md").write_text(md)
    print(md)


def markdown(result: dict, args) -> str:
    lines = [
        f"# reactnet --act-bits ablation: width {args.width}, {args.blocks} block(s) per stage, "
        f"Fashion-MNIST {args.subset} training images, {args.epochs} epochs, seed {args.seed}",
        "",
        "Test accuracy of the integer (hardware) forward on the 10k test images "
        "(benchmarks/reactnet_act_bits.py; the same seed, data order and schedule in every row).",
        "",
        "| binarizer | act bits | test accuracy | best epoch | per epoch | parameters | train time |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        curve = ", ".join(f"{100 * a:.2f}" for a in r["curve"])
        lines.append(f"| {r['binarizer']} | {r['act_bits']} | {100 * r['test_accuracy']:.2f} % | "
                     f"{100 * r['best_test_accuracy']:.2f} % | {curve} | {r['parameter_count']:,} | "
                     f"{r['train_seconds']:.0f} s |")
    lines += ["", "| act bits | mean accuracy | thresholds per channel (conv and RPReLU stages) | Add bits |",
              "|---|---|---|---|"]
    for bits, v in result["summary"].items():
        lines.append(f"| {bits} | {100 * v['mean_accuracy']:.2f} % | {v['thresholds_per_channel']} | "
                     f"{v['sum_bits']} |")
    lines += ["", f"Default: the fewest bits within {result['tolerance_points']} points of the best mean: "
                  f"**--act-bits {result['chosen_act_bits']}**. Wall time {result['wall_seconds'] / 60:.1f} min "
                  f"({result['machine']})."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
