"""The whole accelerator as one RTL design.

    stitch.py    BUILD/rtl/: every node's generated RTL in one folder, the generated top
                 (FINN's stitched-IP ports), file list, yosys script
    system.py    BUILD/rtl/bnnforge_system.sv: the DMA engines around the accelerator, the
                 whole programmable-logic design (its ports, control map, cell name)
    vivado.py    BUILD/vivado/: the Verilog wrapper and build_bitfile.tcl of that system, running
                 Vivado and reading its timing and resources back
    network.py   the stitched design in a compiled Verilator harness: `bnnforge sim network`
    sizing.py    FIFO depths from simulations of the stitched design (the build's fifo_sizing)
    synth.py     yosys of one node or of the whole design, beside the estimates

May import: ops, registry, flow/layout, simulate, finn_compat, bnnforge.sim.
"""
