"""The import graphs stay acyclic: the binding files of crates/rgrad-py/src (their `crate::x`
references) and the modules of python/rgrad/optim (their imports of each other).

The binding files are layered: errors, dtype and the tensor type at the bottom, the argument
conversions over them, the op families over those, lib.rs on top; a file may only use files
below it. A cycle fails the test and is printed, e.g. ``tensor -> index -> tensor``.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BINDINGS = ROOT / "crates" / "rgrad-py" / "src"
OPTIM = ROOT / "python" / "rgrad" / "optim"

# `crate::name` anywhere in code, and the names inside `use crate::{a, b::c}` groups.
_CRATE_PATH = re.compile(r"\bcrate::([A-Za-z_][A-Za-z0-9_]*)")
_CRATE_GROUP = re.compile(r"\buse\s+crate::\{")
_LINE_COMMENT = re.compile(r"//[^\n]*")
_BLOCK_COMMENT = re.compile(r"/\*.*?\*/", re.S)
_STRING = re.compile(r'"(?:\\.|[^"\\])*"')


def _group_heads(code: str, start: int) -> list[str]:
    """The first path segment of each entry of the `{...}` group opening at `start`."""
    depth, i, entry, heads = 0, start, "", []
    while i < len(code):
        c = code[i]
        if c == "{":
            depth += 1
            if depth == 1:
                i += 1
                continue
        elif c == "}":
            depth -= 1
            if depth == 0:
                heads.append(entry)
                break
        if depth == 1 and c == ",":
            heads.append(entry)
            entry = ""
        elif depth >= 1:
            entry += c
        i += 1
    names = []
    for e in heads:
        m = re.match(r"\s*([A-Za-z_][A-Za-z0-9_]*)", e)
        if m:
            names.append(m.group(1))
    return names


def rust_references(code: str) -> set[str]:
    """The crate-level names `code` refers to through `crate::` (comments and strings aside)."""
    code = _BLOCK_COMMENT.sub("", code)
    code = _LINE_COMMENT.sub("", code)
    code = _STRING.sub('""', code)
    refs = set(_CRATE_PATH.findall(code))
    for m in _CRATE_GROUP.finditer(code):
        refs.update(_group_heads(code, m.end() - 1))
    # `#[rgrad_py_macros::boundary]` expands to calls into crate::errors.
    if "rgrad_py_macros::boundary" in code:
        refs.add("errors")
    return refs


def binding_graph(src: Path = BINDINGS) -> dict[str, set[str]]:
    """File (module name) -> the binding files it uses; names defined in lib.rs count as lib."""
    files = {p.stem: p.read_text() for p in sorted(src.glob("*.rs"))}
    graph = {}
    for name, code in files.items():
        deps = set()
        refs = rust_references(code)
        if name == "lib":
            # The crate root names its modules without `crate::` (`tensor::PyTensor`).
            stripped = _STRING.sub('""', _LINE_COMMENT.sub("", code))
            refs |= {m for m in files if re.search(rf"(?<![:\w]){m}::", stripped)}
        for ref in refs:
            dep = ref if ref in files else "lib"
            if dep != name:
                deps.add(dep)
        graph[name] = deps
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of `graph` as a path that ends where it starts, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                return stack[stack.index(dep) :] + [dep]
            if dep not in state:
                found = visit(dep)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def all_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Cycles found one at a time, cutting the last edge of each, for a complete report."""
    g = {k: set(v) for k, v in graph.items()}
    cycles = []
    while (c := find_cycle(g)) is not None:
        cycles.append(c)
        g[c[-2]].discard(c[-1])
    return cycles


def layers(graph: dict[str, set[str]]) -> list[list[str]]:
    """The files by layer: each uses only files of lower layers (the graph must be acyclic)."""
    level: dict[str, int] = {}

    def depth(n: str) -> int:
        if n not in level:
            level[n] = 1 + max((depth(d) for d in graph.get(n, ())), default=-1)
        return level[n]

    for n in graph:
        depth(n)
    out: list[list[str]] = [[] for _ in range(max(level.values(), default=-1) + 1)]
    for n, lv in level.items():
        out[lv].append(n)
    return [sorted(x) for x in out]


def python_graph(package_dir: Path = OPTIM, package: str = "rgrad.optim") -> dict[str, set[str]]:
    """Module -> the modules of the same package it imports (anywhere in the file)."""
    modules = {p.stem: p for p in sorted(package_dir.glob("*.py"))}
    graph = {}
    for name, path in modules.items():
        deps = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")
                    base = base[: len(base) - node.level + 1]
                    mod = ".".join(base + ([node.module] if node.module else []))
                else:
                    mod = node.module or ""
                if mod == package:
                    # `from rgrad.optim import x`: the submodule x, or a name of __init__.
                    targets = [
                        f"{package}.{a.name}" if a.name in modules else package for a in node.names
                    ]
                else:
                    targets = [mod]
            for t in targets:
                if t == package:
                    dep = "__init__"
                elif t.startswith(package + "."):
                    dep = t[len(package) + 1 :].split(".")[0]
                else:
                    continue
                if dep in modules and dep != name:
                    deps.add(dep)
        graph[name] = deps
    return graph


def _format(cycles: list[list[str]]) -> str:
    return "\n".join("  " + " -> ".join(c) for c in cycles)


def test_cycle_finder_finds_a_cycle():
    # The checker itself must be able to fail.
    g = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycle(g) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
    refs = rust_references(
        "use crate::{convert::{x, y}, errors::run};\n// crate::graph in a comment\n"
        'let s = "crate::index";\nlet w = crate::tensor::wrap(py, t);\n'
    )
    assert refs == {"convert", "errors", "tensor"}


def test_binding_files_have_no_import_cycle():
    graph = binding_graph()
    assert "tensor" in graph and "lib" in graph, sorted(graph)
    cycles = all_cycles(graph)
    assert not cycles, "import cycles among crates/rgrad-py/src files:\n" + _format(cycles)


def test_binding_files_are_layered():
    graph = binding_graph()
    if find_cycle(graph):
        return  # reported by the test above
    # The bottom of the stack uses nothing above it; lib.rs is used by none.
    assert graph["errors"] <= set(), graph["errors"]
    assert graph["dtype"] <= {"errors"}, graph["dtype"]
    assert graph["tensor"] <= {"errors", "dtype"}, graph["tensor"]
    assert graph["interop"] <= {"errors", "tensor"}, graph["interop"]
    assert graph["convert"] <= {"errors", "dtype", "tensor", "interop"}, graph["convert"]
    assert not any("lib" in deps for name, deps in graph.items() if name != "lib")
    assert layers(graph)[-1] == ["lib"]


def test_optim_modules_have_no_import_cycle():
    graph = python_graph()
    assert "lr_scheduler" in graph and "optimizer" in graph, sorted(graph)
    cycles = all_cycles(graph)
    assert not cycles, "import cycles among python/rgrad/optim modules:\n" + _format(cycles)
