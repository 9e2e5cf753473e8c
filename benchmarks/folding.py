"""bnnforge fold vs FINN's SetFolding on the cnv networks (sign, LAB, DyBNN), both boards.

For each network and board, at several target fps:
  setfolding         FINN SetFolding; the custom layers stay at PE=1, as FINN leaves
                     them (it skips op types it does not know)
  setfolding+custom  bnnforge's simple custom-layer rule, then SetFolding (what
                     `bnnforge build --target-fps` does)
  fold               `bnnforge fold --target-fps`
and the maximum fps within 80 % of the PYNQ-Z2/ZCU104 budget (SetFolding: the
highest target whose result fits; fold: --max-fps). All numbers are estimates
from the same models (FINN's for stock layers, bnnforge's for custom layers).

    .venv/bin/python benchmarks/folding.py

Uses the cnv runs of benchmarks/accuracy.py when present (folding does not depend on
the trained values, only on shapes and bit widths; otherwise an untrained model is
exported). Writes benchmarks/results/folding.json and .md.
"""

from __future__ import annotations

import argparse
import copy
import json
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
UTIL = 0.8


def model_path(binarizer: str, work: Path) -> Path:
    import torch

    from bnnforge.model.data import load_dataset
    from bnnforge.model.export import export_qonnx
    from bnnforge.model.run import load_model
    from bnnforge.model.train import model_config_for
    from bnnforge.model.zoo import build_model

    run = HERE / "runs" / "accuracy" / f"cnv-{binarizer}-s0"
    out = work / f"cnv-{binarizer}.onnx"
    if (run / "checkpoint.pt").exists():
        model, _, _ = load_model(run)
        source = str(run)
    else:
        ds = load_dataset("fashion-mnist")
        model = build_model(model_config_for(ds, arch="cnv", binarizer=binarizer, width=0.5))
        model.train()
        model(ds.x_train[:256].float())  # BN statistics / quantizer scales
        model.eval()
        source = "untrained (shapes only)"
    with torch.no_grad():
        export_qonnx(model.to_integer(), out)
    return out, source


def evaluate(model, part, clock_ns):
    from qonnx.custom_op.registry import getCustomOp

    per = []
    for n in model.graph.node:
        if n.domain.startswith("finn.custom_op.fpgadataflow"):
            inst = getCustomOp(n)
            per.append((inst.get_exp_cycles(), inst.lut_estimation(part), inst.bram_estimation(part)))
    cycles = max(p[0] for p in per)
    return {"fps": 1e9 / clock_ns / cycles, "LUT": float(sum(p[1] for p in per)), "BRAM18": float(sum(p[2] for p in per))}


def setfolding(model, fps, clock_ns, part, fold_custom):
    from finn.transformation.fpgadataflow.set_folding import SetFolding

    from bnnforge.finn_flow.build import _finn_output_to
    from bnnforge.finn_flow.folding import fold_custom_ops

    m = copy.deepcopy(model)
    target = int(1e9 / clock_ns / fps)
    with _finn_output_to(Path(tempfile.gettempdir()) / "bnnforge-setfolding.log"):
        if fold_custom:
            m = fold_custom_ops(m, target)
        m = m.transform(SetFolding(target))
    return evaluate(m, part, clock_ns)


def fits(r, board):
    return r["LUT"] <= UTIL * board.resources["LUT"] and r["BRAM18"] <= UTIL * board.bram18


