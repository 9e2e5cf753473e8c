"""`bnnforge fold`: folding (PE/SIMD and memory style) of every layer, stock and custom,
against a board budget.

Throughput is set by the slowest layer, and each layer's resources depend only on its
own folding, so the problem separates: for a cycles-per-frame target T, the cheapest
network takes, per layer group, the cheapest option with cycles <= T. Options are
enumerated exhaustively under the hardware rules and scored with FINN's estimates
(stock layers) and bnnforge's resource models (custom layers). A sliding-window
generator is folded together with the layer it feeds (its SIMD is coupled to it).
Cost = LUT share + BRAM share of the board budget (or LUTs alone with objective "lut",
for boards whose BRAM is otherwise unused).
"""

from __future__ import annotations

import bisect
import dataclasses
import math
import os
from pathlib import Path

from qonnx.custom_op.registry import getCustomOp

from bnnforge.finn_flow import FOLD_OBJECTIVES
from bnnforge.finn_flow.boards import Board
from bnnforge.finn_flow.finn_compat import fast_attribute_reads
from bnnforge.finn_flow.folding import HLS_MVAU_MAX_SF, base_op, parallel_dims, parallel_window_ok
from bnnforge.finn_flow import registry
from bnnforge.finn_flow.registry import CUSTOM_OPS
from bnnforge.finn_flow.layer_params import divisors

MAX_AP_INT_W = 8191  # FINN's widest HLS stream (finn.util.basic.MAX_ALLOWED_AP_INT_W)
MVAU_WWIDTH_MAX = 36  # FINN's default weight-stream width limit per PE (DataflowBuildConfig.mvau_wwidth_max)
RAM_STYLES = ("block", "distributed")


class FoldError(ValueError):
    pass


@dataclasses.dataclass(frozen=True)
class Option:
    attrs: tuple  # ((node name, ((attr, value), ...)), ...)
    cycles: int
    lut: float
    bram: float
    per_node: tuple  # ((node name, cycles, lut, bram), ...)


@dataclasses.dataclass
class Group:
    nodes: list[str]
    options: list[Option]  # sorted by cycles
    limit: str  # why the fastest option cannot be faster

    @property
    def fastest(self) -> Option:
        return min(self.options, key=lambda o: (o.cycles, o.lut, o.bram))


@dataclasses.dataclass
class Folding:
    choice: list[Option]
    cycles: int
    lut: float
    bram: float
    clock_ns: float

    @property
    def fps(self) -> float:
        return 1e9 / self.clock_ns / self.cycles

    def config(self) -> dict:
        """FINN folding JSON (ApplyConfig / `bnnforge build --folding`)."""
        cfg: dict = {"Defaults": {}}
        for opt in self.choice:
            for name, attrs in opt.attrs:
                cfg.setdefault(name, {}).update(dict(attrs))
        return cfg


# --- options per layer group --------------------------------------------------------------


def _set(inst, attrs: dict) -> None:
    for k, v in attrs.items():
        inst.set_nodeattr(k, v)


def _has(inst, attr: str) -> bool:
    try:
        inst.get_nodeattr(attr)
        return True
    except AttributeError:
        return False


def _node_cost(name: str, inst, attrs: dict, part: str, cache: dict) -> tuple[int, float, float]:
    """(cycles, LUT, BRAM18) of one node folded as ``attrs`` (memoized: FINN's attribute
    access is slow, and a node's estimate depends only on its own attributes)."""
    key = (name, tuple(sorted(attrs.items())))
    if key not in cache:
        _set(inst, attrs)
        cache[key] = (int(inst.get_exp_cycles()), float(inst.lut_estimation(part)), float(inst.bram_estimation(part)))
    return cache[key]


