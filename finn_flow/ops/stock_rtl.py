"""bnnforge's RTL backends for FINN ops that finn-plus implements only in HLS: Pool (max),
DuplicateStreams, GlobalAccPool, LabelSelect, and the integer elementwise operations
(FINN's own ElementwiseAdd/Mul/Sub_rtl are floating-point DSP58 designs for Versal, so
ours carry the `_lut_rtl` suffix).

Each class is FINN's abstract op (shapes, datatypes, Python execution = the reference)
plus a core from sim/rtl/; exec_mode "rtlsim" simulates that core as generated.
"""

from __future__ import annotations

import math

import numpy as np
from finn.custom_op.fpgadataflow.duplicatestreams import DuplicateStreams
from finn.custom_op.fpgadataflow.elementwise_binary import ElementwiseAdd, ElementwiseMul, ElementwiseSub
from finn.custom_op.fpgadataflow.globalaccpool import GlobalAccPool
from finn.custom_op.fpgadataflow.labelselect import LabelSelect
from finn.custom_op.fpgadataflow.pool import Pool
from finn.custom_op.fpgadataflow.rtl import register_custom_op as register_rtl_op
from finn.custom_op.fpgadataflow.rtlbackend import RTLBackend

from bnnforge.finn_flow.ops.params import hex_lines
from bnnforge.finn_flow.ops.backends import BnnforgeRTL
from bnnforge.finn_flow.ops.memory import rom_luts, sdp_lutram_luts


def _kind(dt) -> dict:
    """Signedness flags of a FINN datatype for the cores (BIPOLAR: bit 1 = +1)."""
    return {"signed": int(dt.signed() and dt.name != "BIPOLAR"), "bipolar": int(dt.name == "BIPOLAR")}


@register_rtl_op
class Pool_rtl(BnnforgeRTL, Pool, RTLBackend):
    """Max pooling over the windows of a depthwise sliding window generator (pool_max.sv)."""

    RTL_MODULE = "pool_max"

    @staticmethod
    def rtl_unsupported(inst) -> str | None:
        fn = inst.get_nodeattr("Function")
        return None if fn == "MaxPool" else f"Function {fn} (bnnforge's pool RTL implements MaxPool)"

    def rtl_parameters(self, model):
        dt = self.get_input_datatype()
        return dict(PE=self.get_nodeattr("PE"), BITS=dt.bitwidth(), SIGNED=_kind(dt)["signed"],
                    KK=int(np.prod(self.get_nodeattr("KernelSize"))))

    # benchmarks/layer_heldout.py --fit --configs 16 (seeds 1-16 of tests/layer_cases.py pool and
    # 12 "wide" ones: 16..128 channels); its held-out seeds 1001.. score it
    # (benchmarks/results/layer_heldout.md)
    LUT_PER_TERM = {"control": 32.634, "lane_bits": 1.057, "counter_bits": 3.186, "carry_compare_bits": 0.395,
                    "lanes": 0.56}

    def lut_terms(self):
        """A comparator and a register per lane bit, the window position counter, control. By
        yosys at PE 32, a lane costs about 1.2 LUT per bit up to 5 bits and 1.5 from 6 bits
        (the compare no longer fits a few LUTs: a carry chain), so wide lanes have a term of
        their own (the LAB cnv's 4-bit pools at PE 32-64 were 18-28 % above their estimate
        without: the fit on lanes of 8 bits or fewer at PE <= 6 had put 1.44 LUT on every bit)."""
        kk = int(np.prod(self.get_nodeattr("KernelSize")))
        pe, bits = self.get_nodeattr("PE"), self.get_input_datatype().bitwidth()
        return {"control": 1, "lane_bits": pe * bits, "counter_bits": math.ceil(math.log2(kk)),
                "carry_compare_bits": pe * bits if bits > 5 else 0, "lanes": pe}

    def bram_estimation(self, fpgapart=None):
        return 0


