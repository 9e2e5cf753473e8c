"""Binarizers (sign, LAB, DyBNN) and binary layers, trained with Brevitas.

Each binarizer has a float training forward (fake-quantized, surrogate gradients)
and an integer form (``input_levels`` + ``integer_core``) from which the eval
forward, the golden model and the export are built (see bnnforge.model.integer).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
from brevitas.nn import QuantConv2d, QuantIdentity, QuantLinear, QuantReLU

from bnnforge.model.integer import IntDynamicThreshold, IntLab, IntMatMul, int_thresholds
from bnnforge.model.quant import (
    ActQuant,
    BinaryWeightQuant,
    LabSign,
    WeightQuant,
    ceil_ste,
    check_bits,
    round_ste,
    sign_ste,
    signed_range,
)


def binary_conv(cin: int, cout: int, kernel: int = 3, padding: int = 0) -> QuantConv2d:
    layer = QuantConv2d(cin, cout, kernel, padding=padding, bias=False, weight_quant=BinaryWeightQuant)
    layer.is_binary = True  # latent weights are clipped to [-1, 1] during training
    return layer


def binary_linear(cin: int, cout: int) -> QuantLinear:
    layer = QuantLinear(cin, cout, bias=False, weight_quant=BinaryWeightQuant)
    layer.is_binary = True
    return layer


def int_weights(layer) -> np.ndarray:
    """Integer weights of a Brevitas layer (binary layers give -1/+1)."""
    qw = layer.quant_weight()
    return (qw.value / qw.scale).round().detach().to(torch.int64).numpy()


def quant_levels(scale: float, bits: int) -> tuple[np.ndarray, int]:
    """Levels L_k of y such that round(y / scale) >= k  <=>  y >= L_k (signed, zero-point 0).

    Returns (levels, out_bias): q = out_bias + #{k : y >= L_k}.
    """
    qmin, qmax = signed_range(bits)
    ks = np.arange(qmin + 1, qmax + 1, dtype=np.float64)
    return scale * (ks - 0.5), qmin


class SignBinarizer(nn.Module):
    """Classic BNN binarizer: +1 iff y >= 0 (tie +1); with the preceding BN this is
    one integer threshold per channel (FINN style)."""

    short_name = "sign"

    def forward(self, y):
        return sign_ste(y)

    def input_levels(self):
        return np.zeros(1), "BIPOLAR", -1

    def integer_core(self, name, hw):
        return None


class LAB(nn.Module):
    """Learnable activation binarizer (docs/SPEC.md, section 3), single-kernel form.

    z = depthwise_conv_k(quant(x), v) + u ;  out = +1 iff beta*z > 0 (tie -1).
    The input is quantized to ``input_bits`` (signed, zero-point 0), the kernel to
    ``weight_bits`` per channel, and the bias u onto the accumulator grid s_x*s_c.
    Initialised as the identity kernel (centre tap), i.e. it starts as sign().
    """

    short_name = "lab"

    def __init__(self, channels: int, kernel_size: int = 3, input_bits: int = 4, weight_bits: int = 4):
        super().__init__()
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"LAB kernel_size must be odd and >= 1, got {kernel_size}")
        self.channels, self.kernel_size = channels, kernel_size
        self.input_bits = check_bits("LAB input_bits", input_bits)
        self.weight_bits = check_bits("LAB weight_bits", weight_bits)
        self.input_quant = QuantIdentity(act_quant=ActQuant, bit_width=input_bits, return_quant_tensor=True)
        self.kernel = QuantConv2d(
            channels,
            channels,
            kernel_size,
            groups=channels,
            padding=kernel_size // 2,
            bias=False,
            weight_quant=WeightQuant,
            weight_bit_width=weight_bits,
        )
        with torch.no_grad():
            w = 0.05 * torch.randn_like(self.kernel.weight)
            w[:, :, kernel_size // 2, kernel_size // 2] = 1.0
            self.kernel.weight.copy_(w)
        self.bias = nn.Parameter(torch.zeros(channels))
        self.beta = nn.Parameter(torch.tensor(1.0))

    def _bias_int(self, acc_scale):
        return round_ste(self.bias / acc_scale)

    def forward(self, y):
        qx = self.input_quant(y)
        qw = self.kernel.quant_weight()
        acc_scale = qx.scale.reshape(()) * qw.scale.reshape(-1)
        z = self.kernel(qx.value) + (acc_scale * self._bias_int(acc_scale)).view(1, -1, 1, 1)
        return LabSign.apply(z, self.beta)

    def input_levels(self):
        levels, out_bias = quant_levels(float(self.input_quant.act_quant.scale()), self.input_bits)
        return levels, f"INT{self.input_bits}", out_bias

    @torch.no_grad()
    def integer_core(self, name, hw):
        beta = float(self.beta)
        if beta == 0:
            raise ValueError(f"LAB layer {name}: beta is 0, the binarization is undefined")
        sign = 1 if beta > 0 else -1
        qw = self.kernel.quant_weight()
        acc_scale = self.input_quant.act_quant.scale().reshape(()) * qw.scale.reshape(-1)
        q_u = self._bias_int(acc_scale).to(torch.int64).numpy()
        q_v = sign * int_weights(self.kernel)[:, 0]
        thresholds = 1 - sign * q_u  # +1 iff acc + q_u > 0  <=>  acc >= 1 - q_u
        core = IntLab(name, q_v, thresholds, self.input_bits, self.weight_bits)
        lo, hi = core.acc_range(*signed_range(self.input_bits))
        core.thresholds = np.clip(thresholds, lo, hi + 1)
        return core


class DynamicThreshold(nn.Module):
    """DyBNN binarizer (docs/SPEC.md, section 4): per-sample, per-channel thresholds.

    v = quant(x);  g = mean_hw(v);  h = quant_relu(W1 g + b1);  tau = W2 h + b2;
    tau is put on v's grid (ceil, so v >= tau is unchanged) and out = +1 iff v >= tau
    (tie +1). W2 starts near zero, so the layer starts as sign().
    """

    short_name = "dynthresh"

    def __init__(
        self,
        channels: int,
        reduction: int = 4,
        input_bits: int = 4,
        weight_bits: int = 4,
        hidden_bits: int = 4,
    ):
        super().__init__()
        if reduction < 1:
            raise ValueError(f"DyBNN reduction ratio must be >= 1, got {reduction}")
        self.channels = channels
        self.hidden = max(1, channels // reduction)
        self.input_bits = check_bits("DyBNN input_bits", input_bits)
        self.weight_bits = check_bits("DyBNN weight_bits", weight_bits)
        self.hidden_bits = check_bits("DyBNN hidden_bits", hidden_bits)
        self.input_quant = QuantIdentity(act_quant=ActQuant, bit_width=input_bits, return_quant_tensor=True)
        self.fc1 = QuantLinear(channels, self.hidden, bias=True, weight_quant=WeightQuant, weight_bit_width=weight_bits)
        self.hidden_quant = QuantReLU(bit_width=hidden_bits, return_quant_tensor=True)
        self.fc2 = QuantLinear(self.hidden, channels, bias=True, weight_quant=WeightQuant, weight_bit_width=weight_bits)
        with torch.no_grad():
            self.fc2.weight.mul_(0.01)
            self.fc2.bias.zero_()

    def thresholds(self, v, v_scale):
        """Per-sample, per-channel thresholds on v's grid, shape (N, C)."""
        g = v.mean(dim=(2, 3))
        h = self.hidden_quant(self.fc1(g)).value
        tau = self.fc2(h)
        return v_scale * ceil_ste(tau / v_scale)

    def forward(self, y):
        qv = self.input_quant(y)
        tau = self.thresholds(qv.value, qv.scale.reshape(()))
        return sign_ste(qv.value - tau[:, :, None, None])

    def input_levels(self):
        levels, out_bias = quant_levels(float(self.input_quant.act_quant.scale()), self.input_bits)
        return levels, f"INT{self.input_bits}", out_bias

    @torch.no_grad()
    def integer_core(self, name, hw):
        s_v = float(self.input_quant.act_quant.scale())
        s_h = float(self.hidden_quant.act_quant.scale())
        qmin, qmax = signed_range(self.input_bits)
        w1, w2 = int_weights(self.fc1), int_weights(self.fc2)  # (Ch, C), (C, Ch)
        s1 = self.fc1.quant_weight().scale.reshape(-1).double().numpy()
        s2 = self.fc2.quant_weight().scale.reshape(-1).double().numpy()
        b1 = self.fc1.bias.double().numpy()
        b2 = self.fc2.bias.double().numpy()
        # hidden: h_q >= k  <=>  (s1*s_v/hw) * acc1 + b1 >= s_h*(k - 1/2),  k = 1 .. 2**hb - 1
        h_levels = s_h * (np.arange(1, 2**self.hidden_bits) - 0.5)
        a1_lo, a1_hi = IntMatMul("", w1.T).out_range(qmin * hw, qmax * hw)
        thr1 = int_thresholds(s1 * s_v / hw, b1, h_levels, a1_lo, a1_hi)
        # thresholds: T = ceil(tau / s_v) clipped to [qmin, qmax+1]; T >= m <=> tau > (m-1)*s_v
        t_levels = s_v * (np.arange(qmin + 1, qmax + 2) - 1.0)
        a2_lo, a2_hi = IntMatMul("", w2.T).out_range(0, 2**self.hidden_bits - 1)
        thr2 = int_thresholds(s2 * s_h, b2, t_levels, a2_lo, a2_hi, strict=True)
        return IntDynamicThreshold(
            name, w1.T, thr1, w2.T, thr2, qmin, self.input_bits, self.weight_bits, self.hidden_bits
        )


class DynamicRPReLU(nn.Module):
    """Dynamic RPReLU (DyBNN): y = PReLU_c(v - gamma[n,c]) + zeta[n,c], with the shifts
    gamma and zeta produced per sample by a hyper function (GAP -> FC -> ReLU -> FC).

    A float training layer; it has no hardware mapping in bnnforge.
    """

    def __init__(self, channels: int, reduction: int = 4):
        super().__init__()
        hidden = max(1, channels // reduction)
        self.prelu = nn.PReLU(channels, init=0.25)
        self.fc1 = nn.Linear(channels, hidden)
        self.fc2 = nn.Linear(hidden, 2 * channels)
        with torch.no_grad():
            self.fc2.weight.mul_(0.01)
            self.fc2.bias.zero_()

    def forward(self, v):
        shifts = self.fc2(torch.relu(self.fc1(v.mean(dim=(2, 3)))))
        gamma, zeta = shifts[:, :, None, None].chunk(2, dim=1)
        return self.prelu(v - gamma) + zeta
