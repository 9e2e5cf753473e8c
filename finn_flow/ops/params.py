"""Parameters of bnnforge's own layers, validated once, shared by every backend.

The FINN ops build their view of a layer from these dataclasses (widths, checks, ROM
contents for the RTL, constant arrays for the HLS C++); the graph transformations that
create the nodes and the one-node models of `bnnforge sim layer` and `verify` take the
node attributes from ``node_attributes()``, so widths, checks and attribute sets live in
one place. Each class also knows how to load itself for the command line and from the
integer layer of bnnforge.model it implements, and its golden function.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np

from bnnforge.errors import UserError
from bnnforge.finn_flow import FINN_DOMAIN
from bnnforge.finn_flow.ops.rules import divisors
from bnnforge.model.quant import MAX_BITS, MIN_BITS, signed_range


def lab_exp_cycles(h: int, w: int, c: int, pe: int, k: int, backend: str = "rtl") -> int:
    """Steady-state cycles per frame. RTL: one beat per cycle, frames back to back.
    HLS: the kernel does not overlap frames, (H*W + P*W + P) beats."""
    if backend == "hls":
        p = k // 2
        return (h * w + p * w + p) * (c // pe)
    return h * w * (c // pe)


def lab_acc_bits(input_bits: int, weight_bits: int, k: int) -> int:
    """LAB accumulator: b_x + b_w + ceil(log2(k*k)) bits, signed (docs/SPEC.md)."""
    return input_bits + weight_bits + math.ceil(math.log2(k * k))


def lab_slice_bits(fold: int) -> int:
    """Weight bits per partial product of a wide LAB product (sim/rtl/lab_binarizer.sv,
    SLICE_BITS). 3 when the weights are constants (one fold). With a few folds the weight
    register's bits are functions of the fold index only, so synthesis merges the 200 of a
    K = 5, 8-bit kernel into a handful of flops each driving over 1,000 loads: 2-bit slices
    take a logic level off that path (K = 5, 8 x 8 bits, C = 3, PE = 1 on xc7: 192 -> 215 MHz
    estimated, 3,386 -> 3,816 LUT; docs/DESIGN.md)."""
    return 3 if fold == 1 else 2


def lab_product_leaves(input_bits: int, weight_bits: int, fold: int) -> int:
    """Sum-tree leaves per LAB tap: a wide product (both operands over 4 bits) is split into
    weight slices of lab_slice_bits (sim/rtl/lab_binarizer.sv, NSL)."""
    return math.ceil(weight_bits / lab_slice_bits(fold)) if input_bits > 4 and weight_bits > 4 else 1


def dynthresh_exp_cycles(h: int, w: int, c: int, pe: int) -> int:
    """Steady-state cycles per frame with the ping-pong frame buffer (one beat per cycle;
    the latency is about one frame more)."""
    return h * w * (c // pe)


class ParamError(UserError):
    """Invalid layer parameters (names the parameter and the allowed values)."""


def check_pe(pe: int, channels: int, what: str = "PE") -> int:
    if not isinstance(pe, (int, np.integer)) or pe < 1 or channels % pe:
        raise ParamError(f"{what}={pe} does not divide the {channels} channels; allowed: {divisors(channels)}")
    return int(pe)


def check_bits(name: str, bits) -> int:
    if not isinstance(bits, (int, np.integer)) or not MIN_BITS <= bits <= MAX_BITS:
        raise ParamError(f"{name}={bits!r} is out of range; allowed: {MIN_BITS}..{MAX_BITS} bits")
    return int(bits)


def signed_bits_for(lo: int, hi: int) -> int:
    """Bits of the smallest signed integer holding [lo, hi]."""
    return max(int(-lo - 1).bit_length() if lo < 0 else 0, int(hi).bit_length()) + 1


def _check_fits(name: str, values: np.ndarray, bits: int) -> None:
    lo, hi = signed_range(bits)
    if values.size and (values.min() < lo or values.max() > hi):
        raise ParamError(f"{name} has values in [{values.min()}, {values.max()}], outside the signed {bits}-bit range [{lo}, {hi}]")


def _as_int(name: str, a) -> np.ndarray:
    a = np.asarray(a)
    if a.dtype.kind == "f" and not np.array_equal(a, np.round(a)):
        raise ParamError(f"{name} must hold integers")
    return a.astype(np.int64)


def hex_lines(words: np.ndarray, bits: int) -> str:
    """$readmemh text: one line per row of ``words``, lanes packed lane 0 first (LSB), two's complement."""
    lines = []
    for row in np.asarray(words, np.int64).reshape(len(words), -1):
        value = 0
        for i, v in enumerate(row):
            value |= (int(v) & ((1 << bits) - 1)) << (i * bits)
        lines.append(f"{value:x}")
    return "\n".join(lines) + "\n"


