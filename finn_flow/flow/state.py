"""What a build folder holds, so that nothing interrupted or stale is ever trusted.

BUILD/build_state.json records the options of the build that wrote the folder, the steps
that completed with them, and the step running (set before a step starts, cleared when it
ends: a state left with a running step is an interrupted build). Commands that read a
build (sim, fold on a build folder, verify) ask ``require_stage`` first. A build holds a
lock on the folder (BUILD/.build.lock) for as long as it runs: a second build into the same
folder is refused, naming the first. A build writes only into a folder it owns: a new or
empty folder, or one a bnnforge build wrote.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from pathlib import Path

from bnnforge.errors import UserError
from bnnforge.finn_flow import STAGES
from bnnforge.finn_flow.flow.layout import STEP_NAMES, STEPS, BuildLayout, step_index

# the first step each build option changes: --from-step must not start after it when the
# option differs from the folder's
OPTION_FIRST_STEP = {
    "model": "tidy", "model_sha256": "tidy", "lab_impl": "convert_to_hw", "backend": "convert_to_hw",
    "vectors": "check_python", "board": "dataflow_partition", "clock_ns": "fold", "target_fps": "fold",
    "folding": "fold", "folding_sha256": "fold", "partial_folding": "fold", "fifo_sizing": "fifo_sizing",
    "timing": "timing_estimate",
}
OPTION_FLAGS = {"model": "MODEL", "model_sha256": "MODEL (its contents)", "lab_impl": "--lab-impl",
                "backend": "--backend", "vectors": "--vectors", "board": "--board", "clock_ns": "--clock-ns",
                "target_fps": "--target-fps", "folding": "--folding", "folding_sha256": "--folding (its contents)",
                "partial_folding": "--partial-folding", "fifo_sizing": "--fifo-sizing",
                "timing": "--no-timing"}


class StaleBuild(UserError):
    """A build folder that is not (or no longer) what a command needs."""


def read_state(layout: BuildLayout) -> dict | None:
    if not layout.state.exists():
        return None
    try:
        return json.loads(layout.state.read_text())
    except (OSError, ValueError):
        return None


def write_state(layout: BuildLayout, state: dict) -> None:
    partial = layout.state.with_name(f".{layout.state.name}.{os.getpid()}")
    partial.write_text(json.dumps(state, indent=2) + "\n")
    os.replace(partial, layout.state)  # never half a file


def check_owned(layout: BuildLayout) -> None:
    """Refuse a folder that holds files a bnnforge build did not write."""
    root = layout.root
    if root.exists() and not root.is_dir():
        raise UserError(f"--out {root}: a file, not a folder")
    if not root.exists() or not any(root.iterdir()):
        return
    if not (layout.state.exists() or layout.config.exists()):
        some = sorted(p.name for p in root.iterdir())[:3]
        raise UserError(f"--out {root} holds files that no bnnforge build wrote ({', '.join(some)}, ...); "
                        "choose a new or empty folder (bnnforge never deletes files it did not write)")


@contextlib.contextmanager
def build_lock(layout: BuildLayout):
    """Hold the folder for one build; a second build into it is refused, naming the first."""
    layout.root.mkdir(parents=True, exist_ok=True)
    path = layout.root / ".build.lock"
    with open(path, "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "another process"
            raise UserError(f"{layout.root} is being built by {holder}; wait for it to finish or choose another "
                            "--out") from None
        f.seek(0)
        f.truncate()
        f.write(f"bnnforge build (pid {os.getpid()})")
        f.flush()
        try:
            yield
        finally:
            f.seek(0)
            f.truncate()
            fcntl.flock(f, fcntl.LOCK_UN)


def check_resume(state: dict | None, config: dict, from_step: str) -> list[str]:
    """The steps a --from-step build keeps from the folder (refusing options that would
    change them, and a folder whose earlier steps did not complete)."""
    start = step_index(from_step)
    kept = STEP_NAMES[:start]
    if state is None:
        raise StaleBuild(f"cannot resume from {from_step}: the folder has no build state (a build by an older "
                         "bnnforge, or none); build without --from-step")
    missing = [s for s in kept if s not in state.get("completed", [])]
    if missing:
        raise StaleBuild(f"cannot resume from {from_step}: step {missing[0]} of the earlier build did not complete; "
                         "build without --from-step")
    changed = [k for k, first in OPTION_FIRST_STEP.items()
               if step_index(first) < start and state["config"].get(k) != config.get(k)]
    if changed:
        k = changed[0]
        raise UserError(f"--from-step {from_step} keeps the earlier steps, built with {OPTION_FLAGS[k]} "
                        f"{state['config'].get(k)!r}; {OPTION_FLAGS[k]} {config.get(k)!r} changes step "
                        f"{OPTION_FIRST_STEP[k]}: resume from {OPTION_FIRST_STEP[k]} or build without --from-step")
    return list(kept)


def require_stage(build_dir: Path, stage: str) -> dict:
    """The state of a build folder whose ``stage`` completed and that no build is changing;
    else a StaleBuild error saying what happened and what to run."""
    layout = BuildLayout(build_dir)
    if not layout.root.is_dir():
        raise UserError(f"{build_dir}: no such build folder")
    state = read_state(layout)
    if state is None:
        if layout.config.exists():
            raise StaleBuild(f"{build_dir} was built by an older bnnforge (no build_state.json): rebuild it with "
                             "`bnnforge build`")
        raise UserError(f"{build_dir} is not a bnnforge build folder (no build_state.json)")
    if state.get("running"):
        raise StaleBuild(f"{build_dir}: its build stopped during step {state['running']} (interrupted or failed) "
                         "and its outputs may mix two builds; rerun the build")
    last = max(i for i, (_, s) in enumerate(STEPS) if s == stage)
    if STEP_NAMES[last] not in state.get("completed", []):
        done = [s for s in STAGES if all(n in state.get("completed", []) for n, st in STEPS if st == s)]
        raise StaleBuild(f"{build_dir}: its {stage} stage has not completed (done: {', '.join(done) or 'none'}); "
                         f"run `bnnforge build ... --until {stage}`")
    return state
