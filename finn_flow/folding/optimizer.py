"""`bnnforge fold`: folding (PE/SIMD and memory style) of every layer, stock and custom,
against a board budget.

Throughput is set by the slowest layer, and each layer's resources depend only on its
own folding, so the problem separates: for a cycles-per-frame target T, the cheapest
network takes, per layer group, the cheapest option with cycles <= T. Options are
enumerated exhaustively under the hardware rules and scored with FINN's estimates
(stock layers) and bnnforge's resource models (custom layers). A sliding-window
generator is folded together with the layer it feeds (its SIMD is coupled to it), and the
width converter the build puts between the two when their beats differ is part of that
option's cost. Cost = LUT share + BRAM share of the board budget (or LUTs alone with objective "lut",
for boards whose BRAM is otherwise unused).
"""

from __future__ import annotations

import bisect
import copy
import dataclasses

from qonnx.custom_op.registry import getCustomOp

from bnnforge.boards import Board
from bnnforge.finn_flow import FOLD_OBJECTIVES, registry
from bnnforge.finn_flow.finn_compat import fast_attribute_reads, width_converter_luts
from bnnforge.finn_flow.folding.config import FoldingError
from bnnforge.finn_flow.ops.rules import divisors


@dataclasses.dataclass(frozen=True)
class Option:
    attrs: tuple  # ((node name, ((attr, value), ...)), ...)
    cycles: int
    lut: float
    bram: float
    per_node: tuple  # ((node name, cycles, lut, bram), ...)
    # the width converter between a sliding-window generator and its consumer when their beats
    # differ: chosen with the option, counted in the budget with the other plumbing
    window_dwc_lut: float = 0.0

    @property
    def cost_lut(self) -> float:
        """The LUTs this option brings: its layers' and its window width converter's."""
        return self.lut + self.window_dwc_lut


@dataclasses.dataclass
class Group:
    nodes: list[str]
    options: list[Option]  # sorted by cycles
    limit: str  # why the fastest option cannot be faster

    @property
    def fastest(self) -> Option:
        return min(self.options, key=lambda o: (o.cycles, o.cost_lut, o.bram))


@dataclasses.dataclass
class Folding:
    choice: list[Option]
    cycles: int
    lut: float  # the layers'
    bram: float
    clock_ns: float
    plumbing: object = None  # folding.plumbing.Plumbing: the width converters and FIFOs it brings, once counted

    @property
    def total_lut(self) -> float:
        return self.lut + (self.plumbing.lut if self.plumbing else 0.0)

    @property
    def total_bram(self) -> float:
        return self.bram + (self.plumbing.bram if self.plumbing else 0.0)

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


def _node_cost(name: str, inst, attrs: dict, part: str, cache: dict) -> tuple[int, float, float]:
    """(cycles, LUT, BRAM18) of one node folded as ``attrs`` (memoized: FINN's attribute
    access is slow, and a node's estimate depends only on its own attributes)."""
    key = (name, tuple(sorted(attrs.items())))
    if key not in cache:
        _set(inst, attrs)
        cache[key] = (int(inst.get_exp_cycles()), float(inst.lut_estimation(part)), float(inst.bram_estimation(part)))
    return cache[key]


def _window_dwc_lut(insts: dict, assignment: dict, cache: dict) -> float:
    """LUTs of the width converter the rtl stage inserts between a sliding-window generator and
    its consumer (a group of two) folded as ``assignment``: none when the generator's beat is
    the consumer's. A parallel window over all channels into a layer of small SIMD is a wide
    downsizer (288 -> 18 bits: 2,112 LUT by yosys), where a generator of the consumer's SIMD
    needs none (a reactnet at 1,000 fps had 8.8k of its 17k LUT in such converters)."""
    if len(insts) != 2:
        return 0.0
    key = ("window_dwc", tuple((n, tuple(sorted(assignment.get(n, {}).items()))) for n in insts))
    if key not in cache:
        generator, consumer = insts.values()
        for name, inst in insts.items():
            _set(inst, assignment.get(name, {}))
        out_bits, in_bits = generator.get_outstream_width(), consumer.get_instream_width()
        cache[key] = 0.0 if out_bits == in_bits else float(width_converter_luts(out_bits, in_bits))
    return cache[key]


def _measure(insts: dict, assignment: dict, part: str, cache: dict) -> Option:
    per = tuple((name, *_node_cost(name, insts[name], assignment.get(name, {}), part, cache)) for name in insts)
    return Option(
        attrs=tuple((n, tuple(sorted(a.items()))) for n, a in sorted(assignment.items())),
        cycles=max(p[1] for p in per),
        lut=sum(p[2] for p in per),
        bram=sum(p[3] for p in per),
        per_node=per,
        window_dwc_lut=_window_dwc_lut(insts, assignment, cache),
    )


def _pareto(options: list[Option]) -> list[Option]:
    """Drop options that another one beats on cycles, LUT and BRAM at once."""
    options = sorted(options, key=lambda o: (o.cycles, o.cost_lut, o.bram, o.attrs))
    kept: list[Option] = []
    for o in options:
        if not any(k.cost_lut <= o.cost_lut and k.bram <= o.bram for k in kept):
            kept.append(o)
    return kept


