"""The build.

    layout.py        the BUILD folder: every path a build writes and other commands read,
                     and the step order (a leaf: imports nothing of bnnforge)
    steps.py         the steps, (model, ctx) -> model
    build.py         the step loop: `bnnforge build`, and run_steps (a named range of steps
                     on a model in memory: what other commands reuse of the build)
    graph_cache.py   the prepared hardware graph `bnnforge fold` folds (cached)
    transforms.py    specialization to bnnforge's backend classes
    qonnx_import.py  FINN's recipe for models not written by `bnnforge export`
    report.py        the per-layer summary table of a build

May import: everything in finn_flow but verify/ (flow/layout is imported by all of them).
"""
