"""bnnforge's LUT-based RTL for FINN's MVAU and VVAU (sim/rtl/mvau.sv, vvau.sv): every form
the bnnforge flow emits, which finn-plus has no RTL for: XNOR-popcount with 1-bit or
multi-bit thresholded outputs, the no-activation form that outputs the accumulator,
multi-bit inputs or weights (first layer: 8-bit pixels x bipolar weights; the DyBNN hyper
branch), and the depthwise VVAU of `--lab-impl stock`. FINN owns the names MVAU_rtl and
VVAU_rtl (its DSP-based finn-rtllib mvu), hence `_lut_rtl`.

Weights and thresholds are ROMs inside the layer ($readmemh files next to the generated
top; `ram_style` / `ram_style_thresholds` choose block or distributed memory), so there
is no weight stream: mem_mode is always "internal_embedded".
"""

from __future__ import annotations

import math

import numpy as np
from finn.custom_op.fpgadataflow.matrixvectoractivation import MVAU
from finn.custom_op.fpgadataflow.rtl import register_custom_op as register_rtl_op
from finn.custom_op.fpgadataflow.rtlbackend import RTLBackend
from finn.custom_op.fpgadataflow.vectorvectoractivation import VVAU

from bnnforge.finn_flow.ops.params import hex_lines, signed_bits_for, varying_fraction
from bnnforge.finn_flow.ops.backends import BnnforgeRTL
from bnnforge.finn_flow.ops.memory import SHALLOW_ROM_WORDS, memory_cost, read_mux_luts, resolve_ram_style, rom_luts

KIND_UNSIGNED, KIND_SIGNED, KIND_BIPOLAR = 0, 1, 2


def kind(dt) -> int:
    """Element encoding of a FINN datatype for the cores."""
    if dt.name == "BIPOLAR":
        return KIND_BIPOLAR
    return KIND_SIGNED if dt.signed() else KIND_UNSIGNED


def raw(values: np.ndarray, dt) -> np.ndarray:
    """Integer values as the bits a ROM stores (bipolar -1/+1 -> 0/1; hex_lines masks the rest)."""
    v = np.asarray(values).astype(np.int64)
    return (v + 1) // 2 if dt.name == "BIPOLAR" else v


def dot_range(weights: np.ndarray, dt) -> tuple[int, int]:
    """Range of x @ weights (weights: (n, outputs)) over inputs of datatype ``dt``."""
    lo, hi = int(dt.min()), int(dt.max())
    w = np.asarray(weights, np.int64)
    pos, neg = np.clip(w, 0, None).sum(0), np.clip(w, None, 0).sum(0)
    return int(min(0, (pos * lo + neg * hi).min())), int(max(0, (pos * hi + neg * lo).max()))


