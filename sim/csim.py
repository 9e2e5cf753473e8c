"""C simulation: HLS-style C++ (ap_int, hls::stream) compiled with g++ and the ap_types
headers, outside Vitis HLS (FINN's own cppsim needs finn-hlslib, which is not installed).

Executables are cached by the hash of everything that goes into them.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

from bnnforge import toolenv


class CSimError(RuntimeError):
    pass


def compile_cpp(main: Path, include_dirs: list[Path] = ()) -> Path:
    """Compile ``main`` (which includes headers from ``include_dirs`` and hls/); returns the
    cached executable."""
    main = Path(main)
    digest = hashlib.sha256(main.read_bytes())
    for d in [*include_dirs, toolenv.hls_dir()]:
        for f in sorted(Path(d).glob("*.h*")):
            digest.update(f.name.encode() + f.read_bytes())
    digest.update(" ".join(toolenv.hls_compile_command([Path("x")], Path("y"))).encode())
    build = toolenv.cache_dir("csim") / f"{main.stem}-{digest.hexdigest()[:16]}"
    exe = build / "csim"
    with toolenv.cache_lock(build):
        if exe.exists():
            return exe
        build.mkdir(parents=True, exist_ok=True)
        cmd = toolenv.hls_compile_command([main], build / "csim.tmp", include_dirs=list(include_dirs))
        out = subprocess.run(cmd, capture_output=True, text=True, env=toolenv.tool_env())
        if out.returncode != 0:
            raise CSimError(f"g++ failed to compile {main}:\n{out.stderr[-3000:]}")
        os.replace(build / "csim.tmp", exe)
    return exe


def run(exe: Path, args: list[str]) -> None:
    out = subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True)
    if out.returncode != 0:
        raise CSimError(f"C simulation {exe} failed (exit {out.returncode}): {out.stderr.strip()}")