@register_rtl_op
class DuplicateStreams_rtl(BnnforgeRTL, DuplicateStreams, RTLBackend):
    """Every input beat to every output, a 2-beat FIFO per output (duplicate_streams.sv)."""

    RTL_MODULE = "duplicate_streams"
    CORE_OUTPUTS = 4  # the core has out0_V .. out3_V

    @staticmethod
    def rtl_unsupported(inst) -> str | None:
        n = inst.get_nodeattr("NumOutputStreams")
        return None if 2 <= n <= DuplicateStreams_rtl.CORE_OUTPUTS else f"NumOutputStreams={n} (RTL: 2..4)"

    def rtl_parameters(self, model):
        return dict(PE=self.get_nodeattr("PE"), BITS=self.get_input_datatype().bitwidth(),
                    N_OUT=self.get_nodeattr("NumOutputStreams"), FIFO_DEPTH=2)

    def rtl_open_ports(self):
        n = self.get_nodeattr("NumOutputStreams")
        return {f"out{i}_V_{s}": ("1'b0" if s == "TREADY" else "") for i in range(n, self.CORE_OUTPUTS)
                for s in ("TDATA", "TVALID", "TREADY")}

    # benchmarks/layer_heldout.py --fit --configs 16 (seeds 1-16 and 12 "wide" ones: 16..128
    # channels; scored on 1001.. in layer_heldout.md). yosys packs the FIFOs' control differently
    # by output count (2 outputs of 1 bit 45 LUT, 3 outputs 35, 4 outputs 50), which no count of
    # bits or outputs follows: a control cost per output count (calibration 7.1 -> 3.1 % mean
    # error against one control and a cost per output)
    LUT_PER_TERM = {"output_bits": 0.659, "two_outputs": 45.377, "three_outputs": 36.043, "four_outputs": 48.086}

    def lut_terms(self):
        """A 2-beat FIFO per output (its data bits and handshake)."""
        n = self.get_nodeattr("NumOutputStreams")
        lane_bits = self.get_nodeattr("PE") * self.get_input_datatype().bitwidth()  # not the byte-padded stream
        return {"output_bits": n * lane_bits, "two_outputs": float(n == 2), "three_outputs": float(n == 3),
                "four_outputs": float(n == 4)}

    def bram_estimation(self, fpgapart=None):
        return 0


@register_rtl_op
class GlobalAccPool_rtl(BnnforgeRTL, GlobalAccPool, RTLBackend):
    """Per-channel sums over a frame (global_acc_pool.sv); the sums leave with the last pixel."""

    RTL_MODULE = "global_acc_pool"

    def _npix(self) -> int:
        return int(np.prod(self.get_nodeattr("numInputVectors")[1:]))

    def rtl_parameters(self, model):
        idt, odt = self.get_input_datatype(), self.get_output_datatype()
        k = _kind(idt)
        return dict(C=self.get_nodeattr("NumChannels"), PE=self.get_nodeattr("PE"), NPIX=self._npix(),
                    IN_BITS=idt.bitwidth(), IN_SIGNED=k["signed"], IN_BIPOLAR=k["bipolar"], OUT_BITS=odt.bitwidth(),
                    OUT_BIPOLAR=int(odt.name == "BIPOLAR"))

    def get_exp_cycles(self):
        """NPIX * C/PE: the output overlaps the last pixel (FINN's HLS adds C/PE cycles)."""
        return self._npix() * self.get_nodeattr("NumChannels") // self.get_nodeattr("PE")

    # benchmarks/layer_heldout.py --fit --configs 16 (seeds 1-16 and 12 "wide" ones: 16..128
    # channels, up to 28x28 pixels; scored on 1001.. in layer_heldout.md); the output register
    # and FIFO get no weight of their own (the sums' term carries them)
    LUT_PER_TERM = {"control": 30.348, "sum_bits": 1.659, "accumulator_ram_luts": 0.989, "output_bits": 0.0,
                    "counter_bits": 3.287}

    def lut_terms(self):
        """An adder per lane; the accumulators, C/PE words of PE sums: LUT RAM (read and written
        at one address) when there are several, registers when one; the output register and FIFO.
        A one-pixel frame passes its values through: no sums are kept."""
        pe, obits = self.get_nodeattr("PE"), self.get_output_datatype().bitwidth()
        acc_bits = pe * max(obits, 2) if self._npix() > 1 else 0  # the RTL's accumulator width (+-1 needs 2 bits)
        fold = self.get_nodeattr("NumChannels") // pe
        return {"control": 1, "sum_bits": acc_bits,
                "accumulator_ram_luts": sdp_lutram_luts(acc_bits, fold) if fold > 1 else 0,
                "output_bits": pe * obits,
                "counter_bits": math.ceil(math.log2(fold)) + math.ceil(math.log2(self._npix()))}

    def bram_estimation(self, fpgapart=None):
        return 0


