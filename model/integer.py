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

from bnnforge.errors import UserError

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


def monotone_thresholds(f, lo: int, hi: int, levels) -> np.ndarray:
    """Integer thresholds T[c, k] of a non-decreasing per-channel function of an integer z:

        f(z)[c] >= levels[c, k]   <=>   z >= T[c, k]          for z in [lo, hi]

    ``f`` maps a float64 vector of the integers lo..hi to a (C, hi - lo + 1) array. Found by
    evaluating f on every integer of the (small) range, so any monotone f is exact; T is
    ``hi + 1`` where no z qualifies. A decreasing step anywhere raises ValueError.
    """
    values = np.asarray(f(np.arange(lo, hi + 1, dtype=np.float64)), np.float64)
    if (np.diff(values, axis=1) < 0).any():
        c = int(np.argwhere(np.diff(values, axis=1) < 0)[0, 0])
        raise ValueError(f"channel {c}: the function is not monotone non-decreasing, so it is not a threshold stage")
    levels = np.broadcast_to(np.asarray(levels, np.float64), (values.shape[0], np.shape(levels)[-1]))
    below = (values[:, None, :] < levels[:, :, None]).sum(-1)  # how many z fall short of each level
    return (lo + below).astype(np.int64)


def _count_ge(x: torch.Tensor, thresholds: np.ndarray, channel_dim: int = 1) -> torch.Tensor:
    """Per channel, how many thresholds are <= x (thresholds sorted ascending per channel)."""
    thr = torch.as_tensor(thresholds, dtype=x.dtype)
    xc = x.movedim(channel_dim, 0)
    flat = xc.reshape(xc.shape[0], -1)
    counts = torch.searchsorted(thr.contiguous(), flat.contiguous(), right=True)
    return counts.to(x.dtype).reshape(xc.shape).movedim(0, channel_dim)


@dataclasses.dataclass
class IntConv:
    """Convolution with integer (here: bipolar) weights; ``pad`` pixels of ``pad_value`` on
    every border (0: zero padding; -1: the bipolar padding of residual blocks), ``stride``."""

    name: str
    weights: np.ndarray  # (Cout, Cin, k, k) int
    pad: int
    stride: int = 1
    pad_value: int = 0

    def out_range(self, lo, hi):
        """Accumulator range for inputs in [lo, hi]; the padding value must lie in that range."""
        if self.pad and not lo <= self.pad_value <= hi:
            raise ValueError(f"layer {self.name}: padding value {self.pad_value} outside the input range [{lo}, {hi}]")
        w = self.weights.reshape(self.weights.shape[0], -1)
        pos, neg = np.clip(w, 0, None).sum(1), np.clip(w, None, 0).sum(1)
        return int((pos * lo + neg * hi).min()), int((pos * hi + neg * lo).max())

    def out_side(self, side: int) -> int:
        return (side + 2 * self.pad - self.weights.shape[-1]) // self.stride + 1

    def torch_forward(self, x):
        w = torch.as_tensor(self.weights, dtype=x.dtype)
        if self.pad_value:
            x = F.pad(x, (self.pad,) * 4, value=float(self.pad_value))
            return F.conv2d(x, w, stride=self.stride)
        return F.conv2d(x, w, padding=self.pad, stride=self.stride)


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
class IntGlobalSum:
    """Global sum pooling: out[n, c] = sum over the ``pixels`` positions of x[n, c] (FINN's GlobalAccPool)."""

    name: str
    pixels: int  # H * W of the input

    def out_range(self, lo, hi):
        return lo * self.pixels, hi * self.pixels

    def torch_forward(self, x):
        return x.sum(dim=(2, 3))


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
        return _hyper_ranges(self.w1, self.w2, self.h_bits, self.thr2, self.t_bias, lo, hi, hw, "threshold")

    def torch_thresholds(self, x):
        return _hyper_torch(x, self.w1, self.thr1, self.w2, self.thr2, self.t_bias)

    def torch_forward(self, x):
        t = self.torch_thresholds(x)[:, :, None, None]
        return torch.where(x >= t, 1.0, -1.0).to(x.dtype)


