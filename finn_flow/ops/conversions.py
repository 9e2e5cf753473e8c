"""Graph conversions that put bnnforge's own layers into a FINN graph (the registry names
each layer's conversion; the build's convert_to_hw step runs them before FINN's Infer*).

They run on the streamlined, channels-last graph (after FINN's LowerConvsToMatMul,
XNOR conversion and Streamline), beside FINN's own Infer* transformations:

- ``InferLabBinarizer``: Im2Col(depthwise k x k, stride 1, "same" zero padding) ->
  MatMul (depthwise weights) -> single-threshold binary MultiThreshold
  ==> LabBinarizer.  (Without it, FINN maps the same pattern to
  FMPadding + ConvolutionInputGenerator + VVAU: the `--lab-impl stock` baseline.)
- ``InferDynamicThreshold``: the exported DyBNN pattern
  ReduceSum(x) -> MatMul -> MultiThreshold -> MatMul -> MultiThreshold (T) -> Reshape
  and Sub(x, T) -> MultiThreshold(0)
  ==> GlobalAccPool(x) -> [MatMul+MT, MatMul+MT: MVAUs later] -> DynamicThreshold(x, T);
  FINN's InferDuplicateStreamsLayer then forks x.
- ``InferDynamicRPReLU``: the exported dynamic RPReLU pattern (docs/SPEC.md section 8), the
  DyBNN pattern with a multi-bit MultiThreshold: ReduceSum(z) -> MatMul -> MultiThreshold ->
  MatMul -> MultiThreshold (offsets o) -> Reshape and Sub(z, o) -> MultiThreshold(T)
  ==> GlobalAccPool(z) -> [MatMul+MT, MatMul+MT: MVAUs later] -> DynamicRPReLU(z, o; T).
- ``InferGlobalSumHead`` (ops/residual.py): a residual network's global sum -> GlobalAccPool.
"""

from __future__ import annotations

import numpy as np
from onnx import helper
from qonnx.core.datatype import DataType
from qonnx.custom_op.registry import getCustomOp
from qonnx.transformation.base import Transformation
from qonnx.transformation.infer_datatypes import InferDataTypes
from qonnx.transformation.infer_shapes import InferShapes
from qonnx.util.basic import get_by_name

from bnnforge.finn_flow import FINN_DOMAIN
from bnnforge.finn_flow.ops.params import DynRPReLUParams, DynThreshParams, LabParams, ParamError
from bnnforge.finn_flow.ops.residual import InferGlobalSumHead  # noqa: F401  (the residual head's pool)

BINARY_OUTPUTS = ("BINARY", "BIPOLAR")


def _attr(node, name, default=None):
    a = get_by_name(node.attribute, name)
    return default if a is None else helper.get_attribute_value(a)


def _single_consumer(model, tensor, op_type):
    consumers = model.find_consumers(tensor)
    if len(consumers) == 1 and consumers[0].op_type == op_type:
        return consumers[0]
    return None


def _binary_threshold(model, node):
    """Is ``node`` a MultiThreshold with one threshold per channel and a binary output?"""
    if node is None or node.op_type != "MultiThreshold":
        return False
    t = model.get_initializer(node.input[1])
    out_dtype = _attr(node, "out_dtype", b"").decode()
    return t is not None and t.shape[1] == 1 and out_dtype in BINARY_OUTPUTS


def _layer_name(node) -> str:
    """The bnnforge IntegerNet layer a (MultiThreshold) node implements, from the export's tag."""
    from bnnforge.model.export import LAYER_TAG

    return node.doc_string[len(LAYER_TAG):] if node.doc_string.startswith(LAYER_TAG) else ""


def _remove(model, nodes):
    for n in nodes:
        model.graph.node.remove(n)


