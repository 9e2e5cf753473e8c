"""Run a test set through the accelerator on the board; print accuracy and throughput.
Copied into BUILD/deploy/validate.py by `bnnforge build` (it imports driver.py next to it).

    sudo ./run.sh validate.py                         # testset.npz of this folder
    sudo ./run.sh validate.py --data my_test.npz --batch 500

(run.sh starts PYNQ's own Python with the XRT environment, which `sudo` alone drops.)

A test set is an .npz with ``x`` (N, C, H, W) integers on the accelerator's input grid
(8-bit pixels for the bnnforge and BNN-PYNQ models) and ``y`` (N,) labels.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from driver import HERE, Accelerator


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=HERE / "testset.npz", help="test set .npz (x, y)")
    ap.add_argument("--batch", type=int, default=100, help="images per DMA transfer")
    ap.add_argument("--limit", type=int, default=None, help="use the first N images only")
    ap.add_argument("--bitfile", type=Path, default=None, help="bitstream (default: bitfile/ of this folder)")
    args = ap.parse_args(argv)
    if not args.data.exists():
        print(f"validate.py: {args.data} not found; give --data FILE.npz with x (N, C, H, W) and y (N,)",
              file=sys.stderr)
        return 2
    data = np.load(args.data)
    x, y = data["x"][: args.limit], data["y"][: args.limit]
    acc = Accelerator(bitfile=args.bitfile)
    correct, wall, device_s = 0, 0.0, 0.0
    for i in range(0, len(x), args.batch):
        t0 = time.perf_counter()
        labels = acc.classify(x[i:i + args.batch])
        wall += time.perf_counter() - t0
        device_s += getattr(acc.device, "last_seconds", None) or 0.0
        correct += int((labels == y[i:i + args.batch]).sum())
        print(f"\r{min(i + args.batch, len(x))}/{len(x)} images, accuracy so far {correct / min(i + args.batch, len(x)):.4f}",
              end="", flush=True)
    print()
    print(f"accuracy   {correct}/{len(x)} = {correct / len(x):.4f}")
    print(f"throughput {len(x) / wall:,.0f} images/s with packing and unpacking in Python (batch {args.batch})")
    if device_s:
        estimate = acc.io.get("estimated_fps")
        print(f"           {len(x) / device_s:,.0f} images/s accelerator alone (DMA start to done)"
              + (f"; the build estimated {estimate:,.0f}" if estimate else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
