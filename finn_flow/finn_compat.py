"""All workarounds for finn-plus 1.6.1 quirks, in one place.

Each function says what it works around. Everything in bnnforge that uses FINN
calls ``prepare_finn()`` first.
"""

from __future__ import annotations

import functools
import os
import tempfile
from pathlib import Path


@functools.cache
def prepare_finn() -> None:
    """Make FINN's transformations usable outside its `finn` CLI (which refuses to
    start without Vivado).

    - FINN reads FINN_BUILD_DIR for its temporary code-generation folders and
      fails if it is unset or missing: default it to a folder under the system temp.
    - FINN's global settings are normally created by the CLI's boot sequence;
      outside it, ``initialize_dummy_settings()`` creates them.
    """
    build_dir = Path(os.environ.setdefault("FINN_BUILD_DIR", str(Path(tempfile.gettempdir()) / "bnnforge-finn")))
    build_dir.mkdir(parents=True, exist_ok=True)
    from finn.util import settings

    settings.initialize_dummy_settings()