def _measure(insts: dict, assignment: dict, part: str, cache: dict) -> Option:
    per = tuple((name, *_node_cost(name, insts[name], assignment.get(name, {}), part, cache)) for name in insts)
    return Option(
        attrs=tuple((n, tuple(sorted(a.items()))) for n, a in sorted(assignment.items())),
        cycles=max(p[1] for p in per),
        lut=sum(p[2] for p in per),
        bram=sum(p[3] for p in per),
        per_node=per,
    )


def _pareto(options: list[Option]) -> list[Option]:
    """Drop options that another one beats on cycles, LUT and BRAM at once."""
    options = sorted(options, key=lambda o: (o.cycles, o.lut, o.bram, o.attrs))
    kept: list[Option] = []
    for o in options:
        if not any(k.lut <= o.lut and k.bram <= o.bram for k in kept):
            kept.append(o)
    return kept


def _mvau_options(name, inst, hls: bool, ours: bool = False):
    """PE x SIMD x weight memory. Decoupled weights (FINN's default) stream SIMD*wbits bits per
    PE, limited to mvau_wwidth_max; embedded weights have no stream, so SIMD may go further.
    bnnforge's RTL always embeds its weights (a ROM in block or distributed memory)."""
    mw, mh = inst.get_nodeattr("MW"), inst.get_nodeattr("MH")
    wbits = inst.get_input_datatype(1).bitwidth()
    memories = [("internal_decoupled", style) for style in ("auto", *RAM_STYLES)] + [("internal_embedded", "auto")]
    if ours:
        memories = [("internal_embedded", style) for style in ("auto", *RAM_STYLES)]
    elif inst.get_nodeattr("mem_mode") not in ("internal_decoupled", "internal_embedded"):
        memories = [(inst.get_nodeattr("mem_mode"), inst.get_nodeattr("ram_style"))]
    out = []
    for simd in divisors(mw):
        if hls and mw / simd > HLS_MVAU_MAX_SF:
            continue
        for pe in divisors(mh):
            for mode, style in memories:
                if mode == "internal_decoupled" and (simd * wbits > MVAU_WWIDTH_MAX or pe * simd * wbits > MAX_AP_INT_W):
                    continue
                out.append({"PE": pe, "SIMD": simd, "mem_mode": mode, "ram_style": style})
    limit = f"PE <= MH={mh}, SIMD <= MW={mw}"
    if not ours:
        limit += (f" (with streamed weights SIMD <= {MVAU_WWIDTH_MAX // wbits}, FINN's weight-stream width "
                  f"limit of {MVAU_WWIDTH_MAX} bits)")
    return out, limit


