"""bnnforge accelerator driver: runs on the board (PYNQ), copied into BUILD/deploy/driver.py.

Self-contained on purpose: numpy only (1.x or 2.x), Python >= 3.8, PYNQ imported only by
PynqDevice. The accelerator's streams are described by io.json next to this file
(written by `bnnforge build`):

- input: the images in the accelerator's layout (channels last for images), each value an
  integer of the input datatype; the stream carries ``beats`` words per frame, each word
  ``simd`` values of ``bits`` bits, value 0 in the least significant bits (FINN's
  packing), each word padded to whole bytes, little-endian: the bytes the input DMA reads.
- output: the same packing on the output stream (a class index when the network ends in
  a TopK/LabelSelect, else one integer per class).

Accelerator.execute() packs, hands the bytes to a device, and unpacks what comes back.
PynqDevice moves the bytes through the two DMA engines of the bitstream (bnnforge_system:
the input DMA's registers at 0x0000 and the output DMA's at 0x1000 of the block design
cell io.json names, each with the register map of FINN's IODMA). Off the board, `bnnforge
sim driver` runs this same code against the Verilator simulation of the same RTL.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
# register map of each DMA engine (FINN's IODMA, HLS ap_ctrl_hs): control (bit 0 start,
# bit 1 done (clear on read), bit 2 idle), buffer address low and high word, number of frames
AP_CTRL, AP_START, AP_DONE, AP_IDLE = 0x00, 0x1, 0x2, 0x4
REG_ADDR_LO, REG_ADDR_HI, REG_FRAMES = 0x10, 0x14, 0x1C


class StreamSpec:
    """One stream of io.json: datatype, folded shape and beat packing."""

    def __init__(self, d: dict):
        self.bits = int(d["bits"])
        self.signed = bool(d["signed"])
        self.shape = tuple(d["shape"])  # one frame in the accelerator's layout (no batch dim)
        self.simd = int(d["simd"])  # values per beat
        self.beats = int(d["beats"])  # beats per frame
        self.beat_bytes = int(d["beat_bytes"])  # one beat padded to whole bytes
        if self.simd * self.beats != int(np.prod(self.shape)):
            raise ValueError(f"io.json: {self.beats} beats of {self.simd} values do not make a frame {self.shape}")

    @property
    def frame_bytes(self) -> int:
        return self.beats * self.beat_bytes

    def pack(self, values: np.ndarray) -> np.ndarray:
        """(N, *shape) integers -> (N, frame_bytes) uint8."""
        v = np.asarray(values)
        n = len(v)
        if tuple(v.shape[1:]) != self.shape and v[0].size != int(np.prod(self.shape)):
            raise ValueError(f"input frames of shape {v.shape[1:]} do not fit the accelerator's {self.shape}")
        ints = np.rint(v).astype(np.int64).reshape(n, self.beats, self.simd)
        lo, hi = (-(1 << (self.bits - 1)), (1 << (self.bits - 1)) - 1) if self.signed else (0, (1 << self.bits) - 1)
        if ints.min() < lo or ints.max() > hi:
            raise ValueError(f"input values out of range [{lo}, {hi}] of {self.bits}-bit "
                             f"{'signed' if self.signed else 'unsigned'} integers")
        ints &= (1 << self.bits) - 1  # two's complement
        bits = (ints[..., None] >> np.arange(self.bits)) & 1  # (N, beats, simd, bits), LSB first
        bits = bits.reshape(n, self.beats, self.simd * self.bits).astype(np.uint8)
        pad = self.beat_bytes * 8 - bits.shape[-1]
        bits = np.concatenate([bits, np.zeros((n, self.beats, pad), np.uint8)], axis=-1)
        return np.packbits(bits, axis=-1, bitorder="little").reshape(n, self.frame_bytes)

    def unpack(self, raw: np.ndarray) -> np.ndarray:
        """(N, frame_bytes) uint8 -> (N, *shape) int64."""
        raw = np.asarray(raw, np.uint8)
        n = raw.size // self.frame_bytes
        bits = np.unpackbits(raw.reshape(n, self.beats, self.beat_bytes), axis=-1, bitorder="little")
        bits = bits[..., : self.simd * self.bits].reshape(n, self.beats, self.simd, self.bits).astype(np.int64)
        ints = (bits << np.arange(self.bits)).sum(-1)
        if self.signed:
            ints = np.where(ints >= 1 << (self.bits - 1), ints - (1 << self.bits), ints)
        return ints.reshape(n, *self.shape)


class Accelerator:
    """The accelerator of one build: pack, transfer (board or simulation), unpack."""

    def __init__(self, folder: Path = HERE, device=None, bitfile: Path | None = None):
        self.folder = Path(folder)
        self.io = json.loads((self.folder / "io.json").read_text())
        self.input = StreamSpec(self.io["input"])
        self.output = StreamSpec(self.io["output"])
        if device is None:
            device = PynqDevice(bitfile or self.folder / self.io["bitfile"], self.input.frame_bytes,
                                self.output.frame_bytes, self.io["control"])
        self.device = device

    def to_layout(self, images: np.ndarray) -> np.ndarray:
        """Images as the model takes them (N, C, H, W) -> the accelerator's layout (N, H, W, C)."""
        x = np.asarray(images)
        if self.io["channels_last"] and x.ndim == 4:
            x = x.transpose(0, 2, 3, 1)
        return x.reshape(len(x), *self.input.shape)

    def execute(self, images: np.ndarray) -> np.ndarray:
        """(N, C, H, W) integers on the input grid -> (N, outputs) integers."""
        raw = self.device.transfer(self.input.pack(self.to_layout(images)))
        return self.output.unpack(raw).reshape(len(images), -1)

    def classify(self, images: np.ndarray) -> np.ndarray:
        """Top-1 class per image (the accelerator's class index, or the argmax of its outputs)."""
        y = self.execute(images)
        return y[:, 0] if y.shape[1] == 1 else y.argmax(1)


