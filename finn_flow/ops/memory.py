"""The memory model: what a width x depth memory costs in block RAM or LUTRAM, and where
ram_style "auto" puts it. bnnforge's estimates and its RTL's memory attributes both come
from here, so the estimate, yosys and Vivado see the same memory."""

from __future__ import annotations

import contextlib
import contextvars
import math

import numpy as np

# BRAM18 aspect ratios (width bits, depth) in simple dual-port mode (UG473)
BRAM18_SHAPES = ((36, 512), (18, 1024), (9, 2048), (4, 4096), (2, 8192), (1, 16384))
# RAMB36: twice the depth at each width, and 72 bits wide in simple dual-port mode
RAMB36_SHAPES = ((72, 512), (36, 1024), (18, 2048), (9, 4096), (4, 8192), (2, 16384), (1, 32768))
# with ram_style "auto", memories this shallow or this small go to LUTRAM (as Vivado and
# yosys infer them): a BRAM18 for a few hundred bits would waste it
LUTRAM_DEPTH_LIMIT = 128
LUTRAM_BITS_LIMIT = 4096
# a constant memory (weights) this shallow is no memory after synthesis: its few words merge into
# the logic that reads them, as one word does, plus a select per address bit (yosys xc7: 1,152
# MVAU XNOR lanes over 8 words 5,575 LUT, 9,630 by the ROM-fed terms; a LAB layer at PE = C/2
# 2,117 LUT, 3,144 by them)
SHALLOW_ROM_WORDS = 8
# a BRAM18 with its parity bits (2K x 9), and the depth of the slices yosys packs so
PARITY_SLICE = 2048
BRAM18_BITS_WITH_PARITY = 9 * PARITY_SLICE


def bram18_count(width_bits: int, depth: int) -> int:
    """BRAM18 blocks for a width x depth memory (best aspect ratio)."""
    if width_bits <= 0 or depth <= 0:
        return 0
    return min(math.ceil(width_bits / w) * math.ceil(depth / d) for w, d in BRAM18_SHAPES)


# simple dual-port LUT RAM primitives by family, {words: (data bits, LUTs)}: 7-series RAM64M and
# RAM32M (UG474), UltraScale+ RAM64M8 and RAM32M16 (UG574), as yosys synth_xilinx maps them
# (-family xcup, total LUT: 8 x 64: 16 vs xc7's 12; 32 x 64: 40 vs 44; 16 x 32: 16 vs 12)
LUTRAM_PRIMITIVES = {"xc7": {64: (3, 4), 32: (6, 4)}, "xcup": {64: (7, 8), 32: (14, 8)}}
_lutram_family = contextvars.ContextVar("bnnforge_lutram_family", default="xc7")


def family_of_part(part: str | None) -> str:
    """The yosys family of an FPGA part: xc7 (7-series, Zynq-7000; also when no part is given)
    or xcup (UltraScale+, Zynq UltraScale+ such as the ZCU104's xczu7ev)."""
    return "xc7" if not part or str(part).lower().startswith("xc7") else "xcup"


@contextlib.contextmanager
def lutram_family(part: str | None):
    """Cost LUT RAM inside the block as ``part``'s family builds it. FINN's
    lut_estimation(fpgapart) is the one call that knows the part, and the memory model sits
    several calls below the cores' lut_terms(), so the estimates set it here instead of
    passing it through every term (the fits run on xc7, the default)."""
    token = _lutram_family.set(family_of_part(part))
    try:
        yield
    finally:
        _lutram_family.reset(token)


