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

from bnnforge.errors import UserError
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


def binary_conv(cin: int, cout: int, kernel: int = 3, padding: int = 0, stride: int = 1) -> QuantConv2d:
    layer = QuantConv2d(cin, cout, kernel, padding=padding, stride=stride, bias=False, weight_quant=BinaryWeightQuant)
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


def bn_affine(bn: nn.BatchNorm1d | nn.BatchNorm2d):
    """BN in eval as y = a*x + b, float64."""
    a = bn.weight.double() / torch.sqrt(bn.running_var.double() + bn.eps)
    b = bn.bias.double() - bn.running_mean.double() * a
    return a.detach().numpy(), b.detach().numpy()


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
    With ``quantize_input=False`` the input arrives already quantized (``binarize(v, scale)``,
    a residual block's integer stream) and the layer has no input quantizer of its own.
    """

    short_name = "lab"

    def __init__(
        self, channels: int, kernel_size: int = 3, input_bits: int = 4, weight_bits: int = 4, quantize_input: bool = True
    ):
        super().__init__()
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise UserError(f"LAB kernel_size must be odd and >= 1, got {kernel_size}")
        self.channels, self.kernel_size = channels, kernel_size
        self.input_bits = check_bits("LAB input_bits", input_bits)
        self.weight_bits = check_bits("LAB weight_bits", weight_bits)
        self.input_quant = (
            QuantIdentity(act_quant=ActQuant, bit_width=input_bits, return_quant_tensor=True) if quantize_input else None
        )
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
        return self.binarize(qx.value, qx.scale.reshape(()))

    def binarize(self, v, scale):
        """The LAB of an input ``v`` already on the grid ``scale`` (signed input_bits integers)."""
        qw = self.kernel.quant_weight()
        acc_scale = (scale * qw.scale.reshape(-1)).view(1, -1, 1, 1)
        z = self.kernel(v) + acc_scale * self._bias_int(acc_scale.view(-1)).view(1, -1, 1, 1)
        # z is an integer multiple of acc_scale, but the float conv's rounding would decide its
        # exact ties (z == 0: a few % of the pixels) at random where the hardware's integer compare
        # gives -1; the value snapped onto the grid (gradient unchanged) makes both the same
        z = z + (acc_scale * torch.round(z / acc_scale) - z).detach()
        return LabSign.apply(z, self.beta)

    def input_levels(self):
        levels, out_bias = quant_levels(float(self.input_quant.act_quant.scale()), self.input_bits)
        return levels, f"INT{self.input_bits}", out_bias

    @torch.no_grad()
    def integer_core(self, name, hw, in_scale=None):
        """Integer LAB; ``in_scale`` is the input grid when the input arrives quantized."""
        beta = float(self.beta)
        if beta == 0:
            raise ValueError(f"LAB layer {name}: beta is 0, the binarization is undefined")
        sign = 1 if beta > 0 else -1
        qw = self.kernel.quant_weight()
        acc_scale = _input_scale(self, in_scale) * qw.scale.reshape(-1)
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
    (tie +1). W2 starts near zero, so the layer starts as sign(). With
    ``quantize_input=False`` the input arrives already quantized (``binarize(v, scale)``).
    """

    short_name = "dynthresh"

    def __init__(
        self,
        channels: int,
        reduction: int = 4,
        input_bits: int = 4,
        weight_bits: int = 4,
        hidden_bits: int = 4,
        quantize_input: bool = True,
    ):
        super().__init__()
        self.channels = channels
        self.input_bits = check_bits("DyBNN input_bits", input_bits)
        self.weight_bits = check_bits("DyBNN weight_bits", weight_bits)
        self.hidden_bits = check_bits("DyBNN hidden_bits", hidden_bits)
        self.input_quant = (
            QuantIdentity(act_quant=ActQuant, bit_width=input_bits, return_quant_tensor=True) if quantize_input else None
        )
        self.hidden = hyper_function(self, channels, channels, reduction, weight_bits, hidden_bits)

    def thresholds(self, v, v_scale):
        """Per-sample, per-channel thresholds on v's grid, shape (N, C)."""
        g = v.mean(dim=(2, 3))
        h = self.hidden_quant(self.fc1(g)).value
        tau = self.fc2(h)
        return v_scale * ceil_ste(tau / v_scale)

    def forward(self, y):
        qv = self.input_quant(y)
        return self.binarize(qv.value, qv.scale.reshape(()))

    def binarize(self, v, scale):
        """The binarization of an input ``v`` already on the grid ``scale``."""
        tau = self.thresholds(v, scale)
        return sign_ste(v - tau[:, :, None, None])

    def input_levels(self):
        levels, out_bias = quant_levels(float(self.input_quant.act_quant.scale()), self.input_bits)
        return levels, f"INT{self.input_bits}", out_bias

    @torch.no_grad()
    def integer_core(self, name, hw, in_scale=None):
        """Integer DyBNN layer; ``in_scale`` is the input grid when the input arrives quantized."""
        s_v = float(_input_scale(self, in_scale))
        qmin, qmax = signed_range(self.input_bits)
        w1, thr1, w2, s_h = hyper_hidden_integer(self, s_v, (qmin, qmax), hw, self.hidden_bits)
        s2 = self.fc2.quant_weight().scale.reshape(-1).double().numpy()
        b2 = self.fc2.bias.double().numpy()
        # thresholds: T = ceil(tau / s_v) clipped to [qmin, qmax+1]; T >= m <=> tau > (m-1)*s_v
        t_levels = s_v * (np.arange(qmin + 1, qmax + 2) - 1.0)
        a2_lo, a2_hi = IntMatMul("", w2).out_range(0, 2**self.hidden_bits - 1)
        thr2 = int_thresholds(s2 * s_h, b2, t_levels, a2_lo, a2_hi, strict=True)
        return IntDynamicThreshold(name, w1, thr1, w2, thr2, qmin, self.input_bits, self.weight_bits, self.hidden_bits)


def _input_scale(layer: nn.Module, in_scale):
    """The grid of a binarizer's input: its own quantizer's scale, or ``in_scale`` given by the caller."""
    if in_scale is not None:
        return torch.as_tensor(in_scale).reshape(())
    if layer.input_quant is None:
        raise ValueError(f"{type(layer).__name__} without an input quantizer needs the input scale (in_scale)")
    return layer.input_quant.act_quant.scale().reshape(())


def hyper_function(module: nn.Module, channels: int, outputs: int, reduction: int, weight_bits: int,
                   hidden_bits: int) -> int:
    """Give ``module`` DyBNN's hyper function over per-channel means: fc1 (C -> C/r), a
    quantized ReLU (hidden_quant, unsigned hidden_bits) and fc2 (-> outputs), fc2 near zero
    (the dynamic part starts inactive). Returns the hidden width."""
    if not isinstance(reduction, int) or reduction < 1:
        raise UserError(f"DyBNN reduction ratio must be an integer >= 1, got {reduction!r}")
    hidden = max(1, channels // reduction)
    module.fc1 = QuantLinear(channels, hidden, bias=True, weight_quant=WeightQuant, weight_bit_width=weight_bits)
    module.hidden_quant = QuantReLU(bit_width=hidden_bits, return_quant_tensor=True)
    module.fc2 = QuantLinear(hidden, outputs, bias=True, weight_quant=WeightQuant, weight_bit_width=weight_bits)
    with torch.no_grad():
        module.fc2.weight.mul_(0.01)
        module.fc2.bias.zero_()
    return hidden


def hyper_hidden_integer(module: nn.Module, in_scale: float, in_range: tuple[int, int], hw: int, hidden_bits: int):
    """Integer form of a hyper function's first stage for an input summed over ``hw`` pixels
    of integers in ``in_range`` on the grid ``in_scale``: (w1 (C, Ch), thr1, w2 (Ch, out), s_h)."""
    s_h = float(module.hidden_quant.act_quant.scale())
    w1, w2 = int_weights(module.fc1), int_weights(module.fc2)  # (Ch, C), (out, Ch)
    s1 = module.fc1.quant_weight().scale.reshape(-1).double().numpy()
    b1 = module.fc1.bias.double().numpy()
    # hidden: h_q >= k  <=>  (s1*s_in/hw) * acc1 + b1 >= s_h*(k - 1/2),  k = 1 .. 2**hb - 1
    h_levels = s_h * (np.arange(1, 2**hidden_bits) - 0.5)
    a1_lo, a1_hi = IntMatMul("", w1.T).out_range(in_range[0] * hw, in_range[1] * hw)
    thr1 = int_thresholds(s1 * in_scale / hw, b1, h_levels, a1_lo, a1_hi)
    return w1.T, thr1, w2.T, s_h


class DynamicRPReLU(nn.Module):
    """Dynamic RPReLU (DyBNN): y = PReLU_c(v - gamma[n,c]) + zeta[n,c], with the shifts
    gamma and zeta produced per sample by a hyper function (GAP -> FC -> ReLU -> FC).

    A float training layer; it has no hardware mapping in bnnforge. The dynamic RPReLU of
    ``--arch reactnet`` (a dynamic input shift on the integer grid, with an integer form and an
    export) is ``residual.DynamicShift`` with ``residual.RPReLU``.
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
