"""One node or layer on its generated code, and the reference every simulation is held to.

    streams.py     tensors <-> stream beats (FINN's packing, each stream's element order),
                   the accelerator's input/output streams, class labels from an output
    reference.py   FINN's Python execution of a build's graph: every edge's exact values
    node.py        a node's generated RTL (Verilator + cocotb) or HLS C++ (g++), N frames
    layer.py       `bnnforge sim layer` / `sim node`: a layer from its parameters, a build's node

May import: ops, registry, flow/layout, finn_compat, bnnforge.sim, bnnforge.model.
"""
