"""FINN op `LabBinarizer`: the fused LAB layer (docs/SPEC.md, "LabBinarizer") and its
HLS and RTL backends.

Node: inputs (x NHWC (1,H,W,C), weights (C,K,K) initializer, thresholds (C,)
initializer), output NHWC (1,H,W,C) in BINARY (0/1, what a following XNOR layer
reads) or BIPOLAR (-1/+1) encoding; both are the same bits in hardware.
Python execution is the golden function; the HLS backend instantiates
hls/lab_binarizer.hpp, the RTL backend sim/rtl/lab_binarizer.sv.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from finn.custom_op.fpgadataflow import register_custom_op
from finn.custom_op.fpgadataflow.hls import register_custom_op as register_hls_op
from finn.custom_op.fpgadataflow.hlsbackend import HLSBackend
from finn.custom_op.fpgadataflow.hwcustomop import HWCustomOp
from finn.custom_op.fpgadataflow.rtl import register_custom_op as register_rtl_op
from finn.custom_op.fpgadataflow.rtlbackend import RTLBackend

from bnnforge.finn_flow.ops.params import LabParams, lab_exp_cycles, lab_product_leaves
from bnnforge.finn_flow.ops.backends import (
    BnnforgeHLS,
    BnnforgeRTL,
    bipolar_as,
    dt,
    nchw_to_nhwc,
    nhwc_to_nchw,
)
from bnnforge.finn_flow.ops.memory import SHALLOW_ROM_WORDS, memory_cost, resolve_ram_style
from bnnforge.model import golden


@register_custom_op
class LabBinarizer(HWCustomOp):
    """Fused LAB binarizer: line buffer, zero padding, k x k depthwise MAC, threshold, PE lanes."""

    def get_nodeattr_types(self):
        attrs = super().get_nodeattr_types()
        attrs.update(
            {
                "NumChannels": ("i", True, 0),
                "ImgH": ("i", True, 0),
                "ImgW": ("i", True, 0),
                "KernelSize": ("i", True, 3),
                "PE": ("i", True, 1),
                "inputDataType": ("s", True, ""),
                "weightDataType": ("s", True, ""),
                "accDataType": ("s", True, ""),
                "outputDataType": ("s", True, "BINARY", {"BINARY", "BIPOLAR"}),
                # memory of the line buffer
                "ram_style": ("s", False, "auto", {"auto", "block", "distributed"}),
                # per kernel tap, the weight bits that vary over the channels (LabParams.tap_bits,
                # set by the RTL class's annotate); the LUT estimate's product widths. Empty:
                # unknown, every tap counted at the weight width
                "weightTapBits": ("ints", False, []),
                # the bnnforge IntegerNet layer this node implements (for verify)
                "layer_name": ("s", False, ""),
            }
        )
        return attrs

    # --- parameters -------------------------------------------------------------

    def lab_params(self, model=None, context=None) -> LabParams:
        """The layer's parameters (weights/thresholds from the model's initializers or a context)."""
        node = self.onnx_node
        src = context if context is not None else {n: model.get_initializer(n) for n in node.input[1:]}
        k = self.get_nodeattr("KernelSize")
        return LabParams(
            np.asarray(src[node.input[1]]).reshape(-1, k, k),
            np.asarray(src[node.input[2]]).reshape(-1),
            self.get_nodeattr("ImgH"),
            self.get_nodeattr("ImgW"),
            self.get_input_datatype(0).bitwidth(),
            self.get_input_datatype(1).bitwidth(),
            self.get_nodeattr("PE"),
        )

    # --- shapes and datatypes ------------------------------------------------------

    def _dims(self):
        return (self.get_nodeattr("ImgH"), self.get_nodeattr("ImgW"), self.get_nodeattr("NumChannels"))

    def get_normal_input_shape(self, ind=0):
        h, w, c = self._dims()
        k = self.get_nodeattr("KernelSize")
        return [(1, h, w, c), (c, k, k), (c,)][ind]

    def get_normal_output_shape(self, ind=0):
        h, w, c = self._dims()
        return (1, h, w, c)

    def get_folded_input_shape(self, ind=0):
        if ind != 0:
            return self.get_normal_input_shape(ind)
        h, w, c = self._dims()
        pe = self.get_nodeattr("PE")
        return (1, h, w, c // pe, pe)

    def get_folded_output_shape(self, ind=0):
        return self.get_folded_input_shape(0)

    def get_input_datatype(self, ind=0):
        return dt(self.get_nodeattr(["inputDataType", "weightDataType", "accDataType"][ind]))

    def get_output_datatype(self, ind=0):
        return dt(self.get_nodeattr("outputDataType"))

    def get_instream_width(self, ind=0):
        return self.get_nodeattr("PE") * self.get_input_datatype().bitwidth() if ind == 0 else 0

    def get_outstream_width(self, ind=0):
        return self.get_nodeattr("PE") * self.get_output_datatype().bitwidth()

    def get_number_output_values(self):
        return int(np.prod(self.get_folded_output_shape()[:-1]))

    def infer_node_datatype(self, model):
        idt = model.get_tensor_datatype(self.onnx_node.input[0])
        if idt.is_integer() and idt.signed():
            self.set_nodeattr("inputDataType", idt.name)
        model.set_tensor_datatype(self.onnx_node.output[0], self.get_output_datatype())

    def verify_node(self):
        h, w, c = self._dims()
        pe, k = self.get_nodeattr("PE"), self.get_nodeattr("KernelSize")
        msgs = []
        if c % pe:
            msgs.append(f"PE={pe} does not divide NumChannels={c}")
        if k % 2 == 0:
            msgs.append(f"KernelSize={k} must be odd")
        return msgs

    # --- performance and resources ---------------------------------------------------

    def get_exp_cycles(self):
        """Steady-state cycles per frame of the RTL: H*W*C/PE (frames back to back)."""
        h, w, c = self._dims()
        return lab_exp_cycles(h, w, c, self.get_nodeattr("PE"), self.get_nodeattr("KernelSize"))

    def _widths(self):
        a = self.get_input_datatype(0).bitwidth()
        wb = self.get_input_datatype(1).bitwidth()
        acc = self.get_input_datatype(2).bitwidth()
        return a, wb, acc

    def memories(self):
        """The RTL's memories as (count, width bits, depth, ram style): K row banks of W*C/PE
        words; K-1 delay-line LUTRAMs of C/PE window columns (with their tag bits)."""
        h, w, c = self._dims()
        pe, k = self.get_nodeattr("PE"), self.get_nodeattr("KernelSize")
        a, _, _ = self._widths()
        fold = c // pe
        column_bits = 1 + max(1, math.ceil(math.log2(w))) + k * pe * a
        return [(k, pe * a, w * fold, self.get_nodeattr("ram_style")), (k - 1, column_bits, fold, "distributed")]

    def _memory_cost(self):
        """(LUT, BRAM18) of all memories."""
        costs = [(n * lut, n * bram) for n, width, depth, style in self.memories()
                 for lut, bram in [memory_cost(width, depth, style)]]
        return sum(c[0] for c in costs), sum(c[1] for c in costs)

    def bram_estimation(self, fpgapart=None):
        return self._memory_cost()[1]

    def lut_estimation(self, fpgapart=None):
        """FINN-R style LUT model (as FINN's VVAU) for K*K parallel taps per PE lane, plus
        the weight/threshold ROMs, the delay line (LUTRAM) and row banks in LUTRAM."""
        h, w, c = self._dims()
        pe, k = self.get_nodeattr("PE"), self.get_nodeattr("KernelSize")
        a, wb, acc = self._widths()
        taps = k * k
        fold = c // pe
        mult = taps * (2 * math.ceil((wb + a) / 6) - 1) * (wb + a)
        adders = (wb + a) * (2 * taps - 1)
        per_lane = mult + adders + acc  # + threshold compare
        roms = pe * (taps * wb + acc) * math.ceil(fold / 64)
        control = 100
        return int(control + pe * per_lane + roms + self._memory_cost()[0])

    def dsp_estimation(self, fpgapart=None):
        return 0

    def get_op_and_param_counts(self):
        h, w, c = self._dims()
        k = self.get_nodeattr("KernelSize")
        a, wb, acc = self._widths()
        return {
            f"op_mac_{min(a, wb)}bx{max(a, wb)}b": h * w * c * k * k,
            f"param_weight_{wb}b": c * k * k,
            f"param_threshold_{acc}b": c,
        }

    # --- execution ----------------------------------------------------------------

    def execute_node(self, context, graph):
        """Python execution: the golden function."""
        node = self.onnx_node
        x = nhwc_to_nchw(context[node.input[0]])
        p = self.lab_params(context=context)
        y = golden.lab_binarizer(x, p.weights, p.thresholds)
        context[node.output[0]] = nchw_to_nhwc(bipolar_as(y, self.get_nodeattr("outputDataType")))


@register_hls_op
class LabBinarizer_hls(BnnforgeHLS, LabBinarizer, HLSBackend):
    """HLS backend: instantiates hls/lab_binarizer.hpp with the node's parameters."""

    HLS_HEADER = "lab_binarizer.hpp"

    def get_exp_cycles(self):
        """The HLS kernel does not overlap frames: (H*W + LAG) * C/PE."""
        h, w, c = self._dims()
        return lab_exp_cycles(h, w, c, self.get_nodeattr("PE"), self.get_nodeattr("KernelSize"), "hls")

    def memories(self):
        """The HLS kernel keeps K+1 row buffers of W*C/PE words (no delay line)."""
        h, w, c = self._dims()
        pe, k = self.get_nodeattr("PE"), self.get_nodeattr("KernelSize")
        return [(k + 1, pe * self._widths()[0], w * (c // pe), self.get_nodeattr("ram_style"))]

    def generate_params(self, model, path):
        p = self.lab_params(model)
        Path(path, "params.h").write_text("#pragma once\n#include <ap_int.h>\n" + p.params_header("lab"))
        self.copy_header(path)

    def global_includes(self):
        self.code_gen_dict["$GLOBALS$"] = [f'#include "{self.HLS_HEADER}"', '#include "params.h"']

    def defines(self, var):
        self.code_gen_dict["$DEFINES$"] = []

    def docompute(self):
        h, w, c = self._dims()
        a, wb, acc = self._widths()
        args = [c, h, w, self.get_nodeattr("KernelSize"), self.get_nodeattr("PE"), a, wb, acc]
        self.code_gen_dict["$DOCOMPUTE$"] = [
            f"lab_binarizer<{', '.join(map(str, args))}>(in0_V, out0_V, lab_weights, lab_thresholds);"
        ]

    def blackboxfunction(self):
        self.code_gen_dict["$BLACKBOXFUNCTION$"] = [
            f"void {self.onnx_node.name}(hls::stream<ap_uint<{self.get_instream_width()}> > &in0_V, "
            f"hls::stream<ap_uint<{self.get_outstream_width()}> > &out0_V)"
        ]

    def pragmas(self):
        super().pragmas()
        self.code_gen_dict["$PRAGMAS$"] += [
            "#pragma HLS ARRAY_PARTITION variable=lab_weights complete dim=2",
            "#pragma HLS ARRAY_PARTITION variable=lab_weights complete dim=3",
            "#pragma HLS ARRAY_PARTITION variable=lab_thresholds complete dim=2",
        ]


@register_rtl_op
class LabBinarizer_rtl(BnnforgeRTL, LabBinarizer, RTLBackend):
    """RTL backend: sim/rtl/lab_binarizer.sv with the node's parameters ($readmemh ROMs)."""

    RTL_MODULE = "lab_binarizer"
    RTL_DEPS = ("stream_out_fifo.sv", "ram_sdp.sv")
    # fitted to yosys on 60 random configurations (benchmarks/layer_heldout.py --fit --configs 24
    # --ops LabBinarizer: seeds 1-24 of the default draw, 8 at PE = C or C/2, 8 with weights as LAB
    # trains them, 12 so at 64..256 channels and 8 so at PE = C/4, C/8; 5.3 % mean error on them;
    # the memories counted by memory.memory_cost's simple dual-port LUT RAM model), scored on the
    # disjoint seeds of benchmarks/results/layer_heldout.md (the products at the weights' varying
    # bits, weightTapBits) and on the nodes of real builds. Before the 64..256-channel draws the
    # fit had put nothing on the weight ROM (rom_bits) and a full-width cnv's LAB layers at PE 2-4
    # (32-64 weight words) were 14-19 % above their estimates
    LUT_PER_TERM = {"control": 371.361, "product_bits": 2.106, "constant_product_bits": 0.373,
                    "product_select_bits": 0.546, "sum_bits": 0.016, "compare_bits": 4.372, "rom_bits": 0.285,
                    "memory_luts": 0.904}

    def lut_terms(self):
        """K*K products per PE lane (IN_BITS x the tap's varying weight bits, weightTapBits), their
        sum (one leaf per product, or per weight slice of a wide product) and threshold compare at
        the accumulator width, the weight/threshold ROMs (LUT logic) and the row banks and delay
        line in LUTRAM. With a
        fold C/PE of up to SHALLOW_ROM_WORDS the weights are (nearly) constants: synthesis
        merges them into the products, which then cost less, plus a select per product bit and
        address bit."""
        _, _, c = self._dims()
        pe, k = self.get_nodeattr("PE"), self.get_nodeattr("KernelSize")
        a, wb, acc = self._widths()
        taps, fold = k * k, c // pe
        leaves = taps * lab_product_leaves(a, wb, fold)
        products = pe * a * sum(self.get_nodeattr("weightTapBits") or [wb] * taps)
        folded = fold <= SHALLOW_ROM_WORDS
        return {"control": 1, "product_bits": 0 if folded else products,
                "constant_product_bits": products if folded else 0,
                "product_select_bits": products * math.ceil(math.log2(fold)) if folded else 0,
                "sum_bits": pe * leaves * acc, "compare_bits": pe * acc,
                "rom_bits": pe * (taps * wb + acc) * math.ceil(fold / 64), "memory_luts": self._memory_cost()[0]}

    def annotate(self, model):
        self.set_nodeattr("weightTapBits", self.lab_params(model).tap_bits)

    def rtl_parameters(self, model):
        _, width, depth, style = self.memories()[0]  # the row banks: the style the estimates assume
        return {**self.lab_params(model).rtl_parameters(), "RAM_STYLE": resolve_ram_style(width, depth, style)}

    def rtl_memories(self, model):
        p = self.lab_params(model)
        return {"WEIGHTS_FILE": p.weights_hex(), "THRESHOLDS_FILE": p.thresholds_hex()}