def _hyper_ranges(w1, w2, h_bits, thr2, bias, lo, hi, hw, out_key):
    """Value ranges of a hyper branch (sum over hw pixels, MatMul, threshold, MatMul, threshold)."""
    s = (lo * hw, hi * hw)
    a1 = IntMatMul("", w1).out_range(*s)
    h = (0, 2**h_bits - 1)
    a2 = IntMatMul("", w2).out_range(*h)
    return {"sum": s, "acc1": a1, "hidden": h, "acc2": a2, out_key: (bias, bias + thr2.shape[1])}


def _hyper_torch(x, w1, thr1, w2, thr2, bias):
    """The hyper branch on a batch: (N, C) integers bias + thr2((thr1((sum_hw x) @ w1)) @ w2)."""
    s = x.sum(dim=(2, 3))
    h = _count_ge(s @ torch.as_tensor(w1, dtype=x.dtype), thr1)
    return bias + _count_ge(h @ torch.as_tensor(w2, dtype=x.dtype), thr2)


@dataclasses.dataclass
class IntDynamicRPReLU:
    """DyBNN's dynamic RPReLU with requantization (docs/SPEC.md, section 8), integer form.

    Hyper branch over the block sum z: S = sum_hw z; a1 = S @ w1; h = thr1(a1) (unsigned,
    h_bits); a2 = h @ w2; off = off_bias + thr2(a2) (N, C), a shift on z's grid.
    Output: out_bias + #{k : z[n,c,h,w] - off[n,c] >= thresholds[c, k]}.
    """

    name: str
    w1: np.ndarray  # (C, Ch) int
    thr1: np.ndarray  # (Ch, 2**h_bits - 1) int
    w2: np.ndarray  # (Ch, C) int
    thr2: np.ndarray  # (C, n2) int
    off_bias: int
    thresholds: np.ndarray  # (C, n) int, ascending: the static RPReLU + requantization on z - off
    out_dtype: str
    out_bias: int
    weight_bits: int
    h_bits: int

    def ranges(self, lo, hi, hw):
        """Value ranges of S, a1, h, a2, the offsets and z - off for z in [lo, hi] over hw pixels."""
        r = _hyper_ranges(self.w1, self.w2, self.h_bits, self.thr2, self.off_bias, lo, hi, hw, "offset")
        r["diff"] = (lo - r["offset"][1], hi - r["offset"][0])
        return r

    def out_range(self, lo, hi):
        return dtype_range(self.out_dtype)

    def torch_offsets(self, z):
        return _hyper_torch(z, self.w1, self.thr1, self.w2, self.thr2, self.off_bias)

    def torch_forward(self, z):
        return self.out_bias + _count_ge(z - self.torch_offsets(z)[:, :, None, None], self.thresholds)


