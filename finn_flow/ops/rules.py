"""How the flow folds, streams and times each layer type: the per-op knowledge the
registry hands out (each entry of bnnforge.finn_flow.registry.LAYERS has one Rules object).

A Rules object answers, for one node (through its FINN op instance ``inst``):
- ``dims``: which folding attributes exist and what size each must divide;
- ``options``: the foldings the optimizer may choose, and what limits the fastest one;
- ``check``: hardware rules beyond divisibility (named problems, empty when fine);
- ``window_role`` and, for sliding-window generators, how their beat couples to the
  consumer's folding;
- ``window_layout``: when a stream carries depthwise windows in an order that differs
  from FINN's Python layout;
- ``exp_cycles``: steady-state cycles per frame (FINN's get_exp_cycles() unless FINN does
  not model the op), and whether that figure is exact or an upper bound;
- ``plumbing``: FIFOs and width converters, which the rtl stage inserts and which compute
  nothing.
Nothing here imports FINN.
"""

from __future__ import annotations

import math

import numpy as np


RAM_STYLES = ("block", "distributed")
MAX_AP_INT_W = 8191  # FINN's widest HLS stream (finn.util.basic.MAX_ALLOWED_AP_INT_W)
MVAU_WWIDTH_MAX = 36  # FINN's default weight-stream width limit per PE (DataflowBuildConfig.mvau_wwidth_max)
HLS_MVAU_MAX_SF = 1024  # FINN's HLS MVAU: MW / SIMD must not exceed this
# finn-plus 1.6.1's parallel-window sliding window generator is wrong for output maps
# narrower than 3 columns (measured: output width 2 streams wrong windows, width 1 fails in
# its code generation with a math domain error)
PARALLEL_WINDOW_MIN_OFM_W = 3


def divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def _divisor_options(attr: str, size: int, what: str) -> tuple[list[dict], str]:
    return [{attr: d} for d in divisors(size)], f"{attr} <= {what}={size}"


class Rules:
    """A layer FINN may not fold (the defaults)."""

    window_role: str | None = None  # "generator", or how the layer reads windows: "depthwise" / "matrix"
    cycles_exact = True  # is exp_cycles() what the RTL takes (else an upper bound)?
    plumbing = False  # a FIFO or width converter

    def dims(self, inst) -> dict[str, tuple[int, str]]:
        """{folding attribute: (the size it must divide, what that size is)}."""
        return {}

    def options(self, inst, node_class: str, ours: bool) -> tuple[list[dict], str]:
        """Attribute sets the optimizer may choose for the node, and the fastest one's limit."""
        dims = self.dims(inst)
        if not dims:
            return [{}], "not foldable"
        attr, (size, what) = next(iter(dims.items()))
        return _divisor_options(attr, size, what)

    def check(self, inst, node_class: str) -> list[str]:
        """Problems of the node's current folding beyond divisibility."""
        return []

    def window_layout(self, inst, ind: int, output: bool):
        """(K*K, channels, channels per beat, kernel positions per beat) when input/output
        ``ind`` carries depthwise windows in an order that differs from FINN's Python layout,
        else None. Python execution orders a window (kernel position, channel); the
        depthwise sliding window generator streams channel-fold major, (channel fold, kernel
        position, channel within the fold), and the VVAU and Pool consuming it read that order."""
        return None

    def exp_cycles(self, inst) -> int:
        return int(inst.get_exp_cycles())

    def input_fifo_depths(self, inst) -> list[int] | None:
        """Depths the FIFOs on the node's inputs need at least to be deadlock free (the rtl
        stage's FIFO insertion, FINN's inFIFODepths), or None for FINN's minimum."""
        return None


class PERules(Rules):
    """PE divides one attribute (channels, labels)."""

    def __init__(self, size_attr: str):
        self.size_attr = size_attr

    def dims(self, inst):
        return {"PE": (inst.get_nodeattr(self.size_attr), self.size_attr)}


class SIMDRules(PERules):
    def dims(self, inst):
        return {"SIMD": (inst.get_nodeattr(self.size_attr), self.size_attr)}