class DMARegisters:
    """One DMA engine's register block inside the bitstream's control port."""

    def __init__(self, ip, base: int):
        self.ip, self.base = ip, base

    def write(self, offset: int, value: int) -> None:
        self.ip.write(self.base + offset, int(value))

    def read(self, offset: int) -> int:
        return int(self.ip.read(self.base + offset))

    def start(self, address: int, frames: int) -> None:
        """Program a transfer of ``frames`` frames at a 64-bit buffer address, and start it."""
        self.write(REG_ADDR_LO, address & 0xFFFF_FFFF)
        self.write(REG_ADDR_HI, address >> 32)
        self.write(REG_FRAMES, frames)
        self.write(AP_CTRL, AP_START)


class PynqDevice:
    """The bytes through the bitstream's DMA engines on a PYNQ board (needs the pynq package).

    Buffers are cacheable, allocated once per batch size and reused; the input is flushed
    from the CPU's cache before the transfer starts, the output invalidated before it is
    read. A transfer that does not finish within ``timeout_s`` leaves its buffers allocated
    (the DMAs may still write into them) and makes every later call fail until the overlay
    is reloaded (``reload()``)."""

    def __init__(self, bitfile: Path, in_bytes: int, out_bytes: int, control: dict, timeout_s: float = 10.0):
        self.bitfile, self.control = Path(bitfile), control
        self.in_bytes, self.out_bytes, self.timeout_s = in_bytes, out_bytes, timeout_s
        self.last_seconds = None  # accelerator time of the last transfer (DMA start to done)
        self.buffers = {}  # batch size -> (input buffer, output buffer)
        self.stuck = None  # why the DMAs cannot be trusted (a transfer timed out)
        self.reload()

    def reload(self) -> None:
        """(Re)program the bitstream: resets the DMAs and the accelerator."""
        from pynq import Overlay  # only on the board

        for ibuf, obuf in self.buffers.values():
            ibuf.freebuffer()
            obuf.freebuffer()
        self.buffers, self.stuck = {}, None
        self.overlay = Overlay(str(self.bitfile))  # bitfile/accelerator.bit and .hwh: `bnnforge build --until bitfile`
        ip = getattr(self.overlay, self.control["cell"])
        self.idma = DMARegisters(ip, int(self.control["input_dma"]))
        self.odma = DMARegisters(ip, int(self.control["output_dma"]))

    def _buffers(self, n: int):
        if n not in self.buffers:
            from pynq import allocate

            self.buffers[n] = (allocate(shape=(n, self.in_bytes), dtype=np.uint8, cacheable=True),
                               allocate(shape=(n, self.out_bytes), dtype=np.uint8, cacheable=True))
        return self.buffers[n]

    def transfer(self, packed: np.ndarray) -> np.ndarray:
        if self.stuck:
            raise RuntimeError(f"{self.stuck}; reload the overlay (PynqDevice.reload()) before the next transfer")
        n = len(packed)
        ibuf, obuf = self._buffers(n)
        ibuf[:] = packed
        ibuf.flush()  # the DMA reads DDR, not the CPU's cache
        for name, dma in (("output", self.odma), ("input", self.idma)):
            if not dma.read(AP_CTRL) & AP_IDLE:
                raise RuntimeError(f"the {name} DMA is not idle (a previous transfer did not finish); reload the "
                                   "overlay (PynqDevice.reload())")
        t0 = time.perf_counter()
        self.odma.start(obuf.device_address, n)  # the receiver first
        self.idma.start(ibuf.device_address, n)
        while not self.odma.read(AP_CTRL) & AP_DONE:
            if time.perf_counter() - t0 > self.timeout_s:
                self.stuck = f"the output DMA did not finish {n} frames within {self.timeout_s} s"
                raise TimeoutError(f"{self.stuck}; its buffers stay allocated; reload the overlay "
                                   "(PynqDevice.reload()) before the next transfer")
        self.last_seconds = time.perf_counter() - t0
        obuf.invalidate()  # the DMA wrote DDR behind the CPU's cache
        return np.array(obuf)