def sdp_lutram_luts(width_bits: int, depth: int) -> int:
    """LUTs of a width x depth simple dual-port LUT RAM (one write, one read port) as yosys
    (and Vivado) build it on the family of lutram_family (xc7 by default): 64-word primitives
    (RAM64M: 3 bits x 64 words in 4 LUTs) per 64 words, 32-word ones (RAM32M: 6 bits x 32 in
    4) for a remainder of up to 32; several 64-word groups add a read multiplexer (a LUT per bit
    per 4:1 stage) and a write-enable decode per group. Measured with yosys synth_xilinx xc7
    (total LUT, model): 8 x 32: 8, 8; 8 x 64: 12, 12; 8 x 128: 34, 36; 8 x 1120: 314, 296;
    128 x 70: 395, 392; 4 x 576: 98, 102; 32 x 576: 509, 510; 2 x 496: 52, 54; xcup: 32 x 256:
    196, 200; 8 x 128: 42, 44."""
    if width_bits <= 0 or depth <= 0:
        return 0
    primitives = LUTRAM_PRIMITIVES[_lutram_family.get()]
    (bits64, luts64), (bits32, luts32) = primitives[64], primitives[32]
    full, rest = divmod(depth, 64)
    luts = full * luts64 * math.ceil(width_bits / bits64)
    if rest:
        luts += luts32 * math.ceil(width_bits / bits32) if rest <= 32 else luts64 * math.ceil(width_bits / bits64)
    groups = full + (rest > 0)
    if groups > 1:
        luts += width_bits * math.ceil((groups - 1) / 3) + 2 * groups
    return luts


def rom_luts(width_bits: int, depth: int) -> int:
    """LUTs of a width x depth ROM built as LUT logic (rom_style "distributed"), per bit: one LUT6
    up to 64 words; up to 256 words the next power of two of 64-word LUTs (MUXF7/MUXF8 join
    them for free, so 192 words cost what 256 do); deeper, 1.25 LUT per 64 words (the MUXF8
    outputs meet in LUT multiplexers). Measured with yosys synth_xilinx xc7 on random contents:
    1, 2, 4, 4, 7, 9, 21.4, 81.8 and 314 LUT per bit at 64, 128, 192, 256, 384, 512, 1,024,
    4,096 and 16,384 words."""
    if width_bits <= 0 or depth <= 1:
        return 0
    leaves = math.ceil(depth / 64)
    per_bit = 1 << (leaves - 1).bit_length() if depth <= 256 else 1.25 * depth / 64
    return math.ceil(width_bits * per_bit)


def rom_content_luts(words, bits: int) -> float:
    """rom_luts of a ROM whose contents are known (``words`` at ``bits`` two's complement bits):
    per bit column that varies (a column and its complement once: a LUT inverts for free), one
    LUT6 per distinct non-constant 64-word piece (pieces repeated or constant cost nothing more),
    and over 4 pieces a quarter LUT per piece to join them (rom_luts's 1.25 per 64 words).
    Random contents cost what rom_luts says; trained thresholds, equal over many channels or
    clamped at the range, a fraction (a reactnet's 512-word stage: 35 LUT, 50 by rom_luts)."""
    raw = np.asarray(words, np.int64).reshape(-1) & ((1 << bits) - 1)
    columns = {}
    for b in range(bits):
        col = (raw >> b) & 1
        if 0 < col.sum() < len(col):
            columns[(col ^ col[0]).tobytes()] = col
    luts = 0.0
    for col in columns.values():
        pieces = [col[i:i + 64] for i in range(0, len(col), 64)]
        distinct = {(pc ^ pc[0]).tobytes() for pc in pieces if 0 < pc.sum() < len(pc)}
        luts += len(distinct) + (0.25 * len(pieces) if len(pieces) > 4 and len(distinct) > 1 else 0.0)
    return luts


def rom_distinct_columns(varying_bits: float, depth: int) -> float:
    """Expected distinct bit columns of a ``depth``-word ROM with ``varying_bits`` non-constant
    columns of random contents. A column is a function of the word index: there are only
    2**(depth-1) - 1 non-constant ones up to complement (a LUT inverts for free), and synthesis
    builds equal columns once (yosys opt_merge shares their LUTs and read registers). A 4-word
    ROM of 560 varying threshold bits (DynamicRPReLU, PE 16) has at most 7; at 32 words nearly
    every column is its own."""
    if depth <= 1 or varying_bits <= 0:
        return 0.0
    kinds = 2.0 ** (depth - 1) - 1
    if kinds > 1e12:
        return float(varying_bits)
    return kinds * -math.expm1(varying_bits * math.log1p(-1 / kinds)) if kinds > 1 else 1.0