def _group_options(model, nodes, part) -> tuple[list[dict], str]:
    """Assignments {node name: attrs} for a group (a node, or a sliding-window generator and
    its consumer), from each node's rules (registry)."""
    *pre, main = nodes
    inst = fast_attribute_reads(getCustomOp(main))
    rules = registry.rules_of(main)
    mains, limit = rules.options(inst, main.op_type, registry.is_ours(main.op_type))
    if not pre:
        return [{main.name: a} for a in mains], limit
    swg = fast_attribute_reads(getCustomOp(pre[0]))
    swg_rules = registry.rules_of(pre[0])
    out = [{pre[0].name: s, main.name: a} for a in mains
           for s in swg_rules.coupled_options(swg, rules.window_role, a)]
    return out, limit


def _group_of(model, node) -> list:
    """A node and, for a sliding-window generator, the consumer folded with it."""
    if registry.rules_of(node).window_role == "generator":
        consumer = model.find_consumer(node.output[0])
        if consumer is not None and registry.rules_of(consumer).window_role in ("depthwise", "matrix"):
            return [node, consumer]
    return [node]


def build_groups(model, part: str) -> list[Group]:
    """Layer groups with their Pareto-optimal folding options (the model is not changed)."""
    model = copy.deepcopy(model)  # options are evaluated by setting node attributes
    grouped, groups, cache = set(), [], {}
    for node in (n for n in model.graph.node if registry.is_hw_node(n)):
        if node.name in grouped:
            continue
        nodes = _group_of(model, node)
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
            raise FoldingError(f"no valid folding for {', '.join(insts)}")
        groups.append(Group([n.name for n in nodes], _pareto(options), limit))
    return groups


def fold_custom_ops(model, target_cycles: int):
    """Smallest PE per node of bnnforge's own layers that meets ``target_cycles`` (FINN's
    SetFolding skips them): for a SetFolding baseline."""
    for node in model.graph.node:
        if not registry.is_custom(node):
            continue
        inst = getCustomOp(node)
        size, _ = registry.rules_of(node).dims(inst)["PE"]
        for pe in divisors(size):
            inst.set_nodeattr("PE", pe)
            if inst.get_exp_cycles() <= target_cycles:
                break
    return model


# --- selection ---------------------------------------------------------------------------


class _Cheapest:
    """Per group, the cheapest option with cycles <= T for any T (prefix minima)."""

    def __init__(self, groups: list[Group], w_lut: float, w_bram: float):
        self.groups = groups
        self.cycles, self.best = [], []
        for g in groups:
            cyc, best, cur = [], [], None
            for o in g.options:
                cost = (w_lut * o.cost_lut + w_bram * o.bram, o.cost_lut, o.bram, o.attrs)
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
        raise FoldingError(f"objective {objective!r}: allowed {', '.join(FOLD_OBJECTIVES)}")
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
        raise FoldingError(
            f"{fps:g} fps at {clock_ns} ns needs <= {target} cycles/frame per layer; these layers cannot reach it:\n"
            + "\n".join(lines)
            + f"\n  the most this network reaches at this clock is {1e9 / clock_ns / best:,.0f} fps"
        )
    for bias in biases:
        folding = _folding(_Cheapest(groups, *_weights(board, bias)).select(target), clock_ns)
        over = _over_budget(folding, board, util)
        if not over:
            return folding
    raise FoldingError(f"the cheapest folding for {fps:g} fps does not fit {board.name}: {over}")


def maximize(groups, board: Board, clock_ns: float, util: float) -> Folding:
    """The highest throughput whose resources fit within ``util`` of the board budget."""
    targets = sorted({o.cycles for g in groups for o in g.options})
    floor = max(g.fastest.cycles for g in groups)
    targets = [t for t in targets if t >= floor]
    selectors = [_Cheapest(groups, *_weights(board, b)) for b in (1.0, 4.0, 0.25, 16.0, 1 / 16)]
    lo, hi = 0, len(targets) - 1
    if _fit(selectors, targets[hi], board, util, clock_ns) is None:
        cheapest = _folding(selectors[0].select(targets[hi]), clock_ns)
        raise FoldingError(
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
    if f.total_lut > util * board.resources["LUT"]:
        msgs.append(f"LUT {f.total_lut:.0f} > {util:.0%} of {board.resources['LUT']}")
    if f.total_bram > util * board.bram18:
        msgs.append(f"BRAM18 {f.total_bram:.0f} > {util:.0%} of {board.bram18}")
    return ", ".join(msgs)


def with_plumbing(choose, plumbing_of, board: Board, util: float, rounds: int = 4) -> Folding:
    """``choose(u)``: a folding whose layers fit within ``u`` of the board. The width converters
    and FIFOs that folding brings (``plumbing_of``) are added; while the sum exceeds ``util``, the
    layers get ``util`` minus the plumbing's share and are chosen again."""
    layer_util = util
    for _ in range(rounds):
        f = choose(layer_util)
        f = dataclasses.replace(f, plumbing=plumbing_of(f))
        over = _over_budget(f, board, util)
        if not over:
            return f
        share = max(f.plumbing.lut / board.resources["LUT"], f.plumbing.bram / board.bram18)
        if share >= util:
            break
        layer_util = min(layer_util - 0.01, util - share)
    raise FoldingError(f"the folding does not fit {board.name} with the width converters and FIFOs it needs: {over} "
                       f"({f.plumbing.summary()})")


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