def _group_options(model, nodes, part) -> tuple[list[dict], str]:
    """Assignments {node name: attrs} for a group (a node, or a SWG and its consumer)."""
    insts = {n.name: fast_attribute_reads(getCustomOp(n)) for n in nodes}
    *pre, main = nodes
    inst = insts[main.name]
    op = base_op(main)
    hls = main.op_type.endswith("_hls")
    if op == "MVAU":
        mains, limit = _mvau_options(main.name, inst, hls, registry.is_ours(main.op_type))
    elif op == "VVAU":
        kk = math.prod(inst.get_nodeattr("Kernel"))
        mains = [{"PE": pe, "SIMD": s} for pe in divisors(inst.get_nodeattr("Channels")) for s in (1, kk)]
        limit = f"PE <= Channels={inst.get_nodeattr('Channels')}, SIMD <= k*k={kk}"
    elif op in CUSTOM_OPS:
        c = inst.get_nodeattr("NumChannels")
        mains = [{"PE": pe, "ram_style": s} for pe in divisors(c) for s in RAM_STYLES]
        limit = f"PE <= NumChannels={c}"
    elif op == "ConvolutionInputGenerator":
        c = inst.get_nodeattr("IFMChannels")
        mains = [{"SIMD": s} for s in divisors(c)]
        limit = f"SIMD <= IFMChannels={c}"
    elif op == "FMPadding":
        c = inst.get_nodeattr("NumChannels")
        mains = [{"SIMD": s} for s in divisors(c)]
        limit = f"SIMD <= NumChannels={c}"
    else:
        dims = parallel_dims(main)
        if "PE" in dims:
            size = dims["PE"][0]
            mains = [{"PE": pe} for pe in divisors(size)]
            limit = f"PE <= {dims['PE'][1]}={size}"
        else:
            mains, limit = [{}], "not foldable"
    if not pre:
        return [{main.name: a} for a in mains], limit
    swg = insts[pre[0].name]
    c_in = swg.get_nodeattr("IFMChannels")
    out = []
    for a in mains:
        if op in ("VVAU", "Pool"):  # depthwise: the SWG streams the consumer's PE channels
            swg_opts = [{"SIMD": a["PE"], "parallel_window": int(a.get("SIMD", 1) > 1)}]
            if swg_opts[0]["parallel_window"] and not parallel_window_ok(swg):
                continue
        else:  # MVAU: the SWG's beat and the MVAU's SIMD divide one another (FINN converts the width)
            kk = math.prod(swg.get_nodeattr("ConvKernelDim"))
            swg_opts = [{"SIMD": s, "parallel_window": 0} for s in divisors(c_in)
                        if a["SIMD"] % s == 0 or s % a["SIMD"] == 0]
            whole = (kk * c_in) % a["SIMD"] == 0 or a["SIMD"] % (kk * c_in) == 0
            if whole and parallel_window_ok(swg):  # whole window per beat
                swg_opts.append({"SIMD": c_in, "parallel_window": 1})
        for s in swg_opts:
            if not _has(swg, "parallel_window"):
                s = {"SIMD": s["SIMD"]}
            out.append({pre[0].name: s, main.name: a})
    return out, limit


def build_groups(model, part: str) -> list[Group]:
    """Layer groups with their Pareto-optimal folding options (the model is not changed)."""
    import copy

    model = copy.deepcopy(model)  # options are evaluated by setting node attributes
    hw = [n for n in model.graph.node if n.domain.startswith("finn.custom_op.fpgadataflow")]
    grouped, groups, cache = set(), [], {}
    for node in hw:
        if node.name in grouped:
            continue
        nodes = [node]
        if base_op(node) == "ConvolutionInputGenerator":
            consumer = model.find_consumer(node.output[0])
            if consumer is not None and base_op(consumer) in ("MVAU", "VVAU", "Pool"):
                nodes.append(consumer)
        grouped.update(n.name for n in nodes)
        assignments, limit = _group_options(model, nodes, part)
        insts = {n.name: fast_attribute_reads(getCustomOp(n)) for n in nodes}
        options = []
        for a in assignments:
            try:
                options.append(_measure(insts, a, part, cache))
            except Exception:  # a combination FINN's op rejects (e.g. an assertion in its model): skip it
                continue
        if not options:
            raise FoldError(f"no valid folding for {', '.join(insts)}")
        groups.append(Group([n.name for n in nodes], _pareto(options), limit))
    return groups


# --- selection ---------------------------------------------------------------------------


class _Cheapest:
    """Per group, the cheapest option with cycles <= T for any T (prefix minima)."""

    def __init__(self, groups: list[Group], w_lut: float, w_bram: float):
        self.groups = groups
        self.cycles, self.best = [], []
        for g in groups:
            cyc, best, cur = [], [], None
            for o in g.options:
                cost = (w_lut * o.lut + w_bram * o.bram, o.lut, o.bram, o.attrs)
                if cur is None or cost < cur[0]:
                    cur = (cost, o)
                cyc.append(o.cycles)
                best.append(cur[1])
            self.cycles.append(cyc)
            self.best.append(best)

    def select(self, target: int) -> list[Option] | None:
        out = []
        for cyc, best in zip(self.cycles, self.best):
            i = bisect.bisect_right(cyc, target) - 1
            if i < 0:
                return None
            out.append(best[i])
        return out


