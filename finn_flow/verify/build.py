"""The build a verification simulates: the model built for PYNQ-Z2 through the stage the
requested columns need, with FINN's minimum FIFO depths (bit-exactness does not depend on
them, and they build fastest). A build is reused while its stamp says it was made from the
same model file (by content), by the same bnnforge sources, at least as far as asked.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from bnnforge.finn_flow import STAGES
from bnnforge.finn_flow.flow.build import BuildOptions, build
from bnnforge.finn_flow.flow.graph_cache import package_sources
from bnnforge.finn_flow.flow.layout import BuildLayout
from bnnforge.finn_flow.flow.steps import BuildError

VERIFY_FPS = (5000, 1000)  # folding targets tried in turn (fast to simulate, fits PYNQ-Z2)
VERIFY_BOARD = "pynq-z2"


def _fingerprint(onnx_path: Path) -> str:
    key = hashlib.sha256(Path(onnx_path).read_bytes())
    for src in package_sources():
        key.update(src.read_bytes())
    return key.hexdigest()


def _reusable(layout: BuildLayout, fingerprint: str, until: str) -> bool:
    if not layout.verify_stamp.exists():
        return False
    stamp = json.loads(layout.verify_stamp.read_text())
    return stamp.get("fingerprint") == fingerprint and STAGES.index(stamp["stage"]) >= STAGES.index(until)


def verify_build(onnx_path: Path, out: Path, until: str, log=lambda *_: None) -> Path:
    """``out`` built from ``onnx_path`` through stage ``until`` (reused when its stamp matches)."""
    from bnnforge.boards import load_board

    layout = BuildLayout(out)
    fingerprint = _fingerprint(onnx_path)
    if _reusable(layout, fingerprint, until):
        return layout.root
    layout.verify_stamp.unlink(missing_ok=True)
    error = None
    for fps in VERIFY_FPS:
        try:
            build(BuildOptions(model=Path(onnx_path), board=load_board(VERIFY_BOARD), out=layout.root, target_fps=fps,
                               until=until, fifo_sizing="minimal", timing=False),  # exactness, not Fmax
                  log=lambda *_: None)
            layout.verify_stamp.write_text(json.dumps({"stage": until, "fingerprint": fingerprint}) + "\n")
            return layout.root
        except BuildError as e:
            error = e
            log(f"  build for {fps} fps failed ({e}); trying the next target")
    raise error
