"""Graph transformations for residual BNNs (`--arch reactnet`, docs/SPEC.md section 7), run by
the build's streamline step; they change nothing in a graph without residual blocks.

- ``AbsorbBinaryPadIntoIm2Col`` (after FINN's XNOR conversion): a binary conv's input padded
  with -1 (``Pad(b, constant -1)`` on a BIPOLAR tensor) is, in the BINARY encoding the XNOR
  conversion gives its producer, padded with the bit 0: the Pad becomes the Im2Col's own zero
  padding, which FINN lowers to FMPadding. Python execution stays exact at every step: before
  the XNOR conversion the Pad pads the bipolar values with -1, after this transformation the
  Im2Col pads the bits with 0.
- ``ChannelsLastResidual`` (after the conv lowering): the block's fork (x to the binarizer, the
  shortcut or the 2x2 conv) and join (the Add) keep NCHW Transposes between the lowered convs;
  FINN's own reorderings move them past the forks and the Adds and absorb them into the
  MultiThresholds until the graph is channels-last from the stem to the head's ReduceSum.
- ``InferGlobalSumHead`` (convert_to_hw): the head's ``ReduceSum(x, axes [2, 3])`` of the
  channels-last map becomes FINN's GlobalAccPool, whose (1, 1, 1, C) output feeds the classifier.
"""

from __future__ import annotations

import numpy as np
from onnx import helper
from qonnx.core.datatype import DataType
from qonnx.transformation.base import Transformation
from qonnx.transformation.infer_datatypes import InferDataTypes
from qonnx.transformation.infer_shapes import InferShapes
from qonnx.util.basic import get_by_name

from bnnforge.finn_flow import FINN_DOMAIN

NCHW_TO_NHWC, NHWC_TO_NCHW = [0, 2, 3, 1], [0, 3, 1, 2]


def _attr(node, name, default=None):
    a = get_by_name(node.attribute, name)
    return default if a is None else helper.get_attribute_value(a)


def _perm(node) -> list[int] | None:
    return list(_attr(node, "perm")) if node is not None and node.op_type == "Transpose" else None


def has_residual_join(model) -> bool:
    """Does the graph hold an Add of two computed tensors (a residual block's join)?"""
    return any(n.op_type == "Add" and all(model.get_initializer(i) is None for i in n.input) and len(n.input) == 2
               for n in model.graph.node)


def _binary_pad(model, pad) -> list[int] | None:
    """[top, left, bottom, right] when ``pad`` pads only H and W of an NCHW tensor that FINN's
    XNOR conversion turned BINARY with the value -1 (its bipolar value: the bit 0), else None."""
    if pad.op_type != "Pad" or _attr(pad, "mode", b"constant") != b"constant" or len(pad.input) < 3:
        return None
    pads, value = model.get_initializer(pad.input[1]), model.get_initializer(pad.input[2])
    if pads is None or value is None or float(np.asarray(value).reshape(-1)[0]) != -1.0:
        return None
    if model.get_tensor_datatype(pad.input[0]) != DataType["BINARY"]:
        return None
    pads = [int(p) for p in pads]
    if len(pads) != 8 or any(pads[i] for i in (0, 1, 4, 5)):
        return None
    return [pads[2], pads[3], pads[6], pads[7]]


class AbsorbBinaryPadIntoIm2Col(Transformation):
    """Pad(b BINARY, value -1 = the bit 0) -> Transpose(NHWC) -> Im2Col(no padding) ==>
    Transpose -> Im2Col(zero padding of the bits)."""

    def apply(self, model):
        changed = False
        for pad in list(model.graph.node):
            amount = _binary_pad(model, pad)
            consumers = model.find_consumers(pad.output[0]) if amount else []
            if len(consumers) != 1 or _perm(consumers[0]) != NCHW_TO_NHWC:
                continue
            transpose = consumers[0]
            im2cols = model.find_consumers(transpose.output[0])
            if not im2cols or any(n.op_type != "Im2Col" or any(_attr(n, "pad_amount", [0] * 4)) for n in im2cols):
                continue
            from qonnx.custom_op.registry import getCustomOp

            for im2col in im2cols:
                inst = getCustomOp(im2col)
                inst.set_nodeattr("pad_amount", amount)
                inst.set_nodeattr("pad_value", 0)
                h, w = model.get_tensor_shape(transpose.output[0])[1:3]
                inst.set_nodeattr("input_shape", str((1, h - amount[0] - amount[2], w - amount[1] - amount[3],
                                                      model.get_tensor_shape(transpose.output[0])[3])))
            transpose.input[0] = pad.input[0]
            model.graph.node.remove(pad)
            for vi in [v for v in model.graph.value_info if v.name == transpose.output[0]]:
                model.graph.value_info.remove(vi)
            changed = True
        if changed:
            model = model.transform(InferShapes()).transform(InferDataTypes())
        return model, False


