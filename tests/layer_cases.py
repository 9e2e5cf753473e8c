"""Seeded random one-node FINN models of every hardware layer type, with inputs that hit
the extremes of their datatypes and ties, for the per-layer RTL tests.

A case is the abstract FINN node (its Python execution is the reference) and N input
frames; ``specialize`` turns it into the RTL class the registry names for it.
"""

from __future__ import annotations

import copy

import numpy as np
from onnx import TensorProto, helper
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp
from qonnx.util.basic import qonnx_make_model

import bnnforge.finn_flow.ops  # noqa: F401  (prepares FINN, registers bnnforge's classes)
from bnnforge.finn_flow import registry

DOMAIN = "finn.custom_op.fpgadataflow"


def divisors(n):
    return [d for d in range(1, n + 1) if n % d == 0]


def values(rng, dtype: str, shape, extremes: float = 0.15) -> np.ndarray:
    """Random values of a FINN datatype, a share of them at its extremes."""
    dt = DataType[dtype]
    if dtype == "BIPOLAR":
        return rng.choice([-1, 1], size=shape).astype(np.float32)
    lo, hi = int(dt.min()), int(dt.max())
    v = rng.integers(lo, hi + 1, size=shape)
    mask = rng.random(shape) < extremes
    v[mask] = rng.choice([lo, hi], size=int(mask.sum()))
    return v.astype(np.float32)


def one_node(op_type: str, attrs: dict, inputs: list[tuple[str, str]], inits: list[tuple[str, np.ndarray, str]],
             n_outputs: int = 1, out_dtypes: list[str] | None = None) -> ModelWrapper:
    """A model of one abstract FINN node; shapes come from the op itself."""
    names = [n for n, _ in inputs] + [n for n, _, _ in inits]
    outs = [f"out{i}" for i in range(n_outputs)]
    node = helper.make_node(op_type, names, outs, domain=DOMAIN, backend="fpgadataflow", name=f"{op_type}_0", **attrs)
    inst = getCustomOp(node)
    in_vi = [helper.make_tensor_value_info(n, TensorProto.FLOAT, list(inst.get_normal_input_shape(i)))
             for i, (n, _) in enumerate(inputs)]
    out_vi = [helper.make_tensor_value_info(o, TensorProto.FLOAT, list(inst.get_normal_output_shape(i)))
              for i, o in enumerate(outs)]
    model = ModelWrapper(qonnx_make_model(helper.make_graph([node], "case", in_vi, out_vi), producer_name="bnnforge"))
    for n, dt in inputs:
        model.set_tensor_datatype(n, DataType[dt])
    for n, value, dt in inits:
        model.set_initializer(n, np.asarray(value, np.float32))
        model.set_tensor_datatype(n, DataType[dt])
    for i, o in enumerate(outs):
        model.set_tensor_datatype(o, DataType[(out_dtypes or [None] * n_outputs)[i] or
                                              getCustomOp(model.graph.node[0]).get_output_datatype(i).name])
    return model


def reference(model: ModelWrapper, frames: list[np.ndarray]) -> list[np.ndarray]:
    """FINN's Python execution of the node, frame by frame: one array (N, ...) per output."""
    from finn.core.onnx_exec import execute_onnx

    names = [i.name for i in model.graph.input]
    outs = [o.name for o in model.graph.output]
    per = [[] for _ in outs]
    for f in range(len(frames[0])):
        res = execute_onnx(model, {n: x[f:f + 1] for n, x in zip(names, frames)}, return_full_exec_context=True)
        for k, o in enumerate(outs):
            per[k].append(np.asarray(res[o], np.float32))
    return [np.concatenate(p) for p in per]


def specialize(model: ModelWrapper) -> ModelWrapper:
    """The same node as the RTL class the registry names for it."""
    model = copy.deepcopy(model)
    node = model.graph.node[0]
    node.op_type = registry.BY_OP[node.op_type].rtl
    node.domain = DOMAIN + ".rtl"
    return model


# --- cases per op -------------------------------------------------------------------------


