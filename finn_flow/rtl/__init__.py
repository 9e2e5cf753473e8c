"""The whole accelerator as one RTL design.

    stitch.py    BUILD/rtl/: every node's generated RTL in one folder, the generated top
                 (FINN's stitched-IP ports), file list, yosys script, Vivado script
    network.py   the stitched design in a compiled Verilator harness: `bnnforge sim network`
    sizing.py    FIFO depths from simulations of the stitched design (the build's fifo_sizing)
    synth.py     yosys of one node or of the whole design, beside the estimates

May import: ops, registry, flow/layout, simulate, finn_compat, bnnforge.sim.
"""
