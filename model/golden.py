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
    IntDynamicRPReLU,
    IntDynamicThreshold,
    IntegerNet,
    IntFlatten,
    IntGlobalSum,
    IntLab,
    IntMatMul,
    IntMaxPool,
    IntResidual,
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


def conv2d(x, weights, pad: int = 0, groups: int = 1, stride: int = 1, pad_value: int = 0) -> np.ndarray:
    """Convolution, ``pad`` pixels of ``pad_value`` around the map. x: (N,C,H,W); weights: (Co, C/groups, k, k)."""
    x, w = _int(x), _int(weights)
    n, c, h, wd = x.shape
    co, cg, k, _ = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), constant_values=pad_value)
    win = np.lib.stride_tricks.sliding_window_view(xp, (k, k), axis=(2, 3))[:, :, ::stride, ::stride]  # N,C,Ho,Wo,k,k
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


def hyper_branch(x, w1, thr1, w2, thr2, bias: int) -> np.ndarray:
    """DyBNN's hyper function in integer form, (N, C): bias + #thr2((#thr1((sum_hw x) @ w1)) @ w2)."""
    s = _int(x).sum(axis=(2, 3))
    h = multithreshold(s @ _int(w1), thr1)
    return multithreshold(h @ _int(w2), thr2, out_bias=bias)


def dybnn_thresholds(x, layer: IntDynamicThreshold) -> np.ndarray:
    """The hyper branch in integer form: per-sample, per-channel thresholds (N, C)."""
    return hyper_branch(x, layer.w1, layer.thr1, layer.w2, layer.thr2, layer.t_bias)


def rprelu_offsets(z, layer: IntDynamicRPReLU) -> np.ndarray:
    """The dynamic RPReLU's hyper branch: per-sample, per-channel integer shifts of z (N, C)."""
    return hyper_branch(z, layer.w1, layer.thr1, layer.w2, layer.thr2, layer.off_bias)


def dynamic_rprelu(z, offsets, thresholds, out_bias: int) -> np.ndarray:
    """Dynamic RPReLU + requantization (docs/SPEC.md, section 8):
    out[n,c,h,w] = out_bias + #{k : z[n,c,h,w] - offsets[n,c] >= thresholds[c,k]}.

    z: int (N,C,H,W); offsets: int (N,C); thresholds: int (C,K) ascending."""
    return multithreshold(_int(z) - _int(offsets)[:, :, None, None], thresholds, out_bias)


def global_sum(x) -> np.ndarray:
    """Sum of each channel over all pixels (FINN's GlobalAccPool): (N,C,H,W) -> (N,C)."""
    return _int(x).sum(axis=(2, 3))


def residual_block(layer: IntResidual, x) -> dict[str, np.ndarray]:
    """A residual block (docs/SPEC.md, section 7): {tensor name: output}, the block output last."""
    x = _int(x)
    out = {}
    b = out[layer.binarizer.name] = layer_forward(layer.binarizer, x)
    conv = layer.conv
    c = out[conv.name] = conv2d(b, conv.weights, conv.pad, stride=conv.stride, pad_value=conv.pad_value)
    y = out[layer.conv_act.name] = layer_forward(layer.conv_act, c)
    shortcut = x
    if layer.down is not None:
        d = out[layer.down.name] = conv2d(x, layer.down.weights, layer.down.pad, stride=layer.down.stride)
        shortcut = out[layer.down_act.name] = layer_forward(layer.down_act, d)
    z = out[layer.add_name] = y + shortcut
    if isinstance(layer.act, IntDynamicRPReLU):
        out[f"{layer.act.name}_offsets"] = rprelu_offsets(z, layer.act)
    out[layer.act.name] = layer_forward(layer.act, z)
    return out


def layer_forward(layer, x) -> np.ndarray:
    if isinstance(layer, IntConv):
        return conv2d(x, layer.weights, layer.pad, stride=layer.stride, pad_value=layer.pad_value)
    if isinstance(layer, IntMatMul):
        return _int(x) @ _int(layer.weights)
    if isinstance(layer, IntFlatten):
        return _int(x).reshape(len(x), -1)
    if isinstance(layer, IntMaxPool):
        return maxpool2d(x, layer.kernel)
    if isinstance(layer, IntGlobalSum):
        return global_sum(x)
    if isinstance(layer, IntThreshold):
        return multithreshold(x, layer.thresholds, layer.out_bias, layer.out_scale)
    if isinstance(layer, IntLab):
        return lab_binarizer(x, layer.weights, layer.thresholds)
    if isinstance(layer, IntDynamicThreshold):
        return dynamic_threshold(x, dybnn_thresholds(x, layer))
    if isinstance(layer, IntDynamicRPReLU):
        return dynamic_rprelu(x, rprelu_offsets(x, layer), layer.thresholds, layer.out_bias)
    if isinstance(layer, IntResidual):
        return residual_block(layer, x)[layer.name]
    raise TypeError(f"golden model has no function for {type(layer).__name__}")


def forward(net: IntegerNet, x) -> dict[str, np.ndarray]:
    """Whole-network integer forward: {tensor name: int64 output} in layer order (every layer's
    output; residual blocks also give their inner tensors, just before the block output)."""
    outputs = {}
    x = _int(x)
    for layer in net.layers:
        if isinstance(layer, IntResidual):
            inner = residual_block(layer, x)
            outputs.update({k: v.astype(np.int64) for k, v in inner.items()})
            x = outputs[layer.name]
            continue
        x = layer_forward(layer, x).astype(np.int64)
        outputs[layer.name] = x
    return outputs
