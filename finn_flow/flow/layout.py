"""The BUILD folder: every path `bnnforge build` writes and the other commands read.

    build_config.json        the options the build ran with
    build_state.json         the steps that completed with those options, the step running (flow/state.py)
    folding.json             the folding applied (a `build --folding` file)
    build.log                everything FINN printed
    intermediate_models/     NN_<step>.onnx: the graph after each step (resume with --from-step)
    report/                  FINN's estimates, bnnforge_summary.json, fifo_sizing.json, timing_estimate.json
    code/                    per-node generated code (FINN's code generation folders)
    rtl/                     the whole accelerator as RTL (rtl stage)
    rtl_sizing/              FIFO sizing scratch designs
    rtl_sim/                 waveforms of `sim network --waves`
    rtl_synth/               yosys scratch of `sim synth --network` and of the rtl stage's timing estimate
    deploy/                  the package for the board (driver.py, io.json, validate.py, ...; bitfile/:
                             the .bit and .hwh Vivado makes)
    vivado/                  build_bitfile.tcl and the Verilog wrapper of the system (rtl/vivado.py)

The step order lives here too: the saved graphs are named after the steps.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

# (step, stage) in build order; bnnforge.finn_flow.flow.steps implements each
STEPS: tuple[tuple[str, str], ...] = (
    ("tidy", "estimate"),
    ("streamline", "estimate"),
    ("convert_to_hw", "estimate"),
    ("check_python", "estimate"),
    ("dataflow_partition", "estimate"),
    ("specialize", "estimate"),
    ("fold", "estimate"),
    ("minimize_bit_width", "estimate"),
    ("estimate", "estimate"),
    ("codegen", "codegen"),
    ("rtl_fifos", "rtl"),
    ("fifo_sizing", "rtl"),
    ("stitch_rtl", "rtl"),
    ("timing_estimate", "rtl"),
    ("deploy_package", "rtl"),
    ("vivado_project", "rtl"),
    ("bitfile", "bitfile"),
    ("deploy_bitfile", "bitfile"),
)
STEP_NAMES: tuple[str, ...] = tuple(name for name, _ in STEPS)

# inside rtl/ (written by bnnforge.finn_flow.rtl.stitch)
RTL_TOP = "accelerator"
RTL_DESIGN_JSON = "design.json"
RTL_WAIVERS = "finn_rtllib_waivers.vlt"
# inside deploy/
DEPLOY_BITFILE = "bitfile/accelerator.bit"


def step_index(step: str) -> int:
    return STEP_NAMES.index(step)


@dataclasses.dataclass(frozen=True)
class BuildLayout:
    """The paths of one build folder."""

    root: Path

    def __post_init__(self):
        object.__setattr__(self, "root", Path(self.root))

    @property
    def config(self) -> Path:
        return self.root / "build_config.json"

    @property
    def state(self) -> Path:
        """What the last build did in this folder (flow/state.py)."""
        return self.root / "build_state.json"

    def read_config(self) -> dict:
        """build_config.json, or {} before the build wrote it."""
        return json.loads(self.config.read_text()) if self.config.exists() else {}

    @property
    def folding(self) -> Path:
        return self.root / "folding.json"

    @property
    def log(self) -> Path:
        return self.root / "build.log"

    @property
    def models(self) -> Path:
        return self.root / "intermediate_models"

    def model_after(self, step: str | int) -> Path:
        """The graph the build saved after ``step`` (a name or an index into STEPS)."""
        index = step if isinstance(step, int) else step_index(step)
        return self.models / f"{index:02d}_{STEP_NAMES[index]}.onnx"

    def saved_models(self) -> list[Path]:
        """Every saved graph, in step order."""
        return sorted(self.models.glob("[0-9][0-9]_*.onnx"))

    @property
    def report(self) -> Path:
        return self.root / "report"

    @property
    def estimate_performance(self) -> Path:
        return self.report / "estimate_network_performance.json"

    @property
    def estimate_cycles(self) -> Path:
        return self.report / "estimate_layer_cycles.json"

    @property
    def estimate_resources(self) -> Path:
        return self.report / "estimate_layer_resources.json"

    @property
    def summary(self) -> Path:
        return self.report / "bnnforge_summary.json"

    @property
    def fifo_sizing(self) -> Path:
        return self.report / "fifo_sizing.json"

    @property
    def timing_estimate(self) -> Path:
        return self.report / "timing_estimate.json"

    @property
    def code(self) -> Path:
        return self.root / "code"

    @property
    def rtl(self) -> Path:
        return self.root / "rtl"

    @property
    def rtl_design(self) -> Path:
        return self.rtl / RTL_DESIGN_JSON

    @property
    def rtl_sizing(self) -> Path:
        return self.root / "rtl_sizing"

    @property
    def rtl_sim(self) -> Path:
        return self.root / "rtl_sim"

    @property
    def rtl_synth(self) -> Path:
        return self.root / "rtl_synth"

    @property
    def deploy(self) -> Path:
        return self.root / "deploy"

    @property
    def deploy_io(self) -> Path:
        return self.deploy / "io.json"

    @property
    def deploy_bitfile(self) -> Path:
        return self.deploy / DEPLOY_BITFILE

    @property
    def verify_stamp(self) -> Path:
        """The stage a verify build reached (bnnforge.finn_flow.verify.build)."""
        return self.root / "verify_stage.json"
