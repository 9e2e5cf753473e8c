"""Graph transformations that put bnnforge's custom layers into a FINN graph.

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
"""

from __future__ import annotations

import logging


import numpy as np
from onnx import helper
from qonnx.core.datatype import DataType
from qonnx.custom_op.registry import getCustomOp
from qonnx.transformation.base import Transformation
from qonnx.transformation.infer_datatypes import InferDataTypes
from qonnx.transformation.infer_shapes import InferShapes
from qonnx.util.basic import get_by_name

from bnnforge.finn_flow.layer_params import lab_acc_bits

log = logging.getLogger("bnnforge")

FINN_DOMAIN = "finn.custom_op.fpgadataflow"
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


class InferLabBinarizer(Transformation):
    def apply(self, model):
        graph = model.graph
        for im2col in list(graph.node):
            if im2col.op_type != "Im2Col" or not _attr(im2col, "depthwise", 0):
                continue
            k = _attr(im2col, "kernel_size")
            pads = _attr(im2col, "pad_amount")
            if (
                len(set(k)) != 1
                or k[0] % 2 == 0
                or list(_attr(im2col, "stride")) != [1, 1]
                or list(_attr(im2col, "dilations", [1, 1])) != [1, 1]
                or list(pads) != [k[0] // 2] * 4
            ):
                continue
            k = k[0]
            mm = _single_consumer(model, im2col.output[0], "MatMul")
            if mm is None or model.get_initializer(mm.input[1]) is None:
                continue
            mt = _single_consumer(model, mm.output[0], "MultiThreshold")
            if not _binary_threshold(model, mt):
                continue
            x = im2col.input[0]
            idt = model.get_tensor_datatype(x)
            wdt = model.get_tensor_datatype(mm.input[1])
            if not (idt.is_integer() and idt.signed() and wdt.is_integer()):
                continue
            n, h, w, c = model.get_tensor_shape(x)
            wmat = model.get_initializer(mm.input[1]).reshape(k, k, c, c)
            weights = np.einsum("ijcc->cij", wmat)
            if np.count_nonzero(wmat) != np.count_nonzero(weights):
                continue  # not a depthwise weight matrix (off-diagonal entries)
            thresholds = model.get_initializer(mt.input[1]).reshape(c)
            if not np.array_equal(thresholds, np.round(thresholds)):
                raise ValueError(f"{mt.name}: LAB thresholds must be integers (run RoundAndClipThresholds first)")
            acc_bits = lab_acc_bits(idt.bitwidth(), wdt.bitwidth(), k)
            out_dtype = _attr(mt, "out_dtype").decode()
            name = mt.name
            w_name, t_name = model.make_new_valueinfo_name(), model.make_new_valueinfo_name()
            model.set_initializer(w_name, weights.astype(np.float32))
            model.set_tensor_datatype(w_name, wdt)
            model.set_initializer(t_name, thresholds.astype(np.float32))
            model.set_tensor_datatype(t_name, DataType[f"INT{acc_bits}"])
            node = helper.make_node(
                "LabBinarizer",
                [x, w_name, t_name],
                [mt.output[0]],
                domain=FINN_DOMAIN,
                backend="fpgadataflow",
                name=f"LabBinarizer_{name}",
                NumChannels=c,
                ImgH=h,
                ImgW=w,
                KernelSize=k,
                PE=1,
                inputDataType=idt.name,
                weightDataType=wdt.name,
                accDataType=f"INT{acc_bits}",
                outputDataType=out_dtype,
                layer_name=_layer_name(mt),
            )
            graph.node.insert(list(graph.node).index(im2col), node)
            _remove(model, [im2col, mm, mt])
            return model.transform(InferShapes()).transform(InferDataTypes()), True
        return model, False


class InferDynamicThreshold(Transformation):
    def apply(self, model):
        graph = model.graph
        changed = False
        for sub in list(graph.node):  # every match is rewritten, shapes are inferred once at the end
            if sub.op_type != "Sub":
                continue
            x_nchw, t4 = sub.input
            reshape = model.find_producer(t4)
            mt = _single_consumer(model, sub.output[0], "MultiThreshold")
            if reshape is None or reshape.op_type != "Reshape" or not _binary_threshold(model, mt):
                continue
            if np.any(model.get_initializer(mt.input[1]) != 0):
                continue
            reduce = next((n for n in model.find_consumers(x_nchw) if n.op_type == "ReduceSum"), None)
            if reduce is None or model.get_initializer(reduce.input[1]).tolist() != [2, 3]:
                continue
            mm1 = _single_consumer(model, reduce.output[0], "MatMul")
            if mm1 is None:
                continue
            n, c, h, w = model.get_tensor_shape(x_nchw)
            idt = model.get_tensor_datatype(x_nchw)

            # the feature map in NHWC: reuse the Transpose that made it NCHW, or add one
            prod = model.find_producer(x_nchw)
            new_nodes = []
            if prod is not None and prod.op_type == "Transpose" and list(_attr(prod, "perm")) == [0, 3, 1, 2]:
                x_nhwc = prod.input[0]
            else:
                x_nhwc = model.make_new_valueinfo_name()
                new_nodes.append(helper.make_node("Transpose", [x_nchw], [x_nhwc], perm=[0, 2, 3, 1]))
                model.set_tensor_datatype(x_nhwc, idt)

            # hyper branch input: GlobalAccPool (sum over the frame) instead of ReduceSum
            pooled = model.make_new_valueinfo_name()
            new_nodes.append(
                helper.make_node(
                    "GlobalAccPool",
                    [x_nhwc],
                    [pooled],
                    domain=FINN_DOMAIN,
                    backend="fpgadataflow",
                    name=f"GlobalAccPool_{sub.name}",
                    NumChannels=c,
                    PE=1,
                    inputDataType=idt.name,
                    numInputVectors=[n, h, w],
                )
            )
            mm1.input[0] = pooled
            branch = _chain(model, mm1, reshape)  # MatMul, MT, MatMul, MT
            # the hyper-branch thresholds now see (1,1,1,C) channels-last tensors
            for node in branch:
                if node.op_type == "MultiThreshold":
                    getCustomOp(node).set_nodeattr("data_layout", "NHWC")
            t_nhwc = reshape.input[0]

            # the compare, channels-last; keep the consumers' NHWC view if they had one
            consumers = model.find_consumers(mt.output[0])
            to_nhwc = [m for m in consumers if m.op_type == "Transpose" and list(_attr(m, "perm")) == [0, 2, 3, 1]]
            if consumers and len(to_nhwc) == len(consumers) and len(consumers) == 1:
                y_nhwc = to_nhwc[0].output[0]
                removed_out = to_nhwc
            else:
                y_nhwc = model.make_new_valueinfo_name()
                new_nodes.append(helper.make_node("Transpose", [y_nhwc], [mt.output[0]], perm=[0, 3, 1, 2]))
                removed_out = []
            new_nodes.append(
                helper.make_node(
                    "DynamicThreshold",
                    [x_nhwc, t_nhwc],
                    [y_nhwc],
                    domain=FINN_DOMAIN,
                    backend="fpgadataflow",
                    name=f"DynamicThreshold_{mt.name}",
                    NumChannels=c,
                    ImgH=h,
                    ImgW=w,
                    PE=1,
                    inputDataType=idt.name,
                    thresholdDataType=model.get_tensor_datatype(t_nhwc).name,
                    outputDataType=_attr(mt, "out_dtype").decode(),
                    layer_name=_layer_name(mt),
                )
            )
            at = list(graph.node).index(reduce)
            for i, node in enumerate(new_nodes):
                graph.node.insert(at + i, node)
            dead = [reduce, reshape, sub, mt] + removed_out
            _remove(model, dead)
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


class SpecializeToBnnforge(Transformation):
    """Give every abstract hardware node that bnnforge implements for ``backend`` its
    bnnforge backend class (registry); FINN's SpecializeLayers then handles the rest,
    since it only touches nodes still in the abstract domain."""

    def __init__(self, backend: str):
        super().__init__()
        self.backend = backend

    def apply(self, model):
        from qonnx.transformation.general import GiveUniqueNodeNames

        from bnnforge.finn_flow import registry

        changed = False
        for node in model.graph.node:
            layer = registry.BY_OP.get(node.op_type) if node.domain == FINN_DOMAIN else None
            name = (layer.rtl if self.backend == "rtl" else layer.hls) if layer else None
            if name is None or not registry.is_ours(name):
                continue
            reason = layer.backend_class(self.backend).rtl_unsupported(getCustomOp(node)) if self.backend == "rtl" else None
            if reason:
                log.warning(f"{node.name}: no bnnforge RTL for {reason}; FINN's implementation is used")
                continue
            node.op_type = name
            node.domain = f"{FINN_DOMAIN}.{self.backend}"
            for attr in [a for a in node.attribute if a.name == "preferred_impl_style"]:
                node.attribute.remove(attr)
            if self.backend == "rtl":
                layer.backend_class("rtl").rtl_adapt(getCustomOp(node))
            changed = True
        if changed:
            model = model.transform(GiveUniqueNodeNames())
        return model, False
