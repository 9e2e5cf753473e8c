"""BUILD/deploy/: what goes onto the board, and its off-board check.

The package (written at the end of the rtl stage; `--until bitfile` adds bitfile/):
  driver.py        bnnforge's PYNQ driver (pynq_driver.py): packing, unpacking, IODMA control
  io.json          the accelerator's streams as the driver packs them
  validate.py      runs a test set on the board, prints accuracy and fps
  testset.npz      the run's test set (when the model came from `bnnforge export`)
  runtime_weights/ empty: every weight and threshold is a ROM inside the RTL (internal_embedded)
  README.md        copy-and-run steps for the board
  bitfile/         accelerator.bit + accelerator.hwh (Vivado only)

Off the board, the pynq shim (pynq_shim.py) stands in for PYNQ and the board's DMAs: the
driver's own code (packing, IODMA register protocol, unpacking) exchanges bytes with the
Verilator simulation of BUILD/rtl/ (VerilatorDevice: the stream the DMAs carry), so a
driver bug shows up here, not on the board.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import math
import shutil
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DEPLOY = "deploy"
BITFILE = "bitfile/accelerator.bit"


class DeployError(ValueError):
    pass


def _stream(inst, ind: int, output: bool) -> dict:
    """io.json entry of a node's input/output stream ``ind``."""
    from bnnforge.finn_flow import registry

    dt = inst.get_output_datatype(ind) if output else inst.get_input_datatype(ind)
    folded = inst.get_folded_output_shape(ind) if output else inst.get_folded_input_shape(ind)
    normal = inst.get_normal_output_shape(ind) if output else inst.get_normal_input_shape(ind)
    width = inst.get_outstream_width(ind) if output else inst.get_instream_width(ind)
    name = inst.onnx_node.name
    if dt.name == "BIPOLAR":
        raise DeployError(f"{name}: a bipolar {'output' if output else 'input'} stream; the driver packs integers only")
    probe = np.arange(int(np.prod(normal)), dtype=np.float32).reshape(1, *normal[1:])
    if not np.array_equal(registry.to_stream_order(inst, ind, probe, output=output), probe):
        raise DeployError(f"{name}: its stream carries values reordered (a window layout); the driver packs "
                          "plain row-major streams only")
    simd = int(folded[-1])
    if simd * dt.bitwidth() != width:
        raise DeployError(f"{name}: stream width {width} is not {simd} x {dt.bitwidth()} bits")
    return {"datatype": dt.name, "bits": dt.bitwidth(), "signed": bool(dt.signed()), "shape": list(normal[1:]),
            "simd": simd, "beats": int(math.prod(folded[1:-1])), "beat_bytes": (width + 7) // 8}


def io_spec(model, clock_ns: float, estimated_cycles: int | None) -> dict:
    """The accelerator's streams (first and last node of the dataflow graph) for the driver."""
    from bnnforge.finn_flow import netsim

    first, last = netsim.io_nodes(model)
    ind = list(first.onnx_node.input).index(model.graph.input[0].name)
    out = list(last.onnx_node.output).index(model.graph.output[0].name)
    shape = model.get_tensor_shape(model.graph.input[0].name)
    fps = 1e9 / (clock_ns * estimated_cycles) if estimated_cycles else None
    return {"input": _stream(first, ind, False), "output": _stream(last, out, True),
            "channels_last": len(shape) == 4, "bitfile": BITFILE, "clock_ns": clock_ns,
            "estimated_cycles_per_frame": estimated_cycles, "estimated_fps": fps}


def _testset(model_path: Path) -> tuple[np.ndarray, np.ndarray, str] | None:
    """(x uint8 NCHW, y, dataset name) of the run the model was exported from, if any."""
    from bnnforge.model.data import load_dataset
    from bnnforge.model.run import load_model

    run = Path(model_path).parent
    if not (run / "config.json").exists() or not (run / "checkpoint.pt").exists():
        return None
    _, _, train_cfg = load_model(run)
    ds = load_dataset(train_cfg.dataset, train_cfg.data_dir, train_cfg.image_size, train_cfg.channels)
    return ds.x_test.numpy().astype(np.uint8), ds.y_test.numpy().astype(np.int64), train_cfg.dataset


README = """# bnnforge accelerator: {board}

Built from `{model}` by `bnnforge build` ({clock_ns} ns clock, estimated {fps} images/s).

## Files
- `driver.py`: the driver (numpy only; PYNQ's `Overlay` and `allocate`, FINN's IODMAs `idma0`/`odma0`)
- `io.json`: the accelerator's input and output streams (datatype, beats, packing)
- `validate.py`: runs a test set, prints accuracy and throughput
- `testset.npz`: {testset}
- `runtime_weights/`: empty: every weight and threshold is a ROM in the bitstream
- `bitfile/accelerator.bit`, `bitfile/accelerator.hwh`: {bitfile}

## On the board ({board}, PYNQ image 2.7 or 3.x)
1. Copy this folder: `scp -r deploy xilinx@<board-ip>:~/bnnforge_accel` (default password `xilinx`).
2. On the board: `cd ~/bnnforge_accel && sudo python3 validate.py`
   (PYNQ's Python, which has numpy; `--data my_test.npz` for another test set: `x` (N, C, H, W) 8-bit pixels,
   `y` (N,) labels).
3. From your own code: `from driver import Accelerator; labels = Accelerator().classify(images)`.

PYNQ-Z2 and ZCU104 take the same steps: the bitstream is built for the board of this build ({board}).

## Before the board: the driver against the simulated RTL
`bnnforge sim driver {build} --images 100` runs this driver's packing and unpacking against the Verilator
simulation of the same RTL the bitstream is made from (the bytes the DMAs carry) and compares the outputs
with the reference.
"""


def write_package(model, build_dir: Path, model_path: Path, board_name: str, clock_ns: float,
                  estimated_cycles: int | None, log=lambda *_: None) -> Path:
    out = Path(build_dir) / DEPLOY
    out.mkdir(parents=True, exist_ok=True)
    io = io_spec(model, clock_ns, estimated_cycles)
    (out / "io.json").write_text(json.dumps(io, indent=2) + "\n")
    shutil.copy(HERE / "pynq_driver.py", out / "driver.py")
    shutil.copy(HERE / "pynq_validate.py", out / "validate.py")
    (out / "runtime_weights").mkdir(exist_ok=True)
    (out / "runtime_weights" / "README").write_text(
        "No runtime-writable weights: every weight and threshold is a ROM inside the accelerator's RTL "
        "(FINN's internal_embedded memory mode).\n")
    test = _testset(model_path)
    if test is not None:
        x, y, name = test
        np.savez_compressed(out / "testset.npz", x=x, y=y)
        testset = f"the {name} test set ({len(x)} images) of the run"
    else:
        testset = "absent (the model did not come from a `bnnforge train` run): give validate.py --data"
    has_bit = (out / BITFILE).exists()
    (out / "README.md").write_text(README.format(
        board=board_name, model=model_path, clock_ns=clock_ns, build=Path(build_dir),
        fps=f"{io['estimated_fps']:,.0f}" if io["estimated_fps"] else "?", testset=testset,
        bitfile="present" if has_bit else "added by `bnnforge build --until bitfile` (needs Vivado)"))
    log(f"  wrote {out}/ (driver.py, io.json, validate.py{', testset.npz' if test else ''}, README.md)")
    return out


def add_bitfile(build_dir: Path) -> Path:
    """Copy FINN's bitfile and hardware handoff into deploy/bitfile/ (PYNQ's Overlay needs both,
    with the same base name)."""
    src = Path(build_dir) / "bitfile"
    bits, hwhs = sorted(src.glob("*.bit")), sorted(src.glob("*.hwh"))
    if not bits or not hwhs:
        raise DeployError(f"{src} holds no .bit and .hwh: the bitfile step did not produce them")
    dst = Path(build_dir) / DEPLOY / BITFILE
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(bits[0], dst)
    shutil.copy(hwhs[0], dst.with_suffix(".hwh"))
    return dst


# --- off the board ------------------------------------------------------------------------


def load_driver(deploy_dir: Path):
    """The package's own driver.py as a module (the code that runs on the board)."""
    path = Path(deploy_dir) / "driver.py"
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: build through the rtl stage first (`bnnforge build --until rtl`)")
    spec = importlib.util.spec_from_file_location("bnnforge_deploy_driver", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class VerilatorDevice:
    """Stands in for the board's input/output DMAs: the bytes the driver packed become the
    input stream's beats (little-endian, ``beat_bytes`` each) of the Verilator simulation of
    BUILD/rtl/, and the output beats become the bytes the output DMA would write."""

    def __init__(self, build_dir: Path, io: dict, stall: float = 0.0):
        from bnnforge.finn_flow import reference

        self.build_dir = Path(build_dir)
        self.model, _ = reference.latest_model(self.build_dir)
        self.io, self.stall = io, stall
        self.last_seconds = None

    def transfer(self, packed: np.ndarray) -> np.ndarray:
        from bnnforge.finn_flow import netsim

        i, o = self.io["input"], self.io["output"]
        frames = len(packed)
        raw = np.asarray(packed, np.uint8).reshape(frames * i["beats"], i["beat_bytes"])
        beats = [int.from_bytes(row.tobytes(), "little") for row in raw]
        out_beats, result = netsim.simulate_beats(self.model, self.build_dir / "rtl", beats, frames,
                                                  stall_out=self.stall)
        self.last_seconds = result.wall_seconds
        data = b"".join(b.to_bytes(o["beat_bytes"], "little") for b in out_beats)
        return np.frombuffer(data, np.uint8).reshape(frames, o["beats"] * o["beat_bytes"])


def board_device(driver, build_dir: Path, io: dict, stall: float = 0.0):
    """The driver's own PynqDevice (the code that talks to the board's DMAs), on the pynq shim."""
    from bnnforge.finn_flow import pynq_shim

    pynq_shim.install(build_dir, stall)
    return driver.PynqDevice(Path(build_dir) / DEPLOY / BITFILE, io["input"]["beats"] * io["input"]["beat_bytes"],
                             io["output"]["beats"] * io["output"]["beat_bytes"])


def run_validate(build_dir: Path, images: int, batch: int = 50, stall: float = 0.0) -> int:
    """The package's validate.py, as on the board, on the pynq shim (its exit code)."""
    import sys

    from bnnforge.finn_flow import pynq_shim

    deploy = Path(build_dir) / DEPLOY
    load_driver(deploy)  # a clear error when the package is missing
    pynq_shim.install(build_dir, stall)
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
    from bnnforge.finn_flow import netsim, reference

    build_dir = Path(build_dir)
    driver = load_driver(build_dir / DEPLOY)
    io = json.loads((build_dir / DEPLOY / "io.json").read_text())
    cfg_path = build_dir / reference.BUILD_CONFIG
    vectors = json.loads(cfg_path.read_text()).get("vectors") if cfg_path.exists() else None
    x = want = None
    if run_dir is not None or input_path is not None or (vectors and Path(vectors).exists()):
        x, want, source = netsim.run_images(build_dir, run_dir, input_path, images)
    model, _ = reference.latest_model(build_dir)
    if x is None:  # no golden reference for this build: random inputs, FINN's Python execution
        x_df, source = reference.build_inputs(build_dir, model, images)
        shape = model.get_tensor_shape(model.graph.input[0].name)
        x = x_df.transpose(0, 3, 1, 2) if len(shape) == 4 else x_df  # the driver takes NCHW images
    acc = driver.Accelerator(build_dir / DEPLOY, device=board_device(driver, build_dir, io, stall))
    got = acc.execute(x)
    if want is None:
        x_df = reference.to_dataflow_layout(x, model.get_tensor_shape(model.graph.input[0].name))
        out = model.graph.output[0].name
        want = np.stack([e[out].reshape(-1) for e in reference.edge_values(model, x_df)])
        source += ", reference: FINN's Python execution of the build's graph"
    want = np.asarray(want).reshape(len(got), -1)
    bad = [k for k in range(len(got)) if not np.array_equal(got[k], want[k])]
    labels = (lambda y: y[:, 0] if y.shape[1] == 1 else y.argmax(1))
    return DriverCheck(len(got), len(bad), int((labels(got) == labels(want)).sum()), source,
                       bad[0] if bad else None, got)
