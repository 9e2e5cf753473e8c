"""The deployment package off the board: its own driver.py and validate.py, run against
the Verilator simulation of BUILD/rtl/ through the pynq shim (pynq_shim.py), which stands in
for PYNQ and the board's DMAs: the driver's packing, IODMA register protocol and unpacking
exchange bytes with the simulated RTL (VerilatorDevice: the stream the DMAs carry), so a
driver bug shows up here, not on the board.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
from pathlib import Path

import numpy as np

from bnnforge.errors import UserError
from bnnforge.finn_flow.deploy import pynq_shim
from bnnforge.finn_flow.flow.layout import BuildLayout
from bnnforge.finn_flow.rtl import network
from bnnforge.finn_flow.simulate import reference
from bnnforge.finn_flow.simulate.streams import labels_from_output, to_dataflow_layout


def load_driver(deploy_dir: Path):
    """The package's own driver.py as a module (the code that runs on the board)."""
    path = Path(deploy_dir) / "driver.py"
    if not path.exists():
        raise UserError(f"{path} not found: build through the rtl stage first (`bnnforge build --until rtl`)")
    spec = importlib.util.spec_from_file_location("bnnforge_deploy_driver", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class VerilatorDevice:
    """Stands in for the board's input/output DMAs: the bytes the driver packed become the
    input stream's beats (little-endian, ``beat_bytes`` each) of the Verilator simulation of
    BUILD/rtl/, and the output beats become the bytes the output DMA would write."""

    def __init__(self, build_dir: Path, io: dict, stall: float = 0.0):
        self.build_dir = Path(build_dir)
        self.model, _ = reference.latest_model(self.build_dir)
        self.io, self.stall = io, stall
        self.last_seconds = None

    def transfer(self, packed: np.ndarray) -> np.ndarray:
        i, o = self.io["input"], self.io["output"]
        frames = len(packed)
        raw = np.asarray(packed, np.uint8).reshape(frames * i["beats"], i["beat_bytes"])
        beats = [int.from_bytes(row.tobytes(), "little") for row in raw]
        out_beats, result = network.simulate_beats(self.model, BuildLayout(self.build_dir).rtl, beats, frames,
                                                  stall_out=self.stall)
        self.last_seconds = result.wall_seconds
        data = b"".join(b.to_bytes(o["beat_bytes"], "little") for b in out_beats)
        return np.frombuffer(data, np.uint8).reshape(frames, o["beats"] * o["beat_bytes"])


def board_device(driver, build_dir: Path, io: dict, stall: float = 0.0):
    """The driver's own PynqDevice (the code that talks to the board's DMAs), on the pynq shim."""
    pynq_shim.install(VerilatorDevice(build_dir, io, stall))
    return driver.PynqDevice(BuildLayout(build_dir).deploy_bitfile, io["input"]["beats"] * io["input"]["beat_bytes"],
                             io["output"]["beats"] * io["output"]["beat_bytes"])


def run_validate(build_dir: Path, images: int, batch: int = 50, stall: float = 0.0) -> int:
    """The package's validate.py, as on the board, on the pynq shim (its exit code)."""
    import sys

    deploy = BuildLayout(build_dir).deploy
    load_driver(deploy)  # a clear error when the package is missing
    pynq_shim.install(VerilatorDevice(build_dir, json.loads(BuildLayout(build_dir).deploy_io.read_text()), stall))
    print("validate.py on the pynq shim: the accelerator is the Verilator simulation, so its throughput "
          "figures are the simulation's, not the board's")
    sys.path.insert(0, str(deploy))  # validate.py imports driver.py from its folder
    try:
        spec = importlib.util.spec_from_file_location("bnnforge_deploy_validate", deploy / "validate.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module.main(["--limit", str(images), "--batch", str(batch)])
    finally:
        sys.path.remove(str(deploy))
        sys.modules.pop("driver", None)


@dataclasses.dataclass
class DriverCheck:
    images: int
    mismatches: int
    labels_agree: int
    reference: str
    first_mismatch: int | None
    outputs: np.ndarray


def check_driver(build_dir: Path, run_dir: Path | None = None, input_path: Path | None = None, images: int = 16,
                 stall: float = 0.0) -> DriverCheck:
    """`bnnforge sim driver`: the package's driver.py against the simulated RTL, its outputs
    compared exactly with the golden model (--run, or the build's test vectors) or else with
    FINN's Python execution of the build's graph."""
    layout = BuildLayout(build_dir)
    driver = load_driver(layout.deploy)
    io = json.loads(layout.deploy_io.read_text())
    vectors = layout.read_config().get("vectors")
    x = want = None
    if run_dir is not None or input_path is not None or (vectors and Path(vectors).exists()):
        x, want, source = network.run_images(build_dir, run_dir, input_path, images)
    model, _ = reference.latest_model(build_dir)
    if x is None:  # no golden reference for this build: random inputs, FINN's Python execution
        x_df, source = reference.build_inputs(build_dir, model, images)
        shape = model.get_tensor_shape(model.graph.input[0].name)
        x = x_df.transpose(0, 3, 1, 2) if len(shape) == 4 else x_df  # the driver takes NCHW images
    acc = driver.Accelerator(layout.deploy, device=board_device(driver, build_dir, io, stall))
    got = acc.execute(x)
    if want is None:
        x_df = to_dataflow_layout(x, model.get_tensor_shape(model.graph.input[0].name))
        out = model.graph.output[0].name
        want = np.stack([e[out].reshape(-1) for e in reference.edge_values(model, x_df)])
        source += ", reference: FINN's Python execution of the build's graph"
    want = np.asarray(want).reshape(len(got), -1)
    bad = [k for k in range(len(got)) if not np.array_equal(got[k], want[k])]
    return DriverCheck(len(got), len(bad), int((labels_from_output(got) == labels_from_output(want)).sum()), source,
                       bad[0] if bad else None, got)
