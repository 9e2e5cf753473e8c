"""The hardware layers bnnforge implements: one entry per layer.

Everything that lists layers reads this table: the build's specialization (which class
implements a node for `--backend rtl|hls`), folding (which op types are ours), `sim
layer`/`sim node`, `verify`'s columns and the docs. Adding a layer = one entry here
plus its files (FINN op/backend classes under ops/, RTL under sim/rtl/, HLS under hls/).

Each entry names the abstract FINN op, the backend classes (bnnforge's own, or FINN's
where FINN's RTL is used as is), its integer reference (custom ops: a golden function of
bnnforge.model.golden; stock ops: FINN's Python execution of the abstract op) and its
parameter object. Every backend runs the same way, through the op's exec modes: Python
execution (the reference), "cppsim" and "rtlsim" on the generated code
(bnnforge.finn_flow.nodesim).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from bnnforge.finn_flow import BACKENDS  # noqa: F401  (re-exported: the backends every layer has)

FINN_DOMAIN = "finn.custom_op.fpgadataflow"


@dataclasses.dataclass(frozen=True)
class Layer:
    """One hardware layer. Classes and functions are named, not imported, so the table can
    be read without importing FINN (the CLI lists it); ``backend_class`` resolves them."""

    op: str  # abstract FINN op type
    rtl: str | None  # RTL backend class
    hls: str | None = None  # bnnforge's HLS backend class (None: FINN's own HLS, if any)
    rtl_by: str = "bnnforge"  # whose RTL: "bnnforge" (sim/rtl/) or "finn" (finn-rtllib, FINN's codegen)
    custom: bool = False  # an op bnnforge defines (not one of FINN's)
    golden: str | None = None  # integer reference of a custom op: a function of bnnforge.model.golden
    params: str | None = None  # parameter object: a class of bnnforge.finn_flow.layer_params
    cli_name: str | None = None  # `bnnforge sim layer NAME`

    def backend_class(self, backend: str) -> type | None:
        """The class implementing this layer for ``backend`` ("rtl" or "hls"), or None."""
        name = self.rtl if backend == "rtl" else self.hls
        if name is None:
            return None
        import bnnforge.finn_flow.ops as ops

        if backend == "rtl" and self.rtl_by == "finn":
            from finn.custom_op.fpgadataflow.rtl import custom_op

            return custom_op[name]
        return getattr(ops, name)

    def golden_fn(self):
        from bnnforge.model import golden

        return getattr(golden, self.golden)

    def params_class(self) -> type:
        from bnnforge.finn_flow import layer_params

        return getattr(layer_params, self.params)


LAYERS: tuple[Layer, ...] = (
    Layer("LabBinarizer", "LabBinarizer_rtl", "LabBinarizer_hls", custom=True, golden="lab_binarizer",
          params="LabParams", cli_name="lab"),
    Layer("DynamicThreshold", "DynamicThreshold_rtl", "DynamicThreshold_hls", custom=True,
          golden="dynamic_threshold", params="DynThreshParams", cli_name="dynthresh"),
    # FINN ops with bnnforge RTL (FINN has HLS only, or a DSP / float-only RTL)
    Layer("MVAU", "MVAU_lut_rtl"),
    Layer("VVAU", "VVAU_lut_rtl"),
    Layer("Pool", "Pool_rtl"),
    Layer("DuplicateStreams", "DuplicateStreams_rtl"),
    Layer("GlobalAccPool", "GlobalAccPool_rtl"),
    Layer("LabelSelect", "LabelSelect_rtl"),
    Layer("ElementwiseAdd", "ElementwiseAdd_lut_rtl"),
    Layer("ElementwiseMul", "ElementwiseMul_lut_rtl"),
    Layer("ElementwiseSub", "ElementwiseSub_lut_rtl"),
    # FINN ops whose finn-rtllib RTL is used as FINN generates it
    Layer("ConvolutionInputGenerator", "ConvolutionInputGenerator_rtl", rtl_by="finn"),
    Layer("FMPadding", "FMPadding_rtl", rtl_by="finn"),
    Layer("Thresholding", "Thresholding_rtl", rtl_by="finn"),
    Layer("StreamingDataWidthConverter", "StreamingDataWidthConverter_rtl", rtl_by="finn"),
    Layer("StreamingFIFO", "StreamingFIFO_rtl", rtl_by="finn"),
)

BY_OP = {layer.op: layer for layer in LAYERS}
CUSTOM_OPS = tuple(layer.op for layer in LAYERS if layer.custom)
CLI_LAYERS = {layer.cli_name: layer for layer in LAYERS if layer.cli_name}
_CLASS_TO_OP = {cls: layer.op for layer in LAYERS for cls in (layer.rtl, layer.hls) if cls is not None}
OUR_CLASSES = frozenset(c for layer in LAYERS for c in (layer.hls, layer.rtl if layer.rtl_by == "bnnforge" else None)
                        if c is not None)


def abstract_op(op_type: str) -> str:
    """The abstract op of a node type: LabBinarizer_rtl -> LabBinarizer, MVAU_hls -> MVAU."""
    if op_type in _CLASS_TO_OP:
        return _CLASS_TO_OP[op_type]
    for suffix in ("_hls", "_rtl"):
        if op_type.endswith(suffix):
            return op_type[: -len(suffix)]
    return op_type


def layer_of(node) -> Layer | None:
    return BY_OP.get(abstract_op(node.op_type))


def is_custom(node) -> bool:
    return abstract_op(node.op_type) in CUSTOM_OPS


def is_ours(op_type: str) -> bool:
    """Is this backend class bnnforge's own (RTL in sim/rtl/, or HLS in hls/)?"""
    return op_type in OUR_CLASSES


