"""Estimated critical path of every bnnforge RTL layer type, before and after pipelining.

Per layer type, a small folding (a few lanes) and the full folding the tuner can choose (SIMD
= the whole input, PE = all channels; LAB K = 5 at PE = C; 8-bit first-layer inputs): yosys
synth_xilinx of the node's generated RTL and the static timing estimate of sim/timing.py
(`bnnforge sim synth`), on xc7 (PYNQ-Z2, xc7z020-1) and xcup (ZCU104). "before" is the core
as it was before pipelining (the sim/rtl sources of commit BEFORE), "after" the working tree.
Targets: 1.25x the board clock (125 MHz xc7, 250 MHz xcup), aim 200 / 300 MHz.

    .venv/bin/python benchmarks/timing.py [--only NAME ...] [--families xc7 xcup] [--jobs N]
    .venv/bin/python benchmarks/timing.py --networks [--only NAME ...] [--boards pynq-z2 zcu104]

Writes benchmarks/results/timing.json and .md; yosys runs are cached in WORK (by sources,
memory files and family), so a rerun after a change to one core re-synthesizes that core.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "tests"))

BEFORE = "bcbe716"  # main before pipelining (sim/rtl as of issue 23 item 1)
RTL = REPO / "sim" / "rtl"
TARGET = {"xc7": 125.0, "xcup": 250.0}
AIM = {"xc7": 200.0, "xcup": 300.0}


# --- configurations --------------------------------------------------------------------


def _mvau(mw, mh, simd, pe, form, seed=1):
    from layer_cases import _thresholds, one_node, values

    rng = np.random.default_rng(seed)
    xnor, act = 0, 0
    if form.startswith("xnor"):
        idt, wdt, xnor = "BINARY", "BINARY", 1
        lo, hi = 0, mw
    else:
        idt, wdt = {"pixels_bipolar": ("UINT8", "INT2"), "int_hidden": ("INT6", "INT4")}[form]
        b = 2 ** (int(idt[-1]) + int(wdt[-1]))
        lo, hi = -b * mw // 4, b * mw // 4
    w = values(rng, wdt, (mw, mh)) if form != "pixels_bipolar" else rng.choice([-1, 1], (mw, mh)).astype(np.float32)
    inits = [("weights", w, wdt)]
    if form == "xnor_acc":
        attrs, out = dict(noActivation=1), f"UINT{int(np.ceil(np.log2(mw + 1)))}"
    else:
        steps, out, act = {"xnor_bit": (1, "BINARY", 0), "xnor_int4": (15, "INT4", -8),
                           "pixels_bipolar": (1, "BINARY", 0), "int_hidden": (15, "UINT4", 0)}[form]
        inits.append(("thresholds", _thresholds(rng, lo, hi, mh, steps), "INT32"))
        attrs = dict(noActivation=0)
    return one_node("MVAU", dict(MW=mw, MH=mh, SIMD=simd, PE=pe, inputDataType=idt, weightDataType=wdt,
                                 outputDataType=out, accDataType="INT32", ActVal=act, binaryXnorMode=xnor,
                                 numInputVectors=[1, 4, 4], mem_mode="internal_decoupled", **attrs),
                    [("in0", idt)], inits)


def _vvau(c, k, simd, pe, seed=1):
    from layer_cases import _thresholds, one_node, values

    rng = np.random.default_rng(seed)
    weights = values(rng, "INT4", (c, 1, k, k))
    return one_node("VVAU", dict(PE=pe, SIMD=simd, Dim=[4, 4], Channels=c, Kernel=[k, k], inputDataType="INT4",
                                 weightDataType="INT4", outputDataType="BINARY", accDataType="INT12", ActVal=0,
                                 noActivation=0, mem_mode="internal_decoupled"),
                    [("in0", "INT4")], [("weights", weights, "INT4"), ("thresholds", _thresholds(rng, -60, 60, c, 1),
                                                                        "INT12")])


def _gap(c, pe, hw, dt):
    from layer_cases import one_node

    return one_node("GlobalAccPool", dict(NumChannels=c, PE=pe, inputDataType=dt, numInputVectors=[1, hw, hw]),
                    [("in0", dt)], [])


def _elementwise(op, c, pe, lhs, rhs, out):
    from layer_cases import one_node, values

    const = values(np.random.default_rng(1), rhs, [c])
    return one_node(op, dict(lhs_dtype=lhs, rhs_dtype=rhs, out_dtype=out, lhs_shape=[1, 4, 4, c], rhs_shape=[c],
                             out_shape=[1, 4, 4, c], lhs_style="input", rhs_style="const", PE=pe,
                             mem_mode="internal_embedded"), [("in0", lhs)], [("const", const, rhs)])


def _pool(c, pe, k, dt):
    from layer_cases import one_node

    return one_node("Pool", dict(Channels=c, PE=pe, KernelSize=[k, k], Function="MaxPool", OutImgDims=[4, 4],
                                 InputDataType=dt, OutputDataType=dt), [("in0", dt)], [])


def _dup(c, pe, dt):
    from layer_cases import one_node

    return one_node("DuplicateStreams", dict(NumChannels=c, PE=pe, NumOutputStreams=2, inputDataType=dt,
                                             numInputVectors=[1, 4, 4]), [("in0", dt)], [], n_outputs=2)


def _labelselect(labels, pe, k):
    from layer_cases import one_node

    return one_node("LabelSelect", dict(Labels=labels, PE=pe, K=k, inputDataType="INT16", outputDataType="UINT8",
                                        numInputVectors=[1]), [("in0", "INT16")], [])


def _lab(c, k, pe, ib=8, wb=8):
    from bnnforge.finn_flow.ops.params import LabParams

    rng = np.random.default_rng(1)
    w = rng.integers(-(2 ** (wb - 1)), 2 ** (wb - 1), (c, k, k))
    return LabParams(w, rng.integers(-2000, 2000, c), 8, 8, ib, wb, pe)


def _dynthresh(c, pe, ib):
    from bnnforge.finn_flow.ops.params import DynThreshParams

    rng = np.random.default_rng(1)
    x = rng.integers(-(2 ** (ib - 1)), 2 ** (ib - 1), (1, c, 4, 4))
    return DynThreshParams.for_data(x, rng.integers(-(2 ** (ib - 1)), 2 ** (ib - 1), (1, c)), ib, pe)


def _dynrprelu(c, pe, ib, steps):
    from bnnforge.finn_flow.ops.params import DynRPReLUParams

    rng = np.random.default_rng(1)
    lo, hi = -(2 ** (ib - 1)), 2 ** (ib - 1) - 1
    z = rng.integers(lo, hi + 1, (1, c, 4, 4))
    o = rng.integers(lo // 2, hi // 2 + 1, (1, c))
    t = np.sort(rng.integers(2 * lo, 2 * hi + 2, (c, steps)), axis=1)
    out_bits = int(np.ceil(np.log2(steps + 1))) + 1
    return DynRPReLUParams.for_data(z, o, t, -(2 ** (out_bits - 1)), f"INT{out_bits}", pe)


# (name, folding, builder); "full": the largest folding the tuner can choose for that shape
# (name, folding, builder[, the variant/family pairs to run, default all]); the before cores'
# wide $countones take yosys many minutes (> 30 min and > 7 GB at 784 bits): some are run on
# xc7 only or not at all
XC7_BEFORE = ("before/xc7", "after/xc7", "after/xcup")
CONFIGS = [
    ("MVAU xnor (tfc 784->64)", "small", lambda: _mvau(784, 64, 16, 4, "xnor_bit")),
    ("MVAU xnor (tfc 784->4)", "full", lambda: _mvau(784, 4, 784, 4, "xnor_bit"), ("after/xc7", "after/xcup")),
    ("MVAU xnor (256->4)", "full", lambda: _mvau(256, 4, 256, 4, "xnor_bit"), XC7_BEFORE),
    ("MVAU 8-bit pixels (27->16)", "full", lambda: _mvau(27, 16, 27, 16, "pixels_bipolar")),
    ("VVAU int4 k3 (C=16)", "full", lambda: _vvau(16, 3, 9, 16)),
    ("LabBinarizer 8-bit k5 (C=3)", "full", lambda: _lab(3, 5, 3)),
    ("GlobalAccPool INT8 (C=64, 8x8)", "full", lambda: _gap(64, 64, 8, "INT8")),
    ("ElementwiseAdd INT16+INT16 (C=64)", "full", lambda: _elementwise("ElementwiseAdd", 64, 64, "INT16", "INT16",
                                                                         "INT17")),
    ("ElementwiseMul INT16*INT12 (C=16)", "full", lambda: _elementwise("ElementwiseMul", 16, 16, "INT16", "INT12",
                                                                         "INT28")),
    ("Pool max INT8 k3 (C=16)", "full", lambda: _pool(16, 16, 3, "INT8")),
    ("DuplicateStreams INT8 (C=16)", "full", lambda: _dup(16, 16, "INT8")),
    ("LabelSelect INT16 (10 labels)", "full", lambda: _labelselect(10, 10, 3)),
    ("DynamicThreshold INT8 (C=16)", "full", lambda: _dynthresh(16, 16, 8)),
    ("DynamicRPReLU INT8 15 steps (C=16)", "full", lambda: _dynrprelu(16, 16, 8, 15)),
    ("MVAU int6 x int4 (64->4)", "full", lambda: _mvau(64, 4, 64, 4, "int_hidden"), XC7_BEFORE),
    ("MVAU xnor 4-bit act (288->4)", "full", lambda: _mvau(288, 4, 288, 4, "xnor_int4"), ("after/xc7", "after/xcup")),
    ("GlobalAccPool INT8 (C=64, 8x8)", "small", lambda: _gap(64, 2, 8, "INT8")),
    ("ElementwiseMul INT16*INT12 (C=64)", "small", lambda: _elementwise("ElementwiseMul", 64, 2, "INT16", "INT12",
                                                                          "INT28")),
    ("LabBinarizer 8-bit k5 (C=3)", "small", lambda: _lab(3, 5, 1)),
    ("VVAU int4 k3 (C=16)", "small", lambda: _vvau(16, 3, 1, 2)),
]


# --- synthesis -------------------------------------------------------------------------


def design_of(built, work: Path):
    """(sources, top, memory files) of a configuration's generated RTL."""
    from qonnx.custom_op.registry import getCustomOp

    from bnnforge.finn_flow.simulate import node as nodesim
    from bnnforge.finn_flow.simulate.layer import layer_of_params
    from layer_cases import specialize

    if hasattr(built, "graph"):
        model = specialize(built)
    else:
        model = built.to_model(layer_of_params(built).class_name("rtl"))
    inst = getCustomOp(model.graph.node[0])
    nodesim.prepare(inst, model, "rtl", work / "code")
    design = nodesim.node_design(inst, work)
    return list(design.sources), design.top, list(design.data_files)


