"""Accuracy of the cnv network with sign, LAB and DyBNN binarizers on Fashion-MNIST.

Same budget for every binarizer (architecture, width, data, epochs, optimizer),
several seeds. Accuracy is the integer (hardware) forward's test accuracy on the
full 10k test set. Writes benchmarks/results/accuracy.json and accuracy.md.

    .venv/bin/python benchmarks/accuracy.py            # the committed configuration (~1 h on 2 cores)
    .venv/bin/python benchmarks/accuracy.py --epochs 1 --subset 2000 --seeds 0   # a quick look

Finished runs (RUN_DIR/metrics.json with the same configuration) are reused, so an
interrupted benchmark continues where it stopped.

--long: the schedule to convergence: all 60k training images, --augment, 12 epochs, seed 0 (--seed),
sign / lab / dybnn (49 min on an idle 2-core machine: sign 1.0 min/epoch, LAB 1.7,
DyBNN 1.4; other work beside it slows it several-fold). Every epoch ends in a checkpoint, so it runs in
parts: stop it any time (or give --stop-after-epoch K) and rerun the same command, each run
continues from its last finished epoch. Its table (epochs done, accuracy, wall time) is
written beside the short-budget one in accuracy.md (accuracy_long.json). Another --seed trains
its own runs and writes its own section (accuracy_long..._sN.json); once two or more seeds of a
network have finished, a section of their mean judges the targets on the means.

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/accuracy.py --long --stop-after-epoch 4   # a first part

--long --arch reactnet: the same schedule for the residual network (width 0.5, --blocks 2 per stage
unless given; runs in benchmarks/runs/accuracy-long-reactnet/, its own section in accuracy.md and
accuracy_long_reactnet.json; targets: LAB >= 92.0 %, LAB - sign >= +1.0, DyBNN - sign >= +0.5 point).
It is several times slower than cnv (about 3x the multiply-accumulates per image): hours on 2 cores
(a sign epoch took 10 min on an idle 2-core machine, 28 min beside other work), so run it in parts. To
continue on another machine, commit the unfinished run folders' checkpoint.pt and config.json
(`git add -f`: benchmarks/runs/ is ignored); the same command resumes from them. Runs can go side by
side, one thread each (a reactnet sign and LAB epoch took 19 and 21 min so on 2 cores, with other
work beside them; one thread is 0.56x of two: results/ddp.md):

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/accuracy.py --long --arch reactnet --binarizers sign &
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/accuracy.py --long --arch reactnet --binarizers lab &
    .venv/bin/python benchmarks/accuracy.py --long --arch reactnet --binarizers   # the table so far, no training

--epochs/--subset shorten the long schedule for a smoke run, e.g.

    .venv/bin/python benchmarks/accuracy.py --long --arch reactnet --width 0.125 --blocks 1 --epochs 1 \
        --subset 300 --runs /tmp/acc-smoke --results /tmp/acc-smoke
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import torch

from bnnforge.model import CROP_PAD
from bnnforge.model import run as runlib
from bnnforge.model.data import load_dataset
from bnnforge.model.train import model_config_for, train

HERE = Path(__file__).resolve().parent
BINARIZERS = ("sign", "lab", "dybnn")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, help="default 3 (--long: 12)")
    ap.add_argument("--subset", type=int, help="training images (of 60000; default 30000, --long: all)")
    ap.add_argument("--width", type=float, default=0.5)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--runs", type=Path, help="run folders (default benchmarks/runs/accuracy[-long[-reactnet][-wWIDTH]], -wWIDTH unless "
                    "--width 0.5)")
    ap.add_argument("--results", type=Path, default=HERE / "results")
    ap.add_argument("--long", action="store_true", help="the 12-epoch schedule on all 60k images with augmentation")
    ap.add_argument("--arch", choices=("cnv", "reactnet"), default="cnv", help="--long: the network (default cnv)")
    ap.add_argument("--blocks", type=int, help="--long --arch reactnet: blocks per stage (default 2)")
    ap.add_argument("--binarizers", nargs="*", choices=BINARIZERS, default=list(BINARIZERS),
                    help="--long: train only these runs now (e.g. one process per binarizer in parallel, each with "
                    "OMP_NUM_THREADS=1); the others are reported as far as their last checkpoint. Given with "
                    "no names: only write the table")
    ap.add_argument("--stop-after-epoch", type=int, help="--long: train each run up to this epoch now (runs in parts)")
    ap.add_argument("--seed", type=int, default=LONG["seed"], help="--long: the run's seed (default %(default)s; "
                    "another seed trains in its own run folders and writes its own results, ..._sN)")
    ap.add_argument("--crop-pad", type=int, default=CROP_PAD, help="--long: the random crop's zero padding in pixels "
                    "(default %(default)s; another value trains in its own run folders, named ...-padN)")
    args = ap.parse_args()
    if args.long:
        return long_schedule(args)
    if args.arch != "cnv" or args.blocks is not None:
        ap.error("--arch reactnet / --blocks: only with --long")
    args.epochs, args.subset = args.epochs or 3, args.subset or 30000
    args.runs = args.runs or HERE / "runs" / "accuracy"

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
    md = args.results / "accuracy.md"
    old = md.read_text() if md.exists() else ""
    long_sections = old[old.index(LONG_MARK):] if LONG_MARK in old else ""  # kept as they are
    md.write_text("\n".join(lines) + "\n" + long_sections)
    print("\n".join(lines))


LONG = {"epochs": 12, "subset": None, "augment": True, "seed": 0}
LONG_MARK = "\n## Long schedule"
# LAB accuracy (%), LAB - sign and DyBNN - sign (points); issue 15 (cnv), the residual-BNN issue (reactnet)
LONG_TARGETS = {"cnv": {"lab": 92.0, "gain": 1.0}, "reactnet": {"lab": 92.0, "gain": 1.0, "dybnn_gain": 0.5}}


def plot_curves(runs: dict, results: Path, title: str, name: str = "accuracy_long.png") -> Path:
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
    out = results / name
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def long_schedule(args) -> None:
    ds = load_dataset("fashion-mnist")
    arch, suffix = args.arch, ("" if args.arch == "cnv" else f"_{args.arch}")
    sched = {**LONG, "epochs": args.epochs or LONG["epochs"], "subset": args.subset or LONG["subset"],
             "crop_pad": args.crop_pad, "seed": args.seed}
    width_tag = "" if args.width == 0.5 else f"-w{args.width:g}"  # another width trains in its own folders
    runs = args.runs or HERE / "runs" / ("accuracy-long" + suffix.replace("_", "-") + width_tag)
    suffix += width_tag.replace("-", "_")  # and its own results (json, plot, accuracy.md section)
    suffix += "" if args.seed == LONG["seed"] else f"_s{args.seed}"
    extra = {"blocks": args.blocks} if arch == "reactnet" else {}
    rows = {}
    pad_tag = "" if args.crop_pad == CROP_PAD else f"-pad{args.crop_pad}"
    run_dirs = {b: runs / f"{arch}-{b}-s{sched['seed']}{pad_tag}" for b in BINARIZERS}
    train_images = len(ds.subset(sched["subset"], seed=sched["seed"]).x_train)
    for binarizer, run_dir in run_dirs.items():
        if binarizer not in args.binarizers:  # trained by another process (or later): shown as far as it got
            if (run_dir / runlib.CHECKPOINT).exists():
                rows[binarizer] = _progress(run_dir, train_images)
            continue
        model_cfg = model_config_for(ds, arch=arch, binarizer=binarizer, width=args.width, **extra)
        train_cfg = runlib.TrainConfig(dataset="fashion-mnist", epochs=sched["epochs"], subset=sched["subset"],
                                       seed=sched["seed"], augment=sched["augment"], crop_pad=args.crop_pad)
        done = json.loads((run_dir / runlib.METRICS).read_text()) if (run_dir / runlib.METRICS).exists() else None
        if done and done["epochs"] >= min(sched["epochs"], args.stop_after_epoch or sched["epochs"]):
            print(f"{run_dir.name}: {done['epochs']} epochs done ({done['test_accuracy']:.4f})")
            rows[binarizer] = done
            continue
        print(f"{run_dir.name}: training (continues from its last finished epoch)", flush=True)
        rows[binarizer] = train(run_dir, model_cfg, train_cfg, dataset=ds, resume=True,
                                stop_after_epoch=args.stop_after_epoch)
    if not rows:
        raise SystemExit(f"no runs in {runs} yet: give --binarizers NAME to train one")
    any_row = next(iter(rows.values()))
    result = {"benchmark": "accuracy-long", "dataset": "fashion-mnist", "arch": arch, "width": args.width, **sched,
              **({"blocks": any_row["model"]["blocks"]} if arch == "reactnet" else {}),
              "train_images": any_row["train_images"],
              "machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads",
              "runs": {b: {"epochs_done": m["epochs"], "test_accuracy": m["test_accuracy"],
                           "bn_recalibration_images": min(m["train_images"],
                                                         _bn_recalibration(run_dirs[b])),
                           "history": m["history"], "hours": sum(h["seconds"] for h in m["history"]) / 3600}
                       for b, m in rows.items()}}
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / f"accuracy_long{suffix}.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = _long_table(result, args.results, suffix)
    _write_section(args.results / "accuracy.md", lines[0], lines[1:])
    print("\n".join(lines))
    mean = _seeds_mean(args.results, arch, args.width)
    if mean:
        _write_section(args.results / "accuracy.md", mean[0], mean[1:])
        print("\n".join(mean))


def _seeds_mean(results: Path, arch: str, width: float) -> list[str] | None:
    """The markdown section of the mean over seeds of one network's long schedule: the seeds
    whose runs all finished with the same schedule as seed 0's (accuracy_long...[_sN].json),
    their accuracies per binarizer and the targets judged on the means. None below 2 seeds."""
    stem = "accuracy_long" + ("" if arch == "cnv" else f"_{arch}") + ("" if width == 0.5 else f"_w{width:g}")
    files = [results / f"{stem}.json"] + sorted(results.glob(f"{stem}_s*.json"))
    runs = [json.loads(f.read_text()) for f in files if f.exists()]
    if not runs:
        return None
    schedule = {k: runs[0].get(k) for k in ("epochs", "subset", "crop_pad", "blocks", "width", "arch")}
    done = [r for r in runs if {k: r.get(k) for k in schedule} == schedule
            and all(r["runs"].get(b, {}).get("epochs_done") == r["epochs"] for b in BINARIZERS)]
    if len(done) < 2:
        return None
    acc = {b: [100 * r["runs"][b]["test_accuracy"] for r in done] for b in BINARIZERS}
    mean = {b: statistics.mean(v) for b, v in acc.items()}
    seeds = ", ".join(str(r["seed"]) for r in done)
    targets = LONG_TARGETS[arch]
    width_tag = "" if width == 0.5 else f" w{width:g}"
    lines = [LONG_MARK.strip() + ("" if arch == "cnv" else f": {arch}") + width_tag + ", mean over seeds", "",
             f"The runs above of seeds {seeds} (the same schedule), their mean and spread; the targets on the means.",
             "", "| binarizer | " + " | ".join(f"seed {r['seed']}" for r in done) + " | mean ± std |",
             "|---|" + "---|" * (len(done) + 1)]
    lines += [f"| {b} | " + " | ".join(f"{a:.2f} %" for a in acc[b]) + f" | {mean[b]:.2f} ± {statistics.stdev(acc[b]):.2f} % |"
              for b in BINARIZERS]
    checks = [(f"LAB >= {targets['lab']:.1f} %", mean["lab"], targets["lab"], "{:.2f} %"),
              (f"LAB - sign >= +{targets['gain']:.1f} point", mean["lab"] - mean["sign"], targets["gain"], "{:+.2f}")]
    if "dybnn_gain" in targets:
        checks.append((f"DyBNN - sign >= +{targets['dybnn_gain']:.1f} point", mean["dybnn"] - mean["sign"],
                       targets["dybnn_gain"], "{:+.2f}"))
    lines.append("")
    lines += [f"- {goal} (means): {'met' if v >= t else 'NOT met'} ({fmt.format(v)})" for goal, v, t, fmt in checks]
    return lines


def _progress(run_dir: Path, train_images: int) -> dict:
    """The metrics of a run as far as its last checkpoint (a run another process is training)."""
    history = runlib.load_checkpoint(run_dir)["history"]
    model = json.loads((run_dir / runlib.CONFIG).read_text())["model"]
    return {"epochs": len(history), "test_accuracy": history[-1]["test_accuracy"] if history else 0.0,
            "history": history, "train_images": train_images, "model": model}


def _bn_recalibration(run_dir: Path) -> int:
    """The run's --bn-recalibration-images; 0 for runs trained before the option existed (their
    BatchNorm statistics are training's moving averages)."""
    return json.loads((run_dir / runlib.CONFIG).read_text())["train"].get("bn_recalibration_images", 0)


