"""The structure of the package, checked on the source (lazy imports inside functions included):

- the package dependency order of docs/DESIGN.md (toolenv/errors < model < sim < finn_flow < commands);
- no import cycle between any two modules of the package (inside finn_flow too);
- no module reaching into another one's private names;
- nothing outside finn_flow/ops/ and the registry branches on a layer's op type or class;
- no function longer than MAX_FUNCTION_LINES in the package;
- the board-side scripts of the deployment package are never imported by the package.
"""

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# top-level folder -> Python package
PACKAGES = {"bnnforge": "bnnforge", "model": "bnnforge.model", "sim": "bnnforge.sim", "finn_flow": "bnnforge.finn_flow",
            "boards": "bnnforge.boards", "hls": "bnnforge.hls"}
BOARD_SIDE = "finn_flow/deploy/on_board"  # copied to the board, never imported
# bottom to top; a module may import its own level and the levels below it
LEVELS = [
    ("bnnforge", {"bnnforge/__init__.py", "bnnforge/toolenv.py", "bnnforge/errors.py"}),
    ("bnnforge.boards", "boards"),
    ("bnnforge.model", "model"),
    ("bnnforge.sim", "sim"),
    ("bnnforge.finn_flow", "finn_flow"),
    ("bnnforge (commands)", {"bnnforge/cli.py", "bnnforge/doctor.py", "bnnforge/demo.py", "bnnforge/__main__.py"}),
]
IMPORT_LEVEL = {  # what an imported module name belongs to
    "bnnforge.toolenv": 0, "bnnforge.errors": 0, "bnnforge": 0, "bnnforge.hls": 0, "bnnforge.boards": 1,
    "bnnforge.model": 2, "bnnforge.sim": 3, "bnnforge.finn_flow": 4,
    "bnnforge.cli": 5, "bnnforge.doctor": 5, "bnnforge.demo": 5,
}
MAX_FUNCTION_LINES = 80
# where branching on an op type or backend class name is allowed: the layers' own code
OP_KNOWLEDGE = ("finn_flow/ops/", "finn_flow/registry.py")


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
    for folder in ("bnnforge", "model", "sim", "finn_flow", "boards"):
        for path in sorted((REPO / folder).rglob("*.py")):
            rel = path.relative_to(REPO).as_posix()
            if not rel.startswith(BOARD_SIDE):
                yield rel, path


def module_name(rel: str) -> str:
    folder, *rest = Path(rel).with_suffix("").parts
    parts = [PACKAGES[folder], *[p for p in rest if p != "__init__"]]
    return ".".join(parts)


def import_graph(files) -> dict[str, set[str]]:
    """module -> the package modules it imports (``from pkg import mod`` imports pkg.mod;
    importing a module imports its parent packages too)."""
    modules = {module_name(rel): path for rel, path in files}
    graph = {m: set() for m in modules}
    for mod, path in modules.items():
        for _, target, names in bnnforge_imports(path):
            found = [f"{target}.{n}" for n in names if f"{target}.{n}" in modules] or [target]
            for t in found:
                while t:  # the module and its parents (a parent package's __init__ runs first)
                    if t in modules and t != mod:
                        graph[mod].add(t)
                    t = t.rpartition(".")[0]
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_dependency_order():
    wrong = []
    for rel, path in source_files():
        mine = level_of_file(rel)
        for line, module, names in bnnforge_imports(path):
            theirs = level_of_import(module)
            if module == "bnnforge" and names:  # `from bnnforge import X`: the level of X
                theirs = max(level_of_import(f"bnnforge.{n}") or 0 for n in names)
            if theirs is not None and theirs > mine:
                wrong.append(f"{rel}:{line} imports {module} ({LEVELS[theirs][0]}) from {LEVELS[mine][0]}")
    assert not wrong, "imports against the dependency order of docs/DESIGN.md:\n" + "\n".join(wrong)


def test_no_import_cycle_between_modules():
    found = cycles(import_graph(list(source_files())))
    assert not found, "modules importing each other (lazy imports included):\n" + "\n".join(map(str, found))


