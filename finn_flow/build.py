"""`bnnforge build`: QONNX model -> FINN dataflow accelerator, with bnnforge's custom layers.

Steps (each saves BUILD_DIR/intermediate_models/NN_<step>.onnx, so a build can
resume from any step with --from-step):

  estimate stage   tidy, streamline, convert_to_hw, check_python, dataflow_partition,
                   specialize, fold, minimize_bit_width, estimate
  codegen stage    codegen                     (HLS C++ / RTL for every layer)
  rtl stage        rtl_fifos, fifo_sizing, stitch_rtl, deploy_package
                   (width converters and FIFOs, FIFO depths from a Verilator simulation,
                   BUILD/rtl/: the whole accelerator as one RTL design; BUILD/deploy/: the
                   PYNQ driver, io.json, validate.py, the test set)
  bitfile stage    hw_ipgen, stitched_ip, bitfile, deploy_bitfile
                   (need Vivado, and Vitis HLS for HLS layers, on PATH; the bitfile and
                   .hwh are copied into BUILD/deploy/bitfile/)

Everything FINN prints goes to BUILD_DIR/build.log.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import time
from pathlib import Path
from typing import Callable

import numpy as np

from bnnforge.finn_flow import BACKENDS, FIFO_SIZINGS, LAB_IMPLS, STAGES
from bnnforge.finn_flow.boards import Board

EXIT_STAGE_UNAVAILABLE = 3


class BuildError(RuntimeError):
    pass


@dataclasses.dataclass
class BuildOptions:
    model: Path
    board: Board
    out: Path
    target_fps: float | None = None
    folding: Path | None = None
    clock_ns: float | None = None
    until: str = "bitfile"
    lab_impl: str = "fused"
    backend: str = "rtl"  # rtl: bnnforge's/FINN's RTL wherever it exists; hls: HLS for bnnforge's layers
    fifo_sizing: str = "sim"  # sim: FIFO depths from a Verilator simulation; minimal: FINN's minimum depths
    from_step: str | None = None
    vectors: Path | None = None  # golden test vectors (default: vectors.npz next to the model)

    @property
    def clock(self) -> float:
        return self.clock_ns or self.board.clock_ns


@dataclasses.dataclass
class Step:
    name: str
    stage: str
    fn: Callable  # (model, ctx) -> model


@dataclasses.dataclass
class BuildContext:
    opts: BuildOptions
    finn_cfg: object  # finn DataflowBuildConfig
    log: Callable[[str], None]


def missing_vivado_tools() -> list[str]:
    """What the bitfile stage needs and this machine lacks."""
    from bnnforge import toolenv

    missing = [t for t in ("vivado", "vitis_hls") if toolenv.which(t) is None]
    if not os.environ.get("XILINX_VIVADO"):
        missing.append("XILINX_VIVADO (source Vivado's settings64.sh)")
    return missing


# --- steps ---------------------------------------------------------------------


def step_tidy(model, ctx):
    from qonnx.transformation.fold_constants import FoldConstants
    from qonnx.transformation.general import GiveUniqueNodeNames, RemoveStaticGraphInputs
    from qonnx.transformation.infer_data_layouts import InferDataLayouts
    from qonnx.transformation.infer_datatypes import InferDataTypes
    from qonnx.transformation.infer_shapes import InferShapes

    from bnnforge.finn_flow import qonnx_import

    if qonnx_import.is_bnnforge_export(model):
        check_supported_ops(model, ctx.opts.model)
    else:  # a Brevitas/QONNX/FINN-ONNX BNN: FINN's own recipe turns it into the integer graph
        model = qonnx_import.import_graph(model, ctx.opts.model, ctx.log)
    for t in (InferShapes(), FoldConstants(), GiveUniqueNodeNames(), InferDataTypes(), RemoveStaticGraphInputs(), InferDataLayouts()):
        model = model.transform(t)
    return model


SUPPORTED_OPS = {
    "Conv", "MatMul", "MultiThreshold", "MaxPool", "Flatten", "Reshape", "ReduceSum", "Sub", "Transpose",
}


def check_supported_ops(model, path) -> None:
    """Refuse graphs with operators the flow cannot map, naming node and op."""
    bad = [f"{n.name or '?'} ({n.op_type})" for n in model.graph.node if n.op_type not in SUPPORTED_OPS]
    if bad:
        raise BuildError(
            f"{path}: unsupported ONNX operator(s): {', '.join(bad)}. bnnforge build takes graphs written by "
            f"`bnnforge export` (operators: {', '.join(sorted(SUPPORTED_OPS))})"
        )


def step_streamline(model, ctx):
    """Channels-last lowering and XNOR conversion. Our exported graphs are already in
    integer threshold form, so of FINN's Streamline only the absorption of the XNOR
    correction (popcount * 2 - K) into the following thresholds is needed."""
    import finn.transformation.streamline.absorb as absorb
    from finn.transformation.streamline.reorder import MakeMaxPoolNHWC
    from finn.transformation.streamline.round_thresholds import RoundAndClipThresholds
    from qonnx.transformation.bipolar_to_xnor import ConvertBipolarMatMulToXnorPopcount
    from qonnx.transformation.general import RemoveUnusedTensors
    from qonnx.transformation.infer_data_layouts import InferDataLayouts
    from qonnx.transformation.infer_datatypes import InferDataTypes
    from qonnx.transformation.lower_convs_to_matmul import LowerConvsToMatMul

    for t in (
        LowerConvsToMatMul(),
        MakeMaxPoolNHWC(),
        absorb.AbsorbTransposeIntoMultiThreshold(),
        MakeMaxPoolNHWC(),
        absorb.AbsorbConsecutiveTransposes(),
        InferDataLayouts(),
        ConvertBipolarMatMulToXnorPopcount(),
        absorb.AbsorbAddIntoMultiThreshold(),
        absorb.AbsorbMulIntoMultiThreshold(),
        InferDataTypes(),
        InferDataLayouts(),
        RemoveUnusedTensors(),
        RoundAndClipThresholds(),
    ):
        model = model.transform(t)
    return model


def step_convert_to_hw(model, ctx):
    import finn.transformation.streamline.absorb as absorb
    from finn.transformation.fpgadataflow.convert_to_hw.binary_matrix_vector_activation import (
        InferBinaryMatrixVectorActivation,
    )
    from finn.transformation.fpgadataflow.convert_to_hw.conv_inp_gen import InferConvInpGen
    from finn.transformation.fpgadataflow.convert_to_hw.duplicate_streams import InferDuplicateStreamsLayer
    from finn.transformation.fpgadataflow.convert_to_hw.elementwise_binary_operation import (
        InferElementwiseBinaryOperation,
    )
    from finn.transformation.fpgadataflow.convert_to_hw.label_select import InferLabelSelectLayer
    from finn.transformation.fpgadataflow.convert_to_hw.pool import InferPool
    from finn.transformation.fpgadataflow.convert_to_hw.quantized_matrix_vector_activation import (
        InferQuantizedMatrixVectorActivation,
    )
    from finn.transformation.fpgadataflow.convert_to_hw.thresholding import InferThresholdingLayer
    from finn.transformation.fpgadataflow.convert_to_hw.vector_vector_activation import InferVectorVectorActivation
    from finn.transformation.move_reshape import RemoveCNVtoFCFlatten
    from qonnx.custom_op.registry import getCustomOp
    from qonnx.transformation.general import GiveUniqueNodeNames
    from qonnx.transformation.infer_data_layouts import InferDataLayouts
    from qonnx.transformation.infer_datatypes import InferDataTypes
    from qonnx.transformation.infer_shapes import InferShapes

    from bnnforge.finn_flow import registry
    from bnnforge.finn_flow.transforms import InferDynamicThreshold, InferLabBinarizer

    if ctx.opts.lab_impl == "fused":
        model = model.transform(InferLabBinarizer())
    model = model.transform(InferDynamicThreshold())
    for t in (
        InferBinaryMatrixVectorActivation(),
        InferQuantizedMatrixVectorActivation(),
        InferVectorVectorActivation(),
        InferThresholdingLayer(),
        InferPool(),  # before InferConvInpGen: it turns MaxPool into Im2Col + Pool
        InferConvInpGen(),
        RemoveCNVtoFCFlatten(),
        InferElementwiseBinaryOperation(),
        InferDuplicateStreamsLayer(),
        InferLabelSelectLayer(),  # imported graphs end in TopK (qonnx_import)
        absorb.AbsorbConsecutiveTransposes(),
        GiveUniqueNodeNames(),
        InferDataLayouts(),
        InferDataTypes(),
        InferShapes(),
    ):
        model = model.transform(t)
    for node in model.graph.node:
        if node.domain == registry.FINN_DOMAIN:
            getCustomOp(node).set_nodeattr("preferred_impl_style", ctx.opts.backend)
    return model


def step_check_python(model, ctx):
    """FINN's Python execution of the hardware graph must equal the golden logits exactly."""
    from finn.core.onnx_exec import execute_onnx

    from bnnforge.finn_flow import qonnx_import

    if not qonnx_import.is_bnnforge_export(model):
        return _check_imported(model, ctx)
    vectors = ctx.opts.vectors or ctx.opts.model.with_name("vectors.npz")
    if not Path(vectors).exists():
        ctx.log(f"  no golden vectors at {vectors}: Python-execution check skipped")
        return model
    vec = np.load(vectors)
    x, want = vec["input"][:1].astype(np.float32), vec["golden/fc_out"][:1]
    out = execute_onnx(model, {model.graph.input[0].name: x})[model.graph.output[0].name]
    got = np.asarray(out).reshape(want.shape)
    if not np.array_equal(got, want):
        raise BuildError(f"FINN Python execution differs from the golden model on {vectors}: {got} != {want}")
    ctx.log(f"  FINN Python execution == golden logits on {vectors.name} (exact)")
    return model


