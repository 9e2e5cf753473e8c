"""A stand-in for the `pynq` package off the board, backed by the Verilator simulation.

PYNQ needs a board (and pins numpy < 2), so the deployment package's driver could not run
here. This shim provides exactly what driver.py uses, nothing more:

- ``allocate(shape, dtype)``: a numpy array with ``device_address``, ``sync_to_device``,
  ``sync_from_device`` and ``freebuffer`` (addresses are handed out from a fake DDR map);
- ``Overlay(bitfile)``: ``idma0`` and ``odma0`` with ``read``/``write`` on the HLS
  ap_ctrl registers FINN's IODMAs have (0x00 control, 0x10 buffer address, 0x1C frames).

When the input DMA is started, the bytes of its buffer go through offboard.VerilatorDevice
(the same RTL the bitstream is made from) and the result is written into the output
DMA's buffer, which then reports done. Everything else in driver.py and validate.py runs
as on the board. ``install(device)`` puts the shim in sys.modules as ``pynq``.
"""

from __future__ import annotations

import sys
import types

import numpy as np

AP_CTRL, AP_START, AP_DONE, AP_IDLE = 0x00, 0x1, 0x2, 0x4
REG_ADDR, REG_FRAMES = 0x10, 0x1C


class _Board:
    """The simulated DDR (address -> buffer) and the accelerator behind the two DMAs."""

    def __init__(self, device):
        self.device = device  # .transfer(packed frames (N, bytes)) -> output frames (N, bytes)
        self.buffers: dict[int, "ShimBuffer"] = {}
        self.next_address = 0x1000_0000

    def transfer(self, idma: "ShimIODMA", odma: "ShimIODMA") -> None:
        if not odma.started:
            raise RuntimeError("pynq shim: idma0 started before odma0 (the output would be lost on the board)")
        if idma.regs[REG_FRAMES] != odma.regs[REG_FRAMES]:
            raise RuntimeError(f"pynq shim: idma0 moves {idma.regs[REG_FRAMES]} frames, odma0 {odma.regs[REG_FRAMES]}")
        frames = idma.regs[REG_FRAMES]
        src, dst = self.buffers[idma.regs[REG_ADDR]], self.buffers[odma.regs[REG_ADDR]]
        if not src.synced:
            raise RuntimeError("pynq shim: the input buffer was not synced to the device before the DMA started")
        out = self.device.transfer(np.asarray(src.device_copy).reshape(frames, -1))
        dst.device_copy = out.reshape(dst.shape)
        idma.finish()
        odma.finish()


_BOARD: _Board | None = None


class ShimBuffer(np.ndarray):
    """pynq.allocate's buffer: host array plus the device's copy (synced explicitly, as on the board)."""

    def sync_to_device(self):
        self.device_copy = np.array(self)
        self.synced = True

    def sync_from_device(self):
        self[...] = self.device_copy

    def freebuffer(self):
        _BOARD.buffers.pop(self.device_address, None)


def allocate(shape, dtype=np.uint32, **_):
    buf = np.zeros(shape, dtype).view(ShimBuffer)
    buf.device_address = _BOARD.next_address
    buf.device_copy = np.zeros(shape, dtype)
    buf.synced = False
    _BOARD.next_address += (buf.nbytes + 0xFFF) & ~0xFFF
    _BOARD.buffers[buf.device_address] = buf
    return buf


class ShimIODMA:
    def __init__(self, name: str, overlay: "Overlay"):
        self.name, self.overlay = name, overlay
        self.regs = {AP_CTRL: AP_IDLE, REG_ADDR: 0, REG_FRAMES: 0}
        self.started = False

    def write(self, offset: int, value: int) -> None:
        if offset not in self.regs:
            raise ValueError(f"pynq shim: {self.name} has no register at {offset:#x}")
        if offset == AP_CTRL:
            if value & AP_START:
                self.started = True
                self.regs[AP_CTRL] = 0  # busy
                if self.name == "idma0":
                    _BOARD.transfer(self, self.overlay.odma0)
            return
        self.regs[offset] = int(value)

    def read(self, offset: int) -> int:
        value = self.regs[offset]
        if offset == AP_CTRL:
            self.regs[AP_CTRL] &= ~AP_DONE  # ap_done clears on read
        return value

    def finish(self) -> None:
        self.regs[AP_CTRL] = AP_DONE | AP_IDLE
        self.started = False


class Overlay:
    def __init__(self, bitfile: str, **_):
        self.bitfile = bitfile
        self.idma0 = ShimIODMA("idma0", self)
        self.odma0 = ShimIODMA("odma0", self)


def install(device) -> types.ModuleType:
    """Make `import pynq` give this shim, with ``device`` (offboard.VerilatorDevice: the
    simulated RTL) behind its DMAs."""
    global _BOARD
    _BOARD = _Board(device)
    module = sys.modules[__name__]
    sys.modules["pynq"] = module
    return module