def old_sources(sources: list[Path], work: Path, commit: str = BEFORE) -> list[Path]:
    """The same sources with bnnforge's cores (sim/rtl) as of ``commit``."""
    out = []
    for s in sources:
        s = Path(s)
        if (RTL / s.name).exists():  # a bnnforge core (copied next to the generated top)
            old = work / f"rtl-{commit}" / s.name
            if not old.exists():
                old.parent.mkdir(parents=True, exist_ok=True)
                old.write_text(subprocess.run(["git", "show", f"{commit}:sim/rtl/{s.name}"], cwd=REPO, check=True,
                                              capture_output=True, text=True).stdout)
            s = old
        out.append(s)
    return out


def synth_timing(sources, top, data_files, family: str, work: Path) -> dict:
    """yosys cell counts and the timing estimate, cached by content."""
    from bnnforge.sim import synth

    h = hashlib.sha256(f"{top} {family}".encode())
    for f in list(sources) + sorted(data_files, key=lambda p: Path(p).name):
        h.update(Path(f).name.encode())
        h.update(Path(f).read_bytes())
    key = h.hexdigest()[:20]
    cache = work / "cache" / f"{key}.json"
    if cache.exists():
        return json.loads(cache.read_text())
    t0 = time.time()
    c = synth.synth(list(sources), top, family, list(data_files), work / "yosys" / key)
    row = dict(lut=c.lut + c.lutram, ff=c.ff, bram18=c.bram18, critical_path_ns=round(c.critical_path_ns, 3),
               fmax_mhz=round(c.fmax_mhz, 1), logic_levels=c.logic_levels, startpoint=c.startpoint,
               endpoint=c.endpoint, synth_s=round(time.time() - t0, 1))
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(row))
    return row


