"""The integer form of a trained network: what the hardware computes.

A trained model is turned into an ``IntegerNet``: a list of integer layers whose
parameters (binary/integer weights, integer thresholds) are the only facts that
reach hardware. Everything downstream reads them from here:

- the model's eval forward (``IntegerNet.torch_forward``, torch ops),
- the golden model (``bnnforge.model.golden``, numpy, an independent implementation),
- the QONNX export (``bnnforge.model.export``).

All activations between layers are integers (stored in float32 tensors, exact
because every accumulator bound is checked to stay below 2**24).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Union

import numpy as np
import torch
import torch.nn.functional as F

FLOAT32_EXACT = 2**24  # integers up to this magnitude are exact in float32


def int_dtype(lo: int, hi: int) -> str:
    """Smallest QONNX integer datatype name holding every integer in [lo, hi]."""
    if lo >= 0:
        return f"UINT{max(1, int(hi).bit_length())}"
    bits = max(int(-lo - 1).bit_length(), int(hi).bit_length()) + 1
    return f"INT{bits}"


def values_dtype(values: np.ndarray) -> str:
    """QONNX datatype of a parameter tensor: BIPOLAR when it holds only -1/+1."""
    values = np.asarray(values)
    if np.isin(values, (-1, 1)).all():
        return "BIPOLAR"
    return int_dtype(int(values.min()), int(values.max()))


def dtype_range(name: str) -> tuple[int, int]:
    if name == "BIPOLAR":
        return -1, 1
    if name.startswith("UINT"):
        return 0, 2 ** int(name[4:]) - 1
    if name.startswith("INT"):
        bits = int(name[3:])
        return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    raise ValueError(f"unknown integer datatype {name!r}")


def int_thresholds(a, b, levels, acc_lo: int, acc_hi: int, strict: bool = False) -> np.ndarray:
    """Integer thresholds T[c, k] for an integer accumulator ``acc`` such that

        a[c] * acc + b[c] >= levels[c, k]   <=>   acc >= T[c, k]     (``>`` when strict)

    ``a`` must be >= 0 (fold negative slopes into the producer's weights first).
    Computed in float64, then clipped to [acc_lo, acc_hi + 1] (a threshold outside
    the accumulator's range means "always" / "never").
    """
    a = np.asarray(a, np.float64).reshape(-1, 1)
    b = np.asarray(b, np.float64).reshape(-1, 1)
    levels = np.broadcast_to(np.asarray(levels, np.float64), (a.shape[0], np.shape(levels)[-1]))
    if (a < 0).any():
        raise ValueError("int_thresholds needs non-negative slopes")
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (levels - b) / a
        t = np.floor(t) + 1 if strict else np.ceil(t)
    # a == 0: the comparison does not depend on acc
    const_true = (b > levels) if strict else (b >= levels)
    t = np.where(a == 0, np.where(const_true, acc_lo, acc_hi + 1), t)
    return np.clip(t, acc_lo, acc_hi + 1).astype(np.int64)


def _count_ge(x: torch.Tensor, thresholds: np.ndarray, channel_dim: int = 1) -> torch.Tensor:
    """Per channel, how many thresholds are <= x (thresholds sorted ascending per channel)."""
    thr = torch.as_tensor(thresholds, dtype=x.dtype)
    xc = x.movedim(channel_dim, 0)
    flat = xc.reshape(xc.shape[0], -1)
    counts = torch.searchsorted(thr.contiguous(), flat.contiguous(), right=True)
    return counts.to(x.dtype).reshape(xc.shape).movedim(0, channel_dim)


@dataclasses.dataclass
class IntConv:
    """Convolution with integer (here: bipolar) weights, zero padding, stride 1."""

    name: str
    weights: np.ndarray  # (Cout, Cin, k, k) int
    pad: int

    def out_range(self, lo, hi):
        w = self.weights.reshape(self.weights.shape[0], -1)
        pos, neg = np.clip(w, 0, None).sum(1), np.clip(w, None, 0).sum(1)
        return int((pos * lo + neg * hi).min()), int((pos * hi + neg * lo).max())

    def torch_forward(self, x):
        return F.conv2d(x, torch.as_tensor(self.weights, dtype=x.dtype), padding=self.pad)


@dataclasses.dataclass
class IntMatMul:
    """Fully connected layer with integer weights: out = x @ weights."""

    name: str
    weights: np.ndarray  # (Cin, Cout) int

    def out_range(self, lo, hi):
        w = self.weights
        pos, neg = np.clip(w, 0, None).sum(0), np.clip(w, None, 0).sum(0)
        return int((pos * lo + neg * hi).min()), int((pos * hi + neg * lo).max())

    def torch_forward(self, x):
        return x @ torch.as_tensor(self.weights, dtype=x.dtype)


@dataclasses.dataclass
class IntFlatten:
    name: str

    def out_range(self, lo, hi):
        return lo, hi

    def torch_forward(self, x):
        return x.reshape(x.shape[0], -1)


@dataclasses.dataclass
class IntMaxPool:
    name: str
    kernel: int

    def out_range(self, lo, hi):
        return lo, hi

    def torch_forward(self, x):
        return F.max_pool2d(x, self.kernel)


@dataclasses.dataclass
class IntThreshold:
    """out = out_bias + out_scale * #{k : x >= thresholds[c, k]} (QONNX MultiThreshold).

    BIPOLAR outputs use one threshold, out_scale 2 and out_bias -1.
    """

    name: str
    thresholds: np.ndarray  # (C, n) int, ascending per channel
    out_dtype: str
    out_bias: int

    @property
    def out_scale(self) -> int:
        return 2 if self.out_dtype == "BIPOLAR" else 1

    def out_range(self, lo, hi):
        return dtype_range(self.out_dtype)

    def torch_forward(self, x):
        return self.out_bias + self.out_scale * _count_ge(x, self.thresholds)


@dataclasses.dataclass
class IntLab:
    """LAB binarizer core (docs/SPEC.md, section 3): depthwise k x k integer MAC, zero padding,
    +1 iff acc >= thresholds[c]."""

    name: str
    weights: np.ndarray  # (C, k, k) int
    thresholds: np.ndarray  # (C,) int
    input_bits: int
    weight_bits: int

    def acc_range(self, lo, hi):
        w = self.weights.reshape(self.weights.shape[0], -1)
        pos, neg = np.clip(w, 0, None).sum(1), np.clip(w, None, 0).sum(1)
        # zero padding can only shrink |acc|, so the unpadded bound holds
        return int(min(0, (pos * lo + neg * hi).min())), int(max(0, (pos * hi + neg * lo).max()))

    def out_range(self, lo, hi):
        return -1, 1

    def torch_forward(self, x):
        k = self.weights.shape[-1]
        w = torch.as_tensor(self.weights, dtype=x.dtype).unsqueeze(1)
        acc = F.conv2d(x, w, padding=k // 2, groups=x.shape[1])
        thr = torch.as_tensor(self.thresholds, dtype=x.dtype).view(1, -1, 1, 1)
        return torch.where(acc >= thr, 1.0, -1.0).to(x.dtype)


@dataclasses.dataclass
class IntDynamicThreshold:
    """DyBNN layer (docs/SPEC.md, section 4), integer form.

    Hyper branch: S = sum_hw x (N, C); a1 = S @ w1; h = thr1(a1) (unsigned, h_bits);
    a2 = h @ w2; T = t_bias + thr2(a2) (N, C).  Output: +1 iff x[n,c,h,w] >= T[n,c].
    """

    name: str
    w1: np.ndarray  # (C, Ch) int
    thr1: np.ndarray  # (Ch, 2**h_bits - 1) int
    w2: np.ndarray  # (Ch, C) int
    thr2: np.ndarray  # (C, n2) int
    t_bias: int
    input_bits: int
    weight_bits: int
    h_bits: int

    def out_range(self, lo, hi):
        return -1, 1

    def ranges(self, lo, hi, hw):
        """Value ranges of S, a1, h, a2, T for input range [lo, hi] over hw pixels."""
        s = (lo * hw, hi * hw)
        a1 = IntMatMul("", self.w1).out_range(*s)
        h = (0, 2**self.h_bits - 1)
        a2 = IntMatMul("", self.w2).out_range(*h)
        t = (self.t_bias, self.t_bias + self.thr2.shape[1])
        return {"sum": s, "acc1": a1, "hidden": h, "acc2": a2, "threshold": t}

    def torch_thresholds(self, x):
        s = x.sum(dim=(2, 3))
        a1 = s @ torch.as_tensor(self.w1, dtype=x.dtype)
        h = _count_ge(a1, self.thr1)
        a2 = h @ torch.as_tensor(self.w2, dtype=x.dtype)
        return self.t_bias + _count_ge(a2, self.thr2)

    def torch_forward(self, x):
        t = self.torch_thresholds(x)[:, :, None, None]
        return torch.where(x >= t, 1.0, -1.0).to(x.dtype)


IntLayer = Union[IntConv, IntMatMul, IntFlatten, IntMaxPool, IntThreshold, IntLab, IntDynamicThreshold]


@dataclasses.dataclass
class IntegerNet:
    """A network in integer form. ``input_shape`` is (C, H, W); the input is UINT8."""

    input_shape: tuple[int, int, int]
    input_dtype: str
    layers: list[IntLayer]

    def ranges(self) -> list[tuple[int, int]]:
        """Output value range of every layer (propagated from the input datatype)."""
        lo, hi = dtype_range(self.input_dtype)
        shape = self.input_shape
        out = []
        for layer in self.layers:
            if isinstance(layer, IntDynamicThreshold):
                check_exact(layer.name, layer.ranges(lo, hi, shape[1] * shape[2]))
            elif isinstance(layer, IntLab):
                check_exact(layer.name, {"acc": layer.acc_range(lo, hi)})
            lo, hi = layer.out_range(lo, hi)
            check_exact(layer.name, {"output": (lo, hi)})
            out.append((lo, hi))
            shape = _next_shape(layer, shape)
        return out

    def torch_forward(self, x: torch.Tensor, keep_all: bool = False):
        """Run the integer network; returns the last output, or {layer name: output} with keep_all."""
        outputs = {}
        for layer in self.layers:
            x = layer.torch_forward(x)
            if keep_all:
                outputs[layer.name] = x
        return outputs if keep_all else x


def _next_shape(layer, shape):
    if isinstance(layer, IntConv):
        k, p = layer.weights.shape[-1], layer.pad
        return (layer.weights.shape[0], shape[1] + 2 * p - k + 1, shape[2] + 2 * p - k + 1)
    if isinstance(layer, IntMaxPool):
        return (shape[0], shape[1] // layer.kernel, shape[2] // layer.kernel)
    if isinstance(layer, IntFlatten):
        return (math.prod(shape), 1, 1)
    if isinstance(layer, IntMatMul):
        return (layer.weights.shape[1], 1, 1)
    return shape


def check_exact(name: str, ranges: dict[str, tuple[int, int]]) -> None:
    for what, (lo, hi) in ranges.items():
        if max(abs(lo), abs(hi)) >= FLOAT32_EXACT:
            raise ValueError(
                f"layer {name}: the {what} range [{lo}, {hi}] exceeds 2**24, where float32 "
                "graph execution stops being exact; use fewer weight/activation bits for this layer"
            )
