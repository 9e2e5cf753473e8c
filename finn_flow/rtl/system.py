"""The whole programmable-logic design: BUILD/rtl/system.sv, top `bnnforge_system` = the
input DMA + the accelerator + the output DMA + the AXI4-Lite decode (sim/rtl/dma_shell.sv).
What Verilator simulates with the driver (`bnnforge sim driver`) is what Vivado builds."""

from __future__ import annotations

SYSTEM_TOP = "bnnforge_system"
SYSTEM_CELL = "bnnforge_0"  # the block design cell of the system (the name PYNQ's Overlay shows)
INPUT_DMA_BASE = 0x0000  # the input DMA's registers in the system's control port
OUTPUT_DMA_BASE = 0x1000  # the output DMA's registers


def control_map() -> dict:
    """How the driver finds the DMAs (io.json "control")."""
    return {"cell": SYSTEM_CELL, "input_dma": INPUT_DMA_BASE, "output_dma": OUTPUT_DMA_BASE}
