"""Integer golden model: numpy functions for each layer on integer tensors.

This is the reference every other implementation (torch eval, QONNX execution,
FINN Python execution, HLS C simulation, RTL simulation) must match exactly.
It is written independently of the torch integer forward in
``bnnforge.model.integer`` on purpose. All arithmetic is int64. Tensors are NCHW.
"""

from __future__ import annotations

import numpy as np

from bnnforge.model.integer import (
    IntConv,
    IntDynamicThreshold,
    IntegerNet,
    IntFlatten,
    IntLab,
    IntMatMul,
    IntMaxPool,
    IntThreshold,
)


def _int(a) -> np.ndarray:
    a = np.asarray(a)
    if a.dtype.kind == "f":
        if not np.array_equal(a, np.round(a)):
            raise ValueError("golden model inputs must be integers")
    return a.astype(np.int64)


def _bipolar(cond: np.ndarray) -> np.ndarray:
    return np.where(cond, 1, -1).astype(np.int8)


def conv2d(x, weights, pad: int = 0, groups: int = 1) -> np.ndarray:
    """Stride-1 convolution with zero padding. x: (N,C,H,W); weights: (Co, C/groups, k, k)."""
    x, w = _int(x), _int(weights)
    n, c, h, wd = x.shape
    co, cg, k, _ = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    win = np.lib.stride_tricks.sliding_window_view(xp, (k, k), axis=(2, 3))  # N,C,Ho,Wo,k,k
    out = np.empty((n, co, win.shape[2], win.shape[3]), np.int64)
    per_group = co // groups
    for g in range(groups):
        xs = win[:, g * cg : (g + 1) * cg]
        ws = w[g * per_group : (g + 1) * per_group]
        out[:, g * per_group : (g + 1) * per_group] = np.einsum("nchwij,ocij->nohw", xs, ws)
    return out


def multithreshold(x, thresholds, out_bias: int = 0, out_scale: int = 1) -> np.ndarray:
    """out = out_bias + out_scale * #{k : x[n,c,...] >= thresholds[c,k]} (channel axis 1)."""
    x, t = _int(x), _int(thresholds)
    tt = t.reshape((1, t.shape[0]) + (1,) * (x.ndim - 2) + (t.shape[1],))
    return out_bias + out_scale * (x[..., None] >= tt).sum(-1)


def maxpool2d(x, kernel: int) -> np.ndarray:
    x = _int(x)
    n, c, h, w = x.shape
    ho, wo = h // kernel, w // kernel
    return x[:, :, : ho * kernel, : wo * kernel].reshape(n, c, ho, kernel, wo, kernel).max(axis=(3, 5))


def lab_binarizer(x, weights, thresholds) -> np.ndarray:
    """LAB (docs/SPEC.md, section 3): +1 iff sum of the k x k depthwise taps (zero padding) >= threshold[c].

    x: int (N,C,H,W); weights: int (C,k,k); thresholds: int (C,). Returns int8 +-1.
    """
    w = _int(weights)
    k = w.shape[-1]
    acc = conv2d(x, w[:, None], pad=k // 2, groups=w.shape[0])
    return _bipolar(acc >= _int(thresholds)[None, :, None, None])


def dynamic_threshold(x, thresholds) -> np.ndarray:
    """DyBNN compare (docs/SPEC.md, section 4): +1 iff x[n,c,h,w] >= thresholds[n,c] (tie +1).

    x: int (N,C,H,W); thresholds: int (N,C). Returns int8 +-1.
    """
    return _bipolar(_int(x) >= _int(thresholds)[:, :, None, None])


def dybnn_thresholds(x, layer: IntDynamicThreshold) -> np.ndarray:
    """The hyper branch in integer form: per-sample, per-channel thresholds (N, C)."""
    s = _int(x).sum(axis=(2, 3))
    h = multithreshold(s @ _int(layer.w1), layer.thr1)
    return multithreshold(h @ _int(layer.w2), layer.thr2, out_bias=layer.t_bias)


def layer_forward(layer, x) -> np.ndarray:
    if isinstance(layer, IntConv):
        return conv2d(x, layer.weights, layer.pad)
    if isinstance(layer, IntMatMul):
        return _int(x) @ _int(layer.weights)
    if isinstance(layer, IntFlatten):
        return _int(x).reshape(len(x), -1)
    if isinstance(layer, IntMaxPool):
        return maxpool2d(x, layer.kernel)
    if isinstance(layer, IntThreshold):
        return multithreshold(x, layer.thresholds, layer.out_bias, layer.out_scale)
    if isinstance(layer, IntLab):
        return lab_binarizer(x, layer.weights, layer.thresholds)
    if isinstance(layer, IntDynamicThreshold):
        return dynamic_threshold(x, dybnn_thresholds(x, layer))
    raise TypeError(f"golden model has no function for {type(layer).__name__}")


def forward(net: IntegerNet, x) -> dict[str, np.ndarray]:
    """Whole-network integer forward: {layer name: int64 output} in layer order."""
    outputs = {}
    x = _int(x)
    for layer in net.layers:
        x = layer_forward(layer, x).astype(np.int64)
        outputs[layer.name] = x
    return outputs
