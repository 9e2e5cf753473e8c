"""FINN op `DynamicRPReLU`: DyBNN's dynamic RPReLU with requantization (docs/SPEC.md,
section 9), with an RTL backend (sim/rtl/dynamic_rprelu.sv).

Node: input 0 = the residual block's sum z, NHWC (1,H,W,C) signed integers; input 1 = this
frame's offsets o (1,1,1,C) from the hyper branch (GlobalAccPool -> MVAU -> MVAU); input 2
= the static thresholds (C, NumSteps), an initializer (a ROM in the RTL, no stream);
output NHWC (1,H,W,C): ActVal + #{k : z - o[c] >= T[c, k]}, in outputDataType. The frame
is buffered (ping-pong) because o depends on the whole frame. It is the generalization of
DynamicThreshold (one threshold, T = o) to a static multi-threshold table shifted per frame.
"""

from __future__ import annotations

import numpy as np
from finn.custom_op.fpgadataflow import register_custom_op
from finn.custom_op.fpgadataflow.hwcustomop import HWCustomOp
from finn.custom_op.fpgadataflow.rtl import register_custom_op as register_rtl_op
from finn.custom_op.fpgadataflow.rtlbackend import RTLBackend

from bnnforge.finn_flow.ops.backends import BnnforgeRTL, dt, nchw_to_nhwc, nhwc_to_nchw
from bnnforge.finn_flow.ops.memory import (distributed_luts, memory_cost, read_mux_luts, resolve_ram_style,
                                           rom_distinct_columns, rom_luts)
from bnnforge.finn_flow.ops.params import (DynRPReLUParams, dynthresh_exp_cycles, signed_bits_for,
                                            varying_columns, varying_fraction)
from bnnforge.model import golden