def block_stacked_depth(width_bits: int, depth: int) -> int:
    """Block RAMs stacked in depth (read through a multiplexer) for a width x depth memory, as
    yosys's memory_libmap shapes it on xc7 (techlibs/xilinx/brams_xc4v.txt): it takes the
    fewest BRAM18 (a RAMB36 counts two, cost 257 vs 129) and, of as few, the deepest shape.
    Lone memories by yosys synth_xilinx xc7 (blocks stacked, this rule): 18 x 32,768 ROM:
    16 RAMB36 8 deep, 8; 144 x 2,048: 8 RAMB36 1 deep, 1; 16 x 2,304: 3 RAMB18 3 deep, 3;
    32 x 2,704 RAM: 3 RAMB36 3 deep, 3; 288 x 1,344 RAM: 12 RAMB36 3 deep, 3."""
    shapes = [(math.ceil(width_bits / w) * math.ceil(depth / d), -d) for w, d in BRAM18_SHAPES]
    shapes += [(2 * math.ceil(width_bits / w) * math.ceil(depth / d), -d) for w, d in RAMB36_SHAPES]
    fewest, deepest = min(shapes)
    if depth % PARITY_SLICE == 0 and math.ceil(width_bits * depth / BRAM18_BITS_WITH_PARITY) < fewest:
        # yosys fills the parity bits too: 2K x 9 blocks, one per 2,048 words stacked (8 x 32,768:
        # 15 RAMB18 and 46 LUT, not 8 RAMB36 side by side; 12 x 16,384: 11 and 36; 16 x 12,288: 11
        # and 32; 24 x 8,192: 11 and 24; 16 x 2,304 is not a multiple and takes 3, no parity).
        # Vivado keeps whole tiles: bram18_count stays at their count, this mux is yosys's
        return depth // PARITY_SLICE
    return math.ceil(depth / -deepest)


def read_mux_luts(width_bits: int, depth: int, ram_style: str) -> int:
    """LUTs of the read multiplexer of a memory deeper than one primitive: per output bit, the
    primitives stacked in depth (block RAM as block_stacked_depth, or 64-entry LUTRAM) are
    selected by a mux of about 0.4 LUT per extra input (yosys xc7, LUTs per bit: 2 or 3
    stacked 1.0, 7 deep 3.1-3.5, 8 deep 3.0, 13 deep 4.9, 16 deep 5.8). LUTRAM: width x
    (stacked - 1) / 3 (a LUT6 is a 4:1 mux; the coefficients that use it were fitted so)."""
    if width_bits <= 0 or depth <= 0:
        return 0
    if resolve_ram_style(width_bits, depth, ram_style) == "distributed":
        return math.ceil(width_bits * (math.ceil(depth / 64) - 1) / 3)
    return width_bits * math.ceil(2 * (block_stacked_depth(width_bits, depth) - 1) / 5)


def resolve_ram_style(width_bits: int, depth: int, ram_style: str) -> str:
    """"block" or "distributed": FINN's ram_style with "auto" decided here, once, so that the
    estimates and the RTL's memory attributes (what yosys and Vivado build) agree."""
    if ram_style != "auto":
        return ram_style
    small = depth <= LUTRAM_DEPTH_LIMIT or width_bits * depth <= LUTRAM_BITS_LIMIT
    return "distributed" if small else "block"


def distributed_luts(width_bits: int, depth: int, ram_style: str, rom: bool = False) -> int:
    """LUTs of a memory that ``ram_style`` puts in LUTs (0 when it goes to block RAM): a ROM as
    LUT logic (rom_luts), a RAM as simple dual-port LUT RAM (sdp_lutram_luts)."""
    if resolve_ram_style(width_bits, depth, ram_style) != "distributed":
        return 0
    return rom_luts(width_bits, depth) if rom else sdp_lutram_luts(width_bits, depth)


def memory_cost(width_bits: int, depth: int, ram_style: str) -> tuple[int, int]:
    """(LUT, BRAM18) of one RAM (one write, one read port) under FINN's ram_style convention."""
    if resolve_ram_style(width_bits, depth, ram_style) == "distributed":
        return distributed_luts(width_bits, depth, "distributed"), 0
    return 0, bram18_count(width_bits, depth)
