"""Tensors <-> stream beats, exactly as FINN packs them (finn.util.data_packing), in the
order each stream carries its elements (registry.to_stream_order), and what the
accelerator's input and output streams carry.
"""

from __future__ import annotations

import math

import numpy as np
from finn.util.data_packing import npy_to_rtlsim_input, rtlsim_output_to_npy

from bnnforge.finn_flow import registry


def stream_inputs(inst) -> list[tuple[int, str]]:
    """(node input index, port name) of the inputs that are streams (not parameters)."""
    return [(i, f"in{i}_V") for i in range(len(inst.onnx_node.input)) if inst.get_instream_width(i) != 0]


def stream_outputs(inst) -> list[tuple[int, str]]:
    return [(o, f"out{o}_V") for o in range(len(inst.onnx_node.output))]


def beats_per_frame(folded_shape) -> int:
    return int(math.prod(folded_shape[:-1]))


def to_beats(inst, ind: int, x: np.ndarray) -> list[int]:
    """N frames of input ``ind`` (N, *normal shape[1:]) as stream beats, FINN's packing."""
    folded = list(inst.get_folded_input_shape(ind))
    x = registry.to_stream_order(inst, ind, np.asarray(x, np.float32))
    beats = []
    for frame in x:
        beats += npy_to_rtlsim_input(frame.reshape(folded), inst.get_input_datatype(ind), inst.get_instream_width(ind))
    return beats


def output_beats(inst, ind: int, y: np.ndarray) -> list[int]:
    """N frames of output ``ind`` (N, *normal shape[1:]) as the beats the node sends."""
    folded = list(inst.get_folded_output_shape(ind))
    y = registry.to_stream_order(inst, ind, np.asarray(y, np.float32), output=True)
    beats = []
    for frame in y:
        beats += npy_to_rtlsim_input(frame.reshape(folded), inst.get_output_datatype(ind), inst.get_outstream_width(ind))
    return beats


def from_beats(inst, ind: int, beats: list[int], frames: int) -> np.ndarray:
    """Output beats of ``frames`` frames -> (N, *normal output shape[1:])."""
    folded = list(inst.get_folded_output_shape(ind))
    normal = tuple(inst.get_normal_output_shape(ind))
    per = beats_per_frame(folded)
    odt = inst.get_output_datatype(ind)
    out = []
    for f in range(frames):
        y = rtlsim_output_to_npy(beats[f * per:(f + 1) * per], None, odt, folded, inst.get_outstream_width(ind),
                                 odt.bitwidth())
        out.append(np.asarray(y, np.float32).reshape(normal))
    return registry.from_stream_order(inst, ind, np.concatenate(out))


def io_nodes(model):
    """(first, last) node of the dataflow graph (the one reading the input, the one writing the output)."""
    from qonnx.custom_op.registry import getCustomOp

    first = next(n for n in model.graph.node if model.graph.input[0].name in n.input)
    last = next(n for n in model.graph.node if model.graph.output[0].name in n.output)
    return getCustomOp(first), getCustomOp(last)


def input_beats(model, x: np.ndarray) -> list[int]:
    """Images in the dataflow graph's input layout -> s_axis_0 beats (FINN's packing)."""
    first, _ = io_nodes(model)
    ind = list(first.onnx_node.input).index(model.graph.input[0].name)
    return to_beats(first, ind, x)


def outputs_from_beats(model, beats: list[int], frames: int) -> np.ndarray:
    _, last = io_nodes(model)
    o = list(last.onnx_node.output).index(model.graph.output[0].name)
    return from_beats(last, o, beats, frames).reshape(frames, -1)


def output_beats_per_frame(model) -> int:
    _, last = io_nodes(model)
    return beats_per_frame(last.get_folded_output_shape(0))


def to_dataflow_layout(x: np.ndarray, shape) -> np.ndarray:
    """NCHW images -> the dataflow graph's input layout (NHWC for image inputs, the parent
    graph's only node before the partition being that Transpose; flat inputs unchanged)."""
    x = np.asarray(x, np.float32)
    if x.ndim == 4 and len(shape) == 4 and tuple(x.shape[1:]) != tuple(shape[1:]):
        x = x.transpose(0, 2, 3, 1)
    return x.reshape(len(x), *shape[1:])


def labels_from_output(y: np.ndarray) -> np.ndarray:
    """The class of each frame from a network's output (N, ...): the index itself when the
    output is one value per frame (a TopK / LabelSelect output), else the argmax of the logits."""
    y = np.asarray(y).reshape(len(y), -1)
    return y[:, 0].astype(np.int64) if y.shape[1] == 1 else y.argmax(1)
