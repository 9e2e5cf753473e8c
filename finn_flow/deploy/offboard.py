"""The deployment package off the board: its own driver.py and validate.py, run unchanged
against the Verilator simulation of the whole programmable-logic design (BUILD/rtl/
bnnforge_system: DMA engines + accelerator, in a harness with a simulated DDR; see
sim/system_sim.py) through the pynq shim (pynq_shim.py): register writes and reads go over
the system's AXI4-Lite port, buffers live in the simulated DDR, the DMAs move the frames.
A driver bug (packing, register protocol, cache handling) shows up here, not on the board.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import json
from pathlib import Path

import numpy as np

from bnnforge.errors import CheckFailed, UserError
from bnnforge.finn_flow.deploy import pynq_shim
from bnnforge.finn_flow.flow.layout import BuildLayout
from bnnforge.finn_flow.rtl import stitch
from bnnforge.finn_flow.simulate import reference
from bnnforge.finn_flow.simulate.images import load_images
from bnnforge.finn_flow.simulate.streams import labels_from_output
from bnnforge.sim import system_sim

MEM_LATENCY = 20  # cycles from a DDR request to its data (`--mem-latency`)
SIM_TIMEOUT_S = 1e9  # the driver's wall-clock timeout in simulation: the shim bounds the cycles instead


def load_driver(deploy_dir: Path):
    """The package's own driver.py as a module (the code that runs on the board)."""
    path = Path(deploy_dir) / "driver.py"
    if not path.exists():
        raise UserError(f"{path} not found: build through the rtl stage first (`bnnforge build --until rtl`)")
    spec = importlib.util.spec_from_file_location("bnnforge_deploy_driver", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@contextlib.contextmanager
def simulated_board(build_dir: Path, mem_latency: int = MEM_LATENCY, stall: float = 0.0, seed: int = 1):
    """The pynq shim installed over the simulation of BUILD/rtl/'s bnnforge_system; yields the
    SimulatedBoard (its last_transfer: frames and cycles of the driver's last transfer)."""
    layout = BuildLayout(build_dir)
    reference.latest_model(build_dir, "rtl")  # the rtl stage completed, nothing stale
    design = stitch.load_design(layout.rtl)
    if "system" not in design:
        raise UserError(f"{layout.rtl} has no system.sv (built by an older bnnforge): rebuild with `bnnforge build`")
    io = json.loads(layout.deploy_io.read_text())
    rtl = layout.rtl.resolve()
    exe = system_sim.build_system([rtl / s for s in design["sources"]], design["system"]["top"],
                                  control=(rtl / stitch.RTL_WAIVERS,))
    worst = max(int(io.get("estimated_cycles_per_frame") or 0), 1) * 4 + 10 * (io["input"]["beats"]
                                                                               + io["output"]["beats"])
    with system_sim.SystemSim(exe, data_files=[rtl / f for f in design["data_files"]], mem_latency=mem_latency,
                              stall=(0.0, stall), seed=seed) as sim:
        board = pynq_shim.SimulatedBoard(sim, io["control"], layout.deploy_bitfile.exists(), worst,
                                         first_address=_first_address(design["system"]["addr_bits"]))
        pynq_shim.install(board)
        yield board


def _first_address(addr_bits: int) -> int:
    """Where the shim's allocator starts: above 4 GiB when the port reaches there (ZynqMP's
    high DDR), so the driver's 64-bit address writes are exercised."""
    return 0x8_0000_0000 if addr_bits > 32 else 0x1000_0000


def run_validate(build_dir: Path, images: int, batch: int = 50, stall: float = 0.0,
                 mem_latency: int = MEM_LATENCY) -> int:
    """The package's validate.py, as on the board, on the pynq shim (its exit code)."""
    import sys

    deploy = BuildLayout(build_dir).deploy
    load_driver(deploy)  # a clear error when the package is missing
    print("validate.py on the pynq shim: the bitstream is the Verilator simulation of the same RTL, so its "
          "throughput figures are the simulation's speed, not the board's")
    sys.path.insert(0, str(deploy))  # validate.py imports driver.py from its folder
    try:
        with simulated_board(build_dir, mem_latency, stall):
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
    cycles_per_frame: float | None = None  # input DMA start to output DMA done, per frame (one pipeline fill)
    fps: float | None = None  # at the build's clock, the DMAs included
    latency_cycles: int | None = None  # one image alone: DMA start to done (the fill)
    steady_cycles_per_frame: float | None = None  # (N images - 1 image) / (N - 1): without the fill

    @property
    def steady_fps(self) -> float | None:
        return self.fps * self.cycles_per_frame / self.steady_cycles_per_frame if self.steady_cycles_per_frame else None

    def to_json(self) -> dict:
        return {"images": self.images, "mismatches": self.mismatches, "fps": self.fps,
                "cycles_per_frame": self.cycles_per_frame, "latency_cycles": self.latency_cycles,
                "steady_cycles_per_frame": self.steady_cycles_per_frame, "steady_fps": self.steady_fps,
                "labels_agree": self.labels_agree, "first_mismatch": self.first_mismatch, "reference": self.reference}


def check_driver(build_dir: Path, run_dir: Path | None = None, input_path: Path | None = None, images: int = 16,
                 stall: float = 0.0, mem_latency: int = MEM_LATENCY) -> DriverCheck:
    """`bnnforge sim driver`: the package's driver.py against the simulated system (DMAs and
    accelerator), its outputs compared exactly with the reference simulate/images.py picks."""
    layout = BuildLayout(build_dir)
    model, _ = reference.latest_model(build_dir, "rtl")
    driver = load_driver(layout.deploy)
    io = json.loads(layout.deploy_io.read_text())
    imgs = load_images(build_dir, model, run_dir, input_path, images)
    source = f"{imgs.source}, compared with {imgs.reference}"
    with simulated_board(build_dir, mem_latency, stall) as board:
        device = driver.PynqDevice(layout.deploy_bitfile, io["input"]["beats"] * io["input"]["beat_bytes"],
                                   io["output"]["beats"] * io["output"]["beat_bytes"], io["control"],
                                   timeout_s=SIM_TIMEOUT_S)
        accelerator = driver.Accelerator(layout.deploy, device=device)
        got = accelerator.execute(imgs.x)
        frames, cycles = board.last_transfer
        # The first image again, alone: its time is the pipeline's fill (latency), which the
        # N-image figure holds once; the difference is the steady state `sim network` measures.
        again = accelerator.execute(imgs.x[:1]) if frames > 1 else got[:1]
        latency = board.last_transfer[1]
    want = np.asarray(imgs.want).reshape(len(got), -1)
    bad = [k for k in range(len(got)) if not np.array_equal(got[k], want[k])]
    if not np.array_equal(again[0], got[0]):
        raise CheckFailed("sim driver: the first image run alone after the batch gave other outputs than in the "
                          "batch (state left behind by the previous transfer)")
    cpf = cycles / frames
    clock_ns = layout.read_config()["clock_ns"]
    return DriverCheck(len(got), len(bad), int((labels_from_output(got) == labels_from_output(want)).sum()), source,
                       bad[0] if bad else None, got, cpf, 1e9 / (clock_ns * cpf), latency,
                       (cycles - latency) / (frames - 1) if frames > 1 else None)
