"""Straight-through / surrogate gradient functions and Brevitas quantizer choices.

Every tie is decided explicitly here; nothing relies on ``torch.sign(0) == 0``.
"""

from __future__ import annotations

import torch
from brevitas.quant import Int8ActPerTensorFloat, Int8WeightPerChannelFloat, SignedBinaryWeightPerTensorConst

from bnnforge.errors import UserError


class BinaryWeightQuant(SignedBinaryWeightPerTensorConst):
    """Weights are exactly -1 or +1 (scale 1), so binary layers have integer accumulators."""

    scaling_const = 1.0


# Multi-bit activations: signed, zero-point 0 (zero padding stays exact), learned scale.
ActQuant = Int8ActPerTensorFloat
# Multi-bit weights (LAB kernel, DyBNN hyper function): per-output-channel scale, narrow range.
WeightQuant = Int8WeightPerChannelFloat

MIN_BITS, MAX_BITS = 2, 8  # multi-bit activations and weights (LAB, DyBNN); hardware checks read these


def signed_range(bits: int) -> tuple[int, int]:
    return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1


def check_bits(name: str, bits: int, lo: int = MIN_BITS, hi: int = MAX_BITS) -> int:
    if not isinstance(bits, int) or not lo <= bits <= hi:
        raise UserError(f"{name} must be an integer number of bits in {lo}..{hi}, got {bits!r}")
    return bits


class SignSTE(torch.autograd.Function):
    """+1 iff x >= 0 (tie gives +1), else -1; gradient passes where |x| <= 1 (hardtanh STE)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return torch.where(x >= 0, 1.0, -1.0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * (x.abs() <= 1).to(grad.dtype)


def sign_ste(x: torch.Tensor) -> torch.Tensor:
    return SignSTE.apply(x)


class LabSign(torch.autograd.Function):
    """LAB's binarization of z with temperature beta (docs/SPEC.md, section 3).

    forward: +1 iff beta * z > 0 (a tie gives -1)
    backward: soft-argmax surrogate tanh(beta*z/2), slope beta*(1 - tanh^2)/2 w.r.t. z
              and z*(1 - tanh^2)/2 w.r.t. beta; no clipping.
    """

    @staticmethod
    def forward(ctx, z, beta):
        ctx.save_for_backward(z, beta)
        return torch.where(beta * z > 0, 1.0, -1.0).to(z.dtype)

    @staticmethod
    def backward(ctx, grad):
        z, beta = ctx.saved_tensors
        sech2 = 1 - torch.tanh(beta * z / 2) ** 2
        grad_z = grad * beta * sech2 / 2
        grad_beta = (grad * z * sech2 / 2).sum().reshape(beta.shape)
        return grad_z, grad_beta


class RoundSTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return torch.round(x)

    @staticmethod
    def backward(ctx, grad):
        return grad


class CeilSTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return torch.ceil(x)

    @staticmethod
    def backward(ctx, grad):
        return grad


class FloorSTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return torch.floor(x)

    @staticmethod
    def backward(ctx, grad):
        return grad


def floor_ste(x: torch.Tensor) -> torch.Tensor:
    return FloorSTE.apply(x)


def round_ste(x: torch.Tensor) -> torch.Tensor:
    return RoundSTE.apply(x)


def ceil_ste(x: torch.Tensor) -> torch.Tensor:
    return CeilSTE.apply(x)
