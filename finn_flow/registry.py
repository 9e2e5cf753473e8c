"""The hardware layers bnnforge implements: one entry per layer, the only place that knows
layer types.

Everything that needs to know what a node is asks this table: the build's specialization
(which class implements a node for `--backend rtl|hls`), folding (what may be folded and
how), stream order and cycle models, `sim layer` / `sim node`, verify's columns, the docs.
Adding a layer = one entry (``register`` for a layer defined outside bnnforge) plus its
files: FINN op and backend classes, RTL (sim/rtl/ or the class's own RTL_DIR), HLS (hls/),
and its rules (ops/rules.py).

Each entry names the abstract FINN op, its backend classes (bnnforge's own, or FINN's
where FINN's RTL is used as is), for bnnforge's own ops the parameter class (validation,
golden function, one-node models) and the integer layer of bnnforge.model it implements,
and the rules the flow folds, streams and times it by. Classes are named, not imported,
so the table can be read without importing FINN (the CLI lists it); ``load()`` imports
the op modules, which registers their classes with FINN.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from bnnforge.finn_flow import BACKENDS, FINN_DOMAIN  # noqa: F401  (BACKENDS re-exported)
from bnnforge.finn_flow.ops import rules as R


@dataclasses.dataclass(frozen=True)
class Layer:
    """One hardware layer. Classes may be given by name (resolved through FINN's op
    registries after ``load()``) or as the class itself (layers registered from outside)."""

    op: str  # abstract FINN op type
    rtl: str | type | None  # RTL backend class
    hls: str | type | None = None  # bnnforge's HLS backend class (None: FINN's own HLS, if any)
    rtl_by: str = "bnnforge"  # whose RTL: "bnnforge" (our RTL core) or "finn" (finn-rtllib, FINN's codegen)
    params: str | type | None = None  # parameter class of an op bnnforge defines (bnnforge.finn_flow.ops.params)
    int_layer: str | None = None  # the bnnforge.model.integer class the op implements (verify's columns)
    cli_name: str | None = None  # `bnnforge sim layer NAME`
    rules: R.Rules = R.Rules()  # folding, stream order, cycles (ops/rules.py)
    # the graph conversion that creates the layer's nodes (a qonnx Transformation, run by the
    # build's convert_to_hw step before FINN's own Infer*), and the --lab-impl it belongs to
    convert: str | type | None = None
    lab_impl: str | None = None

    @property
    def custom(self) -> bool:
        """An op bnnforge (or a registered extension) defines, with its own golden function."""
        return self.params is not None

    def class_name(self, backend: str) -> str | None:
        cls = self.rtl if backend == "rtl" else self.hls
        return cls if cls is None or isinstance(cls, str) else cls.__name__

    def backend_class(self, backend: str) -> type | None:
        """The class implementing this layer for ``backend`` ("rtl" or "hls"), or None."""
        cls = self.rtl if backend == "rtl" else self.hls
        if cls is None or not isinstance(cls, str):
            return cls
        load()
        from finn.custom_op.fpgadataflow import hls, rtl

        return (rtl if backend == "rtl" else hls).custom_op[cls]

    def conversion(self):
        """A new instance of the layer's graph conversion, or None."""
        cls = self.convert
        if isinstance(cls, str):
            from bnnforge.finn_flow.ops import conversions

            cls = getattr(conversions, cls)
        return None if cls is None else cls()

    def params_class(self) -> type:
        if not isinstance(self.params, str):
            return self.params
        from bnnforge.finn_flow.ops import params

        return getattr(params, self.params)


