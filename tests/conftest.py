import os
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
