"""ReActNet-style residual BNN (docs/SPEC.md, sections 7 and 8): stem, residual blocks, head.

A block's input is a stream of signed ``act_bits`` integers on the block's grid (the scale
of its ``in_quant``). The block binarizes it (RSign, LAB or DyBNN), runs a binary 3x3 conv
(its input padded with -1), BatchNorm, and quantizes the result onto the grid of the
shortcut, so the residual Add is an Add of two integer tensors on one scale:

- identity blocks: the conv branch goes through the block's own ``in_quant`` (the grid of x),
- downsampling blocks (stride 2, more channels): the shortcut is a 2x2 stride-2 conv with
  binary weights of the integer input x (docs/SPEC.md section 7 says why) plus its BatchNorm,
  and both branches go through the block's ``sum_quant``.

RPReLU of the sum plus the quantization onto the next block's grid is one monotone
function of the integer sum: one multi-bit threshold stage. With DyBNN, the RPReLU input
shift gets a per-sample, per-channel integer offset from a hyper function over the sum's
channel means (``DynamicShift``). In eval mode the network runs its integer form.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from brevitas.nn import QuantIdentity

from bnnforge.model.integer import (
    IntConv,
    IntDynamicRPReLU,
    IntegerNet,
    IntGlobalSum,
    IntMatMul,
    IntResidual,
    IntThreshold,
    int_thresholds,
    monotone_thresholds,
)
from bnnforge.model.layers import (
    binary_conv,
    bn_affine,
    hyper_function,
    hyper_hidden_integer,
    int_weights,
    quant_levels,
)
from bnnforge.model.quant import ActQuant, ceil_ste, check_bits, floor_ste, sign_ste, signed_range

BINARY_PAD = -1  # the value a binary conv's bipolar input is padded with (the BINARY stream's 0 bit)


class GridQuant(ActQuant):
    """ActQuant whose scale becomes a learned parameter after 30 training calls (Brevitas: 300).
    While it collects statistics, each call scales by its own tensor's statistics; an identity
    block calls its quantizer on both addends, which share one scale only once it is learned."""

    collect_stats_steps = 30


def act_quant(bits: int) -> QuantIdentity:
    """A signed, zero-point-0 activation quantizer with a learned scale: one integer grid."""
    return QuantIdentity(act_quant=GridQuant, bit_width=bits, return_quant_tensor=True)


def grid_scale(quant: QuantIdentity) -> torch.Tensor:
    return quant.act_quant.scale().reshape(())


@torch.no_grad()
def conv_bn_threshold(name, conv, bn, levels, out_dtype, out_bias, in_range, pad=0, pad_value=0, in_scale=1.0):
    """A binary conv + its BatchNorm + a quantizer (``levels``) as IntConv + IntThreshold;
    channels with a negative BN slope get their weights negated (every threshold is acc >= T).
    ``in_scale``: the real value of one integer step of the conv input."""
    a, b = bn_affine(bn)
    a = a * in_scale
    sign = np.where(a < 0, -1, 1)
    lin = IntConv(name, int_weights(conv) * sign[:, None, None, None], pad, conv.stride[0], pad_value)
    lo, hi = lin.out_range(*in_range)
    thr = int_thresholds(np.abs(a), b, np.asarray(levels)[None, :], lo, hi)
    return lin, IntThreshold(f"{name}_act", thr, out_dtype, out_bias)


class RSign(nn.Module):
    """ReActNet's sign with a learned per-channel shift: +1 iff x >= alpha_c (a tie gives +1).
    alpha is put on the input grid (ceil), so it is one integer threshold per channel."""

    short_name = "sign"

    def __init__(self, channels: int, input_bits: int):
        super().__init__()
        self.input_bits = check_bits("RSign input_bits", input_bits)
        self.shift = nn.Parameter(torch.zeros(channels))

    def _grid_shift(self, scale):
        return ceil_ste(self.shift / scale)

    def binarize(self, v, scale):
        return sign_ste(v - (scale * self._grid_shift(scale)).view(1, -1, 1, 1))

    @torch.no_grad()
    def integer_core(self, name, hw, in_scale):
        qmin, qmax = signed_range(self.input_bits)
        t = self._grid_shift(torch.as_tensor(in_scale).reshape(())).to(torch.int64).numpy()  # as in training
        return IntThreshold(name, np.clip(t, qmin, qmax + 1)[:, None], "BIPOLAR", -1)


class RPReLU(nn.Module):
    """ReActNet's RPReLU per channel: f(v) = u + zeta for u = v - gamma >= 0, slope * u + zeta
    below. The slope is clamped at 0, so f is monotone: one threshold stage in integers.
    ``shift`` (N, C) adds a per-sample input shift to gamma (DyBNN's dynamic RPReLU)."""

    def __init__(self, channels: int, slope: float = 0.25):
        super().__init__()
        self.gamma = nn.Parameter(torch.zeros(channels))
        self.zeta = nn.Parameter(torch.zeros(channels))
        self.slope = nn.Parameter(torch.full((channels,), slope))

    def forward(self, v, shift=None):
        gamma = self.gamma.view(1, -1, 1, 1)
        if shift is not None:
            gamma = gamma + shift[:, :, None, None]
        u = v - gamma
        return torch.where(u >= 0, u, self.slope.clamp(min=0).view(1, -1, 1, 1) * u) + self.zeta.view(1, -1, 1, 1)

    @torch.no_grad()
    def function_of_integers(self, scale: float):
        """f(scale * z) in float64 for a vector of integers z: (C, len(z))."""
        gamma, zeta = self.gamma.double().numpy()[:, None], self.zeta.double().numpy()[:, None]
        slope = self.slope.clamp(min=0).double().numpy()[:, None]

        def f(z):
            u = scale * z[None, :] - gamma
            return np.where(u >= 0, u, slope * u) + zeta

        return f


class DynamicShift(nn.Module):
    """DyBNN's dynamic RPReLU shift: per sample and channel, the hyper function over the channel
    means of the RPReLU input v (on the grid ``scale``) gives gamma_dyn, put on the same grid
    (round half up) and clipped to signed ``offset_bits``: an integer offset o, shift = scale * o."""

    def __init__(self, channels: int, reduction: int, weight_bits: int, hidden_bits: int, offset_bits: int):
        super().__init__()
        self.weight_bits = check_bits("DyBNN weight_bits", weight_bits)
        self.hidden_bits = check_bits("DyBNN hidden_bits", hidden_bits)
        self.offset_bits = offset_bits
        self.hidden = hyper_function(self, channels, channels, reduction, weight_bits, hidden_bits)

    def offsets(self, v, scale):
        """Integer offsets (N, C) (float tensor, straight-through gradients)."""
        h = self.hidden_quant(self.fc1(v.mean(dim=(2, 3)))).value
        lo, hi = signed_range(self.offset_bits)
        return torch.clamp(floor_ste(self.fc2(h) / scale + 0.5), lo, hi)

    @torch.no_grad()
    def integer_core(self, name, scale: float, z_range, hw, thresholds, out_dtype, out_bias) -> IntDynamicRPReLU:
        w1, thr1, w2, s_h = hyper_hidden_integer(self, scale, z_range, hw, self.hidden_bits)
        s2 = self.fc2.quant_weight().scale.reshape(-1).double().numpy()
        b2 = self.fc2.bias.double().numpy()
        lo, hi = signed_range(self.offset_bits)
        # o >= m  <=>  gamma_dyn / scale + 1/2 >= m  <=>  s2*s_h*acc2 + b2 >= scale*(m - 1/2),  m = lo+1 .. hi
        levels = scale * (np.arange(lo + 1, hi + 1) - 0.5)
        a2_lo, a2_hi = IntMatMul("", w2).out_range(0, 2**self.hidden_bits - 1)
        thr2 = int_thresholds(s2 * s_h, b2, levels, a2_lo, a2_hi)
        return IntDynamicRPReLU(name, w1, thr1, w2, thr2, lo, thresholds, out_dtype, out_bias, self.weight_bits,
                                self.hidden_bits)


class ResidualBlock(nn.Module):
    """binarizer -> binary 3x3 conv (stride 1 or 2) -> BN -> quantize -> + shortcut -> RPReLU."""

    def __init__(self, cin: int, cout: int, stride: int, binarizer: nn.Module, act_bits: int,
                 shift: DynamicShift | None = None):
        super().__init__()
        if stride not in (1, 2) or (stride == 2) != (cin != cout):
            raise ValueError(f"a residual block has stride 1 and keeps its channels, or stride 2 and changes them; "
                             f"got stride {stride}, {cin} -> {cout} channels")
        self.act_bits = check_bits("act_bits", act_bits)
        self.in_quant = act_quant(act_bits)  # the grid of the block input x
        self.binarizer = binarizer
        self.conv = binary_conv(cin, cout, 3, 0, stride)  # padded with BINARY_PAD in forward
        self.bn = nn.BatchNorm2d(cout)
        self.down = self.down_bn = self.sum_quant = None
        if stride == 2:
            self.down = binary_conv(cin, cout, 2, 0, 2)  # 2x2, stride 2, reads the integer input x
            self.down_bn = nn.BatchNorm2d(cout)
            self.sum_quant = act_quant(act_bits)  # the grid of both addends
        self.rprelu = RPReLU(cout)
        self.shift = shift

    def forward(self, y):
        qx = self.in_quant(y)
        b = self.binarizer.binarize(qx.value, qx.scale.reshape(()))
        main = self.bn(self.conv(F.pad(b, (1, 1, 1, 1), value=float(BINARY_PAD))))
        if self.down is None:
            main_q, shortcut = self.in_quant(main), qx  # one quantizer: one scale for both addends
        else:
            main_q, shortcut = self.sum_quant(main), self.sum_quant(self.down_bn(self.down(qx.value)))
        z = main_q.value + shortcut.value
        scale = main_q.scale.reshape(())
        shift = None if self.shift is None else scale * self.shift.offsets(z, scale)
        return self.rprelu(z, shift)

    @torch.no_grad()
    def to_integer(self, name: str, in_range, in_hw: tuple[int, int], out_scale: float, out_bits: int) -> IntResidual:
        """Integer form; the block output is quantized onto the grid ``out_scale`` (``out_bits``)."""
        h, w = in_hw
        binarizer = self.binarizer.integer_core(f"{name}_{self.binarizer.short_name}", h * w,
                                                in_scale=grid_scale(self.in_quant))
        s_sum = float(grid_scale(self.in_quant if self.down is None else self.sum_quant))
        levels, bias = quant_levels(s_sum, self.act_bits)
        dtype = f"INT{self.act_bits}"
        conv, conv_act = conv_bn_threshold(f"{name}_conv", self.conv, self.bn, levels, dtype, bias, (-1, 1), 1,
                                           BINARY_PAD)
        block = IntResidual(name, binarizer, conv, conv_act, act=None)
        if self.down is not None:
            block.down, block.down_act = conv_bn_threshold(f"{name}_down", self.down, self.down_bn, levels, dtype,
                                                           bias, in_range, in_scale=float(grid_scale(self.in_quant)))
        z_lo, z_hi = block.add_range(*in_range)
        f = self.rprelu.function_of_integers(s_sum)
        out_levels, out_bias = quant_levels(out_scale, out_bits)
        if self.shift is None:
            block.act = IntThreshold(name, monotone_thresholds(f, z_lo, z_hi, out_levels), f"INT{out_bits}", out_bias)
        else:
            o_lo, o_hi = signed_range(self.shift.offset_bits)
            thr = monotone_thresholds(f, z_lo - o_hi, z_hi - o_lo, out_levels)  # on z - o
            block.act = self.shift.integer_core(name, s_sum, (z_lo, z_hi), conv.out_side(h) * conv.out_side(w), thr,
                                                f"INT{out_bits}", out_bias)
        return block


class ReActNet(nn.Module):
    """stem (binary-weight 3x3 conv on the 8-bit pixels + BN) -> residual blocks -> global
    average pool (an integer sum) -> binary-weight FC on the multi-bit pooled sums."""

    def __init__(self, cfg, stem: nn.Module, stem_bn: nn.Module, blocks: list[ResidualBlock], fc: nn.Module):
        super().__init__()
        self.cfg = cfg
        self.stem, self.stem_bn = stem, stem_bn
        self.blocks = nn.ModuleList(blocks)
        self.out_quant = act_quant(blocks[-1].act_bits)  # the grid of the last block's output
        self.fc = fc
        self.out_scale = nn.Parameter(torch.tensor(1.0 / math.sqrt(fc.in_features)))

    def float_forward(self, x):
        """Fake-quantized float forward (training; in eval mode BN uses running stats)."""
        y = self.stem_bn(self.stem(x))
        for block in self.blocks:
            y = block(y)
        pooled = self.out_quant(y).value.mean(dim=(2, 3))
        return self.fc(pooled) * self.out_scale

    def forward(self, x):
        if self.training:
            return self.float_forward(x)
        return self.to_integer().torch_forward(x)

    @torch.no_grad()
    def to_integer(self) -> IntegerNet:
        cfg = self.cfg
        net = IntegerNet((cfg.in_channels, cfg.in_size, cfg.in_size), "UINT8", [])
        grids = [float(grid_scale(q)) for q in [b.in_quant for b in self.blocks] + [self.out_quant]]
        bits = self.blocks[0].act_bits
        levels, bias = quant_levels(grids[0], bits)
        net.layers += conv_bn_threshold("stem", self.stem, self.stem_bn, levels, f"INT{bits}", bias, (0, 255),
                                        pad=self.stem.padding[0])
        rng, side = signed_range(bits), cfg.in_size
        for i, block in enumerate(self.blocks):
            layer = block.to_integer(f"block{i + 1}", rng, (side, side), grids[i + 1], block.act_bits)
            net.layers.append(layer)
            rng, side = layer.out_range(*rng), layer.out_side(side)
        net.layers += [IntGlobalSum("pool", side * side), IntMatMul("fc_out", int_weights(self.fc).T)]
        net.ranges()  # checks every accumulator stays exact in float32
        return net
