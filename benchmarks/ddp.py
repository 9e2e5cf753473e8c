"""Data-parallel training on this machine: training samples/s of `bnnforge train` with 1 and 2
processes (torchrun, gloo), cnv width 0.5 on the digits images (32x32), global batch 128.

Configurations, side by side in one run: 1 process with 1 torch thread, 1 process with 2
threads (PyTorch's own intra-op parallelism), 2 processes with 1 thread each. Samples/s are
taken from the last epoch's training steps (evaluation excluded). The machine has 2 cores,
which bounds what 2 processes can gain.

    .venv/bin/python benchmarks/ddp.py

Writes benchmarks/results/ddp.json and ddp.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
CONFIGS = [("1 process, 1 thread", 1, 1), ("1 process, 2 threads", 1, 2), ("2 processes, 1 thread each", 2, 1)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--results", type=Path, default=HERE / "results")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bnnforge-ddp-"))
    rows = []
    for name, nproc, threads in CONFIGS:
        out = work / f"p{nproc}t{threads}"
        env = dict(os.environ, OMP_NUM_THREADS=str(threads))
        subprocess.run([sys.executable, "-m", "bnnforge.cli", "train", "--arch", "cnv", "--width", "0.5", "--dataset",
                        "digits", "--epochs", str(args.epochs), "--batch-size", "128", "--seed", "0", "--quiet",
                        "--nproc", str(nproc), "--out", str(out)], env=env, check=True, capture_output=True)
        m = json.loads((out / "metrics.json").read_text())
        last = m["history"][-1]
        rows.append({"config": name, "processes": nproc, "threads_per_process": threads,
                     "samples_per_s": m["train_images"] / last["train_seconds"],
                     "test_accuracy": m["test_accuracy"]})
        print(json.dumps(rows[-1]), flush=True)
    base = rows[0]["samples_per_s"]
    lines = ["# Data-parallel training on this machine (benchmarks/ddp.py)", "",
             f"cnv width 0.5, digits (1,437 training images, 32x32), global batch 128, {args.epochs} epochs; samples/s "
             "of the last epoch's training steps. 2 cores: two processes compete for the same two cores.", "",
             "| configuration | samples/s | vs 1 process, 1 thread | test accuracy |", "|---|---|---|---|"]
    lines += [f"| {r['config']} | {r['samples_per_s']:,.0f} | {r['samples_per_s'] / base:.2f}x | "
              f"{100 * r['test_accuracy']:.2f} % |" for r in rows]
    md = "\n".join(lines) + "\n"
    print(md)
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "ddp.json").write_text(json.dumps({"machine": platform.platform(), "cores": os.cpu_count(),
                                                       "rows": rows}, indent=2) + "\n")
    (args.results / "ddp.md").write_text(md)


if __name__ == "__main__":
    main()