CHECK_SAMPLES = 4  # random inputs the Python-execution check of an imported graph runs


def _check_imported(model, ctx):
    """An imported graph: FINN's Python execution of the hardware graph must pick the same
    class as qonnx's execution of the user's graph, on random inputs of its input grid."""
    from finn.core.onnx_exec import execute_onnx

    from bnnforge.finn_flow import qonnx_import

    if not Path(ctx.opts.model).exists():  # an in-memory graph (to_hw_graph): nothing to compare with
        return model
    ref, scale = qonnx_import.user_reference(ctx.opts.model)
    x = qonnx_import.random_inputs(ctx.opts.model, CHECK_SAMPLES)
    want = qonnx_import.user_outputs(ref, scale, x).argmax(1)
    name = model.graph.input[0].name
    shape = model.get_tensor_shape(name)
    got = [int(np.asarray(execute_onnx(model, {name: xi.reshape(shape)})[model.graph.output[0].name]).reshape(-1)[0])
           for xi in x]
    if got != want.tolist():
        raise BuildError(f"FINN Python execution of the hardware graph picks classes {got} where qonnx execution of "
                         f"{ctx.opts.model} picks {want.tolist()} (random inputs, seed 0)")
    ctx.log(f"  FINN Python execution == qonnx execution of {Path(ctx.opts.model).name}: same class on "
            f"{CHECK_SAMPLES} random inputs")
    return model


