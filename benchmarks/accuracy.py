"""Accuracy of the cnv network with sign, LAB and DyBNN binarizers on Fashion-MNIST.

Same budget for every binarizer (architecture, width, data, epochs, optimizer),
several seeds. Accuracy is the integer (hardware) forward's test accuracy on the
full 10k test set. Writes benchmarks/results/accuracy.json and accuracy.md.

    .venv/bin/python benchmarks/accuracy.py            # the committed configuration (~1 h on 2 cores)
    .venv/bin/python benchmarks/accuracy.py --epochs 1 --subset 2000 --seeds 0   # a quick look

Finished runs (RUN_DIR/metrics.json with the same configuration) are reused, so an
interrupted benchmark continues where it stopped.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import torch

from bnnforge.model import run as runlib
from bnnforge.model.data import load_dataset
from bnnforge.model.train import model_config_for, train

HERE = Path(__file__).resolve().parent
BINARIZERS = ("sign", "lab", "dybnn")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--subset", type=int, default=30000, help="training images (of 60000)")
    ap.add_argument("--width", type=float, default=0.5)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--runs", type=Path, default=HERE / "runs" / "accuracy")
    ap.add_argument("--results", type=Path, default=HERE / "results")
    args = ap.parse_args()

    ds = load_dataset("fashion-mnist")
    rows = {}
    for binarizer in BINARIZERS:
        for seed in args.seeds:
            run_dir = args.runs / f"cnv-{binarizer}-s{seed}"
            model_cfg = model_config_for(ds, arch="cnv", binarizer=binarizer, width=args.width)
            train_cfg = runlib.TrainConfig(dataset="fashion-mnist", epochs=args.epochs, subset=args.subset, seed=seed)
            metrics_path = run_dir / runlib.METRICS
            if metrics_path.exists() and runlib.load_config(run_dir) == (model_cfg, train_cfg):
                metrics = json.loads(metrics_path.read_text())
                print(f"{run_dir.name}: reusing finished run ({metrics['test_accuracy']:.4f})")
            else:
                print(f"{run_dir.name}: training")
                t0 = time.time()
                metrics = train(run_dir, model_cfg, train_cfg, dataset=ds, resume=True)
                print(f"{run_dir.name}: test accuracy {metrics['test_accuracy']:.4f} in {time.time() - t0:.0f} s")
            rows.setdefault(binarizer, []).append(metrics)

    summary = {}
    for binarizer, runs in rows.items():
        accs = [m["test_accuracy"] for m in runs]
        summary[binarizer] = {
            "test_accuracy_mean": statistics.mean(accs),
            "test_accuracy_std": statistics.stdev(accs) if len(accs) > 1 else 0.0,
            "test_accuracy_per_seed": accs,
            "parameter_count": runs[0]["parameter_count"],
            "seconds_per_epoch_mean": statistics.mean(m["seconds_per_epoch"] for m in runs),
        }
    base = summary["sign"]["seconds_per_epoch_mean"]
    result = {
        "benchmark": "accuracy",
        "dataset": "fashion-mnist",
        "arch": "cnv",
        "width": args.width,
        "epochs": args.epochs,
        "train_images": args.subset,
        "test_images": 10000,
        "seeds": args.seeds,
        "machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads",
        "results": summary,
    }
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "accuracy.json").write_text(json.dumps(result, indent=2) + "\n")

    lines = [
        f"# cnv (width {args.width}) on Fashion-MNIST: {args.epochs} epochs on {args.subset} training images, "
        f"seeds {args.seeds}",
        "",
        "Test accuracy of the integer (hardware) forward on the 10k test images.",
        "",
        "| binarizer | test accuracy (mean ± std) | per seed | parameters | train time / epoch (vs sign) |",
        "|---|---|---|---|---|",
    ]
    for b, s in summary.items():
        per_seed = ", ".join(f"{a:.4f}" for a in s["test_accuracy_per_seed"])
        lines.append(
            f"| {b} | {100 * s['test_accuracy_mean']:.2f} ± {100 * s['test_accuracy_std']:.2f} % | {per_seed} | "
            f"{s['parameter_count']:,} | {s['seconds_per_epoch_mean']:.0f} s ({s['seconds_per_epoch_mean'] / base:.2f}x) |"
        )
    d_lab = 100 * (summary["lab"]["test_accuracy_mean"] - summary["sign"]["test_accuracy_mean"])
    d_dy = 100 * (summary["dybnn"]["test_accuracy_mean"] - summary["sign"]["test_accuracy_mean"])
    lines += ["", f"LAB - sign: {d_lab:+.2f} points; DyBNN - sign: {d_dy:+.2f} points."]
    (args.results / "accuracy.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
