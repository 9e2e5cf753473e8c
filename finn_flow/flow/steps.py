"""The build's steps, each ``(model, ctx) -> model``, in the order of flow/layout.STEPS:

  estimate stage   tidy, streamline, convert_to_hw, check_python, dataflow_partition,
                   specialize, fold, minimize_bit_width, estimate
  codegen stage    codegen                     (HLS C++ / RTL for every layer)
  rtl stage        rtl_fifos, fifo_sizing, stitch_rtl, deploy_package, vivado_project
                   (width converters and FIFOs, FIFO depths from a Verilator simulation,
                   BUILD/rtl/: the accelerator and the whole system around it as RTL;
                   BUILD/deploy/: the PYNQ driver, io.json, validate.py, the test set;
                   BUILD/vivado/: the Vivado project script of that same RTL)
  bitfile stage    bitfile, deploy_bitfile (Vivado: the script above, its reports read back)

bnnforge runs FINN's step functions itself where it uses them, with FINN's build config
(``ctx.finn_cfg``, made on first use: importing FINN's builder takes a while).
"""

from __future__ import annotations

import dataclasses
import functools
import json
from pathlib import Path
from typing import Callable

import numpy as np

from bnnforge.errors import UserError
from bnnforge.finn_flow import registry
from bnnforge.finn_flow.flow.layout import STEPS, BuildLayout


class BuildError(UserError):
    """The build cannot go on with the input it was given (names file, node or option)."""


@dataclasses.dataclass
class StepContext:
    opts: object  # flow.build.FlowOptions
    out: Path  # the build folder (or a scratch folder for in-memory runs)
    log: Callable[[str], None]

    @property
    def layout(self) -> BuildLayout:
        return BuildLayout(self.out)

    @functools.cached_property
    def finn_cfg(self):
        """FINN's DataflowBuildConfig for its own step functions."""
        from finn.builder.build_dataflow_config import DataflowBuildConfig, DataflowOutputType, ShellFlowType

        opts = self.opts
        outputs = [DataflowOutputType.ESTIMATE_REPORTS]  # FINN's builder is used up to code generation
        return DataflowBuildConfig(
            output_dir=str(self.out),
            synth_clk_period_ns=opts.clock,
            board=opts.board.finn_board,
            fpga_part=opts.board.part,
            shell_flow_type=ShellFlowType(opts.board.shell_flow),
            generate_outputs=outputs,
            save_intermediate_models=True,
        )


SUPPORTED_OPS = {
    "Conv", "MatMul", "MultiThreshold", "MaxPool", "Flatten", "Reshape", "ReduceSum", "Sub", "Transpose",
    "Pad", "Add",  # residual blocks (--arch reactnet): a binary conv's -1 padding, the shortcut's Add
}


def check_supported_ops(model, path) -> None:
    """Refuse graphs with operators the flow cannot map, naming node and op."""
    bad = [f"{n.name or '?'} ({n.op_type})" for n in model.graph.node if n.op_type not in SUPPORTED_OPS]
    if bad:
        raise BuildError(
            f"{path}: unsupported ONNX operator(s): {', '.join(bad)}. bnnforge build takes graphs written by "
            f"`bnnforge export` (operators: {', '.join(sorted(SUPPORTED_OPS))})"
        )


def step_tidy(model, ctx):
    from qonnx.transformation.fold_constants import FoldConstants
    from qonnx.transformation.general import GiveUniqueNodeNames, RemoveStaticGraphInputs
    from qonnx.transformation.infer_data_layouts import InferDataLayouts
    from qonnx.transformation.infer_datatypes import InferDataTypes
    from qonnx.transformation.infer_shapes import InferShapes

    from bnnforge.finn_flow.flow import qonnx_import

    if qonnx_import.is_bnnforge_export(model):
        check_supported_ops(model, ctx.opts.source)
    else:  # a Brevitas/QONNX/FINN-ONNX BNN: FINN's own recipe turns it into the integer graph
        model = qonnx_import.import_graph(model, ctx.opts.source, ctx.log)
    for t in (InferShapes(), FoldConstants(), GiveUniqueNodeNames(), InferDataTypes(), RemoveStaticGraphInputs(),
              InferDataLayouts()):
        model = model.transform(t)
    return model


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

    from bnnforge.finn_flow.ops import residual

    for t in (
        LowerConvsToMatMul(),
        MakeMaxPoolNHWC(),
        absorb.AbsorbTransposeIntoMultiThreshold(),
        MakeMaxPoolNHWC(),
        absorb.AbsorbConsecutiveTransposes(),
        InferDataLayouts(),
        ConvertBipolarMatMulToXnorPopcount(),
        residual.AbsorbBinaryPadIntoIm2Col(),  # residual graphs only (ops/residual.py)
        residual.ChannelsLastResidual(),
        absorb.AbsorbAddIntoMultiThreshold(),
        absorb.AbsorbMulIntoMultiThreshold(),
        InferDataTypes(),
        InferDataLayouts(),
        RemoveUnusedTensors(),
        RoundAndClipThresholds(),
    ):
        model = model.transform(t)
    return model


