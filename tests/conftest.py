import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BNNFORGE = [sys.executable, "-m", "bnnforge.cli"]


def run_cli(*args, env=None, cwd=None, timeout=1800):
    """Run the bnnforge CLI in a child process; returns CompletedProcess (text)."""
    return subprocess.run(
        [*BNNFORGE, *map(str, args)],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


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