def step_dataflow_partition(model, ctx):
    from finn.builder.build_dataflow_steps import step_create_dataflow_partition

    return step_create_dataflow_partition(model, ctx.finn_cfg)


def step_specialize(model, ctx):
    """The backend class of every node: bnnforge's classes wherever the registry has one
    for the chosen backend, FINN's SpecializeLayers for the rest (FINN's RTL where it has
    some, e.g. the sliding windows and padding; else its HLS). Done as FINN's
    step_specialize_layers does without a config file (without importing the whole
    builder, which takes seconds)."""
    from finn.transformation.fpgadataflow.specialize_layers import SpecializeLayers
    from qonnx.transformation.general import GiveUniqueNodeNames
    from qonnx.transformation.infer_datatypes import InferDataTypes
    from qonnx.transformation.infer_shapes import InferShapes

    from bnnforge.finn_flow.transforms import SpecializeToBnnforge

    model = model.transform(SpecializeToBnnforge(ctx.opts.backend))
    model = model.transform(SpecializeLayers(ctx.opts.board.part))
    return model.transform(GiveUniqueNodeNames()).transform(InferShapes()).transform(InferDataTypes())


def step_fold(model, ctx):
    from bnnforge.finn_flow import folding

    opts = ctx.opts
    if opts.folding is not None:
        model = folding.apply_folding(model, folding.load_folding(opts.folding), str(opts.folding))
        ctx.log(f"  applied {opts.folding}")
    elif opts.target_fps is not None:
        from bnnforge.finn_flow import fold

        groups = fold.build_groups(model, opts.board.part)
        try:
            result = fold.for_target(groups, opts.board, opts.clock, opts.target_fps, util=1.0)
        except fold.FoldError as e:
            raise BuildError(f"--target-fps {opts.target_fps:g}: {e}") from None
        model = folding.apply_folding(model, result.config(), f"folding for {opts.target_fps:g} fps")
        ctx.log(f"  folded for {opts.target_fps:g} fps with `bnnforge fold`'s cheapest folding "
                f"({result.cycles} cycles per frame at {opts.clock} ns)")
    else:
        ctx.log("  no --target-fps or --folding: every layer unfolded (PE = SIMD = 1)")
    (ctx.opts.out / "folding.json").write_text(json.dumps(folding.folding_config(model), indent=2) + "\n")
    return model