def _folding(choice, clock_ns) -> Folding:
    return Folding(choice, max(o.cycles for o in choice), sum(o.lut for o in choice), sum(o.bram for o in choice), clock_ns)


def _weights(board: Board, bram_bias: float = 1.0):
    return 1.0 / board.resources["LUT"], bram_bias / board.bram18


# BRAM weights tried in turn: the first folding that fits the budget is taken
BRAM_BIASES = {"cost": (1.0,), "lut": (1e-6, 0.01, 0.1, 1.0)}


def _bram_biases(objective: str) -> tuple[float, ...]:
    if objective not in FOLD_OBJECTIVES:
        raise FoldError(f"objective {objective!r}: allowed {', '.join(FOLD_OBJECTIVES)}")
    return BRAM_BIASES[objective]


def for_target(groups, board: Board, clock_ns: float, fps: float, util: float = 1.0,
               objective: str = "cost") -> Folding:
    """Fewest resources meeting ``fps``: LUT + BRAM shares of the board (``cost``), or LUTs (``lut``)."""
    biases = _bram_biases(objective)
    target = int(1e9 / clock_ns / fps)
    slow = [g for g in groups if g.fastest.cycles > target]
    if slow:
        lines = [
            f"  {', '.join(g.nodes)}: at least {g.fastest.cycles} cycles/frame even fully parallel "
            f"({_describe(g.fastest)}); limits: {g.limit}"
            for g in slow
        ]
        best = max(g.fastest.cycles for g in groups)
        raise FoldError(
            f"{fps:g} fps at {clock_ns} ns needs <= {target} cycles/frame per layer; these layers cannot reach it:\n"
            + "\n".join(lines)
            + f"\n  the most this network reaches at this clock is {1e9 / clock_ns / best:,.0f} fps"
        )
    for bias in biases:
        folding = _folding(_Cheapest(groups, *_weights(board, bias)).select(target), clock_ns)
        over = _over_budget(folding, board, util)
        if not over:
            return folding
    raise FoldError(f"the cheapest folding for {fps:g} fps does not fit {board.name}: {over}")


def maximize(groups, board: Board, clock_ns: float, util: float) -> Folding:
    """The highest throughput whose resources fit within ``util`` of the board budget."""
    targets = sorted({o.cycles for g in groups for o in g.options})
    floor = max(g.fastest.cycles for g in groups)
    targets = [t for t in targets if t >= floor]
    selectors = [_Cheapest(groups, *_weights(board, b)) for b in (1.0, 4.0, 0.25, 16.0, 1 / 16)]
    lo, hi = 0, len(targets) - 1
    if _fit(selectors, targets[hi], board, util, clock_ns) is None:
        cheapest = _folding(selectors[0].select(targets[hi]), clock_ns)
        raise FoldError(
            f"even the slowest folding does not fit {util:.0%} of {board.name}: "
            f"{_over_budget(cheapest, board, util)}"
        )
    while lo < hi:  # feasibility is monotone in the cycle target
        mid = (lo + hi) // 2
        if _fit(selectors, targets[mid], board, util, clock_ns) is not None:
            hi = mid
        else:
            lo = mid + 1
    return _fit(selectors, targets[lo], board, util, clock_ns)


def _fit(selectors, target, board, util, clock_ns):
    for sel in selectors:
        choice = sel.select(target)
        if choice is not None:
            f = _folding(choice, clock_ns)
            if not _over_budget(f, board, util):
                return f
    return None


def _over_budget(f: Folding, board: Board, util: float) -> str:
    msgs = []
    if f.lut > util * board.resources["LUT"]:
        msgs.append(f"LUT {f.lut:.0f} > {util:.0%} of {board.resources['LUT']}")
    if f.bram > util * board.bram18:
        msgs.append(f"BRAM18 {f.bram:.0f} > {util:.0%} of {board.bram18}")
    return ", ".join(msgs)


