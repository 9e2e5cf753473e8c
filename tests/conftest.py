import atexit
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BNNFORGE = [sys.executable, "-m", "bnnforge.cli"]

# Each xdist worker gets its share of the cores for torch's threads, here and in the CLI
# processes it starts (they inherit OMP_NUM_THREADS): two workers of two threads on 2 cores
# spin-wait for each other (the four tiny training runs of the fixtures: 53 s with two
# threads beside a busy core, 19 s with one)
TORCH_THREADS = max(1, (os.cpu_count() or 1) // int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))
os.environ.setdefault("OMP_NUM_THREADS", str(TORCH_THREADS))


class _Zygote:
    """tests/cli_zygote.py, started on first use in this (xdist worker) process."""

    proc: subprocess.Popen | None = None

    @classmethod
    def get(cls) -> subprocess.Popen:
        if cls.proc is None or cls.proc.poll() is not None:
            cls.proc = subprocess.Popen([sys.executable, str(Path(__file__).with_name("cli_zygote.py"))],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=REPO)
            atexit.register(cls.proc.kill)
        return cls.proc

    @classmethod
    def answer(cls, proc: subprocess.Popen, timeout: float | None) -> dict:
        if timeout is not None and not select.select([proc.stdout], [], [], timeout)[0]:
            raise TimeoutError
        line = proc.stdout.readline()
        if not line:
            cls.proc = None
            raise RuntimeError(f"the CLI zygote ended (exit code {proc.wait()})")
        return json.loads(line)


def run_cli(*args, env=None, cwd=None, timeout=1800):
    """Run the bnnforge CLI in a process of its own, a fork of tests/cli_zygote.py (the imports
    done once, see there); returns CompletedProcess (text). Its environment is ``env``, else
    this process's as it is now (tests monkeypatch it)."""
    argv = [*map(str, args)]
    proc = _Zygote.get()
    with tempfile.TemporaryDirectory(prefix="run_cli-") as tmp:
        out, err = Path(tmp) / "stdout", Path(tmp) / "stderr"
        proc.stdin.write(json.dumps({"args": argv, "cwd": str(Path(cwd or os.getcwd()).resolve()),
                                     "stdout": str(out), "stderr": str(err),
                                     "env": dict(os.environ if env is None else env)}) + "\n")
        proc.stdin.flush()
        pid = _Zygote.answer(proc, 600)["pid"]
        try:
            rc = _Zygote.answer(proc, timeout)["rc"]
        except TimeoutError:
            os.kill(pid, signal.SIGKILL)
            _Zygote.answer(proc, None)
            raise subprocess.TimeoutExpired([*BNNFORGE, *argv], timeout) from None
        return subprocess.CompletedProcess([*BNNFORGE, *argv], rc, out.read_text(errors="replace"),
                                           err.read_text(errors="replace"))


@pytest.fixture(scope="session", autouse=True)
def torch_threads():
    """torch in this process at TORCH_THREADS (whatever imported it first)."""
    import torch

    torch.set_num_threads(TORCH_THREADS)


@pytest.fixture
def cli():
    return run_cli


@pytest.fixture(scope="session")
def digits():
    from bnnforge.model.data import load_dataset

    return load_dataset("digits")


@pytest.fixture(scope="session")
def small_runs(tmp_path_factory, digits):
    """Tiny cnv models (sign, LAB, DyBNN) trained briefly on digits and exported, one per binarizer."""
    from bnnforge.model.export import export_run
    from bnnforge.model.run import TrainConfig
    from bnnforge.model.train import model_config_for, train

    runs = {}
    for binarizer in ("sign", "lab", "dybnn"):
        run_dir = tmp_path_factory.mktemp(f"cnv-{binarizer}")
        cfg = model_config_for(digits, arch="cnv", binarizer=binarizer, width=0.125)
        train(run_dir, cfg, TrainConfig(dataset="digits", epochs=1, subset=600, batch_size=50), dataset=digits,
              progress=False, log=lambda *_: None)
        export_run(run_dir, n_vectors=4)
        runs[binarizer] = run_dir
    return runs


@pytest.fixture(scope="session")
def tfc_run(tmp_path_factory, digits):
    """A tiny tfc trained briefly on digits and exported."""
    from bnnforge.model.export import export_run
    from bnnforge.model.run import TrainConfig
    from bnnforge.model.train import model_config_for, train

    run_dir = tmp_path_factory.mktemp("tfc")
    cfg = model_config_for(digits, arch="tfc", width=0.125)
    train(run_dir, cfg, TrainConfig(dataset="digits", epochs=1, subset=600, batch_size=50), dataset=digits,
          progress=False, log=lambda *_: None)
    export_run(run_dir, n_vectors=4)
    return run_dir