def measure(name, folding, builder, only=None, *, families, variants, work: Path) -> list[dict]:
    slug = hashlib.sha1(f"{name}/{folding}".encode()).hexdigest()[:10]
    w = work / slug
    sources, top, data = design_of(builder(), w)
    rows = []
    for variant in variants:
        srcs = sources if variant == "after" else old_sources(sources, w)
        for fam in families:
            if only is not None and f"{variant}/{fam}" not in only:
                continue
            r = synth_timing(srcs, top, data, fam, work)
            rows.append(dict(layer=name, folding=folding, variant=variant, family=fam, **r))
            print(f"{name:38s} {folding:5s} {variant:6s} {fam:4s} {r['fmax_mhz']:7.1f} MHz "
                  f"{r['logic_levels']:3d} lv {r['lut']:7d} LUT {r['ff']:7d} FF ({r['synth_s']} s)", flush=True)
    return rows


def table(rows: list[dict]) -> str:
    key = {}
    for r in rows:
        key.setdefault((r["layer"], r["folding"]), {})[(r["variant"], r["family"])] = r
    lines = ["| layer | folding | xc7 before: levels, ns, MHz | xc7 after | xcup before | xcup after | "
             "LUT / FF before -> after (xc7) |",
             "|---|---|---|---|---|---|---|"]
    for (layer, folding), v in key.items():
        cells = []
        for fam in ("xc7", "xcup"):
            for var in ("before", "after"):
                r = v.get((var, fam))
                if r is None:
                    cells.append("")
                    continue
                mark = (" **<target**" if r["fmax_mhz"] < TARGET[fam] else
                        " (<aim)" if var == "after" and r["fmax_mhz"] < AIM[fam] else "")
                cells.append(f"{r['logic_levels']}, {r['critical_path_ns']:.2f}, {r['fmax_mhz']:.0f}{mark}")
        b, a = v.get(("before", "xc7")), v.get(("after", "xc7"))
        res = f"{b['lut']}/{b['ff']} -> {a['lut']}/{a['ff']}" if a and b else ""
        lines.append(f"| {layer} | {folding} | " + " | ".join(cells) + f" | {res} |")
    after = [r for r in rows if r["variant"] == "after"]
    for fam in ("xc7", "xcup"):
        rs = [r for r in after if r["family"] == fam]
        below = [f"{r['layer']} {r['folding']} ({r['fmax_mhz']:.0f})" for r in rs if r["fmax_mhz"] < AIM[fam]]
        lines.append(f"\n{fam}: {len(rs) - len(below)} of {len(rs)} cores after pipelining reach the {AIM[fam]:.0f} MHz aim"
                     + (f"; below it: {', '.join(below)}" if below else ""))
    return "\n".join(lines)