def pareto_front(groups, board: Board, clock_ns: float, points: int = 120, objective: str = "cost") -> list[Folding]:
    targets = sorted({o.cycles for g in groups for o in g.options})
    floor = max(g.fastest.cycles for g in groups)
    targets = [t for t in targets if t >= floor]
    if len(targets) > points:
        step = (len(targets) - 1) / (points - 1)
        targets = sorted({targets[round(i * step)] for i in range(points)})
    sel = _Cheapest(groups, *_weights(board, _bram_biases(objective)[0]))
    return [_folding(sel.select(t), clock_ns) for t in targets]


def _describe(opt: Option) -> str:
    return "; ".join(f"{n} " + " ".join(f"{k}={v}" for k, v in attrs) for n, attrs in opt.attrs)


# --- the graph ------------------------------------------------------------------------------


def prepare(model_or_build: Path, board: Board, clock_ns: float, lab_impl: str = "fused",
            backend: str = "rtl"):
    """The specialized hardware graph (node names as `bnnforge build` gives them), with
    minimized bit widths so the estimates match the build's: from a build folder's
    intermediate models, or by running the build's steps on a QONNX model."""
    import tempfile

    path = Path(model_or_build)
    if not path.exists():
        raise FoldError(f"{path} not found")
    with tempfile.TemporaryDirectory(prefix="bnnforge-fold-") as tmp:  # the steps' scratch output and log
        return _prepare_in(path, Path(tmp), board, clock_ns, lab_impl, backend)


def _prepare_in(path: Path, tmp: Path, board: Board, clock_ns: float, lab_impl: str, backend: str):
    from qonnx.core.modelwrapper import ModelWrapper

    import bnnforge.finn_flow.ops  # noqa: F401
    from bnnforge.finn_flow import build as buildlib

    opts = buildlib.BuildOptions(model=path, board=board, out=tmp, clock_ns=clock_ns, lab_impl=lab_impl,
                                 backend=backend)
    # the steps run here do not read FINN's build config (importing it alone takes 0.4 s)
    ctx = buildlib.BuildContext(opts, None, lambda *_: None)
    if path.is_dir():
        minimized = buildlib.model_path(path, "minimize_bit_width")
        specialized = buildlib.model_path(path, "specialize")
        if minimized.exists():
            return ModelWrapper(str(minimized))
        if specialized.exists():
            return buildlib.step_minimize_bit_width(ModelWrapper(str(specialized)), ctx)
        raise FoldError(f"{path} is not a build folder past the specialize step (run `bnnforge build` first)")
    # FINN's streamlining dominates the run time: keep the prepared graph per input and options
    cached = _cache_path(path, board, lab_impl, backend)
    if cached.exists():
        return ModelWrapper(str(cached))
    model = ModelWrapper(str(path))
    with buildlib.finn_output_to(tmp / "fold.log"):
        for step in buildlib.STEPS[: buildlib.STEP_NAMES.index("minimize_bit_width") + 1]:
            # the partition only moves the graph's non-hardware ends (the input Transpose)
            # out; node names after specialization are the same without it
            if step.name not in ("check_python", "dataflow_partition", "fold"):
                model = step.fn(model, ctx)
    model = _hardware_only(model)
    partial = cached.with_name(f".{cached.name}.{os.getpid()}")
    model.save(str(partial))
    os.replace(partial, cached)  # atomic: a parallel reader never sees half a file
    return model


