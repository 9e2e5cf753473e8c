"""The specialized hardware graph `bnnforge fold` folds: from a build folder's saved graphs,
or by running the build's own steps (tidy .. minimize_bit_width) on a QONNX model, with
node names and bit widths exactly as the build gives them. FINN's streamlining dominates
the time, so the prepared graph of a model file is cached, keyed by everything that can
change it: the file, the options, every source of the bnnforge package and the versions
of finn-plus, qonnx and brevitas.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import tempfile
from pathlib import Path

from bnnforge.errors import UserError
from bnnforge.finn_flow.flow.build import FlowOptions, load_model_file, run_steps
from bnnforge.finn_flow.flow.layout import BuildLayout
from bnnforge.finn_flow.flow.state import require_stage

# the packages whose versions change the prepared graph
GRAPH_PACKAGES = ("finn-plus", "qonnx", "brevitas")


class GraphError(UserError):
    pass


def prepared_graph(model_or_build: Path, board, clock_ns: float, lab_impl: str = "fused", backend: str = "rtl"):
    """The specialized hardware graph with minimized bit widths (so estimates match the build's)."""
    from qonnx.core.modelwrapper import ModelWrapper

    from bnnforge.finn_flow import registry

    registry.load()  # the graph holds bnnforge's ops
    path = Path(model_or_build)
    if not path.exists():
        raise GraphError(f"{path} not found")
    opts = FlowOptions(board=board, clock_ns=clock_ns, lab_impl=lab_impl, backend=backend, source=path)
    if path.is_dir():
        require_stage(path, "estimate")
        layout = BuildLayout(path)
        minimized, specialized = layout.model_after("minimize_bit_width"), layout.model_after("specialize")
        if minimized.exists():
            return ModelWrapper(str(minimized))
        if not specialized.exists():
            raise GraphError(f"{path} is not a build folder past the specialize step (run `bnnforge build` first)")
        with tempfile.TemporaryDirectory(prefix="bnnforge-fold-") as tmp:
            return run_steps(ModelWrapper(str(specialized)), "minimize_bit_width", "minimize_bit_width", opts,
                             Path(tmp))
    cached = cache_path(path, board, lab_impl, backend)
    if cached.exists():
        return ModelWrapper(str(cached))
    with tempfile.TemporaryDirectory(prefix="bnnforge-fold-") as tmp:  # the steps' scratch output and log
        model = run_steps(load_model_file(path), "tidy", "minimize_bit_width", opts, Path(tmp))
    partial = cached.with_name(f".{cached.name}.{os.getpid()}")
    model.save(str(partial))
    os.replace(partial, cached)  # atomic: a parallel reader never sees half a file
    return model


def package_sources() -> list[Path]:
    """Every Python source of the installed bnnforge package (all subpackages)."""
    import bnnforge
    from bnnforge import toolenv

    roots = {Path(bnnforge.__file__).parent}
    roots |= {toolenv.package_path(sub) for sub in ("model", "finn_flow", "sim")}
    return sorted(f for root in roots for f in root.rglob("*.py"))


def cache_path(path: Path, board, lab_impl: str, backend: str) -> Path:
    """Cache key: the input file, the options, bnnforge's sources, the graph packages' versions."""
    from bnnforge import __version__, toolenv

    key = hashlib.sha256(Path(path).read_bytes())
    key.update(f"{__version__}|{board.part}|{lab_impl}|{backend}".encode())
    for package in GRAPH_PACKAGES:
        key.update(f"|{package}={importlib.metadata.version(package)}".encode())
    for src in package_sources():
        key.update(src.read_bytes())
    return toolenv.cache_dir("fold") / f"{key.hexdigest()[:20]}.onnx"
