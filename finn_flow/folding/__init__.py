"""Folding (PE, SIMD and memory style of every layer).

    config.py      folding configs: read, check against the graph and the hardware rules, apply, write
    optimizer.py   `bnnforge fold`'s optimizer: per-layer options from the registry's rules,
                   the cheapest folding for a throughput, or the fastest within a budget
    report.py      its per-layer table and Pareto plot

May import: ops, registry, finn_compat, boards. The graph the optimizer folds comes from
flow/graph_cache.py (the build's own steps, cached).
"""
