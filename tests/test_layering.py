"""The package's imports run one way: no module imports another that (directly or through
others) imports it back, lazily inside a function or not. Read from the source with ast,
so every import statement counts, whether or not it runs in this test."""

from __future__ import annotations

import ast
from pathlib import Path

import latentatlas

PACKAGE = Path(latentatlas.__file__).parent


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def import_graph(root: Path = PACKAGE) -> dict[str, set[str]]:
    """Module → the package modules it imports (relative or absolute, at any depth)."""
    files = {_module_name(p): p for p in root.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in files}
    for name, path in files.items():
        is_pkg = path.name == "__init__.py"
        base = name.split(".") if is_pkg else name.split(".")[:-1]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    anchor = base[: len(base) - (node.level - 1)]
                    mod = ".".join(anchor + ([node.module] if node.module else []))
                else:
                    mod = node.module or ""
                targets.append(mod)
                targets += [f"{mod}.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                targets += [alias.name for alias in node.names]
            for target in targets:
                if target in files and target != name:
                    graph[name].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_circles():
    graph = import_graph()
    assert len(graph) > 20
    assert cycles(graph) == []


def test_the_cycle_finder_finds_a_circle():
    graph = {"p.a": {"p.b"}, "p.b": {"p.c"}, "p.c": {"p.a"}, "p.d": {"p.a"}}
    assert cycles(graph) == [["p.a", "p.b", "p.c"]]


def test_the_op_stack_only_calls_down():
    graph = import_graph()
    leaf = "latentatlas._contract"
    assert graph[leaf] == set()
    for low in ("latentatlas._contract", "latentatlas._arrays", "latentatlas._backend", "latentatlas._torch_impl",
                "latentatlas.torch_ops"):
        assert "latentatlas.ops" not in graph[low], low
    assert "latentatlas.ops" not in graph["latentatlas.torch_ops"]


def test_nothing_below_the_command_line_imports_it():
    for name, deps in import_graph().items():
        if not (name.startswith("latentatlas.commands") or name == "latentatlas.cli"):
            # (exact for cli: latentatlas.client is below the command line)
            assert not any(d.startswith("latentatlas.commands") or d == "latentatlas.cli" for d in deps), name
