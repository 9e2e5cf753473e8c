"""bnnforge's FINN ops and backend classes, and what they are made of.

    params.py        parameters of bnnforge's own layers, validated once (widths, ROM
                     contents, C++ constants, one-node models, node attributes)
    memory.py        the memory model: BRAM18/LUTRAM cost of a memory, ram_style resolution
    rules.py         per-op rules for folding, stream order and cycle models (registry)
    backends.py      what every bnnforge backend class shares (generated RTL top, HLS header)
    lab_binarizer.py, dynamic_threshold.py   bnnforge's ops with HLS and RTL backends
    matrix_rtl.py, stock_rtl.py              bnnforge's RTL backends of FINN's ops

Importing an op module registers its classes with FINN; bnnforge.finn_flow.registry.load()
imports them all. params, memory and rules import no FINN.
"""