# --- whole networks (--networks) ---------------------------------------------------------
# Each network trained one short epoch: the timing depends on its structure, widths and
# folding; the weights only change what the ROMs hold.
NETS = {
    "tfc": ("--arch", "tfc"),
    "cnv w0.5 sign": ("--arch", "cnv", "--width", "0.5", "--binarizer", "sign"),
    "cnv w0.5 lab": ("--arch", "cnv", "--width", "0.5", "--binarizer", "lab"),
    "cnv w1 sign": ("--arch", "cnv", "--width", "1", "--binarizer", "sign"),
    "cnv w1 lab": ("--arch", "cnv", "--width", "1", "--binarizer", "lab"),
}
NET_TARGETS = ("3000", "max")
BOARDS = ("pynq-z2", "zcu104")
NET_TIMEOUT_S = 3 * 3600  # one command (the full-width cnv's build at --max-fps is long)


def _network_keys() -> list[tuple[str, str, str]]:
    """(net, target, board) of every whole-network row, in table order."""
    return [(n, t, b) for b in BOARDS for t in NET_TARGETS for n in NETS]


def _bnnforge(*args):
    """bnnforge in a fresh process (network_rtl.py's runner: a failure is SystemExit with its output)."""
    import network_rtl

    network_rtl.TIMEOUT["s"] = NET_TIMEOUT_S
    return network_rtl.bnnforge(*args)


