"""FINN (finn-plus) build flow with bnnforge's own hardware layers.

One folder per concern; the order below is the import order (a module imports only
modules of its own folder and of folders listed before it; tests/test_structure.py checks
that no two modules import each other, lazy imports included):

    finn_compat    every workaround of a finn-plus quirk, each saying what it works around
    ops/           FINN ops and backend classes, their parameters and memory model, the
                   per-op rules for folding, stream order and cycles
    registry       the one table of hardware layers: which op, which classes, which rules
    flow/layout    the BUILD folder: every path a build writes and other commands read
    simulate/      tensors <-> stream beats, FINN's Python execution as the reference, one
                   node or one layer on its generated code
    rtl/           the whole accelerator as one RTL design: stitching, network simulation,
                   FIFO sizing, synthesis
    folding/       folding configs (read, check, apply), the folding optimizer, its report
    deploy/        the package for the board (driver, io.json, validate.py) and its
                   off-board check; the board-side scripts are data, never imported here
    flow/          the build steps, the step loop, FINN graph transformations, imports of
                   foreign QONNX models, the build summary
    verify/        `bnnforge verify`: every implementation against the reference
"""

# option values shared by the CLI and the flow (kept here so the CLI needs no FINN import)
STAGES = ("estimate", "codegen", "rtl", "bitfile")  # `bnnforge build --until`
LAB_IMPLS = ("fused", "stock")  # LAB as our fused LabBinarizer, or as stock FINN layers
BACKENDS = ("rtl", "hls")  # `--backend`: RTL wherever it exists (what Verilator simulates), or HLS for bnnforge's layers
FOLD_OBJECTIVES = ("cost", "lut")  # cost: LUT share + BRAM share of the board; lut: fewest LUTs
FIFO_SIZINGS = ("sim", "minimal")  # `--fifo-sizing`: depths from a Verilator simulation, or FINN's minimum

# the ONNX domain of FINN's hardware ops (backend classes add ".hls" / ".rtl"); several FINN
# passes match it exactly, so bnnforge's ops use it too
FINN_DOMAIN = "finn.custom_op.fpgadataflow"