class ChannelRules(PERules):
    """bnnforge's channel-parallel layers with a buffer memory: PE x memory style."""

    def __init__(self):
        super().__init__("NumChannels")

    def options(self, inst, node_class, ours):
        c = inst.get_nodeattr("NumChannels")
        return [{"PE": pe, "ram_style": s} for pe in divisors(c) for s in RAM_STYLES], f"PE <= NumChannels={c}"


class ElementwiseRules(Rules):
    def dims(self, inst):
        return {"PE": (inst.get_normal_input_shape(0)[-1], "channels")}

    def input_fifo_depths(self, inst):
        """Two streamed inputs (a residual block's Add) join the branches of a fork: one frame
        of each input, so neither branch can stop the fork before the other one's first beat
        (a residual skip path must hold what the conv branch takes in before its first output;
        sim sizing measures the depths actually needed)."""
        if inst.get_nodeattr("rhs_style") != "input":
            return None
        return [int(np.prod(inst.get_folded_input_shape(i)[:-1])) for i in (0, 1)]


class MVAURules(Rules):
    window_role = "matrix"

    def dims(self, inst):
        return {"PE": (inst.get_nodeattr("MH"), "MH (output channels)"),
                "SIMD": (inst.get_nodeattr("MW"), "MW (input channels x kernel)")}

    def options(self, inst, node_class, ours):
        """PE x SIMD x weight memory. Decoupled weights (FINN's default) stream SIMD*wbits bits
        per PE, limited to mvau_wwidth_max; embedded weights have no stream, so SIMD may go
        further. bnnforge's RTL always embeds its weights (a ROM in block or distributed memory)."""
        mw, mh = inst.get_nodeattr("MW"), inst.get_nodeattr("MH")
        wbits = inst.get_input_datatype(1).bitwidth()
        hls = node_class.endswith("_hls")
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
                    if mode == "internal_decoupled" and (simd * wbits > MVAU_WWIDTH_MAX
                                                         or pe * simd * wbits > MAX_AP_INT_W):
                        continue
                    out.append({"PE": pe, "SIMD": simd, "mem_mode": mode, "ram_style": style})
        limit = f"PE <= MH={mh}, SIMD <= MW={mw}"
        if not ours:
            limit += (f" (with streamed weights SIMD <= {MVAU_WWIDTH_MAX // wbits}, FINN's weight-stream width "
                      f"limit of {MVAU_WWIDTH_MAX} bits)")
        return out, limit

    def check(self, inst, node_class):
        mw, simd = inst.get_nodeattr("MW"), inst.get_nodeattr("SIMD")
        if node_class.endswith("_hls") and mw / simd > HLS_MVAU_MAX_SF:
            return [f"MW/SIMD = {mw}/{simd} exceeds {HLS_MVAU_MAX_SF} (FINN's HLS MVAU limit); raise SIMD"]
        return []


class VVAURules(Rules):
    window_role = "depthwise"

    def dims(self, inst):
        kh, kw = inst.get_nodeattr("Kernel")
        return {"PE": (inst.get_nodeattr("Channels"), "Channels"), "SIMD": (kh * kw, "kernel size k*k")}

    def options(self, inst, node_class, ours):
        kk = math.prod(inst.get_nodeattr("Kernel"))
        c = inst.get_nodeattr("Channels")
        return [{"PE": pe, "SIMD": s} for pe in divisors(c) for s in (1, kk)], f"PE <= Channels={c}, SIMD <= k*k={kk}"

    def window_layout(self, inst, ind, output):
        g = inst.get_nodeattr
        if output or ind != 0:
            return None
        return int(np.prod(g("Kernel"))), g("Channels"), g("PE"), g("SIMD")


class PoolRules(Rules):
    window_role = "depthwise"

    def dims(self, inst):
        return {"PE": (inst.get_nodeattr("Channels"), "Channels")}

    def window_layout(self, inst, ind, output):
        g = inst.get_nodeattr
        if output or ind != 0:
            return None
        return int(np.prod(g("KernelSize"))), g("Channels"), g("PE"), 1