def varying_planes(values: np.ndarray, bits: int) -> list[int]:
    """Per column of ``values`` (rows: channels), the distinct bit planes of its two's complement
    values at ``bits`` bits that are not constant over the rows (a plane and its complement
    counted once, a LUT inverts for free): the ROM bits that synthesis cannot merge into
    constants or share. A trained LAB tap of {-1, 0, +1} at 4 bits has 2 (nonzero, negative)."""
    raw = np.asarray(values, np.int64) & ((1 << bits) - 1)
    out = []
    for col in raw.T:
        planes = [(col >> b) & 1 for b in range(bits)]
        out.append(len({tuple(plane ^ plane[0]) for plane in planes if 0 < plane.sum() < len(col)}))
    return out


def varying_weight_bits(weights: np.ndarray, bits: int) -> list[int]:
    """Per column of ``weights`` (rows: channels), what a product with them costs in bits: its
    varying planes, at least 1 if any weight is nonzero (a trained LAB's centre tap, 7 in every
    channel, is a constant product)."""
    w = np.asarray(weights, np.int64)
    return [max(n, int(np.any(col != 0))) for n, col in zip(varying_planes(w, bits), w.T)]


def varying_fraction(values: np.ndarray) -> float:
    """The fraction of the bits of ``values`` (rows: channels, columns: e.g. threshold steps; at
    their own signed width) that vary over the rows (varying_planes). Thresholds that are the
    same quantizer in every channel but for a few low bits (a DyBNN hyper-function's) vary in
    about 15 % of their bits; BatchNorm-folded ones in 55-90 %."""
    v = np.asarray(values, np.int64)
    v = v.reshape(v.shape[0], -1)
    bits = signed_bits_for(int(v.min()), int(v.max()))
    return sum(varying_planes(v, bits)) / (v.shape[1] * bits)


def varying_columns(values: np.ndarray) -> int:
    """The columns of ``values`` (rows: channels, columns: e.g. threshold steps) that are not the
    same in every row: the steps whose comparator does not compare with a constant."""
    v = np.asarray(values, np.int64)
    return int((np.ptp(v.reshape(v.shape[0], -1), axis=0) > 0).sum())


def _c_array(values: np.ndarray) -> str:
    if values.ndim == 1:
        return "{" + ", ".join(str(int(v)) for v in values) + "}"
    return "{" + ", ".join(_c_array(v) for v in values) + "}"


