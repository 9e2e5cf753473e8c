"""BUILD/deploy/: what goes onto the board.

The package (written at the end of the rtl stage; `--until bitfile` adds bitfile/):
  driver.py        bnnforge's PYNQ driver (on_board/driver.py): packing, unpacking, IODMA control
  io.json          the accelerator's streams as the driver packs them
  validate.py      runs a test set on the board, prints accuracy and fps
  testset.npz      the run's test set (when the model came from `bnnforge export`)
  runtime_weights/ empty: every weight and threshold is a ROM inside the RTL (internal_embedded)
  README.md        copy-and-run steps for the board
  bitfile/         accelerator.bit + accelerator.hwh (Vivado only)

offboard.py runs the package's own driver.py and validate.py against the simulated RTL.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np

from bnnforge.errors import UserError
from bnnforge.finn_flow import registry
from bnnforge.finn_flow.flow.layout import DEPLOY_BITFILE as BITFILE
from bnnforge.finn_flow.flow.layout import BuildLayout
from bnnforge.finn_flow.rtl.system import control_map
from bnnforge.finn_flow.simulate.streams import io_nodes

ON_BOARD = Path(__file__).resolve().parent / "on_board"  # driver.py, validate.py: copied, never imported


class DeployError(UserError):
    pass


def _stream(inst, ind: int, output: bool) -> dict:
    """io.json entry of a node's input/output stream ``ind``."""
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
    first, last = io_nodes(model)
    ind = list(first.onnx_node.input).index(model.graph.input[0].name)
    out = list(last.onnx_node.output).index(model.graph.output[0].name)
    shape = model.get_tensor_shape(model.graph.input[0].name)
    fps = 1e9 / (clock_ns * estimated_cycles) if estimated_cycles else None
    return {"input": _stream(first, ind, False), "output": _stream(last, out, True),
            "channels_last": len(shape) == 4, "bitfile": BITFILE, "control": control_map(), "clock_ns": clock_ns,
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
- `driver.py`: the driver (numpy only; PYNQ's `Overlay` and `allocate`; the two DMA engines of the bitstream,
  FINN's IODMA register map)
- `io.json`: the accelerator's input and output streams (datatype, beats, packing), the DMAs' addresses
- `validate.py`: runs a test set, prints accuracy and throughput
- `run.sh`: runs a script with PYNQ's own Python and XRT environment (`sudo` alone drops them)
- `testset.npz`: {testset}
- `runtime_weights/`: empty: every weight and threshold is a ROM in the bitstream
- `bitfile/accelerator.bit`, `bitfile/accelerator.hwh`: {bitfile}

## On the board ({board}, PYNQ image 2.7 or 3.x)
1. Copy this folder: `scp -r deploy xilinx@<board-ip>:~/bnnforge_accel` (default password `xilinx`).
2. On the board: `cd ~/bnnforge_accel && sudo ./run.sh validate.py`
   (`--data my_test.npz` for another test set: `x` (N, C, H, W) 8-bit pixels, `y` (N,) labels). PYNQ 2.7 and
   3.x images keep pynq in `/usr/local/share/pynq-venv` and XRT's settings in `/etc/profile.d/`, which a plain
   `sudo python3` does not see: run.sh sources them.
3. From your own code (in PYNQ's Python, e.g. a Jupyter notebook on the board):
   `from driver import Accelerator; labels = Accelerator().classify(images)`. A transfer that times out leaves
   the DMAs' buffers allocated; call `acc.device.reload()` (reprograms the bitstream) before the next one.

PYNQ-Z2 and ZCU104 take the same steps: the bitstream is built for the board of this build ({board}).

## Before the board: the driver against the simulated RTL
`bnnforge sim driver {build} --images 100` runs this driver's packing and unpacking against the Verilator
simulation of the same RTL the bitstream is made from (the bytes the DMAs carry) and compares the outputs
with the reference.
"""


def write_package(model, build_dir: Path, model_path: Path, board_name: str, clock_ns: float,
                  estimated_cycles: int | None, log=lambda *_: None) -> Path:
    layout = BuildLayout(build_dir)
    out = layout.deploy
    out.mkdir(parents=True, exist_ok=True)
    io = io_spec(model, clock_ns, estimated_cycles)
    layout.deploy_io.write_text(json.dumps(io, indent=2) + "\n")
    for script in ("driver.py", "validate.py", "run.sh"):
        shutil.copy(ON_BOARD / script, out / script)  # run.sh keeps its executable bit
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
        bitfile="present" if has_bit else BITFILE_ABSENT))
    log(f"  wrote {out}/ (driver.py, io.json, validate.py, run.sh{', testset.npz' if test else ''}, README.md)")
    return out


BITFILE_ABSENT = "added by `bnnforge build --until bitfile` (needs Vivado)"


def check_bitfile(build_dir: Path) -> Path:
    """The .bit and .hwh the Vivado script wrote into deploy/bitfile/ (PYNQ's Overlay needs both,
    with the same base name); the package's README is told they are there."""
    layout = BuildLayout(build_dir)
    bit, hwh = layout.deploy_bitfile, layout.deploy_bitfile.with_suffix(".hwh")
    missing = [str(f) for f in (bit, hwh) if not f.exists()]
    if missing:
        raise DeployError(f"the Vivado run did not leave {' and '.join(missing)}: see {layout.root}/vivado/")
    readme = layout.deploy / "README.md"
    if readme.exists():
        readme.write_text(readme.read_text().replace(BITFILE_ABSENT, "present"))
    return bit