def _finn_infer_transforms() -> list:
    """FINN's conversions of standard nodes to hardware layers, in the order they must run."""
    import finn.transformation.streamline.absorb as absorb
    from finn.transformation.fpgadataflow.convert_to_hw import (
        binary_matrix_vector_activation,
        conv_inp_gen,
        duplicate_streams,
        elementwise_binary_operation,
        label_select,
        pool,
        quantized_matrix_vector_activation,
        thresholding,
        vector_vector_activation,
    )
    from finn.transformation.move_reshape import RemoveCNVtoFCFlatten
    from qonnx.transformation.general import GiveUniqueNodeNames
    from qonnx.transformation.infer_data_layouts import InferDataLayouts
    from qonnx.transformation.infer_datatypes import InferDataTypes
    from qonnx.transformation.infer_shapes import InferShapes

    return [
        binary_matrix_vector_activation.InferBinaryMatrixVectorActivation(),
        quantized_matrix_vector_activation.InferQuantizedMatrixVectorActivation(),
        vector_vector_activation.InferVectorVectorActivation(),
        thresholding.InferThresholdingLayer(),
        pool.InferPool(),  # before InferConvInpGen: it turns MaxPool into Im2Col + Pool
        conv_inp_gen.InferConvInpGen(),
        RemoveCNVtoFCFlatten(),
        elementwise_binary_operation.InferElementwiseBinaryOperation(),
        duplicate_streams.InferDuplicateStreamsLayer(),
        label_select.InferLabelSelectLayer(),  # imported graphs end in TopK (qonnx_import)
        absorb.AbsorbConsecutiveTransposes(),
        GiveUniqueNodeNames(),
        InferDataLayouts(),
        InferDataTypes(),
        InferShapes(),
    ]


def step_convert_to_hw(model, ctx):
    """bnnforge's layers first (the registry's conversions: LAB only with --lab-impl fused),
    then FINN's Infer* transformations for everything else."""
    from qonnx.custom_op.registry import getCustomOp

    for transform in registry.conversions(ctx.opts.lab_impl):
        model = model.transform(transform)
    for t in _finn_infer_transforms():
        model = model.transform(t)
    for node in model.graph.node:
        if node.domain == registry.FINN_DOMAIN:
            getCustomOp(node).set_nodeattr("preferred_impl_style", ctx.opts.backend)
    return model