def test_the_cycle_check_can_fail(tmp_path):
    """Two modules importing each other lazily are reported."""
    for name, other in (("a", "b"), ("b", "a")):
        (tmp_path / f"{name}.py").write_text(f"def f():\n    from bnnforge.finn_flow import {other}\n")
    files = [(f"finn_flow/{n}.py", tmp_path / f"{n}.py") for n in ("a", "b")]
    assert cycles(import_graph(files)) == [["bnnforge.finn_flow.a", "bnnforge.finn_flow.b"]]


def test_no_private_names_across_modules():
    wrong = []
    for rel, path in source_files():
        for line, module, names in bnnforge_imports(path):
            private = [n for n in names if n.startswith("_") and not n.startswith("__")]
            if private:
                wrong.append(f"{rel}:{line} imports {', '.join(private)} from {module}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("probe", ["from bnnforge.sim import verilator", "from bnnforge.finn_flow.simulate import node"])
def test_the_order_check_can_fail(tmp_path, probe):
    """A model module importing sim (or sim importing finn_flow) is reported."""
    bad = tmp_path / ("model" if "sim" in probe.split()[1] else "sim") / "bad.py"
    bad.parent.mkdir()
    bad.write_text(f"def f():\n    {probe}\n")
    rel = bad.relative_to(tmp_path).as_posix()
    mine = level_of_file(rel)
    (_, module, _), = list(bnnforge_imports(bad))
    assert level_of_import(module) > mine


def long_functions(files) -> list[str]:
    out = []
    for rel, path in files:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    out.append(f"{rel}:{node.lineno} {node.name} is {lines} lines")
    return out


def test_no_long_functions():
    assert not long_functions(source_files()), "\n".join(long_functions(source_files()))


def hardware_names() -> set[str]:
    """Every hardware op and backend class name the registry lists, FINN's prefixes of them
    (MVAU, Elementwise) and the backend suffixes."""
    from bnnforge.finn_flow import registry

    names = {"_hls", "_rtl", "Elementwise", "StreamingFIFO", "StreamingDataWidthConverter"}
    for layer in registry.LAYERS:
        names |= {layer.op, f"{layer.op}_hls", f"{layer.op}_rtl"} | {layer.class_name(b) for b in ("rtl", "hls")}
    return names - {None}


def op_branch_pattern() -> re.Pattern:
    """A hardware op type or backend class compared as a string: `op == "MVAU"`,
    `op_type.endswith("_hls")`, `op in ("VVAU", "Pool")`, `op.startswith("Elementwise")`."""
    names = "|".join(sorted(map(re.escape, hardware_names()), key=len, reverse=True))
    return re.compile(rf'(?:op_type|\bop\b|base_op\([^)]*\)|abstract_op\([^)]*\))\s*(?:==|!=|in\s*\(|\.startswith\(|'
                      rf'\.endswith\()\s*\(?\s*"(?:{names})"')


def op_branches(files) -> list[str]:
    pattern = op_branch_pattern()
    out = []
    for rel, path in files:
        if rel.startswith(OP_KNOWLEDGE):
            continue
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if pattern.search(line):
                out.append(f"{rel}:{n}: {line.strip()}")
    return out


def test_only_the_registry_knows_layer_types():
    found = op_branches(f for f in source_files() if f[0].startswith("finn_flow/") or f[0].startswith("bnnforge/"))
    assert not found, "branching on an op type outside finn_flow/ops/ and the registry:\n" + "\n".join(found)


def test_the_op_branch_check_can_fail(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text('if node.op_type.endswith("_hls"):\n    pass\nif op in ("VVAU", "Pool"):\n    pass\n')
    assert len(op_branches([("finn_flow/bad.py", bad)])) == 2


def test_board_side_scripts_are_never_imported():
    scripts = {p.stem for p in (REPO / BOARD_SIDE).glob("*.py")}
    assert scripts == {"driver", "validate"}
    wrong = [f"{rel}:{line}" for rel, path in source_files() for line, module, _ in bnnforge_imports(path)
             if "on_board" in module]
    assert not wrong, wrong
