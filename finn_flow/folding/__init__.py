"""Folding (PE, SIMD and memory style of every layer).

    config.py      folding configs: read, check against the graph and the hardware rules, apply, write
    optimizer.py   `bnnforge fold`'s optimizer: per-layer options from the registry's rules,
                   the cheapest folding for a throughput, or the fastest within a budget
    plumbing.py    the width converters and FIFOs a folding brings (flow/transforms.py inserts
                   them as the rtl stage does), so that the budget holds them
    timing.py      `fold --timing`: the chosen folding's layers generated and synthesized, its
                   estimated critical path; the clock --raise-clock allows
    report.py      its per-layer table and Pareto plot

May import: ops, registry, finn_compat, boards, flow/transforms, and for timing.py the
build's steps (flow/build.run_steps) and rtl/synth. The graph the optimizer folds comes from
flow/graph_cache.py (the build's own steps, cached).
"""