@dataclasses.dataclass
class IntResidual:
    """A residual block (docs/SPEC.md, section 7), integer form; its input x is the stream
    of signed integers on the block's grid.

        b   = binarizer(x)                                    (+-1)
        y   = conv_act(conv(b))                               (3x3, stride 1 or 2, b padded with -1)
        sc  = x  or  down_act(down(x))                        (identity, or the 2x2 stride-2 binary-weight conv)
        z   = y + sc                                          (both on the block's sum grid)
        out = act(z)                                          (RPReLU + requantization, static or dynamic)

    Tensor names: binarizer.name, conv.name, conv_act.name, [down.name, down_act.name],
    ``add_name``, and act.name == name (the block output).
    """

    name: str
    binarizer: "IntThreshold | IntLab | IntDynamicThreshold"
    conv: IntConv
    conv_act: IntThreshold
    act: "IntThreshold | IntDynamicRPReLU"
    down: IntConv | None = None
    down_act: IntThreshold | None = None

    @property
    def add_name(self) -> str:
        return f"{self.name}_add"

    def add_range(self, lo, hi):
        """Range of z for a block input in [lo, hi]."""
        y_lo, y_hi = self.conv_act.out_range(0, 0)
        s_lo, s_hi = (lo, hi) if self.down is None else self.down_act.out_range(0, 0)
        return y_lo + s_lo, y_hi + s_hi

    def out_range(self, lo, hi):
        return self.act.out_range(*self.add_range(lo, hi))

    def out_side(self, side: int) -> int:
        return self.conv.out_side(side)

    def check_ranges(self, lo, hi, height: int, width: int) -> None:
        """Every inner accumulator of the block stays exact in float32 (raises ValueError)."""
        check_exact(self.binarizer.name, _inner_ranges(self.binarizer, lo, hi, height * width))
        check_exact(self.conv.name, {"accumulator": self.conv.out_range(-1, 1)})
        if self.down is not None:
            check_exact(self.down.name, {"accumulator": self.down.out_range(lo, hi)})
        z = self.add_range(lo, hi)
        check_exact(self.add_name, {"sum": z})
        check_exact(self.act.name, _inner_ranges(self.act, *z, self.out_side(height) * self.out_side(width)))

    def torch_forward(self, x, outputs: dict | None = None):
        """The block's output; ``outputs`` (a dict) receives every inner tensor by name."""
        seen = {} if outputs is None else outputs
        b = seen[self.binarizer.name] = self.binarizer.torch_forward(x)
        c = seen[self.conv.name] = self.conv.torch_forward(b)
        y = seen[self.conv_act.name] = self.conv_act.torch_forward(c)
        sc = x
        if self.down is not None:
            d = seen[self.down.name] = self.down.torch_forward(x)
            sc = seen[self.down_act.name] = self.down_act.torch_forward(d)
        z = seen[self.add_name] = y + sc
        if isinstance(self.act, IntDynamicRPReLU):
            seen[f"{self.act.name}_offsets"] = self.act.torch_offsets(z)
        return self.act.torch_forward(z)


def _inner_ranges(layer, lo, hi, hw) -> dict:
    """Ranges inside a layer that must stay exact (besides its output)."""
    if isinstance(layer, (IntDynamicThreshold, IntDynamicRPReLU)):
        return layer.ranges(lo, hi, hw)
    if isinstance(layer, IntLab):
        return {"acc": layer.acc_range(lo, hi)}
    return {}


IntLayer = Union[
    IntConv, IntMatMul, IntFlatten, IntMaxPool, IntGlobalSum, IntThreshold, IntLab, IntDynamicThreshold, IntResidual
]


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
            if isinstance(layer, IntResidual):
                layer.check_ranges(lo, hi, shape[1], shape[2])
            else:
                check_exact(layer.name, _inner_ranges(layer, lo, hi, shape[1] * shape[2]))
            lo, hi = layer.out_range(lo, hi)
            check_exact(layer.name, {"output": (lo, hi)})
            out.append((lo, hi))
            shape = _next_shape(layer, shape)
        return out

    def torch_forward(self, x: torch.Tensor, keep_all: bool = False):
        """Run the integer network; returns the last output, or {tensor name: output} with keep_all
        (every layer's output, and the inner tensors of residual blocks)."""
        outputs = {}
        for layer in self.layers:
            if isinstance(layer, IntResidual):
                x = layer.torch_forward(x, outputs if keep_all else None)
            else:
                x = layer.torch_forward(x)
            if keep_all:
                outputs[layer.name] = x
        return outputs if keep_all else x


def _next_shape(layer, shape):
    if isinstance(layer, (IntConv, IntResidual)):
        conv = layer if isinstance(layer, IntConv) else layer.conv
        return (conv.weights.shape[0], conv.out_side(shape[1]), conv.out_side(shape[2]))
    if isinstance(layer, IntGlobalSum):
        return (shape[0], 1, 1)
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
            raise UserError(
                f"layer {name}: the {what} range [{lo}, {hi}] exceeds 2**24, where float32 "
                "graph execution stops being exact; use fewer weight/activation bits for this layer"
            )