def pool(rng, frames=3):
    c = int(rng.choice([2, 3, 4, 6]))
    pe = int(rng.choice(divisors(c)))
    k = int(rng.choice([2, 3]))
    oh, ow = int(rng.integers(1, 4)), int(rng.integers(1, 4))
    dt = str(rng.choice(["INT4", "UINT3", "INT8", "BIPOLAR"]))
    m = one_node("Pool", dict(Channels=c, PE=pe, KernelSize=[k, k], Function="MaxPool", OutImgDims=[oh, ow],
                              InputDataType=dt, OutputDataType=dt), [("in0", dt)], [])
    return m, [values(rng, dt, (frames, oh, ow, k * k * c))]


def duplicate_streams(rng, frames=3):
    c = int(rng.choice([1, 3, 4, 8]))
    pe = int(rng.choice(divisors(c)))
    n = int(rng.choice([2, 3]))
    h, w = int(rng.integers(1, 4)), int(rng.integers(1, 4))
    dt = str(rng.choice(["INT4", "BINARY", "UINT7"]))
    m = one_node("DuplicateStreams", dict(NumChannels=c, PE=pe, NumOutputStreams=n, inputDataType=dt,
                                          numInputVectors=[1, h, w]), [("in0", dt)], [], n_outputs=n)
    return m, [values(rng, dt, (frames, h, w, c))]


def global_acc_pool(rng, frames=3):
    c = int(rng.choice([1, 4, 6]))
    pe = int(rng.choice(divisors(c)))
    h, w = int(rng.integers(1, 5)), int(rng.integers(1, 5))
    dt = str(rng.choice(["INT4", "UINT4", "INT2", "BINARY"]))
    m = one_node("GlobalAccPool", dict(NumChannels=c, PE=pe, inputDataType=dt, numInputVectors=[1, h, w]),
                 [("in0", dt)], [])
    return m, [values(rng, dt, (frames, h, w, c), extremes=0.5)]


def label_select(rng, frames=3):
    labels = int(rng.choice([1, 2, 6, 10, 12]))
    pe = int(rng.choice(divisors(labels)))
    k = int(rng.integers(1, min(labels, 4) + 1))
    dt = str(rng.choice(["INT4", "UINT3", "INT10"]))
    odt = "BINARY" if labels <= 2 else "UINT8"
    m = one_node("LabelSelect", dict(Labels=labels, PE=pe, K=k, inputDataType=dt, outputDataType=odt,
                                     numInputVectors=[1]), [("in0", dt)], [])
    x = values(rng, dt, (frames, labels), extremes=0.6)  # many ties at the extremes
    return m, [x]


def elementwise(rng, op: str, frames=3):
    c = int(rng.choice([1, 4, 6]))
    pe = int(rng.choice(divisors(c)))
    h, w = int(rng.integers(1, 4)), int(rng.integers(1, 4))
    lhs = str(rng.choice(["UINT7", "INT9", "INT4"]))
    rhs = str(rng.choice(["UINT2", "INT7", "INT4"]))
    shape = [[1], [c], [1, 1, 1, c]][int(rng.integers(0, 3))]
    out = {"ElementwiseAdd": "INT12", "ElementwiseMul": "INT18", "ElementwiseSub": "INT12"}[op]
    const = values(rng, rhs, shape)
    m = one_node(op, dict(lhs_dtype=lhs, rhs_dtype=rhs, out_dtype=out, lhs_shape=[1, h, w, c], rhs_shape=shape,
                          out_shape=[1, h, w, c], lhs_style="input", rhs_style="const", PE=pe,
                          mem_mode="internal_embedded"), [("in0", lhs)], [("const", const, rhs)])
    return m, [values(rng, lhs, (frames, h, w, c))]


CASES = {
    "Pool": pool,
    "DuplicateStreams": duplicate_streams,
    "GlobalAccPool": global_acc_pool,
    "LabelSelect": label_select,
    "ElementwiseAdd": lambda rng, frames=3: elementwise(rng, "ElementwiseAdd", frames),
    "ElementwiseMul": lambda rng, frames=3: elementwise(rng, "ElementwiseMul", frames),
    "ElementwiseSub": lambda rng, frames=3: elementwise(rng, "ElementwiseSub", frames),
}