def _lab_window(model, im2col):
    """(k, MatMul, MultiThreshold) when ``im2col`` starts the exported LAB pattern, else None:
    a square odd depthwise window, stride 1, "same" zero padding, a constant MatMul and a
    binary single-threshold MultiThreshold."""
    if im2col.op_type != "Im2Col" or not _attr(im2col, "depthwise", 0):
        return None
    k = _attr(im2col, "kernel_size")
    if (len(set(k)) != 1 or k[0] % 2 == 0 or list(_attr(im2col, "stride")) != [1, 1]
            or list(_attr(im2col, "dilations", [1, 1])) != [1, 1]
            or list(_attr(im2col, "pad_amount")) != [k[0] // 2] * 4):
        return None
    mm = _single_consumer(model, im2col.output[0], "MatMul")
    if mm is None or model.get_initializer(mm.input[1]) is None:
        return None
    mt = _single_consumer(model, mm.output[0], "MultiThreshold")
    return (k[0], mm, mt) if _binary_threshold(model, mt) else None


class InferLabBinarizer(Transformation):
    """Im2Col(depthwise k x k, stride 1, same padding) -> MatMul -> binary MultiThreshold
    ==> LabBinarizer (one match per pass)."""

    def apply(self, model):
        for im2col in list(model.graph.node):
            match = _lab_window(model, im2col)
            if match is None:
                continue
            k, mm, mt = match
            x = im2col.input[0]
            idt, wdt = model.get_tensor_datatype(x), model.get_tensor_datatype(mm.input[1])
            if not (idt.is_integer() and idt.signed() and wdt.is_integer() and wdt.signed()):
                continue
            n, h, w, c = model.get_tensor_shape(x)
            wmat = model.get_initializer(mm.input[1]).reshape(k, k, c, c)
            weights = np.einsum("ijcc->cij", wmat)
            if np.count_nonzero(wmat) != np.count_nonzero(weights):
                continue  # not a depthwise weight matrix (off-diagonal entries)
            thresholds = model.get_initializer(mt.input[1]).reshape(c)
            if not np.array_equal(thresholds, np.round(thresholds)):
                raise ParamError(f"{mt.name}: LAB thresholds must be integers (run RoundAndClipThresholds first)")
            p = LabParams(weights, thresholds, h, w, idt.bitwidth(), wdt.bitwidth(), pe=1)
            w_name, t_name = model.make_new_valueinfo_name(), model.make_new_valueinfo_name()
            model.set_initializer(w_name, p.weights.astype(np.float32))
            model.set_tensor_datatype(w_name, wdt)
            model.set_initializer(t_name, p.thresholds.astype(np.float32))
            model.set_tensor_datatype(t_name, DataType[f"INT{p.acc_bits}"])
            node = helper.make_node("LabBinarizer", [x, w_name, t_name], [mt.output[0]], domain=FINN_DOMAIN,
                                    backend="fpgadataflow", name=f"LabBinarizer_{mt.name}",
                                    **p.node_attributes(_attr(mt, "out_dtype").decode(), _layer_name(mt)))
            model.graph.node.insert(list(model.graph.node).index(im2col), node)
            _remove(model, [im2col, mm, mt])
            return model.transform(InferShapes()).transform(InferDataTypes()), True
        return model, False


def _dybnn_match(model, sub):
    """(x NCHW, Reshape, MultiThreshold, ReduceSum, first MatMul) when ``sub`` is the Sub of
    the exported DyBNN pattern, else None."""
    if sub.op_type != "Sub":
        return None
    x_nchw, t4 = sub.input
    reshape = model.find_producer(t4)
    mt = _single_consumer(model, sub.output[0], "MultiThreshold")
    if reshape is None or reshape.op_type != "Reshape" or not _binary_threshold(model, mt):
        return None
    if np.any(model.get_initializer(mt.input[1]) != 0):
        return None
    reduce = next((n for n in model.find_consumers(x_nchw) if n.op_type == "ReduceSum"), None)
    if reduce is None or model.get_initializer(reduce.input[1]).tolist() != [2, 3]:
        return None
    mm1 = _single_consumer(model, reduce.output[0], "MatMul")
    return None if mm1 is None else (x_nchw, reshape, mt, reduce, mm1)


def _signed_bits(model, tensor: str, what: str) -> int:
    dt = model.get_tensor_datatype(tensor)
    if not (dt.is_integer() and dt.signed() and dt.name.startswith("INT")):
        raise ParamError(f"{tensor}: the DynamicThreshold {what} must be a signed integer (INTn), got {dt.name}")
    return dt.bitwidth()


def _nhwc_view(model, x_nchw, new_nodes: list) -> str:
    """The feature map in NHWC: the input of the Transpose that made it NCHW, or a new Transpose."""
    prod = model.find_producer(x_nchw)
    if prod is not None and prod.op_type == "Transpose" and list(_attr(prod, "perm")) == [0, 3, 1, 2]:
        return prod.input[0]
    x_nhwc = model.make_new_valueinfo_name()
    new_nodes.append(helper.make_node("Transpose", [x_nchw], [x_nhwc], perm=[0, 2, 3, 1]))
    model.set_tensor_datatype(x_nhwc, model.get_tensor_datatype(x_nchw))
    return x_nhwc


def _nhwc_output(model, mt, new_nodes: list) -> tuple[str, list]:
    """(the compare's NHWC output tensor, Transposes it replaces): the consumers' NHWC view
    when the only consumer is a Transpose to NHWC, else a new Transpose back to NCHW."""
    consumers = model.find_consumers(mt.output[0])
    if len(consumers) == 1 and consumers[0].op_type == "Transpose" and list(_attr(consumers[0], "perm")) == [0, 2, 3, 1]:
        return consumers[0].output[0], consumers
    y_nhwc = model.make_new_valueinfo_name()
    new_nodes.append(helper.make_node("Transpose", [y_nhwc], [mt.output[0]], perm=[0, 3, 1, 2]))
    return y_nhwc, []


class InferDynamicThreshold(Transformation):
    """The exported DyBNN pattern ReduceSum(x) -> MatMul -> MultiThreshold -> MatMul ->
    MultiThreshold (T) -> Reshape and Sub(x, T) -> MultiThreshold(0) ==> GlobalAccPool(x) ->
    [MatMul+MT, MatMul+MT: MVAUs later] -> DynamicThreshold(x, T); FINN's
    InferDuplicateStreamsLayer then forks x. Every match is rewritten in one pass."""

    def apply(self, model):
        graph = model.graph
        changed = False
        for sub in list(graph.node):
            match = _dybnn_match(model, sub)
            if match is None:
                continue
            x_nchw, reshape, mt, reduce, mm1 = match
            n, c, h, w = model.get_tensor_shape(x_nchw)
            prod = model.find_producer(x_nchw)
            new_nodes = []
            x_nhwc = _nhwc_view(model, x_nchw, new_nodes)
            # hyper branch input: GlobalAccPool (sum over the frame) instead of ReduceSum
            pooled = model.make_new_valueinfo_name()
            new_nodes.append(helper.make_node(
                "GlobalAccPool", [x_nhwc], [pooled], domain=FINN_DOMAIN, backend="fpgadataflow",
                name=f"GlobalAccPool_{sub.name}", NumChannels=c, PE=1,
                inputDataType=model.get_tensor_datatype(x_nchw).name, numInputVectors=[n, h, w]))
            mm1.input[0] = pooled
            branch = _chain(model, mm1, reshape)  # MatMul, MT, MatMul, MT
            for node in branch:  # the hyper-branch thresholds now see (1,1,1,C) channels-last tensors
                if node.op_type == "MultiThreshold":
                    getCustomOp(node).set_nodeattr("data_layout", "NHWC")
            t_nhwc = reshape.input[0]
            y_nhwc, removed_out = _nhwc_output(model, mt, new_nodes)
            p = DynThreshParams(c, h, w, _signed_bits(model, x_nchw, "input"),
                                _signed_bits(model, t_nhwc, "threshold"), pe=1)
            new_nodes.append(helper.make_node(
                "DynamicThreshold", [x_nhwc, t_nhwc], [y_nhwc], domain=FINN_DOMAIN, backend="fpgadataflow",
                name=f"DynamicThreshold_{mt.name}", **p.node_attributes(_attr(mt, "out_dtype").decode(),
                                                                        _layer_name(mt))))
            at = list(graph.node).index(reduce)
            for i, node in enumerate(new_nodes):
                graph.node.insert(at + i, node)
            _remove(model, [reduce, reshape, sub, mt] + removed_out)
            if prod is not None and prod.op_type == "Transpose" and not model.find_consumers(x_nchw):
                _remove(model, [prod])
            # shapes of the rewired hyper branch: drop stale value_info, re-infer
            stale = {pooled} | {o for node in branch for o in node.output}
            for vi in [v for v in graph.value_info if v.name in stale]:
                graph.value_info.remove(vi)
            changed = True
        if changed:
            model = _topological(model.transform(InferShapes()).transform(InferDataTypes()))
        return model, False


def _multi_threshold(model, node) -> bool:
    """Is ``node`` a MultiThreshold with a multi-bit integer output (several thresholds per channel)?"""
    if node is None or node.op_type != "MultiThreshold":
        return False
    t = model.get_initializer(node.input[1])
    out_dtype = _attr(node, "out_dtype", b"").decode()
    return t is not None and out_dtype not in BINARY_OUTPUTS and DataType[out_dtype].is_integer() and _attr(
        node, "out_scale", 1.0) == 1.0


def _dynamic_rprelu_match(model, sub):
    """(z NCHW, Reshape, MultiThreshold, ReduceSum, first MatMul) when ``sub`` is the Sub of the
    exported dynamic RPReLU pattern (docs/SPEC.md section 8), else None."""
    if sub.op_type != "Sub":
        return None
    z_nchw, o4 = sub.input
    reshape = model.find_producer(o4)
    mt = _single_consumer(model, sub.output[0], "MultiThreshold")
    if reshape is None or reshape.op_type != "Reshape" or not _multi_threshold(model, mt):
        return None
    if _attr(mt, "data_layout", b"NCHW").decode() != "NCHW":
        return None
    reduce = next((n for n in model.find_consumers(z_nchw) if n.op_type == "ReduceSum"), None)
    if reduce is None or model.get_initializer(reduce.input[1]).tolist() != [2, 3]:
        return None
    mm1 = _single_consumer(model, reduce.output[0], "MatMul")
    return None if mm1 is None else (z_nchw, reshape, mt, reduce, mm1)


class InferDynamicRPReLU(Transformation):
    """The exported dynamic RPReLU pattern ReduceSum(z) -> MatMul -> MultiThreshold -> MatMul ->
    MultiThreshold (offsets o) -> Reshape and Sub(z, o) -> MultiThreshold(T, multi-bit)
    ==> GlobalAccPool(z) -> [MatMul+MT, MatMul+MT: MVAUs later] -> DynamicRPReLU(z, o; T);
    FINN's InferDuplicateStreamsLayer then forks z. Every match is rewritten in one pass."""

    def apply(self, model):
        changed = False
        for sub in list(model.graph.node):
            match = _dynamic_rprelu_match(model, sub)
            if match is not None:
                _rewrite_dynamic_rprelu(model, sub, *match)
                changed = True
        if changed:
            model = _topological(model.transform(InferShapes()).transform(InferDataTypes()))
        return model, False


def _rewrite_dynamic_rprelu(model, sub, z_nchw, reshape, mt, reduce, mm1) -> None:
    graph = model.graph
    n, c, h, w = model.get_tensor_shape(z_nchw)
    prod = model.find_producer(z_nchw)
    new_nodes = []
    z_nhwc = _nhwc_view(model, z_nchw, new_nodes)
    pooled = model.make_new_valueinfo_name()
    new_nodes.append(helper.make_node(
        "GlobalAccPool", [z_nhwc], [pooled], domain=FINN_DOMAIN, backend="fpgadataflow",
        name=f"GlobalAccPool_{sub.name}", NumChannels=c, PE=1, inputDataType=model.get_tensor_datatype(z_nchw).name,
        numInputVectors=[n, h, w]))
    mm1.input[0] = pooled
    branch = _chain(model, mm1, reshape)  # MatMul, MT, MatMul, MT
    for node in branch:  # the hyper-branch thresholds now see (1,1,1,C) channels-last tensors
        if node.op_type == "MultiThreshold":
            getCustomOp(node).set_nodeattr("data_layout", "NHWC")
    o_nhwc = reshape.input[0]
    y_nhwc, removed_out = _nhwc_output(model, mt, new_nodes)
    thresholds = model.get_initializer(mt.input[1])
    if not np.array_equal(thresholds, np.round(thresholds)):
        raise ParamError(f"{mt.name}: dynamic RPReLU thresholds must be integers")
    out_dtype = DataType[_attr(mt, "out_dtype").decode()]
    p = DynRPReLUParams(thresholds, h, w, int(_attr(mt, "out_bias", 0.0)), out_dtype.bitwidth(),
                        _signed_bits(model, z_nchw, "input"), _signed_bits(model, o_nhwc, "offset"), 1,
                        out_dtype.signed())
    t_name = model.make_new_valueinfo_name()
    model.set_initializer(t_name, p.thresholds.astype(np.float32))
    model.set_tensor_datatype(t_name, DataType[f"INT{p.threshold_bits}"])
    new_nodes.append(helper.make_node(
        "DynamicRPReLU", [z_nhwc, o_nhwc, t_name], [y_nhwc], domain=FINN_DOMAIN, backend="fpgadataflow",
        name=f"DynamicRPReLU_{mt.name}", **p.node_attributes(_layer_name(mt))))
    at = list(graph.node).index(reduce)
    for i, node in enumerate(new_nodes):
        graph.node.insert(at + i, node)
    _remove(model, [reduce, reshape, sub, mt] + removed_out)
    if prod is not None and prod.op_type == "Transpose" and not model.find_consumers(z_nchw):
        _remove(model, [prod])
    stale = {pooled} | {o for node in branch for o in node.output}
    for vi in [v for v in graph.value_info if v.name in stale]:
        graph.value_info.remove(vi)


def _chain(model, start, stop):
    """Nodes from ``start`` following single consumers until ``stop`` (exclusive) or a fork."""
    node, out = start, []
    while node is not None and node is not stop:
        out.append(node)
        consumers = model.find_consumers(node.output[0])
        node = consumers[0] if len(consumers) == 1 else None
    return out


def _topological(model):
    from qonnx.transformation.general import SortGraph

    return model.transform(SortGraph())