def step_minimize_bit_width(model, ctx):
    """FINN's bit-width minimization, with the XNOR accumulator fix (see finn_compat)."""
    from finn.transformation.fpgadataflow.minimize_accumulator_width import MinimizeAccumulatorWidth
    from finn.transformation.fpgadataflow.minimize_weight_bit_width import MinimizeWeightBitWidth
    from finn.transformation.streamline.round_thresholds import RoundAndClipThresholds
    from qonnx.transformation.infer_datatypes import InferDataTypes

    from bnnforge.finn_flow.finn_compat import fix_xnor_accumulators

    model = model.transform(MinimizeWeightBitWidth()).transform(MinimizeAccumulatorWidth())
    model = fix_xnor_accumulators(model)
    model = model.transform(InferDataTypes())
    model = model.transform(RoundAndClipThresholds()).transform(InferDataTypes())
    return model.transform(MinimizeWeightBitWidth()).transform(InferDataTypes())


def step_estimate(model, ctx):
    from finn.builder.build_dataflow_steps import step_generate_estimate_reports

    return step_generate_estimate_reports(model, ctx.finn_cfg)


def step_codegen(model, ctx):
    from finn.builder.build_dataflow_steps import step_hw_codegen

    return step_hw_codegen(model, ctx.finn_cfg)


def step_rtl_fifos(model, ctx):
    """The width converters and FIFOs the stitched design needs, where FINN's InsertDWC and
    InsertFIFO place them (FIFOs at FINN's minimum depth, sized by the next step), in RTL,
    with their code."""
    from finn.transformation.fpgadataflow.insert_dwc import InsertDWC
    from finn.transformation.fpgadataflow.insert_fifo import InsertFIFO
    from finn.transformation.fpgadataflow.prepare_ip import PrepareIP
    from finn.transformation.fpgadataflow.specialize_layers import SpecializeLayers
    from qonnx.transformation.general import GiveUniqueNodeNames

    from bnnforge.finn_flow import stitch

    stitch.check_all_rtl(model)
    for t in (InsertDWC(), InsertFIFO(create_shallow_fifos=True)):
        model = model.transform(t)
        for node in model.graph.node:  # the inserted nodes are abstract: make them RTL
            if node.domain == "finn.custom_op.fpgadataflow":
                from qonnx.custom_op.registry import getCustomOp

                getCustomOp(node).set_nodeattr("preferred_impl_style", "rtl")
        model = model.transform(SpecializeLayers(ctx.opts.board.part)).transform(GiveUniqueNodeNames())
    return model.transform(PrepareIP(ctx.opts.board.part, ctx.opts.clock))