@register_rtl_op
class LabelSelect_rtl(BnnforgeRTL, LabelSelect, RTLBackend):
    """Top-K indices, ONNX TopK order (value descending, lower index first) (label_select.sv)."""

    RTL_MODULE = "label_select"

    def rtl_parameters(self, model):
        idt = self.get_input_datatype()
        return dict(LABELS=self.get_nodeattr("Labels"), PE=self.get_nodeattr("PE"), K=self.get_nodeattr("K"),
                    BITS=idt.bitwidth(), SIGNED=_kind(idt)["signed"], IDX_BITS=self.get_output_datatype().bitwidth())

    def get_exp_cycles(self):
        """max(Labels/PE, K) per vector: K indices leave one per beat (FINN says Labels/PE)."""
        vectors = int(np.prod(self.get_nodeattr("numInputVectors")))
        return vectors * max(self.get_nodeattr("Labels") // self.get_nodeattr("PE"), self.get_nodeattr("K"))

    # benchmarks/layer_heldout.py --fit --configs 32 (seeds 1-32; scored on 1001.. in layer_heldout.md);
    # the rank decodes get no weight of their own (they grow with the selects). Selects costed per
    # LUT6 of 3 (candidate, select) pairs: leave-one-out on the calibration seeds 9.8 % mean (11.0 %
    # when every candidate bit was a unit). Comparator bits beyond 5 have a coefficient of their own
    # (a narrow compare fits a LUT6 or two, a wide one takes a carry chain; the narrow bits' cost
    # the fit then puts in the rank counts): calibration 8.3 -> 7.3 %, held out 9 / 32 -> 9 / 28 %
    LUT_PER_TERM = {"control": 25.012, "compare_bits": 0.0, "rank_bits": 1.385, "select_value_bits": 1.995,
                    "select_index_bits": 2.555, "rank_decode_bits": 0.0, "counter_bits": 1.574,
                    "wide_compare_bits": 1.275}

    def lut_terms(self):
        """The pairwise comparators of a beat's PE values and of the merge (K list x KT = min(K, PE)
        beat entries), the rank counts, the selects of the beat's top KT and of the merged list,
        the beat counter. A slot's select is an AND-OR of its candidates (value and index bits
        of each, gated by the rank compare that picks it): a LUT6 takes 3 (candidate bit, select)
        pairs. One beat per vector (PE = Labels) merges nothing: synthesis removes the merge;
        one label compares nothing."""
        labels, k, pe = self.get_nodeattr("Labels"), self.get_nodeattr("K"), self.get_nodeattr("PE")
        bits = self.get_input_datatype().bitwidth()
        kt = min(k, pe)
        index_bits = math.ceil(math.log2(labels)) if labels > 1 else 1
        live = int(labels > 1)
        merge = int(labels // pe > 1)
        # candidates per slot: the beat's top KT each pick among PE values; merged slot j among
        # list entries j-KT..j and beat entries 0..j
        candidates = [pe] * kt + [min(j + 1, kt + 1) + min(j + 1, kt) for j in range(k)] * merge
        select_luts = sum(math.ceil(n / 3) for n in candidates)
        beat, merged = kt * pe, merge * sum(candidates[kt:])
        compares = live * (pe * (pe - 1) // 2 + merge * k * kt)
        return {"control": 1, "compare_bits": compares * (bits + 1),
                # bits beyond 5: a narrow compare fits a LUT6 or two, a wide one takes a carry chain
                "wide_compare_bits": compares * max(0, bits + 1 - 5),
                "rank_bits": live * (pe * pe + merge * 2 * k * kt),
                "select_value_bits": live * select_luts * (bits + 1),
                "select_index_bits": live * select_luts * index_bits,
                "rank_decode_bits": live * (beat * math.ceil(math.log2(pe + 1))
                                            + merged * math.ceil(math.log2(k + kt + 1))),
                "counter_bits": live * math.ceil(math.log2(max(2, labels // pe)))}

    def bram_estimation(self, fpgapart=None):
        return 0


class _ElementwiseRTL(BnnforgeRTL):
    """Integer elementwise operation with a constant or a streamed right-hand side (elementwise.sv)."""

    RTL_MODULE = "elementwise"
    OP = -1

    def get_nodeattr_types(self):
        # FINN's elementwise ops build their attribute table without calling every base
        # class, so RTLBackend's gen_top_module is missing. A constant operand's bits, lane by
        # lane over its words (set by annotate): the fraction that is 1 in some word, and the
        # fraction that varies between words
        return {**super().get_nodeattr_types(), "gen_top_module": ("s", False, ""),
                "constantSetFraction": ("f", False, 1.0), "constantVaryingFraction": ("f", False, 1.0)}

    def annotate(self, model):
        if self.get_nodeattr("rhs_style") == "input":
            return
        words = self._rom_words(model).astype(np.int64)
        bits = self.get_input_datatype(1).bitwidth() + 1  # the RTL's operand: sign-extended by one bit
        planes = (words[:, :, None] >> np.arange(bits)) & 1  # (words, lanes, bits), two's complement
        self.set_nodeattr("constantSetFraction", float(planes.any(axis=0).mean()))
        self.set_nodeattr("constantVaryingFraction", float((planes.any(axis=0) & ~planes.all(axis=0)).mean()))

    @staticmethod
    def rtl_unsupported(inst) -> str | None:
        dts = (inst.get_input_datatype(0), inst.get_input_datatype(1), inst.get_output_datatype())
        if not all(dt.is_integer() for dt in dts):
            return "non-integer datatypes"
        if inst.get_nodeattr("lhs_style") != "input":
            return "a constant left-hand side"
        if inst.get_nodeattr("rhs_style") == "input" and list(inst.get_nodeattr("rhs_shape")) != list(
                inst.get_nodeattr("out_shape")):
            return "a broadcast streamed right-hand side"
        return None

    def _constant_words(self, model) -> np.ndarray:
        """The right-hand constant broadcast to the output and cut into output beats (n, PE),
        reduced to its shortest period (one word for a scalar, C/PE per channel, ...)."""
        rhs = model.get_initializer(self.onnx_node.input[1])
        out = np.broadcast_to(np.asarray(rhs), self.get_normal_output_shape())
        beats = out.reshape(-1, self.get_nodeattr("PE"))
        n = len(beats)
        for period in (d for d in range(1, n + 1) if n % d == 0):
            if np.array_equal(np.tile(beats[:period], (n // period, 1)), beats):
                return beats[:period]
        return beats

    def rtl_parameters(self, model):
        a, b, o = self.get_input_datatype(0), self.get_input_datatype(1), self.get_output_datatype()
        ka, kb = _kind(a), _kind(b)
        stream = self.get_nodeattr("rhs_style") == "input"
        params = dict(OP=self.OP, PE=self.get_nodeattr("PE"), A_BITS=a.bitwidth(), A_SIGNED=ka["signed"],
                      A_BIPOLAR=ka["bipolar"], B_BITS=b.bitwidth(), B_SIGNED=kb["signed"], B_BIPOLAR=kb["bipolar"],
                      B_LHS=0, B_STREAM=int(stream), OUT_BITS=o.bitwidth())
        if not stream:
            params.update(PARAM_WORDS=len(self._constant_words(model)), PARAM_REPEAT=1)
        return params

    def rtl_memories(self, model):
        if self.get_nodeattr("rhs_style") == "input":
            return {}
        return {"PARAM_FILE": hex_lines(self._rom_words(model), self.get_input_datatype(1).bitwidth())}

    def _rom_words(self, model) -> np.ndarray:
        """The constant's words as the PARAM_FILE ROM holds them (BIPOLAR: bit 1 = +1)."""
        words = self._constant_words(model)
        return (words + 1) // 2 if self.get_input_datatype(1).name == "BIPOLAR" else words

    def rtl_open_ports(self):
        if self.get_nodeattr("rhs_style") == "input":
            return {}
        # a sized replication (Verilog-2001: the generated top is a .v file), the core's B_WIDTH
        width = (self.get_nodeattr("PE") * self.get_input_datatype(1).bitwidth() + 7) // 8 * 8
        return {"in1_V_TDATA": f"{{{width}{{1'b0}}}}", "in1_V_TVALID": "1'b0", "in1_V_TREADY": ""}

    # Each operation has its own LUT_PER_TERM (below), fitted by benchmarks/layer_heldout.py --fit
    # --configs 32 to its seeds 1-32 (a constant right-hand side; ElementwiseAdd also 12 residual
    # joins of two streams, form "stream") and scored on the held-out seeds in layer_heldout.md.
    # Terms an operation never has keep the values of the joint fit they once shared. A product by
    # a constant costs what the constant's bits are (annotate counts them): leave-one-out on
    # ElementwiseMul's calibration seeds 10.1 % mean, 18.4 % by the operands' widths alone

    def _constant_word_count(self) -> int:
        """Words of the right-hand constant's ROM by its shape (the RTL may find a shorter period
        in the values): 1 for a scalar, C/PE per channel, one per beat for a full tensor, and
        one per pixel for a per-pixel constant (its value in every lane)."""
        shape = list(self.get_nodeattr("rhs_shape"))
        size, pe = int(np.prod(shape)), self.get_nodeattr("PE")
        return max(1, size // pe) if shape[-1] == self.get_nodeattr("out_shape")[-1] and size > 1 else size

    def lut_terms(self):
        """Per lane: the adder (add, sub) or the partial products of the narrower operand summed
        by a tree (mul), and the output register and FIFO; the constant's ROM, or the 2-beat
        buffers of a streamed right-hand side. A one-word constant is a constant operand, which
        synthesis folds into the adder or the products (a 6 x INT9 x INT7 multiply by constants
        took 327 LUT, a 2 x INT9 x INT4 one from a 3-word ROM 229); a product or a sum with a
        constant counts the constant's bits that are set in some word and those that vary."""
        a, b = self.get_input_datatype(0).bitwidth(), self.get_input_datatype(1).bitwidth()
        o = self.get_output_datatype().bitwidth()
        pe = self.get_nodeattr("PE")
        stream = self.get_nodeattr("rhs_style") == "input"
        exact = a + b + 2 if self.OP == 1 else max(a, b) + 2  # the RTL's exact result width
        kept = min(exact, o)  # bits of the result that reach the output
        words = 0 if stream else self._constant_word_count()
        adder = 0 if self.OP == 1 else pe * kept
        products = pe * (min(a, b) + 1) * kept if self.OP == 1 else 0
        const = words == 1
        # a product or a sum with a constant (one word or a ROM of a few) costs what the constant's
        # bits are: a partial product (b the multiplier) or a column of them (b the multiplicand)
        # whose bit is 0 in every word is no logic, one that is 1 in every word an ungated copy of
        # the stream; an adder's bits above the constant's set ones are an incrementer (the
        # subtraction keeps its shape-only terms: its constant enters inverted)
        by_constant = self.OP in (0, 1) and not stream
        set_bits = self.get_nodeattr("constantSetFraction") if by_constant else 0.0
        varying_bits = self.get_nodeattr("constantVaryingFraction") if by_constant else 0.0
        datapath = products + adder  # one of them is 0
        return {"control": 1, "adder_bits": 0 if const or by_constant else adder,
                "constant_adder_bits": adder if const and not by_constant else 0,
                "partial_product_bits": 0 if by_constant else products,
                "constant_set_bits": datapath * set_bits, "constant_varying_bits": datapath * varying_bits,
                "constant_rom_luts": rom_luts(pe * b, words),
                "output_bits": pe * o, "stream_buffer_bits": pe * (a + b) if stream else 0,
                "stream_control": int(stream)}

    def bram_estimation(self, fpgapart=None):
        return 0


@register_rtl_op
class ElementwiseAdd_lut_rtl(_ElementwiseRTL, ElementwiseAdd, RTLBackend):
    OP = 0
    LUT_PER_TERM = {"control": 36.882, "adder_bits": 0.829, "constant_adder_bits": 0.669,
                    "partial_product_bits": 0.67, "constant_set_bits": 0.888, "constant_varying_bits": 0.271,
                    "constant_rom_luts": 0.0, "output_bits": 0.582, "stream_buffer_bits": 0.76,
                    "stream_control": 40.349}


@register_rtl_op
class ElementwiseMul_lut_rtl(_ElementwiseRTL, ElementwiseMul, RTLBackend):
    OP = 1
    LUT_PER_TERM = {"control": 44.748, "adder_bits": 0.492, "constant_adder_bits": 0.363,
                    "partial_product_bits": 0.595, "constant_set_bits": 0.547, "constant_varying_bits": 0.55,
                    "constant_rom_luts": 0.0, "output_bits": 0.6, "stream_buffer_bits": 0.986,
                    "stream_control": 41.349}


@register_rtl_op
class ElementwiseSub_lut_rtl(_ElementwiseRTL, ElementwiseSub, RTLBackend):
    OP = 2
    LUT_PER_TERM = {"control": 38.018, "adder_bits": 0.676, "constant_adder_bits": 0.101,
                    "partial_product_bits": 0.67, "constant_set_bits": 0.0, "constant_varying_bits": 0.0,
                    "constant_rom_luts": 0.0, "output_bits": 0.698, "stream_buffer_bits": 0.986,
                    "stream_control": 41.349}
