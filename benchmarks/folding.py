"""bnnforge fold vs FINN's SetFolding on the cnv networks (sign, LAB, DyBNN) and on Brevitas'
BNN-PYNQ cnv_1w1a (the full-width CIFAR-10 cnv every FINN user knows, exported by Brevitas'
export_qonnx: `bnnforge fold` takes it unchanged), both boards.

For each network and board, at several target fps:
  setfolding         FINN SetFolding; the custom layers stay at PE=1, as FINN leaves
                     them (it skips op types it does not know)
  setfolding+custom  bnnforge's simple custom-layer rule, then SetFolding (what
                     `bnnforge build --target-fps` does)
  fold               `bnnforge fold --target-fps` (objective cost: LUT share + BRAM share)
  fold (lut)         `bnnforge fold --target-fps --objective lut` (fewest LUTs)
and the maximum fps within 80 % of the PYNQ-Z2/ZCU104 budget (SetFolding: the
highest target whose result fits; fold: --max-fps). All numbers are estimates
from the same models (FINN's for stock layers, bnnforge's for custom layers).

    .venv/bin/python benchmarks/folding.py
    .venv/bin/python benchmarks/folding.py --nets cnv_1w1a     # one network; the others' rows are kept

Uses the cnv runs of benchmarks/accuracy.py when present (folding does not depend on
the trained values, only on shapes and bit widths; otherwise an untrained model is
exported). Also times the whole `bnnforge fold --max-fps` command, with an empty graph
cache and with the cache filled by the first run. Writes benchmarks/results/folding.json
and .md.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
UTIL = 0.8
NETS = ("sign", "lab", "dybnn", "cnv_1w1a")  # bnnforge's cnv w0.5 per binarizer, BNN-PYNQ's cnv_1w1a


def model_path(binarizer: str, work: Path, width: float = 0.5) -> tuple[Path, str]:
    """QONNX of the cnv: the trained seed-0 run of benchmarks/accuracy.py at width 0.5 when present;
    BNN-PYNQ's cnv_1w1a through Brevitas' export_qonnx."""
    import torch

    if binarizer == "cnv_1w1a":
        from bnnforge.model import bnn_pynq

        out = bnn_pynq.export("cnv_1w1a", work / "cnv_1w1a.onnx")
        return out, "Brevitas BNN-PYNQ export_qonnx, random seeded parameters (folding depends only on shapes)"

    from bnnforge.model.data import load_dataset
    from bnnforge.model.export import export_qonnx
    from bnnforge.model.run import load_model
    from bnnforge.model.train import model_config_for
    from bnnforge.model.zoo import build_model

    run = HERE / "runs" / "accuracy" / f"cnv-{binarizer}-s0"
    out = work / f"cnv-{binarizer}-w{width}.onnx"
    if width == 0.5 and (run / "checkpoint.pt").exists():
        model, _, _ = load_model(run)
        source = f"trained: {run.relative_to(HERE.parent)}"
    else:
        ds = load_dataset("fashion-mnist")
        model = build_model(model_config_for(ds, arch="cnv", binarizer=binarizer, width=width))
        model.train()
        model(ds.x_train[:256].float())  # BN statistics / quantizer scales
        model.eval()
        source = "untrained (shapes only)"
    with torch.no_grad():
        export_qonnx(model.to_integer(), out)
    return out, source


def evaluate(model, part, clock_ns):
    from qonnx.custom_op.registry import getCustomOp

    from bnnforge.finn_flow import registry

    per = []
    for n in model.graph.node:
        if registry.is_hw_node(n):
            inst = getCustomOp(n)
            per.append((inst.get_exp_cycles(), inst.lut_estimation(part), inst.bram_estimation(part)))
    cycles = max(p[0] for p in per)
    return {"fps": 1e9 / clock_ns / cycles, "LUT": float(sum(p[1] for p in per)), "BRAM18": float(sum(p[2] for p in per))}


def setfolding(model, fps, clock_ns, part, fold_custom):
    from finn.transformation.fpgadataflow.set_folding import SetFolding

    from bnnforge.finn_flow.flow.build import finn_output_to
    from bnnforge.finn_flow.folding.optimizer import fold_custom_ops

    m = copy.deepcopy(model)
    target = int(1e9 / clock_ns / fps)
    with finn_output_to(Path(tempfile.gettempdir()) / "bnnforge-setfolding.log"):
        if fold_custom:
            m = fold_custom_ops(m, target)
        renamed = as_finn_classes(m)
        m = m.transform(SetFolding(target))
        for node in m.graph.node:
            if node.name in renamed:
                node.op_type, node.domain = renamed[node.name]
    return evaluate(m, part, clock_ns)


def as_finn_classes(model) -> dict:
    """SetFolding folds only node types it knows by name (MVAU_hls, Pool_hls, ...): bnnforge's
    RTL classes of FINN ops (MVAU_lut_rtl, Pool_rtl, LabelSelect_rtl, ...) are shown to it as
    FINN's HLS class of the same op (same attributes and cycle model); the original
    (op_type, domain) of each renamed node is returned."""
    from finn.custom_op.fpgadataflow.hls import custom_op as finn_hls

    from bnnforge.finn_flow import registry

    renamed = {}
    for node in model.graph.node:
        hls = f"{registry.abstract_op(node.op_type)}_hls"
        if registry.is_ours(node.op_type) and hls in finn_hls:
            renamed[node.name] = (node.op_type, node.domain)
            node.op_type, node.domain = hls, f"{registry.FINN_DOMAIN}.hls"
    return renamed


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


def time_cli(onnx_path: Path, board: str, work: Path, repeats: int = 3) -> dict:
    """Median wall time of the whole `bnnforge fold --max-fps` command (interpreter start included),
    from an empty graph cache and then with the cache that run filled."""
    work.mkdir(parents=True)
    times = {"cli_uncached_s": [], "cli_cached_s": []}
    for i in range(repeats):
        env = dict(os.environ, BNNFORGE_CACHE_DIR=str(work / f"cache{i}"))
        for key in times:
            t0 = time.time()
            subprocess.run([sys.executable, "-m", "bnnforge.cli", "fold", str(onnx_path), "--board", board,
                            "--max-fps", "--out", str(work / "folding.json")], env=env, check=True, capture_output=True)
            times[key].append(time.time() - t0)
    return {key: statistics.median(t) for key, t in times.items()} | {f"{key}_all": t for key, t in times.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--results", type=Path, default=HERE / "results")
    ap.add_argument("--targets", type=float, nargs="+", default=[500, 2000, 5000])
    ap.add_argument("--nets", nargs="+", default=list(NETS), choices=NETS,
                    help="networks to (re)measure; rows of the others are kept from the JSON")
    args = ap.parse_args()

    from bnnforge.boards import load_board
    from bnnforge.finn_flow.flow.graph_cache import prepared_graph
    from bnnforge.finn_flow.folding import optimizer as fold

    work = Path(tempfile.mkdtemp(prefix="bnnforge-foldbench-"))
    os.environ["BNNFORGE_CACHE_DIR"] = str(work / "cache")  # time graph preparation from scratch
    rows, timings, timings_full = [], [], []
    old_json = args.results / "folding.json"
    if old_json.exists():  # rows of the networks not measured now
        old = json.loads(old_json.read_text())
        keep = [n for n in NETS if n not in args.nets]
        rows = [r for r in old["rows"] if r["net"] in keep]
        timings = [t for t in old["timings"] if t["net"] in keep]
        timings_full = [t for t in old["timings_full_width"] if t["net"] in keep]
    for binarizer in args.nets:
        onnx_path, source = model_path(binarizer, work)
        for board_name in ("pynq-z2", "zcu104"):
            board = load_board(board_name)
            clock = board.clock_ns
            t0 = time.time()
            model = prepared_graph(onnx_path, board, clock)
            t1 = time.time()
            groups = fold.build_groups(model, board.part)
            best = fold.maximize(groups, board, clock, UTIL)
            timing = {"net": binarizer, "board": board_name, "prepare_s": t1 - t0, "fold_s": time.time() - t1}
            timing.update(time_cli(onnx_path, board_name, work / f"cli-{binarizer}-{board_name}"))
            timings.append(timing)
            for fps in args.targets:
                row = {"net": binarizer, "board": board_name, "target_fps": fps, "model": source}
                row["setfolding"] = setfolding(model, fps, clock, board.part, False)
                row["setfolding+custom"] = setfolding(model, fps, clock, board.part, True)
                for key, objective in (("fold", "cost"), ("fold_lut", "lut")):
                    try:
                        f = fold.for_target(groups, board, clock, fps, UTIL, objective)
                        row[key] = {"fps": f.fps, "LUT": f.lut, "BRAM18": f.bram}
                    except fold.FoldingError as e:
                        row[key] = {"error": str(e).splitlines()[0]}
                rows.append(row)
                print(json.dumps(row), flush=True)
            rows.append({
                "net": binarizer, "board": board_name, "target_fps": "max",
                "setfolding": setfolding_max(model, board, clock, False),
                "setfolding+custom": setfolding_max(model, board, clock, True),
                "fold": {"fps": best.fps, "LUT": best.lut, "BRAM18": best.bram},
            })
            print(json.dumps(rows[-1]), flush=True)
    # the run-time requirement is for the cnv network itself: time the full-width one too
    for binarizer in [n for n in args.nets if n != "cnv_1w1a"]:  # cnv_1w1a is full width already
        onnx_path, source = model_path(binarizer, work, width=1.0)
        for board_name in ("pynq-z2", "zcu104"):
            timing = {"net": binarizer, "board": board_name, "width": 1.0, "model": source}
            timing.update(time_cli(onnx_path, board_name, work / f"cli-full-{binarizer}-{board_name}"))
            timings_full.append(timing)
            print(json.dumps(timing), flush=True)

    order = {n: i for i, n in enumerate(NETS)}
    for lst in (rows, timings, timings_full):  # stable: boards and targets keep their order
        lst.sort(key=lambda r: order[r["net"]])

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
        "# Folding: bnnforge fold vs FINN SetFolding (cnv width 0.5; BNN-PYNQ cnv_1w1a full width)",
        "",
        "Models: " + ", ".join(sorted({f"{r['net']}: {r['model']}" for r in rows if "model" in r})) + ".",
        "",
        f"Estimates (FINN's models for stock layers, bnnforge's for custom layers). 'max' = highest fps within "
        f"{UTIL:.0%} of the board's LUT and BRAM. Ratios are fold / (SetFolding + custom rule) at the same target; "
        "cost = LUT share + BRAM share of the board, the objective `bnnforge fold` minimizes.",
        "",
        "'fold (lut)' is `--objective lut`, which minimizes LUTs alone and spends BRAM freely.",
        "",
        "| net | board | target fps | SetFolding (custom at PE=1) | SetFolding + custom rule | bnnforge fold "
        "| LUT ratio | cost ratio | bnnforge fold (lut) | LUT ratio (lut) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        ratio = cost_ratio = lut_ratio = "-"
        f, s, fl = r["fold"], r["setfolding+custom"], r.get("fold_lut")
        if f and s and "error" not in f and r["target_fps"] != "max":
            board = load_board(r["board"])
            ratio = f"{f['LUT'] / s['LUT']:.2f}"
            cost_ratio = f"{cost(f, board) / cost(s, board):.2f}"
        if fl and s and "error" not in fl:
            lut_ratio = f"{fl['LUT'] / s['LUT']:.2f}"
        lines.append(f"| {r['net']} | {r['board']} | {r['target_fps']} | {cell(r['setfolding'])} | "
                     f"{cell(s)} | {cell(f)} | {ratio} | {cost_ratio} | {cell(fl) if fl else '-'} | {lut_ratio} |")
    lines += [
        "",
        "Run time of `bnnforge fold --max-fps` per network and board (the requirement: under 10 s), median of 3, "
        "as a whole command from an empty graph cache / with the graph cached, and inside it the graph preparation "
        "from the QONNX file and the optimization:",
        "",
        "| net | board | command, empty cache (s) | command, cached (s) | preparation (s) | optimization (s) |",
        "|---|---|---|---|---|---|",
    ]
    lines += [f"| {t['net']} | {t['board']} | {t['cli_uncached_s']:.1f} | {t['cli_cached_s']:.1f} | "
              f"{t['prepare_s']:.1f} | {t['fold_s']:.1f} |" for t in timings]
    lines += [
        "",
        "The same command on the full-width cnv (width 1.0, untrained: run time depends only on the shapes):",
        "",
        "| net | board | command, empty cache (s) | command, cached (s) |",
        "|---|---|---|---|",
    ]
    lines += [f"| {t['net']} | {t['board']} | {t['cli_uncached_s']:.1f} | {t['cli_cached_s']:.1f} |"
              for t in timings_full]

    result = {"benchmark": "folding", "util": UTIL, "rows": rows, "timings": timings, "timings_full_width": timings_full}
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "folding.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.results / "folding.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