class _MatrixRTL(BnnforgeRTL):
    """What the MVAU and VVAU backends share: ROM contents, threshold widths, the interface."""

    RTL_DEPS = ("rom.sv", "stream_out_fifo.sv", "dot_threshold.sv")

    def get_nodeattr_types(self):
        # the fraction of the thresholds' bits that vary over the channels (params.varying_fraction,
        # set by annotate): the comparators and threshold ROM bits that are not constants;
        # thresholdSteps: the thresholds per channel (0: not annotated, all the output's levels)
        # weightVaryingLaneFraction: of a weight ROM of a few words (2..SHALLOW_ROM_WORDS), the
        # fraction of the lanes whose weight is not the same in every word
        return {**super().get_nodeattr_types(), "thresholdVaryingFraction": ("f", False, 1.0),
                "thresholdSteps": ("i", False, 0), "weightVaryingLaneFraction": ("f", False, 1.0)}

    def annotate(self, model):
        t = self._thresholds(model)
        if t is not None:
            self.set_nodeattr("thresholdVaryingFraction", varying_fraction(t))
            self.set_nodeattr("thresholdSteps", t.shape[1])
        if 1 < self._rom_shape()[1] <= SHALLOW_ROM_WORDS:  # only a few words: read them
            words = self._weight_words(model)
            self.set_nodeattr("weightVaryingLaneFraction", float((words != words[:1]).any(axis=0).mean()))

    @staticmethod
    def rtl_unsupported(inst) -> str | None:
        if inst.get_nodeattr("mem_mode") in ("external", "external_mem", "dynamic"):
            return f"mem_mode {inst.get_nodeattr('mem_mode')} (bnnforge's RTL keeps its weights inside)"
        dts = (inst.get_input_datatype(0), inst.get_input_datatype(1), inst.get_output_datatype())
        if not all(dt.is_integer() for dt in dts):
            return "non-integer datatypes"
        return None

    @staticmethod
    def rtl_adapt(inst) -> None:
        """Attributes that follow from the RTL: weights embedded, no weight stream."""
        inst.set_nodeattr("mem_mode", "internal_embedded")

    def get_instream_width(self, ind=0):
        return super().get_instream_width(0) if ind == 0 else 0

    def get_verilog_top_module_intf_names(self):
        return {"clk": ["ap_clk"], "rst": ["ap_rst_n"], "s_axis": [("in0_V", self.get_instream_width_padded(0))],
                "m_axis": [("out0_V", self.get_outstream_width_padded(0))], "aximm": [], "axilite": [],
                "ap_none": []}

    def verify_node(self):
        msgs = []
        if self.get_nodeattr("mem_mode") != "internal_embedded":
            msgs.append(f"{self.onnx_node.name}: bnnforge's RTL embeds the weights (mem_mode internal_embedded)")
        return msgs

    def lut_terms(self):
        """PE x SIMD products (XNOR lanes, or multi-bit products in LUTs), the adder trees
        over the product widths, the accumulators, the threshold comparators, and the weight
        ROM when it is in LUTs."""
        g = self.get_nodeattr
        pe, simd = g("PE"), g("SIMD")
        idt, wdt = self.get_input_datatype(0), self.get_input_datatype(1)
        xnor = idt.name == wdt.name == "BIPOLAR" or ("binaryXnorMode" in self.get_nodeattr_types()
                                                     and g("binaryXnorMode"))
        leaf = (idt.bitwidth() + 1) + (wdt.bitwidth() + 1)  # a multi-bit product's width
        # the RTL sizes its accumulator from the weights; without them, the datatypes' worst case
        # (FINN's accDataType is INT32 until minimize_bit_width)
        worst = self._dot_length() * max(abs(idt.min()), abs(idt.max())) * max(abs(wdt.min()), abs(wdt.max()))
        acc = min(self.get_accumulator_datatype().bitwidth(), int(worst).bit_length() + 1) + 1
        # a DyBNN hyper function's INT5 output has 16 thresholds, not 31: the RTL compares as many
        # as the node has
        n_thresh = 0 if g("noActivation") else g("thresholdSteps") or 2 ** self.get_output_datatype().bitwidth() - 1
        nf = self._channels() // pe
        rom_width, rom_depth = self._rom_shape()
        in_luts = resolve_ram_style(rom_width, rom_depth, g("ram_style")) == "distributed"
        # in block RAM: the multiplexer of the blocks stacked in depth (2,304 x 256 bits: 5 deep)
        weight_rom = rom_luts(rom_width, rom_depth) if in_luts else read_mux_luts(rom_width, rom_depth, "block")
        # one weight word (fully folded): the weights are constants, which synthesis folds into
        # the popcount (an XNOR with a constant is a wire or an inverter) or the products
        const = rom_depth == 1
        # a few weight words (2..SHALLOW_ROM_WORDS) in LUTs (a block RAM forced by ram_style stays
        # a memory): synthesis merges them into the lanes as it does one, plus a select per lane
        # (XNOR) or product bit and address bit, and no ROM
        shallow = 1 < rom_depth <= SHALLOW_ROM_WORDS and in_luts
        select_bits = math.ceil(math.log2(rom_depth)) if shallow else 0
        folded = const or shallow
        # a +-1 weight over a multi-bit input: its product is the input or its negation
        negated = wdt.name == "BIPOLAR" and not xnor and not folded
        product_bits = pe * simd * idt.bitwidth() * wdt.bitwidth()
        # a product of a wide integer (a DyBNN hyper function's global sums, 10-16 bits) is a
        # multiplier of its own: its partial products meet in carry-chain adders as wide as the sum
        wide = idt.bitwidth() > WIDE_PRODUCT_INPUT_BITS and not (xnor or folded or negated)
        # the thresholds' bits that vary over the channels come from a ROM; the rest, and all of
        # them with one output fold, are constants, and so are their comparators' bits
        compare_bits = pe * n_thresh * acc
        varying = g("thresholdVaryingFraction") if nf > 1 else 0.0
        shallow_thresholds = nf <= SHALLOW_ROM_WORDS
        # of a few weight words, a lane whose weight differs between them is an XNOR with a
        # function of the address: it costs what a lane fed by a ROM does (the rest are constants)
        varying_lanes = pe * simd * g("weightVaryingLaneFraction") if xnor and shallow else 0
        return {"control": 1, "xnor_lanes": pe * simd if xnor and not folded else 0,
                "constant_xnor_lanes": pe * simd - varying_lanes if xnor and folded else 0,
                "varying_xnor_lanes": varying_lanes,
                "negation_bits": pe * simd * idt.bitwidth() if negated else 0,
                "product_bits": 0 if xnor or folded or negated or wide else product_bits,
                "wide_product_bits": product_bits if wide else 0,
                "constant_product_bits": product_bits if folded and not xnor else 0,
                "product_select_bits": 0 if xnor else product_bits * select_bits,
                # an XNOR lane's popcount tree is its own term (xnor_lanes): per lane it costs what
                # no multiple of a multi-bit tree's bits predicts
                "adder_tree_bits": 0 if xnor else pe * simd * leaf, "accumulator_bits": pe * acc,
                # several thresholds: the count of the compares that hold (a popcount per PE)
                "threshold_count_bits": pe * n_thresh * (varying if nf > 1 else 1) if n_thresh > 1 else 0,
                # thresholds the same in every channel (a uniform quantizer's steps) compared with one
                # value: their compares are a thermometer code, whose count is cheap
                "constant_threshold_count_bits": pe * n_thresh * (1 - varying) if n_thresh > 1 and nf > 1 else 0,
                "threshold_compare_bits": compare_bits * varying,
                "constant_threshold_compare_bits": compare_bits * (1 - varying),
                "weight_rom_luts": 0 if shallow else weight_rom, "input_buffer_luts": self._input_buffer_luts(),
                # the threshold ROM (LUT logic: 64 words per LUT and bit; thresholds no wider than acc);
                # a few words (2..SHALLOW_ROM_WORDS) share the comparator's LUTs (their address bits
                # are two more inputs of a compare bit's LUT)
                "threshold_rom_bits": 0 if shallow_thresholds else pe * n_thresh * acc * math.ceil(nf / 64) * varying,
                "shallow_threshold_rom_bits": pe * n_thresh * acc * varying if shallow_thresholds else 0}

    def _input_buffer_luts(self) -> int:
        """MVAU: the SF-deep input vector buffer re-read for every output fold (LUTRAM)."""
        return 0

    def _dot_length(self) -> int:
        """Products summed into one output."""
        raise NotImplementedError

    def _thresholds(self, model) -> np.ndarray | None:
        """Thresholds (channels, steps) or None without activation."""
        if self.get_nodeattr("noActivation"):
            return None
        t = np.asarray(model.get_initializer(self.onnx_node.input[2]))
        t = t.reshape(t.shape[0], -1)
        channels = self._channels()
        return np.tile(t, (channels, 1)) if t.shape[0] == 1 and channels > 1 else t

    def _activation_params(self, model, acc_lo: int, acc_hi: int) -> dict:
        t = self._thresholds(model)
        odt = self.get_output_datatype()
        params = dict(ACC_BITS=signed_bits_for(acc_lo, acc_hi), OUT_BITS=odt.bitwidth(),
                      RAM_STYLE=resolve_ram_style(*self._rom_shape(), self.get_nodeattr("ram_style")))
        if t is None:
            return {**params, "N_THRESH": 0, "T_BITS": 2, "ACT_VAL": 0, "RAM_STYLE_THRESH": "distributed"}
        if not np.array_equal(t, np.round(t)):
            raise ValueError(f"{self.onnx_node.name}: thresholds must be integers (RoundAndClipThresholds)")
        act = 0 if odt.name == "BIPOLAR" else self.get_nodeattr("ActVal")  # BIPOLAR: bit 1 = one step reached
        # the estimates count the threshold ROM as LUT logic: "auto" is "distributed" (VVAU has no such attribute)
        thresh_style = (self.get_nodeattr("ram_style_thresholds") if "ram_style_thresholds" in self.get_nodeattr_types()
                        else "auto").replace("auto", "distributed")
        return {**params, "N_THRESH": t.shape[1], "T_BITS": signed_bits_for(int(t.min()), int(t.max())),
                "ACT_VAL": act, "RAM_STYLE_THRESH": thresh_style}

    def rtl_memories(self, model):
        mems = {"WEIGHTS_FILE": hex_lines(self._weight_words(model), self.get_input_datatype(1).bitwidth())}
        if not self.get_nodeattr("noActivation"):
            mems["THRESHOLDS_FILE"] = self._thresholds_hex(model, self.rtl_parameters(model)["T_BITS"])
        return mems

    def _weight_words(self, model) -> np.ndarray:
        """The weight ROM's words (depth, PE*SIMD lanes) as the ROM stores them."""
        raise NotImplementedError

    def _thresholds_hex(self, model, t_bits: int) -> str:
        t = self._thresholds(model).astype(np.int64)
        pe = self.get_nodeattr("PE")
        return hex_lines(t.reshape(-1, pe * t.shape[1]), t_bits)