def _bn_statistics(images: int) -> str:
    return f"recomputed after each epoch ({images:,} images)" if images else "training's moving averages"


def _long_table(result: dict, results: Path, suffix: str) -> list[str]:
    """The markdown section of a long run: header line first, then the table and the verdicts."""
    arch, r, epochs = result["arch"], result["runs"], result["epochs"]
    targets = LONG_TARGETS[arch]
    blocks = result.get("blocks") or 2
    net = f"{arch} width {result['width']}" + (f", {blocks} block{'s' * (blocks > 1)} per stage" if arch == "reactnet" else "")
    goals = [f"LAB >= {targets['lab']:.1f} %", f"LAB - sign >= +{targets['gain']:.1f} point"]
    if "dybnn_gain" in targets:
        goals.append(f"DyBNN - sign >= +{targets['dybnn_gain']:.1f} point")
    width_tag = "" if result["width"] == 0.5 else f" w{result['width']:g}"
    seed_tag = "" if result["seed"] == LONG["seed"] else f" seed {result['seed']}"
    lines = [LONG_MARK.strip() + ("" if arch == "cnv" else f": {arch}") + width_tag + seed_tag, "",
             f"{net}, {'all 60k' if result['subset'] is None else result['train_images']} training images, --augment (crop padding {result.get('crop_pad', CROP_PAD)} px), {epochs}-epoch cosine schedule, "
             f"seed {result['seed']} (benchmarks/accuracy.py --long{'' if arch == 'cnv' else ' --arch ' + arch}; "
             f"targets: {', '.join(goals)}).",
             "", "| binarizer | epochs done | test accuracy | train time (h) | BatchNorm statistics |",
             "|---|---|---|---|---|"]
    lines += [f"| {b} | {v['epochs_done']}/{epochs} | {100 * v['test_accuracy']:.2f} % | {v['hours']:.2f} | "
              f"{_bn_statistics(v.get('bn_recalibration_images', 0))} |" for b, v in r.items()]
    finished = {b for b, v in r.items() if v["epochs_done"] == epochs}
    acc = {b: 100 * r[b]["test_accuracy"] for b in finished}

    # (target, the runs it compares: the first's accuracy minus the second's, its goal, format)
    checks = [(goals[0], ("lab",), targets["lab"], "{:.2f} %"), (goals[1], ("lab", "sign"), targets["gain"], "{:+.2f}")]
    if "dybnn_gain" in targets:
        checks.append((goals[2], ("dybnn", "sign"), targets["dybnn_gain"], "{:+.2f}"))
    lines.append("")
    for goal, runs, target, fmt in checks:  # a verdict once every run the target compares has finished
        if set(runs) <= finished:
            v = acc[runs[0]] - (acc[runs[1]] if len(runs) > 1 else 0.0)
            lines.append(f"- {goal}: {'met' if v >= target else 'NOT met'} ({fmt.format(v)})")
        else:
            pending = [f"{b} {r[b]['epochs_done']}/{epochs}" if b in r else f"{b} not started" for b in runs
                       if b not in finished]
            lines.append(f"- {goal}: pending ({', '.join(pending)})")
    if finished != set(BINARIZERS):
        return lines + ["", "Partial: the schedule is not finished for every run (rerun the command to continue)."]
    png = plot_curves(r, results, f"{arch} w{result['width']}, Fashion-MNIST, --augment, {epochs} epochs",
                      f"accuracy_long{suffix}.png")
    return lines + ["", f"Test accuracy per epoch: ![learning curves]({png.name})"]


def _write_section(md: Path, header: str, body: list[str]) -> None:
    """Replace (or append) the section of accuracy.md that starts with the line ``header``."""
    text = md.read_text() if md.exists() else ""
    parts = text.split("\n## ")
    sections = [parts[0].rstrip()] + ["## " + p.rstrip() for p in parts[1:]]
    new = "\n".join([header, *body])
    found = [i for i, sec in enumerate(sections) if sec.split("\n", 1)[0] == header]
    if found:
        sections[found[0]] = new
    else:
        sections.append(new)
    md.write_text("\n\n".join(sec for sec in sections if sec) + "\n")


if __name__ == "__main__":
    main()