def step_check_python(model, ctx):
    """FINN's Python execution of the hardware graph must equal the golden logits exactly."""
    from finn.core.onnx_exec import execute_onnx

    from bnnforge.finn_flow.flow import qonnx_import

    if not qonnx_import.is_bnnforge_export(model):
        return _check_imported(model, ctx)
    vectors = ctx.opts.vectors_path
    if vectors is None or not vectors.exists():
        ctx.log(f"  no golden vectors ({vectors or 'an in-memory graph'}): Python-execution check skipped")
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

    from bnnforge.finn_flow.flow import qonnx_import
    from bnnforge.finn_flow.simulate.streams import labels_from_output

    source = ctx.opts.source
    if source is None:  # an in-memory graph: nothing to compare with
        return model
    ref, scale = qonnx_import.user_reference(source)
    x = qonnx_import.random_inputs(source, CHECK_SAMPLES)
    want = labels_from_output(qonnx_import.user_outputs(ref, scale, x))
    name = model.graph.input[0].name
    shape = model.get_tensor_shape(name)
    got = labels_from_output(np.stack([np.asarray(execute_onnx(model, {name: xi.reshape(shape)})
                                                  [model.graph.output[0].name]).reshape(-1) for xi in x]))
    if got.tolist() != want.tolist():
        raise BuildError(f"FINN Python execution of the hardware graph picks classes {got.tolist()} where qonnx "
                         f"execution of {source} picks {want.tolist()} (random inputs, seed 0)")
    ctx.log(f"  FINN Python execution == qonnx execution of {Path(source).name}: same class on "
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

    from bnnforge.finn_flow.flow.transforms import SpecializeToBnnforge

    model = model.transform(SpecializeToBnnforge(ctx.opts.backend))
    model = model.transform(SpecializeLayers(ctx.opts.board.part))
    return model.transform(GiveUniqueNodeNames()).transform(InferShapes()).transform(InferDataTypes())


def step_fold(model, ctx):
    from bnnforge.finn_flow.folding import config, optimizer

    opts = ctx.opts
    if opts.folding is not None:
        model = config.apply_folding(model, config.load_folding(opts.folding), str(opts.folding),
                                     partial=opts.partial_folding, log=ctx.log)
        ctx.log(f"  applied {opts.folding}")
    elif opts.target_fps is not None:
        groups = optimizer.build_groups(model, opts.board.part)
        try:
            result = optimizer.for_target(groups, opts.board, opts.clock, opts.target_fps, util=1.0)
        except config.FoldingError as e:
            raise BuildError(f"--target-fps {opts.target_fps:g}: {e}") from None
        model = config.apply_folding(model, result.config(), f"folding for {opts.target_fps:g} fps")
        ctx.log(f"  folded for {opts.target_fps:g} fps with `bnnforge fold`'s cheapest folding "
                f"({result.cycles} cycles per frame at {opts.clock} ns)")
    else:
        ctx.log("  no --target-fps or --folding: every layer unfolded (PE = SIMD = 1)")
    ctx.layout.folding.write_text(json.dumps(config.folding_config(model), indent=2) + "\n")
    return model


def step_minimize_bit_width(model, ctx):
    """FINN's bit-width minimization, with the XNOR accumulator and +-1 weight fixes (see finn_compat)."""
    from finn.transformation.fpgadataflow.minimize_accumulator_width import MinimizeAccumulatorWidth
    from finn.transformation.fpgadataflow.minimize_weight_bit_width import MinimizeWeightBitWidth
    from finn.transformation.streamline.round_thresholds import RoundAndClipThresholds
    from qonnx.transformation.infer_datatypes import InferDataTypes

    from bnnforge.finn_flow.finn_compat import bipolar_weights, fix_xnor_accumulators
    from bnnforge.finn_flow.flow.transforms import annotate_estimates

    model = model.transform(MinimizeWeightBitWidth()).transform(MinimizeAccumulatorWidth())
    model = fix_xnor_accumulators(model)
    model = model.transform(InferDataTypes())
    model = model.transform(RoundAndClipThresholds()).transform(InferDataTypes())
    model = model.transform(MinimizeWeightBitWidth())
    # the thresholds were rounded and clipped to the accumulators: what the estimates read of them
    return annotate_estimates(bipolar_weights(model).transform(InferDataTypes()))


def step_estimate(model, ctx):
    from finn.builder.build_dataflow_steps import step_generate_estimate_reports

    return step_generate_estimate_reports(model, ctx.finn_cfg)


def step_codegen(model, ctx):
    from finn.builder.build_dataflow_steps import step_hw_codegen

    return step_hw_codegen(model, ctx.finn_cfg)


def step_rtl_fifos(model, ctx):
    """The width converters and FIFOs the stitched design needs (FIFOs at FINN's minimum depth,
    or what a node's rules need to be deadlock free; sized by the next step), in RTL, with
    their code."""
    from finn.transformation.fpgadataflow.prepare_ip import PrepareIP

    from bnnforge.finn_flow.flow.transforms import insert_width_converters_and_fifos
    from bnnforge.finn_flow.rtl import stitch

    stitch.check_all_rtl(model)
    model = insert_width_converters_and_fifos(model, ctx.opts.board.part)
    return model.transform(PrepareIP(ctx.opts.board.part, ctx.opts.clock))


def step_fifo_sizing(model, ctx):
    """FIFO depths from a Verilator simulation of the stitched design (rtl/sizing.py), or
    with --fifo-sizing minimal FINN's minimum depths (correct, possibly slower than the
    layers allow)."""
    from bnnforge.finn_flow.rtl import sizing

    report = ctx.layout.fifo_sizing
    if ctx.opts.fifo_sizing == "minimal":
        ctx.log("  --fifo-sizing minimal: FINN's minimum FIFO depths kept (no sizing simulation)")
        report.write_text(json.dumps({"method": "minimal"}, indent=2) + "\n")
        return model
    model, result = sizing.size_fifos(model, ctx.layout.rtl_sizing, ctx.opts.board, ctx.opts.clock, ctx.log)
    report.write_text(json.dumps({"method": "sim", **result}, indent=2) + "\n")
    return model


def step_stitch_rtl(model, ctx):
    """BUILD/rtl/: the whole accelerator as one RTL design (rtl/stitch.py)."""
    from bnnforge.finn_flow.rtl import stitch

    design = stitch.stitch(model, ctx.layout.rtl, board=ctx.opts.board)
    ctx.log(f"  wrote {design.folder}/ ({len(design.sources)} sources; tops {stitch.TOP}.sv and "
            f"{stitch.SYSTEM_FILE}: the DMAs around it)")
    return model


def step_timing_estimate(model, ctx):
    """report/timing_estimate.json: every layer of BUILD/rtl synthesized out of context (yosys,
    cached per layer in rtl_synth/) and its critical path estimated on the board's family; the
    design's Fmax is its slowest layer's. Below the clock is a warning (the build goes on): the
    bitfile stage's Vivado timing is what fails a build."""
    from bnnforge.finn_flow.rtl import synth

    if not ctx.opts.timing:
        ctx.layout.timing_estimate.unlink(missing_ok=True)  # never a figure of an older design
        ctx.log("  skipped (--no-timing)")
        return model
    ctx.log(f"  yosys synth_xilinx of {len(model.graph.node)} layers out of context ({ctx.opts.board.yosys_family}; "
            f"cached in {ctx.layout.rtl_synth.name}/)")
    try:
        result = synth.synth_nodes(model, ctx.opts.board, work_dir=ctx.layout.rtl_synth)
    except RuntimeError as e:  # yosys failed on a layer: an estimate is missing, the design is not wrong
        report = {"error": str(e), "clock_ns": ctx.opts.clock}
        ctx.layout.timing_estimate.write_text(json.dumps(report, indent=2) + "\n")
        ctx.log("  " + synth.timing_verdict(report))
        return model
    report = synth.timing_report(result, ctx.opts.clock)
    ctx.layout.timing_estimate.write_text(json.dumps(report, indent=2) + "\n")
    ctx.log("  " + synth.timing_verdict(report))
    return model


def step_deploy_package(model, ctx):
    """BUILD/deploy/: bnnforge's PYNQ driver, io.json, validate.py, the run's test set."""
    from bnnforge.finn_flow.deploy import package

    perf = ctx.layout.estimate_performance
    cycles = int(json.loads(perf.read_text())["max_cycles"]) if perf.exists() else None
    package.write_package(model, ctx.out, ctx.opts.source, ctx.opts.board.name, ctx.opts.clock, cycles, ctx.log)
    return model


def step_vivado_project(model, ctx):
    """BUILD/vivado/: the Verilog wrapper of bnnforge_system and build_bitfile.tcl (no Vivado
    needed to write them; run by the bitfile stage, or by hand)."""
    from bnnforge.finn_flow.rtl import vivado

    script = vivado.write_vivado_project(ctx.out, ctx.opts.board, ctx.opts.clock)
    ctx.log(f"  wrote {script} (Vivado {vivado.VIVADO_VERSION}: vivado -mode batch -source {script.name})")
    return model


def step_bitfile(model, ctx):
    """Vivado turns BUILD/rtl/'s system into a bitstream (the script of vivado_project); the
    build reads its timing back (a failed timing is exit 1, naming the path) and puts its
    LUT/FF/BRAM beside the estimate in report/vivado_resources.json."""
    from bnnforge.finn_flow.rtl import vivado

    result = vivado.run_vivado(ctx.out, ctx.log)
    ctx.log(f"  Vivado: WNS {result.wns:+.3f} ns; resources in {vivado.write_resource_report(ctx.out, result)}")
    return model


def step_deploy_bitfile(model, ctx):
    """The bitstream and its .hwh, which the Vivado script wrote into BUILD/deploy/bitfile/,
    are there side by side (PYNQ's Overlay needs both); the package's README says so."""
    from bnnforge.finn_flow.deploy import package

    ctx.log(f"  the deployment package holds {package.check_bitfile(ctx.out)}")
    return model


STEP_FUNCTIONS: dict[str, Callable] = {
    "tidy": step_tidy,
    "streamline": step_streamline,
    "convert_to_hw": step_convert_to_hw,
    "check_python": step_check_python,
    "dataflow_partition": step_dataflow_partition,
    "specialize": step_specialize,
    "fold": step_fold,
    "minimize_bit_width": step_minimize_bit_width,
    "estimate": step_estimate,
    "codegen": step_codegen,
    "rtl_fifos": step_rtl_fifos,
    "fifo_sizing": step_fifo_sizing,
    "stitch_rtl": step_stitch_rtl,
    "timing_estimate": step_timing_estimate,
    "deploy_package": step_deploy_package,
    "vivado_project": step_vivado_project,
    "bitfile": step_bitfile,
    "deploy_bitfile": step_deploy_bitfile,
}
assert list(STEP_FUNCTIONS) == [name for name, _ in STEPS], "flow/layout.STEPS and STEP_FUNCTIONS disagree"
