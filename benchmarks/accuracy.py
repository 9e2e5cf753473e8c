"""Accuracy of the cnv network with sign, LAB and DyBNN binarizers on Fashion-MNIST.

Same budget for every binarizer (architecture, width, data, epochs, optimizer),
several seeds. Accuracy is the integer (hardware) forward's test accuracy on the
full 10k test set. Writes benchmarks/results/accuracy.json and accuracy.md.

    .venv/bin/python benchmarks/accuracy.py            # the committed configuration (~1 h on 2 cores)
    .venv/bin/python benchmarks/accuracy.py --epochs 1 --subset 2000 --seeds 0   # a quick look

Finished runs (RUN_DIR/metrics.json with the same configuration) are reused, so an
interrupted benchmark continues where it stopped.

--long: the schedule to convergence: all 60k training images, --augment, 12 epochs, seed 0,
sign / lab / dybnn (49 min on an idle 2-core machine: sign 1.0 min/epoch, LAB 1.7,
DyBNN 1.4; other work beside it slows it several-fold). Every epoch ends in a checkpoint, so it runs in
parts: stop it any time (or give --stop-after-epoch K) and rerun the same command, each run
continues from its last finished epoch. Its table (epochs done, accuracy, wall time) is
written beside the short-budget one in accuracy.md (accuracy_long.json).

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/accuracy.py --long --stop-after-epoch 4   # a first part
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
    ap.add_argument("--long", action="store_true", help="the 12-epoch schedule on all 60k images with augmentation")
    ap.add_argument("--stop-after-epoch", type=int, help="--long: train each run up to this epoch now (runs in parts)")
    args = ap.parse_args()
    if args.long:
        return long_schedule(args)

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


LONG = {"epochs": 12, "subset": None, "augment": True, "seed": 0}
LONG_MARK = "\n## Long schedule"
LONG_TARGETS = {"lab": 92.0, "gain": 1.0}  # issue 15: LAB-cnv accuracy (%), LAB - sign (points)


def plot_curves(runs: dict, results: Path, title: str) -> Path:
    """Test accuracy per epoch of each binarizer, as PNG beside the table."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for binarizer, v in runs.items():
        h = v["history"]
        ax.plot([e["epoch"] for e in h], [100 * e["test_accuracy"] for e in h], marker="o", label=binarizer)
    ax.set(xlabel="epoch", ylabel="test accuracy (%)", title=title)
    ax.grid(alpha=0.3)
    ax.legend()
    out = results / "accuracy_long.png"
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def long_schedule(args) -> None:
    ds = load_dataset("fashion-mnist")
    runs = HERE / "runs" / "accuracy-long"
    rows = {}
    for binarizer in BINARIZERS:
        run_dir = runs / f"cnv-{binarizer}-s{LONG['seed']}"
        model_cfg = model_config_for(ds, arch="cnv", binarizer=binarizer, width=args.width)
        train_cfg = runlib.TrainConfig(dataset="fashion-mnist", epochs=LONG["epochs"], subset=LONG["subset"],
                                       seed=LONG["seed"], augment=LONG["augment"])
        done = json.loads((run_dir / runlib.METRICS).read_text()) if (run_dir / runlib.METRICS).exists() else None
        if done and done["epochs"] >= min(LONG["epochs"], args.stop_after_epoch or LONG["epochs"]):
            print(f"{run_dir.name}: {done['epochs']} epochs done ({done['test_accuracy']:.4f})")
            rows[binarizer] = done
            continue
        print(f"{run_dir.name}: training (continues from its last finished epoch)", flush=True)
        rows[binarizer] = train(run_dir, model_cfg, train_cfg, dataset=ds, resume=True,
                                stop_after_epoch=args.stop_after_epoch)
    result = {"benchmark": "accuracy-long", "dataset": "fashion-mnist", "arch": "cnv", "width": args.width, **LONG,
              "train_images": 60000, "machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads",
              "runs": {b: {"epochs_done": m["epochs"], "test_accuracy": m["test_accuracy"],
                           "history": m["history"], "hours": sum(h["seconds"] for h in m["history"]) / 3600}
                       for b, m in rows.items()}}
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "accuracy_long.json").write_text(json.dumps(result, indent=2) + "\n")
    r = result["runs"]
    lines = [LONG_MARK.strip(), "",
             f"cnv width {args.width}, all 60k training images, --augment, {LONG['epochs']}-epoch cosine schedule, "
             f"seed {LONG['seed']} (benchmarks/accuracy.py --long; targets: LAB >= "
             f"{LONG_TARGETS['lab']:.1f} %, LAB - sign >= +{LONG_TARGETS['gain']:.1f} point).",
             "", "| binarizer | epochs done | test accuracy | train time (h) |", "|---|---|---|---|"]
    lines += [f"| {b} | {v['epochs_done']}/{LONG['epochs']} | {100 * v['test_accuracy']:.2f} % | {v['hours']:.2f} |"
              for b, v in r.items()]
    if all(v["epochs_done"] == LONG["epochs"] for v in r.values()):
        lab, gain = 100 * r["lab"]["test_accuracy"], 100 * (r["lab"]["test_accuracy"] - r["sign"]["test_accuracy"])
        lines += ["", f"LAB - sign: {gain:+.2f} points; DyBNN - sign: "
                      f"{100 * (r['dybnn']['test_accuracy'] - r['sign']['test_accuracy']):+.2f} points.", "",
                  f"- LAB >= {LONG_TARGETS['lab']:.1f} %: {'met' if lab >= LONG_TARGETS['lab'] else 'NOT met'} "
                  f"({lab:.2f} %)",
                  f"- LAB - sign >= +{LONG_TARGETS['gain']:.1f} point: "
                  f"{'met' if gain >= LONG_TARGETS['gain'] else 'NOT met'} ({gain:+.2f})"]
        png = plot_curves(r, args.results, f"cnv w{args.width}, Fashion-MNIST, --augment, {LONG['epochs']} epochs")
        lines += ["", f"Test accuracy per epoch: ![learning curves]({png.name})"]
    else:
        lines += ["", "Partial: the schedule is not finished for every run (rerun the command to continue)."]
    md = args.results / "accuracy.md"
    short = md.read_text().split(LONG_MARK)[0].rstrip() if md.exists() else ""
    md.write_text(short + "\n" + LONG_MARK + "\n" + "\n".join(lines[1:]) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