def _slug(*parts: str) -> str:
    return "-".join(parts).replace(" ", "-")


def net_run(net: str, work: Path) -> Path:
    """The trained and exported run of ``net`` (trained here when missing)."""
    d = work / "nets" / _slug(net)
    if not (d / "model.onnx").exists():
        print(f"training {net} (fashion-mnist, 1 epoch, 2,000 images)", flush=True)
        _bnnforge("train", *NETS[net], "--dataset", "fashion-mnist", "--epochs", "1", "--subset", "2000", "--seed", "0",
                  "--out", d, "--quiet")
        _bnnforge("export", d)
    return d


def rtl_digest() -> str:
    """bnnforge's RTL cores (sim/rtl/*.sv) by content: a whole-network row measured on other
    sources is marked in the table."""
    from bnnforge import toolenv

    h = hashlib.sha1()
    for f in sorted(toolenv.rtl_dir().glob("*.sv")):
        h.update(f.name.encode() + b"\0" + f.read_bytes())
    return h.hexdigest()[:12]


def measure_network(net: str, target: str, board: str, work: Path) -> dict:
    """`bnnforge build --until rtl` (FIFOs sized in Verilator, the timing estimate of every layer,
    FIFOs and width converters included) and the fps that follows at the estimated Fmax."""
    run = net_run(net, work)
    build = work / "nets" / _slug(net, target, board)
    report = build / "report" / "timing_estimate.json"
    t0 = time.time()
    if not report.exists():
        if target == "max":  # `build` takes a target fps or a folding; the board's maximum is `fold`'s search
            folding = build.parent / f"{build.name}.folding.json"  # (with_suffix would cut "cnv-w0.5-..." at its dot)
            _bnnforge("fold", run / "model.onnx", "--board", board, "--max-fps", "--out", folding)
            goal = ["--folding", folding]
        else:
            goal = ["--target-fps", target]
        _bnnforge("build", run / "model.onnx", "--board", board, *goal, "--until", "rtl", "--out", build)
    t = json.loads(report.read_text())
    cycles = int(json.loads((build / "report" / "estimate_network_performance.json").read_text())["max_cycles"])
    fmax = t.get("fmax_mhz")
    clock_mhz = round(1e3 / t["clock_ns"], 3)
    # the whole design's LUT estimate by the current models (layer_rtl.build_rows: the sum of every
    # node's, FIFOs and width converters included), beside yosys' count of the same nodes
    import layer_rtl

    designs = layer_rtl.build_rows([build], lambda *_: None)[1]
    row = dict(net=net, target=target, board=board, family=t.get("family"), cycles_per_frame=cycles,
               clock_mhz=clock_mhz, fmax_mhz=fmax, logic_levels=t.get("logic_levels"),
               critical_path_ns=t.get("critical_path_ns"), slowest_layer=t.get("slowest_layer"),
               fps_at_clock=round(clock_mhz * 1e6 / cycles, 1),
               fps_at_fmax=None if fmax is None else round(fmax * 1e6 / cycles, 1),
               lut=sum(v["LUT"] for v in t.get("layers", {}).values()),
               est_lut=round(designs[0]["est_LUT"]) if designs else None, error=t.get("error"),
               build_s=round(time.time() - t0, 1), rtl_digest=rtl_digest())
    print(f"{net:14s} {target:5s} {board:8s} {cycles:8d} cycles  Fmax {fmax} MHz ({row['slowest_layer']}) "
          f"clock {clock_mhz:.0f} MHz ({row['build_s']} s)", flush=True)
    return row