def step_fifo_sizing(model, ctx):
    """FIFO depths from a Verilator simulation of the stitched design (sizing.py), or with
    --fifo-sizing minimal FINN's minimum depths (correct, possibly slower than the layers allow)."""
    from bnnforge.finn_flow import sizing

    if ctx.opts.fifo_sizing == "minimal":
        ctx.log("  --fifo-sizing minimal: FINN's minimum FIFO depths kept (no sizing simulation)")
        (ctx.opts.out / "report" / "fifo_sizing.json").write_text(json.dumps({"method": "minimal"}, indent=2) + "\n")
        return model

    model, report = sizing.size_fifos(model, ctx.opts.out / "rtl_sizing", ctx.opts.board, ctx.opts.clock, ctx.log)
    (ctx.opts.out / "report" / "fifo_sizing.json").write_text(json.dumps({"method": "sim", **report}, indent=2) + "\n")
    return model


def step_stitch_rtl(model, ctx):
    """BUILD/rtl/: the whole accelerator as one RTL design (stitch.py)."""
    from bnnforge.finn_flow import stitch

    design = stitch.stitch(model, ctx.opts.out / "rtl", ctx.opts.board.part, ctx.opts.clock)
    ctx.log(f"  wrote {design.folder}/ ({len(design.sources)} sources, top {stitch.TOP}.sv)")
    return model


def step_deploy_package(model, ctx):
    """BUILD/deploy/: bnnforge's PYNQ driver, io.json, validate.py, the run's test set (deploy.py)."""
    from bnnforge.finn_flow import deploy

    perf = ctx.opts.out / "report" / "estimate_network_performance.json"
    cycles = int(json.loads(perf.read_text())["max_cycles"]) if perf.exists() else None
    deploy.write_package(model, ctx.opts.out, Path(ctx.opts.model), ctx.opts.board.name, ctx.opts.clock, cycles,
                         ctx.log)
    return model


def step_deploy_bitfile(model, ctx):
    """The bitfile and .hwh of FINN's bitfile step into BUILD/deploy/bitfile/. FINN's own driver
    step is not used: finn-plus 1.6.1 writes only a settings file for its separately installed
    driver package; bnnforge's driver (deploy/driver.py) is checked against the RTL here."""
    from bnnforge.finn_flow import deploy

    ctx.log(f"  copied the bitstream to {deploy.add_bitfile(ctx.opts.out)}")
    return model


def _finn_step(name: str) -> Callable:
    def run(model, ctx):
        import finn.builder.build_dataflow_steps as steps

        return getattr(steps, name)(model, ctx.finn_cfg)

    run.__name__ = name
    return run


STEPS = [
    Step("tidy", "estimate", step_tidy),
    Step("streamline", "estimate", step_streamline),
    Step("convert_to_hw", "estimate", step_convert_to_hw),
    Step("check_python", "estimate", step_check_python),
    Step("dataflow_partition", "estimate", step_dataflow_partition),
    Step("specialize", "estimate", step_specialize),
    Step("fold", "estimate", step_fold),
    Step("minimize_bit_width", "estimate", step_minimize_bit_width),
    Step("estimate", "estimate", step_estimate),
    Step("codegen", "codegen", step_codegen),
    Step("rtl_fifos", "rtl", step_rtl_fifos),
    Step("fifo_sizing", "rtl", step_fifo_sizing),
    Step("stitch_rtl", "rtl", step_stitch_rtl),
    Step("deploy_package", "rtl", step_deploy_package),
    Step("hw_ipgen", "bitfile", _finn_step("step_hw_ipgen")),
    Step("stitched_ip", "bitfile", _finn_step("step_create_stitched_ip")),
    Step("bitfile", "bitfile", _finn_step("step_synthesize_bitfile")),
    Step("deploy_bitfile", "bitfile", step_deploy_bitfile),
]
STEP_NAMES = [s.name for s in STEPS]


