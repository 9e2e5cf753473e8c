"""A process that imports the bnnforge CLI and its heavy dependencies once, then forks one child
per command: the tests' `run_cli` (tests/conftest.py) talks to it instead of starting a fresh
Python for each command. Why: a fresh `python -m bnnforge.cli` spends 6-8 s of CPU importing
torch, brevitas, qonnx and FINN before doing anything (`bnnforge fold` of a small model: 9 s
as a fresh process, 0.4 s forked), minutes of `make test` on a 2-core machine.

Each command still runs in a process of its own, as a user's would: the child of a fork made
before anything ran, with its own working folder, stdin from /dev/null, stdout and stderr on
files (fd level, so the tools it starts write there too), `main()` of bnnforge.cli, the exit
handlers, then its exit code. The environment is the test's (as it is at the call, or the one
it passes) plus what the imports set where it is missing, as in a fresh process.

Protocol, one JSON object per line: request {"args", "env", "cwd", "stdout", "stderr"} on
stdin; answers {"pid"} when the child started, then {"rc"} when it ended."""

import atexit
import importlib
import json
import os
import sys
import tempfile
import traceback

# what the commands import lazily and takes seconds: imported once here
PRELOAD = ("torch", "brevitas", "qonnx.core.modelwrapper", "bnnforge.cli", "bnnforge.model.train",
           "bnnforge.model.export", "bnnforge.model.verify", "bnnforge.finn_flow.flow.build",
           "bnnforge.finn_flow.folding.optimizer", "bnnforge.finn_flow.rtl.network",
           "bnnforge.finn_flow.rtl.synth", "bnnforge.finn_flow.verify.run_columns",
           "bnnforge.finn_flow.simulate.layer")


def _exit_code(code) -> int:
    """What Python makes of sys.exit(code)."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def _child(req: dict, set_by_imports: dict[str, str]) -> None:
    """Run one command in this (forked) process and leave with its exit code."""
    rc = 1
    try:
        # the environment a fresh process would have after the same imports (FINN sets a few
        # variables where they are missing); the temporary folder found again from it
        os.environ.clear()
        os.environ.update(req["env"])
        for k, v in set_by_imports.items():
            os.environ.setdefault(k, v)
        tempfile.tempdir = None
        os.chdir(req["cwd"])
        for fd, path, flags in ((0, os.devnull, os.O_RDONLY),
                                (1, req["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
                                (2, req["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)):
            opened = os.open(path, flags, 0o644)
            os.dup2(opened, fd)
            os.close(opened)
        sys.stdin = open(0, closefd=False)  # noqa: SIM115
        sys.argv = ["bnnforge", *req["args"]]
        from bnnforge.cli import main

        try:
            rc = _exit_code(main(req["args"]))
        except SystemExit as e:
            rc = _exit_code(e.code)
        except BaseException:  # noqa: BLE001  (what the interpreter does with an uncaught exception)
            traceback.print_exc()
            rc = 1
        atexit._run_exitfuncs()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001, S110
                pass
        os._exit(rc)


def serve() -> None:
    before = dict(os.environ)
    for name in PRELOAD:
        importlib.import_module(name)
    from bnnforge.finn_flow import registry

    registry.load()
    set_by_imports = {k: v for k, v in os.environ.items() if before.get(k) != v}
    answer = sys.stdout
    for line in sys.stdin:
        req = json.loads(line)
        answer.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            _child(req, set_by_imports)
        answer.write(json.dumps({"pid": pid}) + "\n")
        answer.flush()
        _, status = os.waitpid(pid, 0)
        answer.write(json.dumps({"rc": os.waitstatus_to_exitcode(status)}) + "\n")
        answer.flush()


if __name__ == "__main__":
    serve()