@dataclasses.dataclass
class LabParams:
    """A LabBinarizer layer: C channels, H x W map, K x K kernel, PE channels per beat."""

    weights: np.ndarray  # (C, K, K) int
    thresholds: np.ndarray  # (C,) int
    height: int
    width: int
    input_bits: int = 4
    weight_bits: int = 4
    pe: int = 1

    def __post_init__(self):
        self.weights = _as_int("weights", self.weights)
        self.thresholds = _as_int("thresholds", self.thresholds).reshape(-1)
        if self.weights.ndim != 3 or self.weights.shape[1] != self.weights.shape[2]:
            raise ParamError(f"weights must have shape (C, k, k), got {self.weights.shape}")
        if self.kernel % 2 == 0:
            raise ParamError(f"kernel size k={self.kernel} must be odd")
        if self.thresholds.shape != (self.channels,):
            raise ParamError(f"thresholds must have shape ({self.channels},), got {self.thresholds.shape}")
        if self.height < 1 or self.width < 1:
            raise ParamError(f"feature map {self.height}x{self.width} must be at least 1x1")
        self.input_bits = check_bits("input_bits", self.input_bits)
        self.weight_bits = check_bits("weight_bits", self.weight_bits)
        self.pe = check_pe(self.pe, self.channels)
        _check_fits("weights", self.weights, self.weight_bits)
        _check_fits("thresholds", self.thresholds, self.acc_bits)

    @property
    def channels(self) -> int:
        return self.weights.shape[0]

    @property
    def kernel(self) -> int:
        return self.weights.shape[-1]

    @property
    def acc_bits(self) -> int:
        return lab_acc_bits(self.input_bits, self.weight_bits, self.kernel)

    @property
    def fold(self) -> int:
        return self.channels // self.pe

    @property
    def tap_bits(self) -> list[int]:
        """Per kernel tap, the weight bits that vary over the channels (varying_weight_bits):
        the RTL's products cost what these bits do, not the weight width."""
        return varying_weight_bits(self.weights.reshape(self.channels, -1), self.weight_bits)

    @property
    def lag(self) -> int:
        """Output pixel t - lag is produced when input pixel t arrives."""
        p = self.kernel // 2
        return p * self.width + p

    def weights_hex(self) -> str:
        """RTL weights ROM: one line per fold, PE*K*K signed W_BITS values (lane p, tap t at p*K*K+t)."""
        return hex_lines(self.weights.reshape(self.fold, self.pe * self.kernel**2), self.weight_bits)

    def thresholds_hex(self) -> str:
        """RTL thresholds ROM: one line per fold, PE signed ACC_BITS values."""
        return hex_lines(self.thresholds.reshape(self.fold, self.pe), self.acc_bits)

    def rtl_parameters(self) -> dict[str, int]:
        return dict(C=self.channels, H=self.height, W=self.width, K=self.kernel, PE=self.pe,
                    IN_BITS=self.input_bits, W_BITS=self.weight_bits, ACC_BITS=self.acc_bits,
                    SLICE_BITS=lab_slice_bits(self.fold))

    @property
    def exp_cycles_rtl(self) -> int:
        return lab_exp_cycles(self.height, self.width, self.channels, self.pe, self.kernel)

    def check_input(self, x: np.ndarray) -> np.ndarray:
        x = _as_int("input", x)
        want = (self.channels, self.height, self.width)
        if x.ndim != 4 or x.shape[1:] != want:
            raise ParamError(f"input must have shape (N, {', '.join(map(str, want))}), got {x.shape}")
        _check_fits("input", x, self.input_bits)
        return x

    def params_header(self, prefix: str = "lab") -> str:
        """C++ definitions of the weights [FOLD][PE][K*K] and thresholds [FOLD][PE]."""
        w = self.weights.reshape(self.fold, self.pe, self.kernel**2)
        t = self.thresholds.reshape(self.fold, self.pe)
        return (
            f"static const ap_int<{self.weight_bits}> {prefix}_weights[{self.fold}][{self.pe}][{self.kernel ** 2}] = "
            f"{_c_array(w)};\n"
            f"static const ap_int<{self.acc_bits}> {prefix}_thresholds[{self.fold}][{self.pe}] = {_c_array(t)};\n"
        )

    def node_attributes(self, output_dtype: str = "BIPOLAR", layer_name: str = "") -> dict:
        """The attributes of a LabBinarizer node of these parameters."""
        return dict(NumChannels=self.channels, ImgH=self.height, ImgW=self.width, KernelSize=self.kernel, PE=self.pe,
                    inputDataType=f"INT{self.input_bits}", weightDataType=f"INT{self.weight_bits}",
                    accDataType=f"INT{self.acc_bits}", outputDataType=output_dtype, layer_name=layer_name)

    def to_model(self, op_type: str = "LabBinarizer", output_dtype: str = "BIPOLAR"):
        """A one-node FINN model of this layer (op_type: LabBinarizer or a backend class)."""
        h, w, c = self.height, self.width, self.channels
        return one_node_model(
            op_type,
            inputs=[("x", (1, h, w, c), f"INT{self.input_bits}")],
            initializers=[("weights", self.weights, f"INT{self.weight_bits}"),
                          ("thresholds", self.thresholds, f"INT{self.acc_bits}")],
            output=("y", (1, h, w, c), output_dtype),
            **self.node_attributes(output_dtype),
        )

    def golden(self, inputs: list[np.ndarray]) -> np.ndarray:
        """The layer's output (N, C, H, W) +-1 for its streamed inputs (NCHW)."""
        from bnnforge.model import golden as reference

        return reference.lab_binarizer(inputs[0], self.weights, self.thresholds)

    @classmethod
    def load_case(cls, path: Path, x: np.ndarray, pe: int) -> tuple["LabParams", list[np.ndarray]]:
        """`sim layer lab`: the parameter file for input ``x`` (N, C, H, W): (params, checked inputs)."""
        p = cls.from_npz(path, x.shape[2], x.shape[3], pe)
        return p, [p.check_input(x)]

    @classmethod
    def load_for_synth(cls, path: Path, hw: tuple[int, int], pe: int) -> "LabParams":
        """`sim synth lab`: the parameter file on an H x W map."""
        return cls.from_npz(path, hw[0], hw[1], pe)

    @classmethod
    def from_int_layer(cls, layer, x: np.ndarray, pe: int) -> tuple["LabParams", list[np.ndarray]]:
        """The layer of an IntegerNet (an IntLab) on its golden input ``x``: (params, inputs)."""
        return cls(layer.weights, layer.thresholds, x.shape[2], x.shape[3], layer.input_bits, layer.weight_bits,
                   pe), [x]

    @classmethod
    def from_npz(cls, path: Path, height: int, width: int, pe: int) -> "LabParams":
        data = load_npz(path, ("weights", "thresholds", "input_bits"))
        return cls(
            data["weights"],
            data["thresholds"],
            height,
            width,
            int(data["input_bits"]),
            int(data["weight_bits"]) if "weight_bits" in data else 4,
            pe,
        )


