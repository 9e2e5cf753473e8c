"""A stand-in for the `pynq` package off the board: the deploy package's driver.py runs
unchanged against the Verilator simulation of the whole programmable-logic design
(BUILD/rtl/system.sv: DMA engines + accelerator, sim/system_sim.py with a simulated DDR).

It provides what driver.py uses, and checks what real pynq checks (and a little more,
where a board would silently misbehave):

- ``Overlay(bitfile)``: the bitfile and its .hwh must exist side by side and the .hwh must
  name the system's cell; the cell (``overlay.<cell>``) has ``read(offset)`` and
  ``write(offset, value)``, which go over the system's AXI4-Lite port. Values must be Python
  ints within 32 bits (pynq 3.0.1 refuses numpy integers), offsets word aligned and in the
  DMAs' register map.
- ``allocate(shape, dtype, cacheable=...)``: a numpy array backed by simulated DDR, with
  ``device_address``, ``flush()`` / ``sync_to_device()`` (CPU copy -> DDR),
  ``invalidate()`` / ``sync_from_device()`` (DDR -> CPU copy), ``freebuffer()``. A DMA that
  starts on a buffer whose CPU copy was changed since its last flush is an error (on the
  board it would read stale DDR).
- While the driver polls a DMA's control register, the simulation runs (a slice of cycles
  per read, until the DMA reports done), so its polling loop sees the real completion.

``install(board)`` puts the shim in sys.modules as ``pynq``.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path

import numpy as np

from bnnforge.errors import CheckFailed

AP_CTRL, AP_START, AP_DONE, AP_IDLE = 0x00, 0x1, 0x2, 0x4
DMA_REGISTERS = (0x00, 0x10, 0x14, 0x1C, 0x24)  # each DMA's register map (docs/SPEC.md, DMA engines)
POLL_SLICE = 2_000  # cycles the simulation runs per poll of a busy DMA's control register


class ShimError(CheckFailed):
    """The driver did something the board would refuse or silently get wrong (a failed check:
    exit 1, like a mismatch)."""


class SimulatedBoard:
    """The system simulation behind the shim: DDR buffers, the control port, and the time a
    transfer took in clock cycles."""

    def __init__(self, sim, control: dict, bitfile_check: bool, cycles_per_frame: int,
                 first_address: int = 0x1000_0000):
        self.sim, self.control, self.bitfile_check = sim, control, bitfile_check
        self.cycles_per_frame = cycles_per_frame  # what a frame may take at most (a transfer's deadlock bound)
        self.bases = {int(control["input_dma"]): "input", int(control["output_dma"]): "output"}
        self.buffers: dict[int, "ShimBuffer"] = {}
        self.next_address = first_address
        self.started = {}  # DMA base -> (cycle it started, buffer address, frames)
        self.last_transfer = None  # (frames, cycles from the input DMA's start to the output DMA's done)

    def check_register(self, offset: int) -> tuple[int, int]:
        """(DMA base, register) of a control-port offset, or a ShimError."""
        if not isinstance(offset, int) or isinstance(offset, bool) or offset % 4:
            raise ShimError(f"pynq shim: register offset {offset!r} is not a word-aligned int")
        for base in self.bases:
            if offset - base in DMA_REGISTERS:
                return base, offset - base
        raise ShimError(f"pynq shim: offset {offset:#x} is in no DMA's register map (input DMA at "
                        f"{min(self.bases):#x}, output DMA at {max(self.bases):#x}: registers "
                        f"{', '.join(f'{r:#x}' for r in DMA_REGISTERS)})")

    def write(self, offset: int, value) -> None:
        base, reg = self.check_register(offset)
        if type(value) is not int:  # noqa: E721  (pynq refuses numpy integers and bools alike)
            raise ShimError(f"pynq shim: write of {value!r} ({type(value).__name__}) to {offset:#x}: pynq takes a "
                            "Python int (convert numpy integers with int())")
        if not 0 <= value < 1 << 32:
            raise ShimError(f"pynq shim: write of {value:#x} to {offset:#x} does not fit 32 bits")
        if reg == AP_CTRL and value & AP_START:
            self._before_start(base)
        self.sim.write32(offset, value)

    def _before_start(self, base: int) -> None:
        read = lambda r: self.sim.read32(base + r)  # noqa: E731
        address = read(0x10) | read(0x14) << 32
        frames = read(0x1C)
        if self.bases[base] == "input":
            if int(self.control["output_dma"]) not in self.started:
                raise ShimError("pynq shim: the input DMA started before the output DMA (the first outputs could "
                                "be lost on the board)")
            self._check_flushed(address)
        self.started[base] = (self.sim.cycle, address, frames)

    def _check_flushed(self, address: int) -> None:
        buf = self.buffers.get(address)
        if buf is None:
            raise ShimError(f"pynq shim: the input DMA reads address {address:#x}, which no allocated buffer starts at")
        if not np.array_equal(np.asarray(buf).view(np.uint8).reshape(-1), buf.flushed):
            raise ShimError("pynq shim: the input DMA starts on a buffer whose CPU-side contents changed since its "
                            "last flush(): on the board it would read stale DDR (call flush() before starting it)")

    def read(self, offset: int) -> int:
        base, reg = self.check_register(offset)
        if reg != AP_CTRL or base not in self.started:
            return self.sim.read32(offset)
        value, _ = self.sim.poll32(offset, AP_DONE, POLL_SLICE)  # the hardware runs while the CPU polls
        start, _, frames = self.started[base]
        if value & AP_DONE:
            del self.started[base]
            if self.bases[base] == "output":
                self.last_transfer = (frames, self.sim.cycle - start)
        elif self.sim.cycle - start > self.cycles_per_frame * max(frames, 1) + 100_000:
            raise ShimError(f"pynq shim: the {self.bases[base]} DMA has not finished {frames} frame(s) after "
                            f"{self.sim.cycle - start:,} cycles (a frame should take at most "
                            f"{self.cycles_per_frame:,}): the system is stuck")
        return value


_BOARD: SimulatedBoard | None = None


class ShimBuffer(np.ndarray):
    """pynq.allocate's buffer: the CPU's copy (this array) and simulated DDR, synced explicitly."""

    def flush(self):
        data = np.asarray(self).view(np.uint8).reshape(-1)
        _BOARD.sim.mem_write(self.device_address, data.tobytes())
        self.flushed = data.copy()

    def invalidate(self):
        raw = _BOARD.sim.mem_read(self.device_address, self.nbytes)
        np.asarray(self).view(np.uint8).reshape(-1)[:] = np.frombuffer(raw, np.uint8)

    sync_to_device = flush
    sync_from_device = invalidate

    @property
    def physical_address(self):
        return self.device_address

    def freebuffer(self):
        _BOARD.buffers.pop(self.device_address, None)

    close = freebuffer


def allocate(shape, dtype=np.uint32, cacheable=True, **_):
    buf = np.zeros(shape, dtype).view(ShimBuffer)
    buf.device_address = _BOARD.next_address
    buf.flushed = np.zeros(buf.nbytes, np.uint8)  # DDR starts zeroed (mem_write of zeros is skipped)
    _BOARD.next_address += (buf.nbytes + 0xFFF) & ~0xFFF  # page aligned, as the board's allocator
    _BOARD.buffers[buf.device_address] = buf
    return buf


class DefaultIP:
    """An IP of the block design with a memory-mapped control port."""

    def __init__(self, name: str):
        self.name = name

    def read(self, offset: int) -> int:
        return _BOARD.read(offset)

    def write(self, offset: int, value) -> None:
        _BOARD.write(offset, value)


class Overlay:
    def __init__(self, bitfile: str, **_):
        bitfile = Path(bitfile)
        cell = _BOARD.control["cell"]
        if _BOARD.bitfile_check:
            hwh = bitfile.with_suffix(".hwh")
            for f in (bitfile, hwh):
                if not f.exists():
                    raise ShimError(f"pynq shim: {f} not found (pynq needs the .bit and the .hwh side by side)")
            if cell not in hwh.read_text(errors="replace"):
                raise ShimError(f"pynq shim: {hwh} names no cell {cell!r}: it does not describe this design")
        self.bitfile = bitfile
        setattr(self, cell, DefaultIP(cell))


def install(board: SimulatedBoard) -> types.ModuleType:
    """Make `import pynq` give this shim, with ``board`` behind it."""
    global _BOARD
    _BOARD = board
    module = sys.modules[__name__]
    sys.modules["pynq"] = module
    return module
