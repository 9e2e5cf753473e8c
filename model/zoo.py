"""Model zoo: `tfc` (MLP), `cnv` (FINN's CNV pattern) and `reactnet` (residual, ReActNet-style)
with sign / LAB / DyBNN binarizers.

A model is built from a ``ModelConfig`` (stored as RUN_DIR/config.json). In
training mode it runs the float, fake-quantized Brevitas forward; in eval mode it
runs its integer form (``to_integer()``), which is exactly what the hardware
computes, so eval accuracy is hardware accuracy.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from bnnforge.errors import UserError
from bnnforge.model import ARCHS, BINARIZERS
from bnnforge.model.integer import IntConv, IntegerNet, IntFlatten, IntMatMul, IntMaxPool, IntThreshold, int_thresholds
from bnnforge.model.layers import (
    LAB,
    DynamicThreshold,
    SignBinarizer,
    binary_conv,
    binary_linear,
    bn_affine,
    int_weights,
)
from bnnforge.model.quant import check_bits
from bnnforge.model.residual import DynamicShift, ReActNet, ResidualBlock, RSign

CNV_CONV_CHANNELS = (64, 64, 128, 128, 256, 256)
CNV_POOL_AFTER = (1, 3)  # max-pool 2x2 after the 2nd and 4th conv
CNV_FC = (512, 512)
CNV_FIRST_PAD = {28: 2, 32: 0}  # 28x28 is zero-padded to 32x32 by the first conv
TFC_HIDDEN = (64, 64, 64)
REACTNET_STAGES = (64, 128, 256)  # channels per stage (x width); stages after the first start with stride 2
REACTNET_BLOCKS = 2  # basic blocks per stage unless --blocks says otherwise
REACTNET_MAX_BLOCKS = 16
REACTNET_MIN_SIZE = 8  # two stride-2 stages (2x2 shortcut windows): a multiple of 4, at least 8


@dataclasses.dataclass
class ModelConfig:
    arch: str = "cnv"
    binarizer: str = "sign"
    in_channels: int = 1
    in_size: int = 28
    num_classes: int = 10
    width: float = 1.0
    lab_kernel: int = 3
    act_bits: int = 4  # input bits of LAB / DyBNN; reactnet: the bits of every block's integer stream
    weight_bits: int = 4  # LAB kernel and DyBNN hyper-function weights
    hidden_bits: int = 4  # DyBNN hyper-function hidden activation
    reduction: int = 4  # DyBNN reduction ratio r
    blocks: int | None = None  # reactnet: basic blocks per stage (None: REACTNET_BLOCKS)

    def validate(self) -> "ModelConfig":
        if self.arch not in ARCHS:
            raise UserError(f"unknown arch {self.arch!r}; allowed: {', '.join(ARCHS)}")
        if self.binarizer not in BINARIZERS:
            raise UserError(f"unknown binarizer {self.binarizer!r}; allowed: {', '.join(BINARIZERS)}")
        if self.arch == "tfc" and self.binarizer != "sign":
            raise UserError("arch tfc is an MLP and supports only binarizer 'sign' (LAB and DyBNN need feature maps)")
        if self.arch == "cnv" and self.in_size not in CNV_FIRST_PAD:
            raise UserError(f"cnv takes {sorted(CNV_FIRST_PAD)} pixel square inputs, got {self.in_size}")
        if not 0 < self.width <= 4:
            raise UserError(f"width multiplier must be in (0, 4], got {self.width}")
        for name in ("act_bits", "weight_bits", "hidden_bits"):
            check_bits(name, getattr(self, name))
        self._validate_reactnet()
        return self

    def _validate_reactnet(self) -> None:
        if self.blocks is not None and self.arch != "reactnet":
            raise UserError(f"blocks (--blocks/--depth) applies to arch reactnet only, not {self.arch}")
        if self.arch != "reactnet":
            return
        if self.blocks is not None and (
            not isinstance(self.blocks, int) or isinstance(self.blocks, bool)
            or not 1 <= self.blocks <= REACTNET_MAX_BLOCKS
        ):
            raise UserError(f"blocks (per stage) must be an integer in 1..{REACTNET_MAX_BLOCKS}, got {self.blocks!r}")
        if self.in_size < REACTNET_MIN_SIZE or self.in_size % 4:
            raise UserError(f"reactnet needs square inputs of at least {REACTNET_MIN_SIZE}x{REACTNET_MIN_SIZE} "
                             f"pixels, a multiple of 4 (two stride-2 stages), got {self.in_size}")

    @property
    def blocks_per_stage(self) -> int:
        return REACTNET_BLOCKS if self.blocks is None else self.blocks

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise UserError(f"unknown model config keys: {sorted(unknown)}")
        return cls(**d).validate()


def _scaled(channels: int, width: float) -> int:
    return max(1, int(round(channels * width)))


def _make_binarizer(cfg: ModelConfig, channels: int) -> nn.Module:
    if cfg.binarizer == "lab":
        return LAB(channels, cfg.lab_kernel, cfg.act_bits, cfg.weight_bits)
    if cfg.binarizer == "dybnn":
        return DynamicThreshold(channels, cfg.reduction, cfg.act_bits, cfg.weight_bits, cfg.hidden_bits)
    return SignBinarizer()


class BinaryBlock(nn.Module):
    """binary conv (or FC) -> BatchNorm -> [max-pool 2x2] -> binarizer."""

    def __init__(self, layer: nn.Module, bn: nn.Module, binarizer: nn.Module, pool: bool = False, pad: int = 0):
        super().__init__()
        self.layer, self.bn, self.binarizer, self.pool, self.pad = layer, bn, binarizer, pool, pad

    @property
    def is_conv(self) -> bool:
        return isinstance(self.bn, nn.BatchNorm2d)

    def forward(self, x):
        y = self.bn(self.layer(x))
        if self.pool:
            y = F.max_pool2d(y, 2)
        return self.binarizer(y)

    @torch.no_grad()
    def to_integer(self, index: int, in_range: tuple[int, int], side: int) -> list:
        """Integer layers of this block. BN and the binarizer's input quantizer fuse into
        one threshold stage; channels with a negative BN slope get their weights negated
        so that every threshold compares ``acc >= T``."""
        w = int_weights(self.layer)
        a, b = bn_affine(self.bn)
        sign = np.where(a < 0, -1, 1)
        kind = "conv" if self.is_conv else "fc"
        if self.is_conv:
            lin = IntConv(f"{kind}{index}", w * sign[:, None, None, None], self.pad)
        else:
            lin = IntMatMul(f"{kind}{index}", (w * sign[:, None]).T)
        lo, hi = lin.out_range(*in_range)
        levels, out_dtype, out_bias = self.binarizer.input_levels()
        thr = IntThreshold(f"{kind}{index}_act", int_thresholds(np.abs(a), b, levels[None, :], lo, hi), out_dtype, out_bias)
        layers = [lin, thr]
        if self.pool:
            layers.append(IntMaxPool(f"pool{index}", 2))
            side //= 2
        core = self.binarizer.integer_core(f"{self.binarizer.short_name}{index}", side * side)
        if core is not None:
            layers.append(core)
        return layers


class BNN(nn.Module):
    """A binary network: an optional flatten, binary blocks, and a binary output layer."""

    def __init__(self, cfg: ModelConfig, blocks: list[BinaryBlock], out_layer: nn.Module, flatten_at: int):
        super().__init__()
        self.cfg = cfg
        self.blocks = nn.ModuleList(blocks)
        self.out_layer = out_layer
        self.flatten_at = flatten_at  # flatten before blocks[flatten_at]
        self.out_scale = nn.Parameter(torch.tensor(1.0 / math.sqrt(out_layer.in_features)))

    def float_forward(self, x):
        """Fake-quantized float forward (training; in eval mode BN uses running stats)."""
        for i, block in enumerate(self.blocks):
            if i == self.flatten_at:
                x = x.flatten(1)
            x = block(x)
        if self.flatten_at == len(self.blocks):
            x = x.flatten(1)
        return self.out_layer(x) * self.out_scale

    def forward(self, x):
        if self.training:
            return self.float_forward(x)
        return self.to_integer().torch_forward(x)

    @torch.no_grad()
    def to_integer(self) -> IntegerNet:
        shape = (self.cfg.in_channels, self.cfg.in_size, self.cfg.in_size)
        net = IntegerNet(shape, "UINT8", [])
        rng = (0, 255)
        side = self.cfg.in_size  # spatial size of the current feature map
        for i, block in enumerate(self.blocks):
            if i == self.flatten_at:
                net.layers.append(IntFlatten("flatten"))
                side = 1
            if block.is_conv:
                side = side + 2 * block.pad - block.layer.kernel_size[0] + 1
            layers = block.to_integer(i + 1, rng, side)
            net.layers += layers
            rng = _range_after(layers, rng)
            if block.pool:
                side //= 2
        if self.flatten_at == len(self.blocks):
            net.layers.append(IntFlatten("flatten"))
        net.layers.append(IntMatMul("fc_out", int_weights(self.out_layer).T))
        net.ranges()  # checks every accumulator stays exact in float32
        return net


def _range_after(layers, rng):
    for layer in layers:
        rng = layer.out_range(*rng)
    return rng


def build_model(cfg: ModelConfig) -> BNN | ReActNet:
    cfg.validate()
    if cfg.arch == "reactnet":
        return build_reactnet(cfg)
    if cfg.arch == "tfc":
        sizes = [cfg.in_channels * cfg.in_size**2] + [_scaled(c, cfg.width) for c in TFC_HIDDEN]
        blocks = [
            BinaryBlock(binary_linear(cin, cout), nn.BatchNorm1d(cout), SignBinarizer())
            for cin, cout in zip(sizes[:-1], sizes[1:])
        ]
        return BNN(cfg, blocks, binary_linear(sizes[-1], cfg.num_classes), flatten_at=0)

    convs = [_scaled(c, cfg.width) for c in CNV_CONV_CHANNELS]
    fcs = [_scaled(c, cfg.width) for c in CNV_FC]
    blocks = []
    cin = cfg.in_channels
    for i, cout in enumerate(convs):
        pad = CNV_FIRST_PAD[cfg.in_size] if i == 0 else 0
        # The binarizer feeds the next binary conv; the last conv feeds the FC layers (sign).
        binarizer = _make_binarizer(cfg, cout) if i < len(convs) - 1 else SignBinarizer()
        blocks.append(
            BinaryBlock(binary_conv(cin, cout, 3, pad), nn.BatchNorm2d(cout), binarizer, i in CNV_POOL_AFTER, pad)
        )
        cin = cout
    side = _cnv_final_side(cfg.in_size)
    sizes = [cin * side * side] + fcs
    for fin, fout in zip(sizes[:-1], sizes[1:]):
        blocks.append(BinaryBlock(binary_linear(fin, fout), nn.BatchNorm1d(fout), SignBinarizer()))
    return BNN(cfg, blocks, binary_linear(sizes[-1], cfg.num_classes), flatten_at=len(convs))


def _residual_binarizer(cfg: ModelConfig, channels: int) -> nn.Module:
    """The binarizer of a residual block's integer input (already on the block's grid)."""
    if cfg.binarizer == "lab":
        return LAB(channels, cfg.lab_kernel, cfg.act_bits, cfg.weight_bits, quantize_input=False)
    if cfg.binarizer == "dybnn":
        return DynamicThreshold(channels, cfg.reduction, cfg.act_bits, cfg.weight_bits, cfg.hidden_bits,
                                quantize_input=False)
    return RSign(channels, cfg.act_bits)


def build_reactnet(cfg: ModelConfig) -> ReActNet:
    """Stem, then len(REACTNET_STAGES) stages of ``cfg.blocks_per_stage`` residual blocks (the
    first block of every stage after the first has stride 2), global pooling, binary FC.
    DyBNN blocks get the dynamic RPReLU shift besides their dynamic thresholds."""
    cfg.validate()
    stages = [_scaled(c, cfg.width) for c in REACTNET_STAGES]
    stem = binary_conv(cfg.in_channels, stages[0], 3, padding=1)
    blocks, cin = [], stages[0]
    for i, cout in enumerate(stages):
        for j in range(cfg.blocks_per_stage):
            stride = 2 if i > 0 and j == 0 else 1
            shift = None
            if cfg.binarizer == "dybnn":
                shift = DynamicShift(cout, cfg.reduction, cfg.weight_bits, cfg.hidden_bits, cfg.act_bits + 1)
            blocks.append(ResidualBlock(cin, cout, stride, _residual_binarizer(cfg, cin), cfg.act_bits, shift))
            cin = cout
    return ReActNet(cfg, stem, nn.BatchNorm2d(stages[0]), blocks, binary_linear(cin, cfg.num_classes))


def _cnv_final_side(in_size: int) -> int:
    side = in_size + 2 * CNV_FIRST_PAD[in_size]
    for i in range(len(CNV_CONV_CHANNELS)):
        side -= 2
        if i in CNV_POOL_AFTER:
            side //= 2
    return side


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
