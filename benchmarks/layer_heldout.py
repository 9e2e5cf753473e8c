"""bnnforge's resource estimates of its own RTL cores scored out of sample: seeded random
configurations (shapes, foldings, datatypes) that the LUT models were never fitted to.

benchmarks/layer_rtl.py fits each core's LUT_PER_TERM to the nodes of real builds and scores
it on the same nodes (in-sample). This benchmark scores the same models, unchanged, on
configurations drawn at random (seeds 1001.. of layer_rtl.random_model: tests/layer_cases.py's
generators, LAB and DynamicThreshold parameter objects), so the error a user meets on a new
network is measured rather than assumed. The per-layer estimate tests
(tests/test_layers_rtl.py) allow a random case the largest error measured here.

Per configuration: yosys synth_xilinx xc7 (Debian yosys, flattened; sim.synth.synth through
finn_flow.rtl.synth.synth_node_of), LUT = LUT + INV + LUTRAM cells, BRAM18 (RAMB36 = 2),
against the class's lut_estimation() / bram_estimation(). Target (issue "Timing and
resources the tuner can trust"): within 15 % of yosys per layer type.

    .venv/bin/python benchmarks/layer_heldout.py [--configs N] [--ops OP ...]
    .venv/bin/python benchmarks/layer_heldout.py --fit --ops DynamicRPReLU   # calibrate a type no build has

    .venv/bin/python benchmarks/layer_heldout.py --fit --ops MVAU --configs 32 --shard 0/2 --measured m0.json &
    .venv/bin/python benchmarks/layer_heldout.py --fit --ops MVAU --configs 32 --shard 1/2 --measured m1.json

--fit measures seeds 1..N instead (a calibration set, disjoint from the scored one) and prints
the LUT_PER_TERM that layer_rtl.fit finds for them and the nodes of layer_rtl.CALIBRATION_BUILDS
(the builds layer_rtl.py's held-out table leaves out).

Writes benchmarks/results/layer_heldout.json and .md. Every yosys count (held-out and calibration
seeds) is kept in benchmarks/results/layer_heldout_measured.json, keyed by the configuration and
the core's RTL sources: it is committed with the results, so a model change is rescored (or refitted)
on a fresh clone without synthesizing again, and a changed core is measured anew. --shard
measures a share of the draws into a file of its own (started as a copy of the committed one);
`--merge m0.json m1.json` adds the shares' entries to the committed file before the run that
scores or fits.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import layer_rtl  # noqa: E402  (random_model, describe, config_key: one definition of a configuration)

FIRST_SEED = 1001  # above every seed layer_rtl.py's calibration set uses
# configurations per run beside --configs of a type's default draw (layer_rtl.random_model's
# forms): MVAUs fully folded (constant weights), nearly so (2..8 weight words), wide first
# layers (8-bit pixels over hundreds of lanes; minutes of yosys each) and wide XNOR layers fed
# by block RAM (a full-width cnv at --max-fps) and a DyBNN hyper function's FCs (wide integer
# sums x INT4 at PE = SIMD = 1); pools and stream forks at real layers' channel counts (the
# default draws have at most 8: their slopes came from small PE); RPReLU thresholds as training
# gives them (a third of their bits vary, random ones nearly all); LAB layers at PE = C or
# C/2 (the default draw keeps PE <= 4), with weights as LAB trains them (mostly 0, +-1) and so
# at 64..256 channels (a full-width cnv's) and at 4 or 8 weight words (PE = C/4, C/8); the
# residual join of two streams (the random elementwise cases add a constant). --fit draws twice
# as many of each
EXTRA_FORMS = {"MVAU": {"constant": 6, "shallow": 12, "shallow_xnor": 6, "binary_pixels": 6, "wide_pixels": 4,
                        "widest_pixels": 2, "wide_xnor": 4, "slow": 6, "hyper": 6},
               "LabBinarizer": {"folded": 4, "sparse": 4, "wide": 6, "shallow": 4}, "ElementwiseAdd": {"stream": 6},
               "Pool": {"wide": 6}, "DuplicateStreams": {"wide": 6}, "GlobalAccPool": {"wide": 6},
               "DynamicRPReLU": {"trained": 6}}
# forms fitted but never scored here: a tfc's first layer at --max-fps has four shapes, so held-out
# draws would repeat the calibration's (the tfc --max-fps builds of layer_rtl.py's held-out
# section are their test)
FIT_ONLY_FORMS = {"MVAU": {"widest_pixels"}}
TARGET = 0.15


def ours_ops() -> list[str]:
    from bnnforge.finn_flow import registry

    return [layer.op for layer in registry.LAYERS if layer.rtl_by == "bnnforge"]


def measure(model, work: Path) -> dict:
    from bnnforge.finn_flow.rtl.synth import synth_node_of

    t = time.time()
    counts = synth_node_of(model, model.graph.node[0], "xc7", work)
    return {"LUT": counts.lut + counts.lutram, "FF": counts.ff, "BRAM18": counts.bram18,
            "yosys_s": round(time.time() - t, 1)}


def rtl_hash(op: str, key: str) -> str:
    from bnnforge import toolenv
    from bnnforge.finn_flow import registry

    h = hashlib.sha1(key.encode())
    for name in registry.by_op(op).backend_class("rtl").rtl_sources():
        h.update((toolenv.rtl_dir() / name).read_bytes())
    return h.hexdigest()[:16]


def summarize(rows: list[dict]) -> list[dict]:
    per = []
    for op in dict.fromkeys(r["op"] for r in rows):
        rs = [r for r in rows if r["op"] == op]
        signed = [(r["est_LUT"] - r["LUT"]) / max(1, r["LUT"]) for r in rs]
        errs = [abs(e) for e in signed]
        per.append({"op": op, "configs": len(rs), "lut_err_mean": statistics.mean(errs), "lut_err_max": max(errs),
                    "lut_signed_mean": statistics.mean(signed), "within_target": max(errs) <= TARGET,
                    "lut_abs_err_max": max(abs(r["est_LUT"] - r["LUT"]) for r in rs),
                    "yosys_lut_median": statistics.median(r["LUT"] for r in rs),
                    "bram_agree": sum(r["est_BRAM18"] == r["BRAM18"] for r in rs)})
    return per


def markdown(result: dict) -> str:
    lines = ["# bnnforge's RTL cores: resource estimates out of sample", "",
             f"{result['configurations']} seeded random configurations per layer type (seeds {FIRST_SEED}..), "
             "never used to fit the LUT models (benchmarks/layer_rtl.py fits them to real builds). yosys "
             "synth_xilinx xc7, pre place-and-route; LUT = LUT + INV + LUTRAM. Error = |model - yosys| / yosys. "
             f"Target: max error within {TARGET:.0%} per type.", "",
             "| layer | configs | LUT error mean | max | bias | target | largest error (LUT) | yosys LUT (median) "
             "| BRAM agree |", "|---|---|---|---|---|---|---|---|---|"]
    for s in result["summary"]:
        lines.append(f"| {s['op']} | {s['configs']} | {s['lut_err_mean']:.0%} | {s['lut_err_max']:.0%} | "
                     f"{s['lut_signed_mean']:+.0%} | {'met' if s['within_target'] else 'NOT met'} | "
                     f"{s['lut_abs_err_max']} | {s['yosys_lut_median']:g} | {s['bram_agree']}/{s['configs']} |")
    lines += ["", "## Configurations", "", "| layer | seed | configuration | yosys LUT | model LUT | error | FF | "
              "BRAM18 yosys / model |", "|---|---|---|---|---|---|---|---|"]
    for r in result["rows"]:
        lines.append(f"| {r['op']} | {r['seed']} | {r['config']} | {r['LUT']} | {r['est_LUT']} | "
                     f"{(r['est_LUT'] - r['LUT']) / max(1, r['LUT']):+.0%} | {r['FF']} | "
                     f"{r['BRAM18']:g} / {r['est_BRAM18']:g} |")
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--configs", type=int, default=10, metavar="N", help="random configurations per layer type")
    ap.add_argument("--ops", nargs="+", metavar="OP", help="only these layer types (default: all of bnnforge's)")
    ap.add_argument("--fit", action="store_true", help="fit LUT_PER_TERM on calibration seeds 1..N, print it")
    ap.add_argument("--work", type=Path, default=HERE / "runs" / "layer_heldout")
    ap.add_argument("--results", type=Path, default=HERE / "results")
    ap.add_argument("--measured", type=Path, default=HERE / "results" / "layer_heldout_measured.json",
                    help="the yosys counts by configuration and RTL sources (read and extended)")
    ap.add_argument("--shard", metavar="K/N",
                    help="only measure every N-th draw from the K-th (0-based) into --measured, then stop: N "
                         "processes, each with its own --measured file, share the synthesis (merge the files after)")
    ap.add_argument("--merge", nargs="+", type=Path, metavar="FILE", default=[],
                    help="first add the entries of these --shard files to --measured")
    args = ap.parse_args()
    shard = None
    if args.shard:
        try:
            k, n = (int(v) for v in args.shard.split("/"))
            assert 0 <= k < n
        except (ValueError, AssertionError):
            ap.error(f"--shard {args.shard}: expected K/N with 0 <= K < N, e.g. 0/2")
        shard = (k, n)

    from qonnx.custom_op.registry import getCustomOp

    from bnnforge.finn_flow import registry

    registry.load()
    args.work.mkdir(parents=True, exist_ok=True)
    cache_path = args.measured
    cache = json.loads(cache_path.read_text()) if cache_path.exists() else {}
    for part in args.merge:
        cache.update(json.loads(part.read_text()))
    if args.merge:
        cache_path.write_text(json.dumps(cache, indent=1, sort_keys=True) + "\n")
    t0, rows = time.time(), []
    first = 1 if args.fit else FIRST_SEED
    draws = [(op, seed, "") for op in args.ops or ours_ops() for seed in range(first, first + args.configs)]
    for op in args.ops or ours_ops():  # and the extremes fold --max-fps picks, fewer
        draws += [(op, seed, form) for form, n in EXTRA_FORMS.get(op, {}).items()
                  if args.fit or form not in FIT_ONLY_FORMS.get(op, ())
                  for seed in range(first, first + n * (2 if args.fit else 1))]
    if shard:
        draws = draws[shard[0]::shard[1]]
    for op, seed, form in draws:
        model = layer_rtl.random_model(op, seed, form)
        inst = getCustomOp(model.graph.node[0])
        h = rtl_hash(op, layer_rtl.config_key(inst, model))
        if h not in cache:
            cache[h] = measure(model, args.work / "nodes" / h)
            cache_path.parent.mkdir(parents=True, exist_ok=True)
            cache_path.write_text(json.dumps(cache, indent=1, sort_keys=True) + "\n")
        path = args.work / "random" / f"{op}{'-' * bool(form)}{form}-{seed}.onnx"
        path.parent.mkdir(parents=True, exist_ok=True)
        model.save(str(path))
        config = layer_rtl.describe({"model": str(path), "node": model.graph.node[0].name, "op": op})
        row = {"op": op, "seed": seed, "form": form, "config": config, "measured": h, **cache[h], "model": str(path),
               "node": model.graph.node[0].name, "est": {"LUT": inst.lut_estimation()},
               "est_LUT": int(inst.lut_estimation()), "est_BRAM18": float(inst.bram_estimation())}
        rows.append(row)
        print(f"[{time.time() - t0:6.0f} s] {op} {seed} {config}: LUT {row['LUT']} vs {row['est_LUT']}, "
              f"BRAM18 {row['BRAM18']:g} vs {row['est_BRAM18']:g}", flush=True)
    if shard:
        print(f"shard {args.shard}: {len(rows)} configurations measured into {cache_path}")
        return
    if args.fit:  # the random configurations and the nodes of the calibration builds
        ops = set(args.ops or ours_ops())
        builds = [r for r in layer_rtl.build_rows(layer_rtl.calibration_builds(), print)[0] if r["op"] in ops]
        print(f"calibration: {len(rows)} random configurations, {len(builds)} nodes of "
              f"{', '.join(layer_rtl.CALIBRATION_BUILDS)}")
        print(json.dumps(layer_rtl.fit(rows + builds), indent=1))
        return
    result = {"benchmark": "layer_heldout", "part": layer_rtl.PART, "configurations": args.configs,
              "first_seed": FIRST_SEED, "target": TARGET, "summary": summarize(rows), "rows": rows}
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "layer_heldout.json").write_text(json.dumps(result, indent=1) + "\n")
    md = markdown(result)
    (args.results / "layer_heldout.md").write_text(md)
    print(md.split("## Configurations")[0])


if __name__ == "__main__":
    main()