def network_table(rows: list[dict]) -> str:
    lines = ["| network | target | board | cycles/frame | clock MHz | estimated Fmax MHz | levels | slowest layer | "
             "fps at the clock | fps at the Fmax | yosys LUT | estimated LUT (yosys / estimate) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    current = rtl_digest()
    for r in rows:
        r = {**r, "net": r["net"] + (" †" if r.get("rtl_digest") != current else "")}
        if r.get("error") or r["fmax_mhz"] is None:
            why = f"failed: {r['error'].splitlines()[0]}" if r.get("error") else "no register-to-register path"
            lines.append(f"| {r['net']} | {r['target']} | {r['board']} | {r['cycles_per_frame']:,} | "
                         f"{r['clock_mhz']:.0f} | {why} | | | | | | |")
            continue
        below = " **<clock**" if r["fmax_mhz"] < r["clock_mhz"] else ""
        lines.append(f"| {r['net']} | {r['target']} | {r['board']} | {r['cycles_per_frame']:,} | {r['clock_mhz']:.0f} | "
                     f"{r['fmax_mhz']:.0f}{below} | {r['logic_levels']} | {r['slowest_layer']} | "
                     f"{r['fps_at_clock']:,.0f} | {r['fps_at_fmax']:,.0f} | {r['lut']:,} | "
                     + (f"{r['est_lut']:,} ({r['lut'] / r['est_lut']:.2f}x) |" if r.get("est_lut") else "- |"))
    return "\n".join(lines)


def main_networks(args) -> None:
    """Whole networks: each row merged into results/timing.json ("networks") by (net, target,
    board) as soon as it is measured (a long run cut short keeps what it measured)."""
    nets = [n for n in NETS if not args.only or any(o in n for o in args.only)]
    for board in args.boards:
        for target in args.targets:
            for net in nets:
                try:
                    row = measure_network(net, target, board, args.work)
                except SystemExit as e:  # a failed command (its output in the message); the next row
                    print(f"{net} {target} {board}: {str(e).splitlines()[0]}", flush=True)
                    continue
                if not args.no_write:
                    _merge_network_row(row)
    out = HERE / "results" / "timing.json"
    print(network_table(json.loads(out.read_text()).get("networks", [])))


def _merge_network_row(row: dict) -> None:
    out = HERE / "results" / "timing.json"
    data = json.loads(out.read_text())
    key = lambda r: (r["net"], r["target"], r["board"])  # noqa: E731
    rows = [r for r in data.get("networks", []) if key(r) != key(row)] + [row]
    order = {k: i for i, k in enumerate(_network_keys())}
    data["networks"] = sorted(rows, key=lambda r: order.get(key(r), len(order)))
    out.write_text(json.dumps(data, indent=1))
    write_markdown(data)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", nargs="*", help="configurations whose name contains one of these")
    ap.add_argument("--families", nargs="*", default=["xc7", "xcup"])
    ap.add_argument("--variants", nargs="*", default=["before", "after"])
    ap.add_argument("--work", type=Path, default=HERE / "runs" / "timing")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--networks", action="store_true",
                    help="whole networks instead of single cores (tfc, cnv w0.5 and full width, sign and LAB; "
                         "3,000 fps and --max-fps; on the boards of --boards); rows merged into results/timing.json")
    ap.add_argument("--boards", nargs="*", default=list(BOARDS), choices=BOARDS)
    ap.add_argument("--targets", nargs="*", default=list(NET_TARGETS), choices=NET_TARGETS,
                    help="--networks: only these targets (e.g. max, to add the --max-fps rows alone)")
    ap.add_argument("--merge", action="store_true",
                    help="replace only the measured rows (layer, folding, variant, family) in results/timing.json")
    args = ap.parse_args()
    if args.networks:
        main_networks(args)
        return
    from bnnforge.finn_flow import registry

    registry.load()
    configs = [c for c in CONFIGS if not args.only or any(o in f"{c[0]} {c[1]}" for o in args.only)]
    with ThreadPoolExecutor(args.jobs) as ex:
        parts = list(ex.map(lambda c: measure(*c, families=args.families, variants=args.variants, work=args.work),
                            configs))
    rows = [r for p in parts for r in p]
    out = HERE / "results"
    if args.merge:  # e.g. one core re-measured after a change; the others keep their rows
        key = lambda r: (r["layer"], r["folding"], r["variant"], r["family"])  # noqa: E731
        new = {key(r): r for r in rows}
        old = json.loads((out / "timing.json").read_text())["rows"]
        rows = [new.pop(key(r), r) for r in old] + list(new.values())
    print(table(rows))
    if args.no_write:
        return
    data = json.loads((out / "timing.json").read_text()) if (out / "timing.json").exists() else {}
    data.update(before=BEFORE, target_mhz=TARGET, aim_mhz=AIM, rows=rows)
    (out / "timing.json").write_text(json.dumps(data, indent=1))
    write_markdown(data)


