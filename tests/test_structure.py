"""The package dependency order of docs/DESIGN.md, checked on the source (lazy imports
inside functions included), and no module reaching into another one's private names."""

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# bottom to top; a module may import its own level and the levels below it
LEVELS = [
    ("bnnforge", {"bnnforge/__init__.py", "bnnforge/toolenv.py"}),
    ("bnnforge.model", "model"),
    ("bnnforge.sim", "sim"),
    ("bnnforge.finn_flow", "finn_flow"),
    ("bnnforge (commands)", {"bnnforge/cli.py", "bnnforge/doctor.py", "bnnforge/demo.py", "bnnforge/__main__.py"}),
]
IMPORT_LEVEL = {  # what an imported module name belongs to
    "bnnforge.toolenv": 0, "bnnforge": 0, "bnnforge.model": 1, "bnnforge.sim": 2, "bnnforge.finn_flow": 3,
    "bnnforge.hls": 0, "bnnforge.boards": 0,  # data packages
    "bnnforge.cli": 4, "bnnforge.doctor": 4, "bnnforge.demo": 4,
}


def level_of_file(rel: str) -> int:
    for i, (_, where) in enumerate(LEVELS):
        if (isinstance(where, set) and rel in where) or (isinstance(where, str) and rel.startswith(where + "/")):
            return i
    raise AssertionError(f"{rel} belongs to no level of the dependency order")


def level_of_import(name: str) -> int | None:
    parts = name.split(".")
    for n in range(len(parts), 0, -1):
        key = ".".join(parts[:n])
        if key in IMPORT_LEVEL:
            return IMPORT_LEVEL[key]
    return None


def bnnforge_imports(path: Path):
    """(line, imported module, names) of every bnnforge import in a file, at any depth."""
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("bnnforge"):
                    yield node.lineno, a.name, []
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("bnnforge"):
            yield node.lineno, node.module, [a.name for a in node.names]


def source_files():
    for pkg in ("bnnforge", "model", "sim", "finn_flow"):
        for path in sorted((REPO / pkg).rglob("*.py")):
            yield path.relative_to(REPO).as_posix(), path


def test_dependency_order():
    wrong = []
    for rel, path in source_files():
        mine = level_of_file(rel)
        for line, module, names in bnnforge_imports(path):
            theirs = level_of_import(module)
            if module == "bnnforge":  # `from bnnforge import X`: the level of X
                theirs = max(level_of_import(f"bnnforge.{n}") or 0 for n in names)
            if theirs is not None and theirs > mine:
                wrong.append(f"{rel}:{line} imports {module} ({LEVELS[theirs][0]}) from {LEVELS[mine][0]}")
    assert not wrong, "imports against the dependency order of docs/DESIGN.md:\n" + "\n".join(wrong)


def test_no_private_names_across_modules():
    wrong = []
    for rel, path in source_files():
        for line, module, names in bnnforge_imports(path):
            private = [n for n in names if n.startswith("_") and not n.startswith("__")]
            if private:
                wrong.append(f"{rel}:{line} imports {', '.join(private)} from {module}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("probe", ["from bnnforge.sim import verilator", "from bnnforge.finn_flow import nodesim"])
def test_the_check_can_fail(tmp_path, probe, monkeypatch):
    """A model module importing sim (or sim importing finn_flow) is reported."""
    bad = tmp_path / ("model" if "sim" in probe.split()[1] else "sim") / "bad.py"
    bad.parent.mkdir()
    bad.write_text(f"def f():\n    {probe}\n")
    rel = bad.relative_to(tmp_path).as_posix()
    mine = level_of_file(rel)
    (_, module, _), = list(bnnforge_imports(bad))
    assert level_of_import(module) > mine