@register_custom_op
class DynamicRPReLU(HWCustomOp):
    """Static multi-threshold table shifted per frame and channel, ping-pong frame buffer, PE lanes."""

    def get_nodeattr_types(self):
        attrs = super().get_nodeattr_types()
        attrs.update(
            {
                "NumChannels": ("i", True, 0),
                "ImgH": ("i", True, 0),
                "ImgW": ("i", True, 0),
                "PE": ("i", True, 1),
                "NumSteps": ("i", True, 1),  # thresholds per channel
                "inputDataType": ("s", True, ""),
                "offsetDataType": ("s", True, ""),
                "weightDataType": ("s", True, ""),  # the thresholds'
                "outputDataType": ("s", True, ""),
                "ActVal": ("i", False, 0),  # out_bias
                # the fraction of the thresholds' bits that vary over the channels
                # (params.varying_fraction, set by the RTL class's annotate): the comparator bits
                # whose threshold a ROM of several words selects
                "thresholdVaryingFraction": ("f", False, 1.0),
                # the threshold steps whose threshold differs between channels (-1: not annotated,
                # all): the others compare with a constant
                "thresholdVaryingSteps": ("i", False, -1),
                # the steps decided whatever the input (params.DynRPReLUParams.decided_steps): no
                # comparator; not counted among the varying ones
                "thresholdDecidedSteps": ("i", False, 0),
                "ram_style": ("s", False, "auto", {"auto", "block", "distributed"}),
                "layer_name": ("s", False, ""),
                # two streamed inputs: one FIFO depth each (FINN's default has one entry)
                "inFIFODepths": ("ints", False, [2, 2]),
            }
        )
        return attrs

    def _dims(self):
        return (self.get_nodeattr("ImgH"), self.get_nodeattr("ImgW"), self.get_nodeattr("NumChannels"))

    def rprelu_params(self, model) -> DynRPReLUParams:
        h, w, _ = self._dims()
        odt = self.get_output_datatype()
        return DynRPReLUParams(model.get_initializer(self.onnx_node.input[2]), h, w, self.get_nodeattr("ActVal"),
                               odt.bitwidth(), self.get_input_datatype(0).bitwidth(),
                               self.get_input_datatype(1).bitwidth(), self.get_nodeattr("PE"), odt.signed())

    def get_normal_input_shape(self, ind=0):
        h, w, c = self._dims()
        if ind == 2:
            return (c, self.get_nodeattr("NumSteps"))
        return (1, h, w, c) if ind == 0 else (1, 1, 1, c)

    def get_normal_output_shape(self, ind=0):
        return self.get_normal_input_shape(0)

    def get_folded_input_shape(self, ind=0):
        pe = self.get_nodeattr("PE")
        shape = self.get_normal_input_shape(ind)
        return (*shape[:-1], shape[-1] // pe, pe)

    def get_folded_output_shape(self, ind=0):
        return self.get_folded_input_shape(0)

    def get_input_datatype(self, ind=0):
        return dt(self.get_nodeattr(("inputDataType", "offsetDataType", "weightDataType")[ind]))

    def get_output_datatype(self, ind=0):
        return dt(self.get_nodeattr("outputDataType"))

    def get_instream_width(self, ind=0):
        """z and the offsets are streams; the thresholds are a ROM (no stream)."""
        return 0 if ind == 2 else self.get_nodeattr("PE") * self.get_input_datatype(ind).bitwidth()

    def get_outstream_width(self, ind=0):
        return self.get_nodeattr("PE") * self.get_output_datatype().bitwidth()

    def get_number_output_values(self):
        return int(np.prod(self.get_folded_output_shape()[:-1]))

    def make_shape_compatible_op(self, model):
        return super().make_const_shape_op(self.get_normal_output_shape())

    def infer_node_datatype(self, model):
        node = self.onnx_node
        self.set_nodeattr("inputDataType", model.get_tensor_datatype(node.input[0]).name)
        self.set_nodeattr("offsetDataType", model.get_tensor_datatype(node.input[1]).name)
        model.set_tensor_datatype(node.output[0], self.get_output_datatype())

    def verify_node(self):
        c, pe = self.get_nodeattr("NumChannels"), self.get_nodeattr("PE")
        return [f"PE={pe} does not divide NumChannels={c}"] if c % pe else []

    def get_exp_cycles(self):
        """Steady-state cycles per frame: H*W*C/PE (ping-pong buffer); latency is about one frame more."""
        h, w, c = self._dims()
        return dynthresh_exp_cycles(h, w, c, self.get_nodeattr("PE"))

    def frame_buffer_shape(self):
        """(banks, width bits, depth): both frame buffers in one memory, as the RTL's fbuf."""
        h, w, c = self._dims()
        pe = self.get_nodeattr("PE")
        return 1, pe * self.get_input_datatype(0).bitwidth(), 2 * h * w * (c // pe)

    def threshold_rom_shape(self):
        """(width bits, depth) of the threshold ROM: one word of PE*NumSteps thresholds per fold."""
        pe, c = self.get_nodeattr("PE"), self.get_nodeattr("NumChannels")
        return pe * self.get_nodeattr("NumSteps") * self.get_input_datatype(2).bitwidth(), c // pe

    def bram_estimation(self, fpgapart=None):
        banks, width, depth = self.frame_buffer_shape()
        return banks * memory_cost(width, depth, self.get_nodeattr("ram_style"))[1] + memory_cost(
            *self.threshold_rom_shape(), "auto")[1]

    def dsp_estimation(self, fpgapart=None):
        return 0

    def get_op_and_param_counts(self):
        h, w, c = self._dims()
        steps = self.get_nodeattr("NumSteps")
        return {f"op_cmp_{self.get_input_datatype(0).bitwidth()}b": h * w * c * steps,
                f"param_threshold_{self.get_input_datatype(2).bitwidth()}b": c * steps}

    def execute_node(self, context, graph):
        """Python execution: the golden function."""
        node = self.onnx_node
        z = nhwc_to_nchw(context[node.input[0]])
        o = np.asarray(context[node.input[1]]).reshape(z.shape[0], -1)
        t = np.asarray(context[node.input[2]]).reshape(self.get_nodeattr("NumChannels"), -1)
        y = golden.dynamic_rprelu(z, o, t, self.get_nodeattr("ActVal"))
        context[node.output[0]] = nchw_to_nhwc(y).astype(np.float32)

    def minimize_accumulator_width(self, model, datatype_only=False):
        """The thresholds' datatype: the smallest signed integer holding them (as FINN narrows
        the thresholds of its Thresholding layer)."""
        t = model.get_initializer(self.onnx_node.input[2])
        name = f"INT{signed_bits_for(int(t.min()), int(t.max()))}"
        self.set_nodeattr("weightDataType", name)
        model.set_tensor_datatype(self.onnx_node.input[2], dt(name))
        return dt(name)


@register_rtl_op
class DynamicRPReLU_rtl(BnnforgeRTL, DynamicRPReLU, RTLBackend):
    """RTL backend: sim/rtl/dynamic_rprelu.sv with the node's parameters and threshold ROM."""

    RTL_MODULE = "dynamic_rprelu"
    RTL_DEPS = ("stream_out_fifo.sv", "ram_sdp.sv", "rom.sv", "frame_pingpong.sv")
    # benchmarks/layer_heldout.py --fit --configs 32 (seeds 1-32: no build had this layer when it was
    # calibrated, and 12 with thresholds as a trained network's: layer_rtl.rprelu_thresholds),
    # scored on the held-out seeds 1001.. in layer_heldout.md. Leave-one-out on the calibration
    # seeds chose the ROM's distinct columns over a select cost per comparator bit (log2 FOLD x
    # varying fraction): 7.6 % vs 10.0 % mean, 37 % vs 46 % max; with the trained thresholds, the
    # steps whose threshold is one in every channel as constant comparators: 9.4 % vs 12.8 %.
    # The count adders get no weight of their own: they grow with the comparators. Refitted when
    # the block RAM read multiplexer came to count the shapes yosys takes (memory.block_stacked_depth),
    # and when a comparator's bits beyond 5 got a coefficient of their own (a narrow compare fits a
    # LUT6 or two, a wide one takes a carry chain: 0.98 LUT per bit beyond 5, and 0.38 per bit
    # more against a threshold ROM; the 16-lane INT9 draw had been 19 % low and the 16-lane INT4
    # one 18 % high; calibration 6.1 -> 4.7 %)
    LUT_PER_TERM = {"control": 170.46, "compare_bits": 0.383, "constant_compare_bits": 0.0,
                    "threshold_column_luts": 1.042, "count_bits": 1.506, "offset_buffer_luts": 0.448,
                    "frame_buffer_luts": 0.83, "frame_buffer_mux_luts": 2.175, "decided_compare_bits": 0.0,
                    "wide_compare_bits": 0.976}

    def lut_terms(self):
        """The PE*NumSteps comparators on z - o (against constants where a step's threshold is
        the same in every channel, or all channels are in one fold), the threshold
        ROM's distinct columns (a ROM of FOLD words has few kinds of column when FOLD is small,
        and equal ones are built once: memory.rom_distinct_columns), the count adders, the two
        offset buffers (FOLD x PE*O_BITS LUT RAM each) and the frame buffers when they are in LUTs."""
        pe, steps = self.get_nodeattr("PE"), self.get_nodeattr("NumSteps")
        z, o, t = (self.get_input_datatype(i).bitwidth() for i in range(3))
        fold = self.get_nodeattr("NumChannels") // pe
        banks, width, depth = self.frame_buffer_shape()
        compare_width = max(max(z, o) + 1, t)
        # a step with one threshold in every channel (a trained RPReLU's above its shift, and the
        # clipped ones below) compares with a constant, so do all steps when one fold holds every
        # channel (the ROM is one word and synthesis folds it into the comparators)
        decided = self.get_nodeattr("thresholdDecidedSteps")
        live = steps - decided
        varying_steps = 0 if fold == 1 else live if self.get_nodeattr("thresholdVaryingSteps") < 0 \
            else self.get_nodeattr("thresholdVaryingSteps")  # annotate counts live steps only
        varying = pe * steps * t * self.get_nodeattr("thresholdVaryingFraction")
        rom_in_luts = resolve_ram_style(*self.threshold_rom_shape(), "auto") == "distributed"
        columns = rom_distinct_columns(varying, fold) * max(1, rom_luts(1, fold)) if rom_in_luts else 0.0
        return {"control": 1, "compare_bits": pe * varying_steps * compare_width,
                "constant_compare_bits": pe * (live - varying_steps) * compare_width,
                "decided_compare_bits": pe * decided * compare_width,
                # a comparator's bits beyond 5: narrower ones fit a LUT6 or two without a carry chain
                "wide_compare_bits": pe * live * max(0, compare_width - 5),
                "threshold_column_luts": columns,
                "count_bits": pe * steps,
                "offset_buffer_luts": 2 * distributed_luts(pe * o, fold, "distributed"),
                "frame_buffer_luts": banks * distributed_luts(width, depth, self.get_nodeattr("ram_style")),
                "frame_buffer_mux_luts": banks * read_mux_luts(width, depth, self.get_nodeattr("ram_style"))}

    def annotate(self, model):
        p = self.rprelu_params(model)
        decided = p.decided_steps()
        self.set_nodeattr("thresholdVaryingFraction", varying_fraction(p.thresholds))
        self.set_nodeattr("thresholdVaryingSteps", varying_columns(p.thresholds[:, ~decided]) if (~decided).any() else 0)
        self.set_nodeattr("thresholdDecidedSteps", int(decided.sum()))

    def rtl_parameters(self, model):
        _, width, depth = self.frame_buffer_shape()  # the styles the estimates assume
        return {**self.rprelu_params(model).rtl_parameters(),
                "RAM_STYLE": resolve_ram_style(width, depth, self.get_nodeattr("ram_style")),
                "RAM_STYLE_THRESH": resolve_ram_style(*self.threshold_rom_shape(), "auto")}

    def rtl_memories(self, model):
        return {"THRESH_FILE": self.rprelu_params(model).thresholds_hex()}
