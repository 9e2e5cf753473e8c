"""`bnnforge build`: QONNX model -> FINN dataflow accelerator, and the step loop other
commands reuse (``run_steps``: a named range of steps on a model, in memory).

Each step of a build saves BUILD/intermediate_models/NN_<step>.onnx (flow/layout.py), so a
build can resume from any step with --from-step. Everything FINN prints goes to
BUILD/build.log.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import time
from pathlib import Path
from typing import Callable

from bnnforge.errors import BnnforgeError, EXIT_INTERNAL, EXIT_NEEDS_VIVADO, EXIT_OK
from bnnforge.finn_flow import BACKENDS, FIFO_SIZINGS, LAB_IMPLS, STAGES
from bnnforge.finn_flow.flow import state
from bnnforge.finn_flow.flow.layout import STEP_NAMES, STEPS, BuildLayout, step_index
from bnnforge.finn_flow.flow.steps import STEP_FUNCTIONS, BuildError, StepContext

EXIT_STAGE_UNAVAILABLE = EXIT_NEEDS_VIVADO


class StepFailed(BnnforgeError):
    """A step raised an unexpected exception (a bnnforge or FINN bug, not bad input)."""

    exit_code = EXIT_INTERNAL


@dataclasses.dataclass(kw_only=True)
class FlowOptions:
    """What the steps need to know."""

    board: object  # bnnforge.boards.Board
    clock_ns: float | None = None
    target_fps: float | None = None
    folding: Path | None = None
    partial_folding: bool = False  # a --folding file may leave layers out (they keep PE = SIMD = 1)
    lab_impl: str = "fused"
    backend: str = "rtl"  # rtl: bnnforge's/FINN's RTL wherever it exists; hls: HLS for bnnforge's layers
    fifo_sizing: str = "sim"  # sim: FIFO depths from a Verilator simulation; minimal: FINN's minimum depths
    timing: bool = True  # rtl stage: estimate the critical path of every layer (yosys, cached per layer)
    vectors: Path | None = None  # golden test vectors (default: vectors.npz next to the model file)
    source: Path | None = None  # the model file the graph comes from (None: a graph in memory)

    @property
    def clock(self) -> float:
        return self.clock_ns or self.board.clock_ns

    @property
    def vectors_path(self) -> Path | None:
        if self.vectors is not None:
            return Path(self.vectors)
        return Path(self.source).with_name("vectors.npz") if self.source is not None else None

    def validate(self) -> None:
        for option, value, allowed in (("--lab-impl", self.lab_impl, LAB_IMPLS),
                                       ("--fifo-sizing", self.fifo_sizing, FIFO_SIZINGS),
                                       ("--backend", self.backend, BACKENDS)):
            if value not in allowed:
                raise BuildError(f"{option} {value!r}: allowed: {', '.join(allowed)}")
        if self.target_fps is not None and self.folding is not None:
            raise BuildError("give either --target-fps or --folding, not both")
        if self.target_fps is not None and not self.target_fps > 0:
            raise BuildError(f"--target-fps must be positive, got {self.target_fps}")
        if self.folding is not None and not Path(self.folding).exists():
            raise BuildError(f"folding file {self.folding} not found")
        if self.vectors is not None and not Path(self.vectors).is_file():
            raise BuildError(f"--vectors {self.vectors}: not found (golden vectors come from `bnnforge export`)")


@dataclasses.dataclass(kw_only=True)
class BuildOptions(FlowOptions):
    """A whole `bnnforge build`: the flow options plus where and how far."""

    model: Path
    out: Path
    until: str = "bitfile"
    from_step: str | None = None

    def __post_init__(self):
        self.source = Path(self.model)

    def validate(self) -> None:
        if self.until not in STAGES:
            raise BuildError(f"--until {self.until!r}: allowed: {', '.join(STAGES)}")
        if self.until == "bitfile" and self.backend != "rtl":
            raise BuildError("--until bitfile needs --backend rtl: the bitstream is built from the RTL the rtl stage "
                             "simulates (HLS layers would need Vitis HLS and FINN's Zynq shell, which bnnforge does "
                             "not drive); build --backend hls only --until codegen")
        if self.from_step is not None and self.from_step not in STEP_NAMES:
            raise BuildError(f"--from-step {self.from_step!r}: steps are {', '.join(STEP_NAMES)}")
        super().validate()


@dataclasses.dataclass
class BuildResult:
    out: Path
    completed_stage: str | None
    exit_code: int
    message: str


def missing_vivado_tools() -> list[str]:
    """What the bitfile stage needs and this machine lacks: Vivado only (the bitstream is built
    from the RTL the rtl stage simulated: no Vitis HLS, no finn-hlslib, no FINN environment)."""
    from bnnforge import toolenv

    return [] if toolenv.which("vivado") else ["vivado (source Vivado's settings64.sh)"]


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


def _run_step(index: int, model, ctx: StepContext, log_path: Path):
    name = STEP_NAMES[index]
    with finn_output_to(log_path):
        try:
            return STEP_FUNCTIONS[name](model, ctx)
        except BnnforgeError:
            raise
        except Exception as e:
            raise StepFailed(f"step {name} failed: {type(e).__name__}: {e} (FINN's output: {log_path})") from e


def run_steps(model, first: str, last: str, opts: FlowOptions, work_dir: Path, log: Callable[[str], None] = lambda *_: None):
    """The build's steps ``first`` .. ``last`` (inclusive) on ``model``, in memory: what
    other commands reuse of the build (fold's prepared graph, verify's hardware graph).
    Files the steps write (reports, folding.json, FINN's log) go to ``work_dir``."""
    from bnnforge.finn_flow import registry

    registry.load()
    opts.validate()
    work_dir = Path(work_dir)
    BuildLayout(work_dir).report.mkdir(parents=True, exist_ok=True)
    ctx = StepContext(opts, work_dir, log)
    for index in range(step_index(first), step_index(last) + 1):
        model = _run_step(index, model, ctx, BuildLayout(work_dir).log)
    return model


def _sha256(path: Path | None) -> str | None:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest() if path is not None and Path(path).is_file() else None


def build_config(opts: BuildOptions) -> dict:
    """The options a build ran with (BUILD/build_config.json), files identified by content too."""
    vectors = opts.vectors_path
    return {
        "model": str(Path(opts.model).resolve()),
        "model_sha256": _sha256(opts.model),
        "board": opts.board.name,
        "clock_ns": opts.clock,
        "target_fps": opts.target_fps,
        "folding": str(opts.folding) if opts.folding else None,
        "folding_sha256": _sha256(opts.folding),
        "partial_folding": opts.partial_folding,
        "lab_impl": opts.lab_impl,
        "backend": opts.backend,
        "fifo_sizing": opts.fifo_sizing,
        "timing": opts.timing,
        "vectors": str(vectors.resolve()) if vectors is not None and vectors.exists() else None,
    }


def load_model_file(path: Path):
    """A model file as a qonnx ModelWrapper, or a BuildError naming the file and the problem
    (missing, a folder, empty, truncated, not ONNX, no graph)."""
    from qonnx.core.modelwrapper import ModelWrapper

    path = Path(path)
    if not path.exists():
        raise BuildError(f"model file {path} not found")
    if not path.is_file() or path.stat().st_size == 0:
        raise BuildError(f"model file {path}: {'empty' if path.is_file() else 'not a file'}")
    try:
        model = ModelWrapper(str(path))
    except Exception as e:
        raise BuildError(f"{path}: not a readable ONNX model ({type(e).__name__}: {e})") from None
    g = model.graph
    if not (g.node and g.input and g.output):
        raise BuildError(f"{path}: an ONNX model without a graph (nodes {len(g.node)}, inputs {len(g.input)}, "
                         f"outputs {len(g.output)})")
    return model


def _start(opts: BuildOptions, layout: BuildLayout):
    """(index of the first step to run, the model it starts from)."""
    from qonnx.core.modelwrapper import ModelWrapper

    if not opts.from_step:
        return 0, load_model_file(opts.model)
    start = step_index(opts.from_step)
    if start == 0:
        return 0, load_model_file(opts.model)
    prev = layout.model_after(start - 1)
    if not prev.exists():
        raise BuildError(f"cannot resume from {opts.from_step}: {prev} is missing (run the earlier steps first)")
    return start, ModelWrapper(str(prev))


def _last_step(opts: BuildOptions) -> tuple[int, str | None]:
    """(index of the last step to run, why the build stops short of --until, or None)."""
    last = max(i for i, (_, stage) in enumerate(STEPS) if STAGES.index(stage) <= STAGES.index(opts.until))
    if opts.until == "bitfile":
        missing = missing_vivado_tools()
        if missing:  # as far as this machine goes: the rtl stage, with the Vivado script written
            return max(i for i, (_, stage) in enumerate(STEPS) if stage == "rtl"), f"not found: {', '.join(missing)}"
    return last, None


def build(opts: BuildOptions, log: Callable[[str], None] = print) -> BuildResult:
    from bnnforge.finn_flow import registry

    registry.load()
    opts.validate()
    load_model_file(opts.model)  # a clear error before the folder is touched
    layout = BuildLayout(opts.out)
    state.check_owned(layout)
    with state.build_lock(layout):
        return _build_locked(opts, layout, log)


def _build_locked(opts: BuildOptions, layout: BuildLayout, log) -> BuildResult:
    from bnnforge.finn_flow import finn_compat

    config = build_config(opts)
    completed = state.check_resume(state.read_state(layout), config, opts.from_step) if opts.from_step else []
    layout.models.mkdir(parents=True, exist_ok=True)
    layout.report.mkdir(parents=True, exist_ok=True)
    record = {"config": config, "completed": completed, "running": None}
    state.write_state(layout, record)  # before anything else changes: the folder is this build's now
    layout.config.write_text(json.dumps(config, indent=2) + "\n")
    finn_compat.use_build_dir(layout.code)
    start, model = _start(opts, layout)
    last, stop_reason = _last_step(opts)
    ctx = StepContext(opts, layout.root, log)
    done_stage = None
    for i in range(start, last + 1):
        t0 = time.time()
        record["running"] = STEP_NAMES[i]
        state.write_state(layout, record)
        model = _run_step(i, model, ctx, layout.log)  # an exception leaves "running" set: never trusted
        model.save(str(layout.model_after(i)))
        record["completed"].append(STEP_NAMES[i])
        record["running"] = None
        state.write_state(layout, record)
        log(f"[{i + 1:2d}/{last + 1}] {STEP_NAMES[i]:<20} {time.time() - t0:6.1f} s")
        if i == last or STEPS[i + 1][1] != STEPS[i][1]:
            done_stage = STEPS[i][1]
    if stop_reason:
        return BuildResult(layout.root, done_stage, EXIT_STAGE_UNAVAILABLE,
                           _stopped_message(layout, done_stage, stop_reason))
    return BuildResult(layout.root, done_stage, EXIT_OK, f"build finished through the {done_stage} stage: {layout.root}")


def _stopped_message(layout: BuildLayout, completed: str | None, reason: str) -> str:
    out = layout.root
    rtl = (f"the whole accelerator as RTL in {layout.rtl}/, the PYNQ deployment package (without its bitfile) "
           f"in {layout.deploy}/, " if completed == "rtl" else "")
    return (
        f"stopped after the {completed} stage ({reason}).\n"
        f"  produced: {rtl}estimates in {layout.report}/, per-layer code in {layout.code}/, the FINN graph after "
        f"each step in {out}/intermediate_models/\n"
        f"  the bitstream needs Vivado: source its settings64.sh and rerun with --from-step bitfile, or run "
        f"`vivado -mode batch -source {layout.root}/vivado/build_bitfile.tcl` by hand"
    )


def to_hw_graph(model, lab_impl: str = "fused", backend: str = "rtl"):
    """The FINN hardware graph (before partitioning) of an exported model, in memory:
    the build's steps tidy .. convert_to_hw."""
    import tempfile

    from bnnforge.boards import load_board

    opts = FlowOptions(board=load_board("pynq-z2"), lab_impl=lab_impl, backend=backend)
    with tempfile.TemporaryDirectory(prefix="bnnforge-hw-graph-") as work:
        return run_steps(model, "tidy", "convert_to_hw", opts, Path(work))
