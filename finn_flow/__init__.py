"""FINN (finn-plus) build flow with bnnforge's custom LAB and dynamic-threshold layers."""

# option values shared by the CLI and the flow (kept here so the CLI needs no FINN import)
STAGES = ("estimate", "codegen", "rtl", "bitfile")  # `bnnforge build --until`
LAB_IMPLS = ("fused", "stock")  # LAB as our fused LabBinarizer, or as stock FINN layers
BACKENDS = ("rtl", "hls")  # `--backend`: RTL wherever it exists (what Verilator simulates), or HLS for bnnforge's layers
FOLD_OBJECTIVES = ("cost", "lut")  # cost: LUT share + BRAM share of the board; lut: fewest LUTs
FIFO_SIZINGS = ("sim", "minimal")  # `--fifo-sizing`: depths from a Verilator simulation, or FINN's minimum