class ChannelsLastResidual(Transformation):
    """Move the NCHW Transposes of a residual graph past its forks and Adds and into its
    MultiThresholds (FINN's reorderings, to a fixed point)."""

    MAX_ROUNDS = 64

    def apply(self, model):
        if not has_residual_join(model):
            return model, False
        import finn.transformation.streamline.absorb as absorb
        import finn.transformation.streamline.reorder as reorder
        from qonnx.transformation.infer_data_layouts import InferDataLayouts

        for _ in range(self.MAX_ROUNDS):
            before = [(n.op_type, tuple(n.input), tuple(n.output)) for n in model.graph.node]
            for t in (reorder.MoveTransposePastFork(), absorb.AbsorbTransposeIntoMultiThreshold(),
                      absorb.AbsorbConsecutiveTransposes(), reorder.MoveTransposePastJoinAdd(), InferDataLayouts()):
                model = model.transform(t)
            if before == [(n.op_type, tuple(n.input), tuple(n.output)) for n in model.graph.node]:
                break
        return _merge_twin_transposes(model), False


def _merge_twin_transposes(model):
    """Transposes left on both sides of a fork (the NCHW views of one tensor that a DyBNN
    pattern's ReduceSum and Sub read) become one, so the pattern sees one tensor."""
    seen: dict[tuple, str] = {}
    for node in list(model.graph.node):
        if node.op_type != "Transpose":
            continue
        key = (node.input[0], tuple(_perm(node)))
        if key not in seen or node.output[0] in [o.name for o in model.graph.output]:
            seen.setdefault(key, node.output[0])
            continue
        for consumer in model.find_consumers(node.output[0]):
            for i, name in enumerate(consumer.input):
                if name == node.output[0]:
                    consumer.input[i] = seen[key]
        model.graph.node.remove(node)
    return model


class InferGlobalSumHead(Transformation):
    """ReduceSum(Transpose(x NHWC -> NCHW), axes [2, 3], keepdims 0) ==> GlobalAccPool(x):
    (1, 1, 1, C), which its consumers (the classifier's MatMul) take as they are."""

    def apply(self, model):
        for node in list(model.graph.node):
            if node.op_type != "ReduceSum" or _attr(node, "keepdims", 1) != 0 or len(node.input) < 2:
                continue
            axes = model.get_initializer(node.input[1])
            transpose = model.find_producer(node.input[0])
            if axes is None or sorted(np.asarray(axes).tolist()) != [2, 3] or _perm(transpose) != NHWC_TO_NCHW:
                continue
            x = transpose.input[0]
            n, h, w, c = model.get_tensor_shape(x)
            dtype = model.get_tensor_datatype(x)
            if not dtype.is_integer():
                continue
            pool = helper.make_node("GlobalAccPool", [x], [node.output[0]], domain=FINN_DOMAIN, backend="fpgadataflow",
                                    name=f"GlobalAccPool_{node.name}", NumChannels=c, PE=1, inputDataType=dtype.name,
                                    numInputVectors=[n, h, w])
            model.graph.node.insert(list(model.graph.node).index(node), pool)
            model.graph.node.remove(node)
            if not model.find_consumers(transpose.output[0]):
                model.graph.node.remove(transpose)
            _reshape_downstream(model, node.output[0], (n, 1, 1, c))
            return model.transform(InferShapes()).transform(InferDataTypes()), True
        return model, False


def _reshape_downstream(model, tensor: str, shape) -> None:
    """Give ``tensor`` its new shape and drop the stale shapes after it (graph outputs get theirs
    from shape inference: a (1, C) output of the old graph becomes (1, 1, 1, C))."""
    model.set_tensor_shape(tensor, list(shape))
    stale, frontier = set(), [tensor]
    while frontier:
        for consumer in model.find_consumers(frontier.pop()):
            for out in consumer.output:
                if out not in stale:
                    stale.add(out)
                    frontier.append(out)
    for vi in [v for v in model.graph.value_info if v.name in stale]:
        model.graph.value_info.remove(vi)
    for out in model.graph.output:
        if out.name in stale:
            out.type.tensor_type.ClearField("shape")