def exp_cycles(inst) -> int:
    """Cycles per frame of a node's RTL in steady state: the op's get_exp_cycles(), except
    where FINN does not model the op (0 for width converters and FIFOs)."""
    op = abstract_op(inst.onnx_node.op_type)
    if op == "StreamingFIFO":
        return int(np.prod(inst.get_folded_output_shape()[:-1]))
    if op == "StreamingDataWidthConverter":
        # finn-rtllib's dwc regroups through lcm(in, out)-element words: per word, L/in input
        # and L/out output beats, overlapping by one (measured; max(in, out) beats for integer ratios)
        dt_bits = inst.get_input_datatype().bitwidth()
        e_in, e_out = inst.get_nodeattr("inWidth") // dt_bits, inst.get_nodeattr("outWidth") // dt_bits
        lcm = int(np.lcm(e_in, e_out))
        elements = int(np.prod(inst.get_normal_input_shape()))
        return elements // lcm * (lcm // e_in + lcm // e_out - 1)
    return int(inst.get_exp_cycles())


# FINN's own RTL whose get_exp_cycles() is an upper bound of what the RTL takes (FINN's
# sliding window model is pessimistic by 2-30 %, most on small maps), not an exact figure
FINN_CYCLES_UPPER_BOUND = ("ConvolutionInputGenerator",)


def _window_layout(inst, ind: int, output: bool):
    """(K*K, channels, channels per beat, kernel positions per beat) when input/output ``ind``
    of the node carries depthwise windows whose stream order differs from FINN's Python
    layout, else None. Python execution orders a window (kernel position, channel); the
    depthwise sliding window generator streams channel-fold major, (channel fold, kernel
    position, channel within the fold), and the VVAU and Pool consuming it read that order."""
    op = abstract_op(inst.onnx_node.op_type)
    g = inst.get_nodeattr
    if output:
        if op == "ConvolutionInputGenerator" and g("depthwise"):
            kk = int(np.prod(g("ConvKernelDim")))
            return kk, g("IFMChannels"), g("SIMD"), kk if g("parallel_window") else 1
        return None
    if op == "VVAU" and ind == 0:
        return int(np.prod(g("Kernel"))), g("Channels"), g("PE"), g("SIMD")
    if op == "Pool" and ind == 0:
        return int(np.prod(g("KernelSize"))), g("Channels"), g("PE"), 1
    return None


def has_window_layout(inst, ind: int, output: bool) -> bool:
    return _window_layout(inst, ind, output) is not None


def to_stream_order(inst, ind: int, x: np.ndarray, output: bool = False) -> np.ndarray:
    """A tensor of FINN's Python layout (N, ..., K*K*C) on input ``ind`` of the node (output
    ``ind`` with ``output``) in the order the stream carries it."""
    layout = _window_layout(inst, ind, output)
    if layout is None:
        return x
    kk, c, pe, simd = layout
    lead = x.shape[:-1]
    y = x.reshape(*lead, kk // simd, simd, c // pe, pe)
    y = np.moveaxis(y, -2, -4)  # (channel fold, kernel fold, kernel in beat, channel in beat)
    return y.reshape(*lead, kk * c)


def from_stream_order(inst, ind: int, y: np.ndarray, output: bool = True) -> np.ndarray:
    """The inverse of to_stream_order (by default for output ``ind``)."""
    layout = _window_layout(inst, ind, output)
    if layout is None:
        return y
    kk, c, pe, simd = layout
    lead = y.shape[:-1]
    x = y.reshape(*lead, c // pe, kk // simd, simd, pe)
    x = np.moveaxis(x, -4, -2)
    return x.reshape(*lead, kk * c)