def _hardware_only(model):
    """Drop the non-hardware nodes at the graph's ends (the input layout Transpose), as the
    build's dataflow partition does, so FINN analyses of the whole graph (and SetFolding)
    see only hardware layers."""
    from onnx import TensorProto, helper

    graph = model.graph

    def is_hw(n):
        return n.domain.startswith("finn.custom_op.fpgadataflow")

    def promote(tensor, ports):  # make an inner tensor the graph's input or output
        shape = model.get_tensor_shape(tensor)
        for vi in [v for v in graph.value_info if v.name == tensor]:
            graph.value_info.remove(vi)
        ports.remove(ports[0])
        ports.insert(0, helper.make_tensor_value_info(tensor, TensorProto.FLOAT, shape))

    def reads_only_input(n):  # the graph input, plus constants (a Reshape's shape)
        return n.input[0] == graph.input[0].name and all(model.get_initializer(t) is not None for t in n.input[1:])

    while graph.node and not is_hw(graph.node[0]) and reads_only_input(graph.node[0]):
        promote(graph.node[0].output[0], graph.input)
        graph.node.remove(graph.node[0])
    while graph.node and not is_hw(graph.node[-1]) and list(graph.node[-1].output) == [graph.output[0].name]:
        promote(graph.node[-1].input[0], graph.output)
        graph.node.remove(graph.node[-1])
    inner = [n.name for n in graph.node if not is_hw(n)]
    if inner:
        raise FoldError(f"nodes without a hardware implementation inside the dataflow graph: {', '.join(inner)}")
    return model


def _cache_path(path: Path, board: Board, lab_impl: str, backend: str) -> Path:
    """Cache key: the input file, the options, and the code that transforms the graph."""
    import hashlib

    from bnnforge import __version__, toolenv

    key = hashlib.sha256(path.read_bytes())
    key.update(f"{__version__}|{board.part}|{lab_impl}|{backend}".encode())
    flow = Path(__file__).parent
    for src in sorted([*flow.glob("*.py"), *(flow / "ops").glob("*.py")]):
        key.update(src.read_bytes())
    return toolenv.cache_dir("fold") / f"{key.hexdigest()[:20]}.onnx"


# --- reporting ------------------------------------------------------------------------------


def table(f: Folding, groups: list[Group], board: Board, model) -> str:
    ops = {n.name: n.op_type for n in model.graph.node}
    attrs = {}
    for opt in f.choice:
        for name, a in opt.attrs:
            attrs[name] = dict(a)
    head = f"{'layer':<32} {'op':<30} {'PE':>4} {'SIMD':>5} {'cycles':>9} {'LUT':>8} {'BRAM18':>7} {'bottleneck':>10}"
    lines = [head, "-" * len(head)]
    for opt in f.choice:
        for name, cyc, lut, bram in opt.per_node:
            a = attrs.get(name, {})
            pe, simd = a.get("PE", ""), a.get("SIMD", "")
            lines.append(f"{name:<32} {ops[name]:<30} {pe!s:>4} {simd!s:>5} {cyc:>9} {lut:>8.0f} {bram:>7.1f} "
                         f"{100 * cyc / f.cycles:>9.0f}%")
    lines += [
        "-" * len(head),
        f"total: LUT {f.lut:.0f} / {board.resources['LUT']} ({100 * f.lut / board.resources['LUT']:.1f} %), "
        f"BRAM18 {f.bram:.1f} / {board.bram18} ({100 * f.bram / board.bram18:.1f} %)",
        f"estimated throughput {f.fps:,.0f} fps ({f.cycles} cycles/frame at {f.clock_ns} ns)",
    ]
    return "\n".join(lines)


def plot(front: list[Folding], chosen: Folding, board: Board, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    fps = [f.fps for f in front]
    for ax, key, budget, label in (
        (axes[0], "lut", board.resources["LUT"], "LUT"),
        (axes[1], "bram", board.bram18, "BRAM18"),
    ):
        ax.plot([getattr(f, key) for f in front], fps, ".-", label="cheapest folding per throughput")
        ax.axvline(budget, color="red", linestyle="--", label=f"{board.name} {label}")
        ax.plot([getattr(chosen, key)], [chosen.fps], "o", color="black", label="chosen")
        ax.set_xlabel(f"estimated {label}")
        ax.set_ylabel("estimated fps")
        ax.set_yscale("log")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"bnnforge fold: throughput vs resources on {board.name} ({chosen.clock_ns} ns)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