LAYERS: list[Layer] = [
    Layer("LabBinarizer", "LabBinarizer_rtl", "LabBinarizer_hls", params="LabParams", int_layer="IntLab",
          cli_name="lab", rules=R.ChannelRules(), convert="InferLabBinarizer", lab_impl="fused"),
    # before DynamicThreshold: a block's dynamic RPReLU feeds the next block's DyBNN binarizer, whose
    # conversion then finds the channels-last stream it reads
    Layer("DynamicRPReLU", "DynamicRPReLU_rtl", params="DynRPReLUParams", int_layer="IntDynamicRPReLU",
          cli_name="dynrprelu", rules=R.ChannelRules(), convert="InferDynamicRPReLU"),
    Layer("DynamicThreshold", "DynamicThreshold_rtl", "DynamicThreshold_hls", params="DynThreshParams",
          int_layer="IntDynamicThreshold", cli_name="dynthresh", rules=R.ChannelRules(),
          convert="InferDynamicThreshold"),
    # FINN ops with bnnforge RTL (FINN has HLS only, or a DSP / float-only RTL)
    Layer("MVAU", "MVAU_lut_rtl", rules=R.MVAURules()),
    Layer("VVAU", "VVAU_lut_rtl", rules=R.VVAURules()),
    Layer("Pool", "Pool_rtl", rules=R.PoolRules()),
    Layer("DuplicateStreams", "DuplicateStreams_rtl", rules=R.PERules("NumChannels")),
    Layer("GlobalAccPool", "GlobalAccPool_rtl", rules=R.PERules("NumChannels"), convert="InferGlobalSumHead"),
    Layer("LabelSelect", "LabelSelect_rtl", rules=R.PERules("Labels")),
    Layer("ElementwiseAdd", "ElementwiseAdd_lut_rtl", rules=R.ElementwiseRules()),
    Layer("ElementwiseMul", "ElementwiseMul_lut_rtl", rules=R.ElementwiseRules()),
    Layer("ElementwiseSub", "ElementwiseSub_lut_rtl", rules=R.ElementwiseRules()),
    # FINN ops whose finn-rtllib RTL is used as FINN generates it
    Layer("ConvolutionInputGenerator", "ConvolutionInputGenerator_rtl", rtl_by="finn", rules=R.SWGRules()),
    Layer("FMPadding", "FMPadding_rtl", rtl_by="finn", rules=R.SIMDRules("NumChannels")),
    Layer("Thresholding", "Thresholding_rtl", rtl_by="finn", rules=R.PERules("NumChannels")),
    Layer("StreamingDataWidthConverter", "StreamingDataWidthConverter_rtl", rtl_by="finn",
          rules=R.WidthConverterRules()),
    Layer("StreamingFIFO", "StreamingFIFO_rtl", rtl_by="finn", rules=R.FIFORules()),
]


def register(layer: Layer) -> None:
    """Add (or replace) the entry of a layer defined outside bnnforge: its classes must be
    registered with FINN (finn.custom_op.fpgadataflow's register_custom_op decorators)."""
    LAYERS[:] = [lay for lay in LAYERS if lay.op != layer.op] + [layer]
    _tables.cache_clear()


def unregister(op: str) -> None:
    """Remove the entry of a layer registered from outside."""
    LAYERS[:] = [lay for lay in LAYERS if lay.op != op]
    _tables.cache_clear()


@functools.cache
def load() -> None:
    """Import bnnforge's op modules: this registers their classes with FINN (and prepares
    FINN for use outside its CLI)."""
    from bnnforge.finn_flow.ops import dynamic_rprelu, dynamic_threshold, lab_binarizer, matrix_rtl, stock_rtl  # noqa: F401


@functools.cache
def _tables():
    by_op = {layer.op: layer for layer in LAYERS}
    class_to_op = {layer.class_name(b): layer.op for layer in LAYERS for b in BACKENDS if layer.class_name(b)}
    ours = frozenset(c for layer in LAYERS for c in (layer.class_name("hls"), layer.class_name("rtl")
                                                      if layer.rtl_by == "bnnforge" else None) if c)
    return by_op, class_to_op, ours


def by_op(op: str) -> Layer | None:
    return _tables()[0].get(op)


def conversions(lab_impl: str) -> list:
    """The graph conversions to bnnforge's layers, in table order, for a build with ``lab_impl``."""
    load()
    out = [layer.conversion() for layer in LAYERS if layer.lab_impl in (None, lab_impl)]
    return [c for c in out if c is not None]