def finn_config(opts: BuildOptions, stage: str):
    from finn.builder.build_dataflow_config import DataflowBuildConfig, DataflowOutputType, ShellFlowType

    outputs = [DataflowOutputType.ESTIMATE_REPORTS]
    if stage == "bitfile":
        outputs += [DataflowOutputType.STITCHED_IP, DataflowOutputType.BITFILE]  # driver: BUILD/deploy/
    return DataflowBuildConfig(
        output_dir=str(opts.out),
        synth_clk_period_ns=opts.clock,
        board=opts.board.finn_board,
        fpga_part=opts.board.part,
        shell_flow_type=ShellFlowType(opts.board.shell_flow),
        generate_outputs=outputs,
        save_intermediate_models=True,
    )


@contextlib.contextmanager
def finn_output_to(log_path: Path):
    """FINN prints and logs a lot: send it to the build log, keep the console readable."""
    finn_log = logging.getLogger("finn_logger")
    handler = logging.FileHandler(log_path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    old_handlers, old_propagate = finn_log.handlers[:], finn_log.propagate
    finn_log.handlers, finn_log.propagate = [handler], False
    with open(log_path, "a") as f, contextlib.redirect_stdout(f), contextlib.redirect_stderr(f):
        try:
            yield
        finally:
            finn_log.handlers, finn_log.propagate = old_handlers, old_propagate
            handler.close()


def model_path(out: Path, step: str | int) -> Path:
    """The graph a build saved after ``step`` (a name or an index into STEPS)."""
    index = step if isinstance(step, int) else STEP_NAMES.index(step)
    return out / "intermediate_models" / f"{index:02d}_{STEPS[index].name}.onnx"


@dataclasses.dataclass
class BuildResult:
    out: Path
    completed_stage: str | None
    exit_code: int
    message: str


def build(opts: BuildOptions, log: Callable[[str], None] = print) -> BuildResult:
    import bnnforge.finn_flow.ops  # noqa: F401  (registers the custom ops, prepares FINN)
    from qonnx.core.modelwrapper import ModelWrapper

    from bnnforge.finn_flow import finn_compat

    if opts.until not in STAGES:
        raise BuildError(f"--until {opts.until!r}: allowed: {', '.join(STAGES)}")
    if opts.lab_impl not in LAB_IMPLS:
        raise BuildError(f"--lab-impl {opts.lab_impl!r}: allowed: {', '.join(LAB_IMPLS)}")
    if opts.fifo_sizing not in FIFO_SIZINGS:
        raise BuildError(f"--fifo-sizing {opts.fifo_sizing!r}: allowed: {', '.join(FIFO_SIZINGS)}")
    if opts.backend not in BACKENDS:
        raise BuildError(f"--backend {opts.backend!r}: allowed: {', '.join(BACKENDS)}")
    if opts.target_fps is not None and opts.folding is not None:
        raise BuildError("give either --target-fps or --folding, not both")
    if opts.target_fps is not None and opts.target_fps <= 0:
        raise BuildError(f"--target-fps must be positive, got {opts.target_fps}")
    if opts.folding is not None and not Path(opts.folding).exists():
        raise BuildError(f"folding file {opts.folding} not found")
    out = opts.out
    (out / "intermediate_models").mkdir(parents=True, exist_ok=True)
    vectors = opts.vectors or Path(opts.model).with_name("vectors.npz")
    (out / "build_config.json").write_text(json.dumps({
        "model": str(Path(opts.model).resolve()),
        "board": opts.board.name,
        "clock_ns": opts.clock,
        "target_fps": opts.target_fps,
        "folding": str(opts.folding) if opts.folding else None,
        "lab_impl": opts.lab_impl,
        "backend": opts.backend,
        "fifo_sizing": opts.fifo_sizing,
        "vectors": str(Path(vectors).resolve()) if Path(vectors).exists() else None,
    }, indent=2) + "\n")
    finn_compat.use_build_dir(out / "code")
    start = 0
    if opts.from_step:
        if opts.from_step not in STEP_NAMES:
            raise BuildError(f"--from-step {opts.from_step!r}: steps are {', '.join(STEP_NAMES)}")
        start = STEP_NAMES.index(opts.from_step)
        prev = model_path(out, start - 1) if start else None
        if prev is not None and not prev.exists():
            raise BuildError(f"cannot resume from {opts.from_step}: {prev} is missing (run the earlier steps first)")
        model = ModelWrapper(str(prev)) if prev else _load_input(opts.model)
    else:
        model = _load_input(opts.model)

    last = max(i for i, s in enumerate(STEPS) if STAGES.index(s.stage) <= STAGES.index(opts.until))
    stop_reason = None
    if opts.until == "bitfile":
        missing = missing_vivado_tools()
        if missing:
            # without Vivado: as far as this machine goes (the rtl stage needs every layer in RTL)
            reachable = "rtl" if opts.backend == "rtl" else "codegen"
            last = max(i for i, s in enumerate(STEPS) if s.stage == reachable)
            stop_reason = f"not found: {', '.join(missing)}"

    ctx = BuildContext(opts, finn_config(opts, opts.until), log)
    build_log = out / "build.log"
    completed = None
    for i in range(start, last + 1):
        step = STEPS[i]
        t0 = time.time()
        with finn_output_to(build_log):
            try:
                model = step.fn(model, ctx)
            except (BuildError, ValueError):
                raise
            except Exception as e:
                raise BuildError(f"step {step.name} failed: {type(e).__name__}: {e} (details in {build_log})") from e
        model.save(str(model_path(out, i)))
        log(f"[{i + 1:2d}/{last + 1}] {step.name:<20} {time.time() - t0:6.1f} s")
        if i == last or STEPS[i + 1].stage != step.stage:
            completed = step.stage

    if stop_reason:
        rtl = (f"the whole accelerator as RTL in {out}/rtl/, the PYNQ deployment package (without its bitfile) "
               f"in {out}/deploy/, " if completed == "rtl" else "")
        message = (
            f"stopped after the {completed} stage ({stop_reason}).\n"
            f"  produced: {rtl}estimates in {out}/report/, per-layer code in {out}/code/, the FINN graph after "
            f"each step in {out}/intermediate_models/\n"
            "  the stitched IP and bitstream need Vivado (and Vitis HLS for HLS layers): source "
            "their settings64.sh and rerun with --from-step hw_ipgen"
        )
        return BuildResult(out, completed, EXIT_STAGE_UNAVAILABLE, message)
    return BuildResult(out, completed, 0, f"build finished through the {completed} stage: {out}")


def _load_input(path: Path):
    from qonnx.core.modelwrapper import ModelWrapper

    path = Path(path)
    if not path.exists():
        raise BuildError(f"model file {path} not found")
    try:
        return ModelWrapper(str(path))
    except Exception as e:
        raise BuildError(f"{path}: not a readable ONNX model ({e})") from e


def to_hw_graph(model, lab_impl: str = "fused", backend: str = "rtl"):
    """The FINN hardware graph (before partitioning) of an exported model, in memory:
    the tidy, streamline and convert_to_hw steps of the build."""
    import bnnforge.finn_flow.ops  # noqa: F401

    opts = BuildOptions(model=Path("<in memory>"), board=None, out=None, lab_impl=lab_impl, backend=backend)
    ctx = BuildContext(opts, None, lambda *_: None)
    for step in STEPS[: STEP_NAMES.index("convert_to_hw") + 1]:
        model = step.fn(model, ctx)
    return model