def write_markdown(data: dict) -> None:
    rows = data["rows"]
    md = ("# Estimated critical paths of bnnforge's RTL cores, before and after pipelining\n\n"
          f"`benchmarks/timing.py` ({sum(r['synth_s'] for r in rows) / 60:.0f} min of yosys runs, "
          "each cached by content; under the load of a shared 2-core machine): yosys synth_xilinx of each node's generated RTL "
          "and the static timing estimate of `sim/timing.py` (docs/DESIGN.md, \"Timing estimate\"). "
          f"before: sim/rtl of commit {BEFORE}; after: this commit. Cells: logic levels, critical path (ns), "
          "estimated Fmax (MHz); target 1.25x the board clock: 125 MHz on xc7 (PYNQ-Z2, xc7z020-1), "
          "250 MHz on xcup (ZCU104); aim 200 / 300 MHz. **<target**: below 1.25x the board clock; (<aim): after, below the aim. "
          "Empty cells were not run: the before MVAU's single-stage $countones is slow in yosys (the 256-bit "
          "one took 704 s on xc7; at 784 bits yosys used > 7 GB and had not finished after 30 min), so the "
          "wide XNOR MVAUs have before on xc7 only or not at all. full: SIMD = the whole input and PE = "
          "all channels of the configuration named (channel counts kept small where the synthesis of many "
          "lanes would take long; the lanes are independent, so more of them change the paths only "
          "through fanout).\n\n" + table(rows) + "\n")
    nets = data.get("networks")
    if nets:
        done = {(r["net"], r["target"], r["board"]) for r in nets}
        missing = [f"{n} @ {t} on {b}" for n, t, b in _network_keys() if (n, t, b) not in done]
        md += ("\n## Whole networks\n\n"
               "`benchmarks/timing.py --networks`: `bnnforge build --until rtl` on the board (folding from `fold` "
               "for 3,000 fps or `--max-fps`, FIFOs sized in Verilator), whose timing step synthesizes every "
               "layer out of context, FINN's and the FIFOs and width converters included; the design's "
               "estimated Fmax is its slowest layer's. Networks trained one epoch on 2,000 Fashion-MNIST "
               "images (the paths depend on structure, widths and folding; the weights only fill the ROMs). "
               "fps at the Fmax: cycles/frame at the estimated Fmax, what a build with that clock would reach "
               "if Vivado confirms it. **<clock**: the estimate is below the board's clock. estimated LUT: the sum "
               "of every node's LUT estimate (FIFOs and width converters included) by the models of the commit "
               "that measured the row, beside yosys' count of the same nodes (- : a row measured before this "
               "column). †: measured on bnnforge's cores (sim/rtl) as they were before a later change (e.g. the "
               "MVAU's write-first vector buffer, commit 71c2210: fewer LUTs in nearly fully folded layers); "
               "the row is rebuilt when its build folder is removed.\n\n"
               + network_table(nets) + "\n"
               + (f"\nNot measured yet: {', '.join(missing)}.\n" if missing else ""))
    (HERE / "results" / "timing.md").write_text(md)


if __name__ == "__main__":
    main()