def cli_layers() -> dict[str, Layer]:
    """`bnnforge sim layer NAME`: the custom layers by their command-line name."""
    return {layer.cli_name: layer for layer in LAYERS if layer.cli_name}


def custom_layers() -> list[Layer]:
    return [layer for layer in LAYERS if layer.custom]


def abstract_op(op_type: str) -> str:
    """The abstract op of a node type: LabBinarizer_rtl -> LabBinarizer, MVAU_hls -> MVAU."""
    class_to_op = _tables()[1]
    if op_type in class_to_op:
        return class_to_op[op_type]
    for suffix in ("_hls", "_rtl"):
        if op_type.endswith(suffix):
            return op_type[: -len(suffix)]
    return op_type


def is_hw_node(node) -> bool:
    """Is this ONNX node one of FINN's hardware ops (abstract or a backend class)?"""
    return node.domain.startswith(FINN_DOMAIN)


def layer_of(node) -> Layer | None:
    return by_op(abstract_op(node.op_type)) if is_hw_node(node) else None


def rules_of(node) -> R.Rules:
    """The rules of a node's layer (the defaults for a FINN op bnnforge does not list)."""
    layer = layer_of(node)
    return layer.rules if layer else R.Rules()


def is_custom(node) -> bool:
    layer = layer_of(node)
    return layer is not None and layer.custom


def is_ours(op_type: str) -> bool:
    """Is this backend class bnnforge's own (its RTL core or HLS header), not FINN's?"""
    return op_type in _tables()[2]


def is_plumbing(node) -> bool:
    """A FIFO or width converter the rtl stage inserts: moves data, computes nothing."""
    return rules_of(node).plumbing


def is_fifo(node) -> bool:
    return isinstance(rules_of(node), R.FIFORules)


def is_rtl(node) -> bool:
    return node.domain == f"{FINN_DOMAIN}.rtl"


def no_simulation(node) -> str | None:
    """Why a node of a build cannot be simulated here, or None."""
    if node.domain == f"{FINN_DOMAIN}.hls" and not is_ours(node.op_type):
        return (f"{node.name} is FINN's HLS {abstract_op(node.op_type)}: it has no RTL here and its C simulation "
                "needs finn-hlslib (not installed); rebuild with --backend rtl")
    return None


def exp_cycles(inst) -> int:
    """Cycles per frame of a node's hardware in steady state."""
    return rules_of(inst.onnx_node).exp_cycles(inst)


def cycles_exact(inst) -> bool:
    """Is exp_cycles() what the RTL takes exactly (else an upper bound)?"""
    return rules_of(inst.onnx_node).cycles_exact


def has_window_layout(inst, ind: int, output: bool) -> bool:
    return rules_of(inst.onnx_node).window_layout(inst, ind, output) is not None


def to_stream_order(inst, ind: int, x: np.ndarray, output: bool = False) -> np.ndarray:
    """A tensor of FINN's Python layout (N, ..., K*K*C) on input ``ind`` of the node (output
    ``ind`` with ``output``) in the order the stream carries it."""
    layout = rules_of(inst.onnx_node).window_layout(inst, ind, output)
    if layout is None:
        return x
    kk, c, pe, simd = layout
    lead = x.shape[:-1]
    y = x.reshape(*lead, kk // simd, simd, c // pe, pe)
    y = np.moveaxis(y, -2, -4)  # (channel fold, kernel fold, kernel in beat, channel in beat)
    return y.reshape(*lead, kk * c)


def from_stream_order(inst, ind: int, y: np.ndarray, output: bool = True) -> np.ndarray:
    """The inverse of to_stream_order (by default for output ``ind``)."""
    layout = rules_of(inst.onnx_node).window_layout(inst, ind, output)
    if layout is None:
        return y
    kk, c, pe, simd = layout
    lead = y.shape[:-1]
    x = y.reshape(*lead, c // pe, kk // simd, simd, pe)
    x = np.moveaxis(x, -4, -2)
    return x.reshape(*lead, kk * c)