@dataclasses.dataclass
class DynThreshParams:
    """A DynamicThreshold layer: C channels, H x W map, PE channels per beat."""

    channels: int
    height: int
    width: int
    input_bits: int = 4
    threshold_bits: int = 5
    pe: int = 1

    def __post_init__(self):
        if self.channels < 1 or self.height < 1 or self.width < 1:
            raise ParamError(f"shape C={self.channels}, H={self.height}, W={self.width} must be positive")
        self.input_bits = check_bits("input_bits", self.input_bits)
        if not 2 <= self.threshold_bits <= 16:
            raise ParamError(f"threshold_bits={self.threshold_bits} is out of range; allowed: 2..16")
        self.pe = check_pe(self.pe, self.channels)

    @property
    def fold(self) -> int:
        return self.channels // self.pe

    def rtl_parameters(self) -> dict[str, int]:
        return dict(C=self.channels, H=self.height, W=self.width, PE=self.pe, IN_BITS=self.input_bits,
                    T_BITS=self.threshold_bits)

    @property
    def exp_cycles_rtl(self) -> int:
        return dynthresh_exp_cycles(self.height, self.width, self.channels, self.pe)

    def check(self, x: np.ndarray, thresholds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = _as_int("input", x)
        t = _as_int("thresholds", thresholds)
        want = (self.channels, self.height, self.width)
        if x.ndim != 4 or x.shape[1:] != want:
            raise ParamError(f"input must have shape (N, {', '.join(map(str, want))}), got {x.shape}")
        if t.shape != (x.shape[0], self.channels):
            raise ParamError(f"thresholds must have shape (N, C) = ({x.shape[0]}, {self.channels}), got {t.shape}")
        _check_fits("input", x, self.input_bits)
        _check_fits("thresholds", t, self.threshold_bits)
        return x, t

    def node_attributes(self, output_dtype: str = "BIPOLAR", layer_name: str = "") -> dict:
        """The attributes of a DynamicThreshold node of these parameters."""
        return dict(NumChannels=self.channels, ImgH=self.height, ImgW=self.width, PE=self.pe,
                    inputDataType=f"INT{self.input_bits}", thresholdDataType=f"INT{self.threshold_bits}",
                    outputDataType=output_dtype, layer_name=layer_name)

    def to_model(self, op_type: str = "DynamicThreshold", output_dtype: str = "BIPOLAR"):
        """A one-node FINN model of this layer (inputs: the feature map and its thresholds)."""
        h, w, c = self.height, self.width, self.channels
        return one_node_model(
            op_type,
            inputs=[("x", (1, h, w, c), f"INT{self.input_bits}"), ("t", (1, 1, 1, c), f"INT{self.threshold_bits}")],
            initializers=[],
            output=("y", (1, h, w, c), output_dtype),
            **self.node_attributes(output_dtype),
        )

    def golden(self, inputs: list[np.ndarray]) -> np.ndarray:
        """The layer's output (N, C, H, W) +-1 for its streamed inputs (feature map NCHW, thresholds (N, C))."""
        from bnnforge.model import golden as reference

        return reference.dynamic_threshold(inputs[0], inputs[1])

    @classmethod
    def load_case(cls, path: Path, x: np.ndarray, pe: int) -> tuple["DynThreshParams", list[np.ndarray]]:
        """`sim layer dynthresh`: the parameter file for input ``x`` (N, C, H, W): (params, checked inputs)."""
        p, thresholds = cls.from_npz(path, x, pe)
        return p, list(p.check(x, thresholds))

    @classmethod
    def load_for_synth(cls, path: Path, hw: tuple[int, int], pe: int) -> "DynThreshParams":
        """`sim synth dynthresh`: the parameter file on an H x W map."""
        data = load_npz(path, ("thresholds", "input_bits"))
        t = np.asarray(data["thresholds"]).reshape(-1, np.asarray(data["thresholds"]).shape[-1])
        x = np.zeros((1, t.shape[1], *hw), np.int64)
        return cls.for_data(x, t, int(data["input_bits"]), pe)

    @classmethod
    def from_int_layer(cls, layer, x: np.ndarray, pe: int) -> tuple["DynThreshParams", list[np.ndarray]]:
        """The layer of an IntegerNet (an IntDynamicThreshold) on its golden input ``x``: (params, inputs)."""
        from bnnforge.model import golden as reference

        t = reference.dybnn_thresholds(x, layer)
        return cls.for_data(x, t, layer.input_bits, pe), [x, t]

    @classmethod
    def for_data(cls, x: np.ndarray, thresholds: np.ndarray, input_bits: int, pe: int) -> "DynThreshParams":
        """Parameters for running ``x`` against per-sample ``thresholds`` (threshold width from their range)."""
        t = np.asarray(thresholds)
        lo, hi = signed_range(check_bits("input_bits", input_bits))
        t_bits = signed_bits_for(min(lo, int(t.min())), max(hi + 1, int(t.max())))
        return cls(x.shape[1], x.shape[2], x.shape[3], input_bits, t_bits, pe)

    @classmethod
    def from_npz(cls, path: Path, x: np.ndarray, pe: int) -> tuple["DynThreshParams", np.ndarray]:
        data = load_npz(path, ("thresholds", "input_bits"))
        params = cls.for_data(x, data["thresholds"], int(data["input_bits"]), pe)
        return params, data["thresholds"]


def _check_width(name: str, bits, lo: int = 1, hi: int = 24) -> int:
    if not isinstance(bits, (int, np.integer)) or not lo <= bits <= hi:
        raise ParamError(f"{name}={bits!r} is out of range; allowed: {lo}..{hi} bits")
    return int(bits)


def int_dtype_name(bits: int, signed: bool) -> str:
    return f"{'INT' if signed else 'UINT'}{bits}"


@dataclasses.dataclass
class DynRPReLUParams:
    """A DynamicRPReLU layer (docs/SPEC.md section 9): C channels, H x W map, the static
    thresholds (C, N_T) ascending, out = out_bias + #{k : z - o[c] >= T[c, k]} on ``out_bits``
    (signed unless ``out_signed`` is False), PE channels per beat."""

    thresholds: np.ndarray  # (C, N_T) int, ascending per channel
    height: int
    width: int
    out_bias: int
    out_bits: int
    input_bits: int = 5  # z, signed
    offset_bits: int = 5  # o, signed
    pe: int = 1
    out_signed: bool = True

    def __post_init__(self):
        self.thresholds = _as_int("thresholds", self.thresholds)
        if self.thresholds.ndim != 2 or 0 in self.thresholds.shape:
            raise ParamError(f"thresholds must have shape (C, N_T), got {self.thresholds.shape}")
        if np.any(np.diff(self.thresholds, axis=1) < 0):
            raise ParamError("thresholds must be ascending per channel")
        if self.height < 1 or self.width < 1:
            raise ParamError(f"feature map {self.height}x{self.width} must be at least 1x1")
        self.input_bits = _check_width("input_bits", self.input_bits, 2, 32)
        self.offset_bits = _check_width("offset_bits", self.offset_bits, 2, 32)
        self.out_bits = _check_width("out_bits", self.out_bits, 1, 16)
        self.out_bias = int(self.out_bias)
        self.pe = check_pe(self.pe, self.channels)
        lo, hi = self.out_range
        if self.out_bias < lo or self.out_bias + self.steps > hi:
            raise ParamError(f"outputs out_bias .. out_bias + N_T = {self.out_bias} .. {self.out_bias + self.steps} do "
                             f"not fit {self.out_dtype} [{lo}, {hi}]")

    @property
    def channels(self) -> int:
        return self.thresholds.shape[0]

    @property
    def steps(self) -> int:
        return self.thresholds.shape[1]

    @property
    def fold(self) -> int:
        return self.channels // self.pe

    @property
    def out_dtype(self) -> str:
        return int_dtype_name(self.out_bits, self.out_signed)

    @property
    def out_range(self) -> tuple[int, int]:
        return signed_range(self.out_bits) if self.out_signed else (0, 2**self.out_bits - 1)

    @property
    def threshold_bits(self) -> int:
        return signed_bits_for(int(self.thresholds.min()), int(self.thresholds.max()))

    def decided_steps(self) -> np.ndarray:
        """Per step: True where every channel's threshold is out of the reach of z - o (at or
        below its least value: always counted; above its greatest: never), so that the step's
        comparators are constants (a trained RPReLU's clipped steps)."""
        (zlo, zhi), (olo, ohi) = signed_range(self.input_bits), signed_range(self.offset_bits)
        return np.all((self.thresholds <= zlo - ohi) | (self.thresholds > zhi - olo), axis=0)

    def thresholds_hex(self) -> str:
        """RTL threshold ROM: one line per fold, PE*N_T signed T_BITS values (lane p, threshold k at p*N_T+k)."""
        return hex_lines(self.thresholds.reshape(self.fold, self.pe * self.steps), self.threshold_bits)

    def rtl_parameters(self) -> dict[str, int]:
        return dict(C=self.channels, H=self.height, W=self.width, PE=self.pe, IN_BITS=self.input_bits,
                    O_BITS=self.offset_bits, T_BITS=self.threshold_bits, N_T=self.steps, OUT_BITS=self.out_bits,
                    OUT_BIAS=self.out_bias)

    @property
    def exp_cycles_rtl(self) -> int:
        return dynthresh_exp_cycles(self.height, self.width, self.channels, self.pe)

    def check(self, z: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        z, o = _as_int("input", z), _as_int("offsets", offsets)
        want = (self.channels, self.height, self.width)
        if z.ndim != 4 or z.shape[1:] != want:
            raise ParamError(f"input must have shape (N, {', '.join(map(str, want))}), got {z.shape}")
        if o.shape != (z.shape[0], self.channels):
            raise ParamError(f"offsets must have shape (N, C) = ({z.shape[0]}, {self.channels}), got {o.shape}")
        _check_fits("input", z, self.input_bits)
        _check_fits("offsets", o, self.offset_bits)
        return z, o

    def node_attributes(self, layer_name: str = "") -> dict:
        """The attributes of a DynamicRPReLU node of these parameters."""
        return dict(NumChannels=self.channels, ImgH=self.height, ImgW=self.width, PE=self.pe, NumSteps=self.steps,
                    inputDataType=f"INT{self.input_bits}", offsetDataType=f"INT{self.offset_bits}",
                    weightDataType=f"INT{self.threshold_bits}", outputDataType=self.out_dtype, ActVal=self.out_bias,
                    layer_name=layer_name)

    def to_model(self, op_type: str = "DynamicRPReLU"):
        """A one-node FINN model of this layer (inputs: the block sum and its offsets)."""
        h, w, c = self.height, self.width, self.channels
        return one_node_model(
            op_type,
            inputs=[("x", (1, h, w, c), f"INT{self.input_bits}"), ("o", (1, 1, 1, c), f"INT{self.offset_bits}")],
            initializers=[("thresholds", self.thresholds, f"INT{self.threshold_bits}")],
            output=("y", (1, h, w, c), self.out_dtype),
            **self.node_attributes(),
        )

    def golden(self, inputs: list[np.ndarray]) -> np.ndarray:
        """The layer's output (N, C, H, W) for its streamed inputs (z NCHW, offsets (N, C))."""
        from bnnforge.model import golden as reference

        return reference.dynamic_rprelu(inputs[0], inputs[1], self.thresholds, self.out_bias)

    @classmethod
    def for_data(cls, z: np.ndarray, offsets: np.ndarray, thresholds, out_bias: int, out_dtype: str,
                 pe: int) -> "DynRPReLUParams":
        """Parameters for ``z`` and per-sample ``offsets`` (input and offset widths from their ranges)."""
        z, o = np.asarray(z), np.asarray(offsets)
        in_bits = signed_bits_for(min(-1, int(z.min())), max(0, int(z.max())))
        o_bits = signed_bits_for(min(-1, int(o.min())), max(0, int(o.max())))
        return cls(thresholds, z.shape[2], z.shape[3], out_bias, int(out_dtype.lstrip("UINT")), max(2, in_bits),
                   max(2, o_bits), pe, out_dtype.startswith("INT"))

    @classmethod
    def load_case(cls, path: Path, x: np.ndarray, pe: int) -> tuple["DynRPReLUParams", list[np.ndarray]]:
        """`sim layer dynrprelu`: the parameter file (offsets (N, C), thresholds (C, N_T), out_bias,
        out_dtype) for the block sum ``x`` (N, C, H, W): (params, checked inputs)."""
        data = load_npz(path, ("offsets", "thresholds", "out_bias", "out_dtype"))
        p = cls.for_data(x, data["offsets"], data["thresholds"], int(data["out_bias"]), str(data["out_dtype"]), pe)
        return p, list(p.check(x, data["offsets"]))

    @classmethod
    def load_for_synth(cls, path: Path, hw: tuple[int, int], pe: int) -> "DynRPReLUParams":
        """`sim synth dynrprelu`: the parameter file (thresholds, out_bias, out_dtype, input_bits,
        offset_bits: default input_bits) on an H x W map."""
        data = load_npz(path, ("thresholds", "out_bias", "out_dtype", "input_bits"))
        in_bits = int(data["input_bits"])
        o_bits = int(data["offset_bits"]) if "offset_bits" in data else in_bits
        dtype = str(data["out_dtype"])
        return cls(data["thresholds"], hw[0], hw[1], int(data["out_bias"]), int(dtype.lstrip("UINT")), in_bits, o_bits,
                   pe, dtype.startswith("INT"))

    @classmethod
    def from_int_layer(cls, layer, x: np.ndarray, pe: int) -> tuple["DynRPReLUParams", list[np.ndarray]]:
        """The layer of an IntegerNet (an IntDynamicRPReLU) on its golden input, the block sum
        ``x``: (params, inputs)."""
        from bnnforge.model import golden as reference

        o = reference.rprelu_offsets(x, layer)
        return cls.for_data(x, o, layer.thresholds, layer.out_bias, layer.out_dtype, pe), [x, o]


def one_node_model(op_type: str, inputs, initializers, output, **attrs):
    """A FINN model holding one hardware node: ``inputs`` [(name, shape, datatype)] are graph
    inputs, ``initializers`` [(name, array, datatype)] parameters, ``output`` (name, shape,
    datatype). The node's domain follows its op type (abstract, _hls or _rtl class)."""
    from onnx import TensorProto, helper
    from qonnx.core.datatype import DataType
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.util.basic import qonnx_make_model

    domain = FINN_DOMAIN
    if op_type.endswith(("_hls", "_rtl")):
        domain += "." + op_type[-3:]
    names = [n for n, _, _ in inputs] + [n for n, _, _ in initializers]
    node = helper.make_node(op_type, names, [output[0]], domain=domain, backend="fpgadataflow", name=f"{op_type}_0",
                            **attrs)
    graph = helper.make_graph(
        [node], f"{op_type}_graph",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, list(shape)) for n, shape, _ in inputs],
        [helper.make_tensor_value_info(output[0], TensorProto.FLOAT, list(output[1]))],
    )
    model = ModelWrapper(qonnx_make_model(graph, producer_name="bnnforge"))
    for name, shape, dtype in inputs:
        model.set_tensor_datatype(name, DataType[dtype])
    for name, value, dtype in initializers:
        model.set_initializer(name, np.asarray(value, np.float32))
        model.set_tensor_datatype(name, DataType[dtype])
    model.set_tensor_datatype(output[0], DataType[output[2]])
    return model


def load_npz(path: Path, required: tuple[str, ...]) -> dict:
    try:
        with np.load(path, allow_pickle=False) as f:
            data = {k: f[k] for k in f.files}
    except FileNotFoundError:
        raise ParamError(f"parameter file {path} not found") from None
    except Exception as e:
        raise ParamError(f"{path}: not a readable .npz parameter file ({e})") from e
    missing = [k for k in required if k not in data]
    if missing:
        raise ParamError(f"{path} lacks {missing}; it has {sorted(data)}")
    return data