# inputs wider than a pixel (8 bits): products with a term of their own (wide_product_bits)
WIDE_PRODUCT_INPUT_BITS = 8


def counter_bits(*counts: int) -> int:
    """Bits of the counters that walk ``counts`` (a count of 1 needs none)."""
    return sum(math.ceil(math.log2(n)) for n in counts if n > 1)


@register_rtl_op
class MVAU_lut_rtl(_MatrixRTL, MVAU, RTLBackend):
    """FINN's MVAU on bnnforge's LUT-based RTL (mvau.sv)."""

    RTL_MODULE = "mvau"
    # its own coefficients (the VVAU has its own too), fitted to yosys on 136 seeded random
    # MVAUs: 32 of real layers' sizes, forms and foldings, 12 fully folded ones (constant
    # weights), 24 nearly so (2..8 weight words) and 12 XNOR ones over wide popcounts (2-4
    # words, SIMD 16-288), 12 first layers of sign networks (8-bit pixels to one threshold per
    # channel, up to fully folded), 8 wide first layers (8-bit pixels over 64-400 lanes) and 4
    # wider (a tfc's at --max-fps: 196-1,568 lanes, weights in block RAM), 8 wide XNOR layers
    # fed by block RAM (256-2,304 lanes), 12 slow ones (a reactnet's at 1,000 fps: PE 1, 4-bit
    # outputs), 12 DyBNN hyper-function FCs (wide sums x INT4: wide_product_bits), and the 18
    # MVAUs of the two calibration builds (benchmarks/layer_heldout.py --fit --ops MVAU
    # --configs 32; 6.5 % mean error on them). 9.1 % before a threshold ROM of a few words was
    # a term of its own; a few words' XNOR lanes are split by whether their weight varies
    # (weightVaryingLaneFraction: a varying one costs what a ROM-fed lane does); several
    # thresholds add the count of the compares (threshold_count_bits), which the fit could tell
    # from the pixel products only once it saw first layers with one threshold. The threshold
    # terms are split by thresholdVaryingFraction and counted as the node has them
    # (thresholdSteps). Scored on results/layer_heldout.md's other seeds and
    # results/layer_rtl.md's held-out builds. A multi-bit lane's adder-tree bits are its product
    # bits plus a constant (one leaf per lane): the fit gives the lane terms all of it
    # (adder_tree_bits 0). The count of the compares is split like the compares: against
    # thresholds the same in every channel it fits to 0 (the DyBNN hyper function's 31-step
    # quantizer of the RPReLU shift had been 27 % above yosys)
    LUT_PER_TERM = {"control": 114.65, "xnor_lanes": 2.103, "constant_xnor_lanes": 1.103,
                    "varying_xnor_lanes": 2.163, "negation_bits": 3.282,
                    "product_bits": 1.881, "wide_product_bits": 2.959, "constant_product_bits": 1.254,
                    "product_select_bits": 0.606, "adder_tree_bits": 0.0, "accumulator_bits": 0.468,
                    "threshold_count_bits": 1.714, "threshold_compare_bits": 0.5,
                    "constant_threshold_compare_bits": 0.1, "weight_rom_luts": 1.0, "input_buffer_luts": 1.0,
                    "threshold_rom_bits": 0.957, "shallow_threshold_rom_bits": 0.339, "fold_counter_bits": 0.469,
                    "constant_threshold_count_bits": 0.0}
    # counted, not fitted: the memories' LUTs by the memory models; a threshold comparator, half a
    # LUT per accumulator bit (LUT6_2 pairs feeding a carry chain; a free fit gave it 0, and
    # fold then took many-PE foldings as free)
    LUT_FIXED = ("weight_rom_luts", "input_buffer_luts", "threshold_compare_bits")

    def lut_terms(self):
        """The matrix terms and the fold counters (input fold SF, output fold NF, vectors)."""
        g = self.get_nodeattr
        return {**super().lut_terms(), "fold_counter_bits": counter_bits(
            g("MW") // g("SIMD"), g("MH") // g("PE"), int(np.prod(g("numInputVectors"))))}

    def _channels(self) -> int:
        return self.get_nodeattr("MH")

    def _weights(self, model) -> np.ndarray:
        return np.asarray(model.get_initializer(self.onnx_node.input[1]))

    def _dot_length(self) -> int:
        return self.get_nodeattr("MW")

    def _input_buffer_cost(self) -> tuple[int, int]:
        """(LUT, BRAM18) of the SF-deep input vector buffer re-read for every output fold. The RTL
        leaves its memory style to synthesis, which decides as ram_style "auto" does (a tfc first
        layer's 392 x 16-bit buffer: one RAMB18 by yosys, no LUT RAM)."""
        g = self.get_nodeattr
        sf, nf = g("MW") // g("SIMD"), g("MH") // g("PE")
        return memory_cost(g("SIMD") * self.get_input_datatype(0).bitwidth(), sf, "auto") if nf > 1 else (0, 0)

    def _input_buffer_luts(self) -> int:
        return self._input_buffer_cost()[0]

    def rtl_parameters(self, model):
        g = self.get_nodeattr
        idt, wdt = self.get_input_datatype(0), self.get_input_datatype(1)
        lo, hi = dot_range(self._weights(model), idt)
        if g("binaryXnorMode") or (idt.name == wdt.name == "BIPOLAR"):
            lo, hi = 0, g("MW")  # a popcount
        return dict(MW=g("MW"), MH=g("MH"), PE=g("PE"), SIMD=g("SIMD"), N_VECTORS=int(np.prod(g("numInputVectors"))),
                    IN_BITS=idt.bitwidth(), IN_KIND=kind(idt), W_BITS=wdt.bitwidth(), W_KIND=kind(wdt),
                    XNOR=g("binaryXnorMode"), **self._activation_params(model, lo, hi))

    def _weight_words(self, model) -> np.ndarray:
        """The weight ROM's words (depth, PE*SIMD lanes) as raw bits: line nf*SF + sf, lane
        p*SIMD + s = W[sf*SIMD + s][nf*PE + p]."""
        g = self.get_nodeattr
        mw, mh, pe, simd = g("MW"), g("MH"), g("PE"), g("SIMD")
        w = raw(self._weights(model), self.get_input_datatype(1))  # (MW, MH)
        return w.reshape(mw // simd, simd, mh // pe, pe).transpose(2, 0, 3, 1).reshape(-1, pe * simd)

    def _rom_shape(self) -> tuple[int, int]:
        """(width bits, depth) of the weight ROM."""
        g = self.get_nodeattr
        return g("PE") * g("SIMD") * self.get_input_datatype(1).bitwidth(), g("MH") // g("PE") * (g("MW") // g("SIMD"))

    def _rom_cost(self) -> tuple[int, int]:
        return memory_cost(*self._rom_shape(), self.get_nodeattr("ram_style"))

    def bram_estimation(self, fpgapart=None):
        return self._rom_cost()[1] + self._input_buffer_cost()[1]

    def uram_estimation(self, fpgapart=None):
        return 0

    def dsp_estimation(self, fpgapart=None):
        return 0


@register_rtl_op
class VVAU_lut_rtl(_MatrixRTL, VVAU, RTLBackend):
    """FINN's VVAU (depthwise) on bnnforge's LUT-based RTL (vvau.sv)."""

    RTL_MODULE = "vvau"
    # fitted by benchmarks/layer_heldout.py --fit --ops VVAU --configs 32 (stock-LAB depthwise
    # VVAUs, seeds 1-32; no build has one), scored on the held-out seeds in layer_heldout.md;
    # leave-one-out on the calibration seeds 8 % mean / 26 % max (10 / 28 % before the shallow
    # weight memories and constant thresholds of _MatrixRTL.lut_terms, 17 % mean without the SF
    # terms below). XNOR lanes and the input buffer are MVAU terms a VVAU never has
    LUT_PER_TERM = {"control": 75.344, "xnor_lanes": 0.0, "constant_xnor_lanes": 0.0, "varying_xnor_lanes": 0.0,
                    "negation_bits": 0.0, "product_bits": 1.917, "wide_product_bits": 0.0, "constant_product_bits": 0.44,
                    "product_select_bits": 0.428, "adder_tree_bits": 0.672, "accumulator_bits": 0.0,
                    "threshold_count_bits": 0.0,
                    "threshold_compare_bits": 0.0, "constant_threshold_compare_bits": 0.437, "weight_rom_luts": 0.0,
                    "input_buffer_luts": 0.0, "threshold_rom_bits": 0.0, "shallow_threshold_rom_bits": 0.0,
                    "fold_counter_bits": 8.73, "constant_threshold_count_bits": 0.0}

    def lut_terms(self):
        """The matrix terms, with the accumulation as the VVAU does it: SF = K*K/SIMD beats per
        output, counted; at SF = 1 each output is one beat's sum and nothing accumulates."""
        terms = super().lut_terms()
        sf = self._dot_length() // self.get_nodeattr("SIMD")
        if sf == 1:
            terms["accumulator_bits"] = 0
        terms["fold_counter_bits"] = counter_bits(sf)
        return terms

    def _channels(self) -> int:
        return self.get_nodeattr("Channels")

    def _dot_length(self) -> int:
        return math.prod(self.get_nodeattr("Kernel"))

    def _kernel(self, model) -> np.ndarray:
        """(C, K*K) weights, k = kh*K + kw."""
        w = np.asarray(model.get_initializer(self.onnx_node.input[1]))
        return w.reshape(self._channels(), -1)

    def rtl_parameters(self, model):
        g = self.get_nodeattr
        idt, wdt = self.get_input_datatype(0), self.get_input_datatype(1)
        k = g("Kernel")[0]
        lo, hi = dot_range(self._kernel(model).T, idt)
        if idt.name == wdt.name == "BIPOLAR":
            lo, hi = 0, k * k
        # FINN's VVAU.execute_node multiplies 0/1 BINARY values even in binaryXnorMode: so does the RTL
        return dict(CHANNELS=g("Channels"), K=k, PE=g("PE"), SIMD=g("SIMD"), N_PIXELS=int(np.prod(g("Dim"))),
                    IN_BITS=idt.bitwidth(), IN_KIND=kind(idt), W_BITS=wdt.bitwidth(), W_KIND=kind(wdt), XNOR=0,
                    **self._activation_params(model, lo, hi))

    @staticmethod
    def rtl_unsupported(inst) -> str | None:
        kh, kw = inst.get_nodeattr("Kernel")
        return _MatrixRTL.rtl_unsupported(inst) or (None if kh == kw else f"a {kh}x{kw} kernel (square only)")

    def _weight_words(self, model) -> np.ndarray:
        """The weight ROM's words (depth, PE*SIMD lanes) as raw bits: line nf*SF + sf, lane
        p*SIMD + s = W[nf*PE + p][sf*SIMD + s]."""
        g = self.get_nodeattr
        pe, simd, c = g("PE"), g("SIMD"), g("Channels")
        w = raw(self._kernel(model), self.get_input_datatype(1))  # (C, KK)
        kk = w.shape[1]
        return w.reshape(c // pe, pe, kk // simd, simd).transpose(0, 2, 1, 3).reshape(-1, pe * simd)

    def _rom_shape(self) -> tuple[int, int]:
        """(width bits, depth) of the weight ROM."""
        g = self.get_nodeattr
        kk = math.prod(g("Kernel"))
        return g("PE") * g("SIMD") * self.get_input_datatype(1).bitwidth(), g("Channels") // g("PE") * (kk // g("SIMD"))

    def _rom_cost(self) -> tuple[int, int]:
        return memory_cost(*self._rom_shape(), self.get_nodeattr("ram_style"))

    def bram_estimation(self, fpgapart=None):
        return self._rom_cost()[1]

    def uram_estimation(self, fpgapart=None):
        return 0

    def dsp_estimation(self, fpgapart=None):
        return 0
