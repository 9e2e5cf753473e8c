"""`bnnforge sim synth`: yosys `synth_xilinx` cell counts of the custom layers' RTL.

Pre place-and-route estimates: LUT counts include yosys's INV cells (Vivado would
absorb most of them), so they are an upper bound. The RTL is synthesized through
the same generated top as in a FINN build, with the layer's real parameters (the
weight and threshold ROMs are constants, as on the FPGA).
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import tempfile
from pathlib import Path

from bnnforge import toolenv
from bnnforge.finn_flow.layer_params import DynThreshParams, LabParams
from bnnforge.finn_flow.ops.common import rtl_sources, rtl_wrapper

FAMILIES = ("xc7", "xcup")


@dataclasses.dataclass
class CellCounts:
    lut: int  # LUT1..LUT6 + INV
    lutram: int  # LUTs used as memory (RAM32M/RAM64M/RAMxxX1D/SRL)
    ff: int
    carry: int
    bram18: float  # in BRAM_18K units (a RAMB36 counts 2)
    dsp: int
    muxf: int
    cells: dict[str, int]

    def row(self) -> dict:
        d = dataclasses.asdict(self)
        d.pop("cells")
        return d


def classify(cells: dict[str, int]) -> CellCounts:
    def total(pred):
        return sum(n for name, n in cells.items() if pred(name))

    return CellCounts(
        lut=total(lambda c: c.startswith("LUT") or c == "INV"),
        lutram=total(lambda c: c.startswith("RAM") and not c.startswith("RAMB") or c.startswith("SRL")),
        ff=total(lambda c: c[:2] in ("FD", "LD")),
        carry=total(lambda c: c.startswith("CARRY")),
        bram18=total(lambda c: c.startswith("RAMB18")) + 2 * total(lambda c: c.startswith("RAMB36")),
        dsp=total(lambda c: c.startswith("DSP")),
        muxf=total(lambda c: c.startswith("MUXF")),
        cells=dict(cells),
    )


def synth(core: str, params: dict, streams_in: list, stream_out: tuple, files: dict[str, str],
          family: str = "xc7", work_dir: Path | None = None) -> CellCounts:
    if family not in FAMILIES:
        raise ValueError(f"--family {family!r}: allowed {', '.join(FAMILIES)}")
    yosys = toolenv.require("yosys", "`sim synth` resource counts", "apt-get install yosys (or make setup)")
    work = Path(work_dir or tempfile.mkdtemp(prefix="bnnforge-synth-"))
    work.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (work / name).write_text(text)
    params = {**params, **{k: f'"{work / v}"' for k, v in _file_params(core).items()}}
    top = f"{core}_top"
    (work / f"{top}.v").write_text(rtl_wrapper(top, core, params, streams_in, stream_out))
    script = (
        "".join(f"read_verilog -sv {src}; " for src in rtl_sources(core)) + f"read_verilog {work / f'{top}.v'}; "
        f"synth_xilinx -family {family} -top {top} -flatten -noiopad -noclkbuf -nodsp; "
        f"tee -q -o {work / 'stat.json'} stat -json"
    )
    out = subprocess.run([yosys, "-q", "-p", script], capture_output=True, text=True, cwd=work)
    if out.returncode != 0:
        raise RuntimeError(f"yosys failed on {core}:\n{(out.stderr or out.stdout)[-3000:]}")
    stat = json.loads((work / "stat.json").read_text())
    return classify(stat["design"]["num_cells_by_type"])


def _file_params(core: str) -> dict[str, str]:
    return {"WEIGHTS_FILE": "weights.hex", "THRESHOLDS_FILE": "thresholds.hex"} if core == "lab_binarizer" else {}


def _padded(bits: int) -> int:
    return ((bits + 7) // 8) * 8


def synth_lab(p: LabParams, family: str = "xc7", work_dir=None) -> CellCounts:
    return synth("lab_binarizer", p.rtl_parameters(), [("in0_V", _padded(p.pe * p.input_bits))],
                 ("out_V", _padded(p.pe)), {"weights.hex": p.weights_hex(), "thresholds.hex": p.thresholds_hex()},
                 family, work_dir)


def synth_dynthresh(p: DynThreshParams, family: str = "xc7", work_dir=None) -> CellCounts:
    streams = [("in0_V", _padded(p.pe * p.input_bits)), ("in1_V", _padded(p.pe * p.threshold_bits))]
    return synth("dynamic_threshold", p.rtl_parameters(), streams, ("out_V", _padded(p.pe)), {}, family, work_dir)