def setfolding_max(model, board, clock_ns, fold_custom):
    """Highest fps SetFolding reaches within the budget (bisection on the target)."""
    lo, hi, best = 10.0, 1e6, None
    for _ in range(18):
        mid = (lo * hi) ** 0.5
        r = setfolding(model, mid, clock_ns, board.part, fold_custom)
        if fits(r, board):
            best = r if best is None or r["fps"] > best["fps"] else best
            lo = mid
        else:
            hi = mid
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--results", type=Path, default=HERE / "results")
    ap.add_argument("--targets", type=float, nargs="+", default=[500, 2000, 5000])
    args = ap.parse_args()

    from bnnforge.finn_flow import fold
    from bnnforge.finn_flow.boards import load_board

    work = Path(tempfile.mkdtemp(prefix="bnnforge-foldbench-"))
    rows, timings = [], []
    for binarizer in ("sign", "lab", "dybnn"):
        onnx_path, source = model_path(binarizer, work)
        for board_name in ("pynq-z2", "zcu104"):
            board = load_board(board_name)
            clock = board.clock_ns
            t0 = time.time()
            model = fold.prepare(onnx_path, board, clock)
            t1 = time.time()
            groups = fold.build_groups(model, board.part)
            best = fold.maximize(groups, board, clock, UTIL)
            timings.append({"net": binarizer, "board": board_name, "prepare_s": t1 - t0, "fold_s": time.time() - t1})
            for fps in args.targets:
                row = {"net": binarizer, "board": board_name, "target_fps": fps, "model": source}
                row["setfolding"] = setfolding(model, fps, clock, board.part, False)
                row["setfolding+custom"] = setfolding(model, fps, clock, board.part, True)
                try:
                    f = fold.for_target(groups, board, clock, fps, UTIL)
                    row["fold"] = {"fps": f.fps, "LUT": f.lut, "BRAM18": f.bram}
                except fold.FoldError as e:
                    row["fold"] = {"error": str(e).splitlines()[0]}
                rows.append(row)
                print(json.dumps(row), flush=True)
            rows.append({
                "net": binarizer, "board": board_name, "target_fps": "max",
                "setfolding": setfolding_max(model, board, clock, False),
                "setfolding+custom": setfolding_max(model, board, clock, True),
                "fold": {"fps": best.fps, "LUT": best.lut, "BRAM18": best.bram},
            })
            print(json.dumps(rows[-1]), flush=True)

    def cell(r):
        if r is None:
            return "does not fit"
        if "error" in r:
            return "infeasible"
        return f"{r['fps']:,.0f} fps, {r['LUT']:,.0f} LUT, {r['BRAM18']:.0f} BRAM18"

    def cost(r, board):
        """fold's objective: LUT share + BRAM share of the board budget."""
        return r["LUT"] / board.resources["LUT"] + r["BRAM18"] / board.bram18

    lines = [
        "# Folding: bnnforge fold vs FINN SetFolding (cnv, width 0.5)",
        "",
        f"Estimates (FINN's models for stock layers, bnnforge's for custom layers). 'max' = highest fps within "
        f"{UTIL:.0%} of the board's LUT and BRAM. Ratios are fold / (SetFolding + custom rule) at the same target; "
        "cost = LUT share + BRAM share of the board, the objective `bnnforge fold` minimizes.",
        "",
        "| net | board | target fps | SetFolding (custom at PE=1) | SetFolding + custom rule | bnnforge fold "
        "| LUT ratio | cost ratio |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        ratio = cost_ratio = "-"
        f, s = r["fold"], r["setfolding+custom"]
        if f and s and "error" not in f and r["target_fps"] != "max":
            board = load_board(r["board"])
            ratio = f"{f['LUT'] / s['LUT']:.2f}"
            cost_ratio = f"{cost(f, board) / cost(s, board):.2f}"
        lines.append(f"| {r['net']} | {r['board']} | {r['target_fps']} | {cell(r['setfolding'])} | "
                     f"{cell(s)} | {cell(f)} | {ratio} | {cost_ratio} |")
    lines += ["", "fold run time per network and board (graph preparation from the QONNX file / optimization):", ""]
    lines += [f"- {t['net']} on {t['board']}: {t['prepare_s']:.1f} s + {t['fold_s']:.1f} s" for t in timings]
    result = {"benchmark": "folding", "util": UTIL, "rows": rows, "timings": timings}
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "folding.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.results / "folding.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