class SWGRules(SIMDRules):
    """FINN's sliding-window generator: folded together with the layer it feeds."""

    window_role = "generator"
    cycles_exact = False  # FINN's model is pessimistic by 2-30 %, most on small maps

    def __init__(self):
        super().__init__("IFMChannels")

    @staticmethod
    def parallel_window_ok(inst) -> bool:
        return inst.get_nodeattr("OFMDim")[1] >= PARALLEL_WINDOW_MIN_OFM_W

    @staticmethod
    def has_parallel_window(inst) -> bool:
        return "parallel_window" in inst.get_nodeattr_types()

    def beat(self, inst) -> int:
        """Elements per output beat (the whole k*k window in parallel mode)."""
        parallel = inst.get_nodeattr("parallel_window") if self.has_parallel_window(inst) else 0
        kh, kw = inst.get_nodeattr("ConvKernelDim")
        return inst.get_nodeattr("SIMD") * (kh * kw if parallel else 1)

    def check(self, inst, node_class):
        if self.has_parallel_window(inst) and inst.get_nodeattr("parallel_window") and not self.parallel_window_ok(inst):
            return [f"parallel_window=1 needs an output map at least {PARALLEL_WINDOW_MIN_OFM_W} wide (OFMDim "
                    f"{inst.get_nodeattr('OFMDim')}); FINN's parallel-window RTL is wrong below that"]
        return []

    def coupled_options(self, inst, consumer_role: str, consumer: dict) -> list[dict]:
        """The generator's foldings that fit its consumer's folding ``consumer``."""
        if consumer_role == "depthwise":  # the generator streams the consumer's PE channels
            s = {"SIMD": consumer["PE"], "parallel_window": int(consumer.get("SIMD", 1) > 1)}
            if s["parallel_window"] and not self.parallel_window_ok(inst):
                return []
            opts = [s]
        else:  # matrix: the two beats divide one another (FINN converts the width)
            c_in, simd = inst.get_nodeattr("IFMChannels"), consumer["SIMD"]
            kk = math.prod(inst.get_nodeattr("ConvKernelDim"))
            opts = [{"SIMD": s, "parallel_window": 0} for s in divisors(c_in) if simd % s == 0 or s % simd == 0]
            whole = (kk * c_in) % simd == 0 or simd % (kk * c_in) == 0
            if whole and self.parallel_window_ok(inst):  # whole window per beat
                opts.append({"SIMD": c_in, "parallel_window": 1})
        if not self.has_parallel_window(inst):
            opts = [{"SIMD": s["SIMD"]} for s in opts]
        return opts

    def coupling_check(self, inst, consumer_inst, consumer_role: str, consumer_name: str) -> list[str]:
        """The generator's beat must match its consumer's (exactly for depthwise consumers;
        for a matrix consumer up to a width converter, so the two must divide one another)."""
        if consumer_role == "matrix":
            want, beat = consumer_inst.get_nodeattr("SIMD"), self.beat(inst)
            if want % beat and beat % want:
                return [f"its {beat}-element beats and the SIMD={want} of its consumer {consumer_name} must divide "
                        "one another"]
        elif consumer_role == "depthwise":
            simd, want = inst.get_nodeattr("SIMD"), consumer_inst.get_nodeattr("PE")
            if simd != want:
                return [f"SIMD={simd} must equal PE={want} of its depthwise consumer {consumer_name}"]
        return []

    def window_layout(self, inst, ind, output):
        g = inst.get_nodeattr
        if not output or not g("depthwise"):
            return None
        kk = int(np.prod(g("ConvKernelDim")))
        return kk, g("IFMChannels"), g("SIMD"), kk if g("parallel_window") else 1


class FIFORules(Rules):
    plumbing = True

    def exp_cycles(self, inst):
        """One beat per cycle (FINN does not model FIFOs)."""
        return int(np.prod(inst.get_folded_output_shape()[:-1]))


class WidthConverterRules(Rules):
    plumbing = True

    def exp_cycles(self, inst):
        """finn-rtllib's dwc regroups through lcm(in, out)-element words: per word, L/in input
        and L/out output beats, overlapping by one (measured; max(in, out) beats for integer
        ratios). FINN does not model it."""
        dt_bits = inst.get_input_datatype().bitwidth()
        e_in, e_out = inst.get_nodeattr("inWidth") // dt_bits, inst.get_nodeattr("outWidth") // dt_bits
        lcm = int(np.lcm(e_in, e_out))
        elements = int(np.prod(inst.get_normal_input_shape()))
        return elements // lcm * (lcm // e_in + lcm // e_out - 1)
