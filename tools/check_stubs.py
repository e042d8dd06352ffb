"""Check that the stub python/rgrad/_rgrad.pyi matches the compiled module rgrad._rgrad.

Compares, both ways:

* the public names of the module (``dir(module)``, names not starting with ``_``) with the
  names the stub declares at top level;
* for every class present in both, the public members of the class (``dir(cls)``, which
  includes inherited ones) with the members the stub class declares (including those of its
  base classes declared in the same stub).

Private names (``_x``) are ignored on both sides. Dunder names (``__x__``) are ignored unless
the stub declares them, in which case the runtime object must have them.

Exit status: 0 when the two agree, 1 with a list of differences, 2 when the stub or the module
cannot be loaded (for instance because the extension has not been built yet).

Usage: python tools/check_stubs.py [--module rgrad._rgrad] [--stub python/rgrad/_rgrad.pyi]
"""

from __future__ import annotations

import argparse
import ast
import importlib
import inspect
import sys
import traceback
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_MODULE = "rgrad._rgrad"
DEFAULT_STUB = REPO / "python" / "rgrad" / "_rgrad.pyi"


def is_dunder(name: str) -> bool:
    return len(name) > 4 and name.startswith("__") and name.endswith("__")


def is_private(name: str) -> bool:
    return name.startswith("_") and not is_dunder(name)


# ---- the stub side -------------------------------------------------------------------------


@dataclass
class StubClass:
    name: str
    lineno: int
    bases: list[str] = field(default_factory=list)
    members: dict[str, int] = field(default_factory=dict)  # name -> line


@dataclass
class Stub:
    names: dict[str, int] = field(default_factory=dict)  # top-level name -> line
    classes: dict[str, StubClass] = field(default_factory=dict)
    has_getattr: bool = False  # a module-level __getattr__ makes the stub open-ended


def _target_names(target: ast.expr) -> list[str]:
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, (ast.Tuple, ast.List)):
        return [n for elt in target.elts for n in _target_names(elt)]
    return []


def _flatten(body: list[ast.stmt]) -> list[ast.stmt]:
    """Statements of a body, with `if`/`try` blocks (e.g. version checks) opened up."""
    out: list[ast.stmt] = []
    for node in body:
        if isinstance(node, ast.If):
            out += _flatten(node.body) + _flatten(node.orelse)
        elif isinstance(node, ast.Try):
            out += _flatten(node.body)
            for handler in node.handlers:
                out += _flatten(handler.body)
            out += _flatten(node.orelse) + _flatten(node.finalbody)
        else:
            out.append(node)
    return out


def _declared(node: ast.stmt) -> list[str]:
    """Names a statement binds in a stub: defs, classes, assignments, explicit re-exports."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [node.name]
    if isinstance(node, ast.AnnAssign):
        return _target_names(node.target)
    if isinstance(node, ast.Assign):
        return [n for t in node.targets for n in _target_names(t)]
    if isinstance(node, getattr(ast, "TypeAlias", ())):  # `type X = ...` (3.12+)
        return [node.name.id]  # type: ignore[attr-defined]
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        # Only `import x as x` / `from m import x as x` re-export from a stub (PEP 484).
        return [a.asname for a in node.names if a.asname and a.asname == a.name.split(".")[-1]]
    return []


def _dotted(expr: ast.expr) -> str | None:
    if isinstance(expr, ast.Name):
        return expr.id
    if isinstance(expr, ast.Attribute):
        return expr.attr
    if isinstance(expr, ast.Subscript):  # Generic[T] and the like
        return _dotted(expr.value)
    return None


def parse_stub(path: Path) -> Stub:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    stub = Stub()
    for node in _flatten(tree.body):
        for name in _declared(node):
            stub.names.setdefault(name, node.lineno)
            if name == "__getattr__":
                stub.has_getattr = True
        if isinstance(node, ast.ClassDef):
            cls = StubClass(node.name, node.lineno)
            cls.bases = [b for b in map(_dotted, node.bases) if b]
            for member in _flatten(node.body):
                for name in _declared(member):
                    cls.members.setdefault(name, member.lineno)
            stub.classes[node.name] = cls
    return stub


def stub_members(stub: Stub, name: str, seen: set[str] | None = None) -> dict[str, int]:
    """Members of a stub class including those of its bases declared in the same stub."""
    seen = seen if seen is not None else set()
    if name in seen or name not in stub.classes:
        return {}
    seen.add(name)
    cls = stub.classes[name]
    out: dict[str, int] = {}
    for base in cls.bases:
        out.update(stub_members(stub, base, seen))
    out.update(cls.members)
    return out


# ---- the runtime side ----------------------------------------------------------------------


def public(names: Iterable[object]) -> set[str]:
    return {n for n in names if isinstance(n, str) and not n.startswith("_")}


def runtime_has(obj: object, name: str) -> bool:
    try:
        inspect.getattr_static(obj, name)
        return True
    except AttributeError:
        return hasattr(obj, name)


# ---- the comparison ------------------------------------------------------------------------


def compare(module: object, stub: Stub, stub_path: str) -> list[str]:
    problems: list[str] = []
    mod_name = getattr(module, "__name__", "?")

    runtime_names = public(dir(module))
    stub_public = {n for n in stub.names if not n.startswith("_")}
    stub_dunders = {n for n in stub.names if is_dunder(n)}

    for name in sorted(runtime_names - stub_public):
        if stub.has_getattr:
            continue
        obj = getattr(module, name, None)
        kind = "class" if inspect.isclass(obj) else type(obj).__name__
        problems.append(f"{mod_name}.{name} ({kind}) is missing from the stub")
    for name in sorted(stub_public - runtime_names):
        problems.append(
            f"{stub_path}:{stub.names[name]}: {name} is declared in the stub "
            f"but {mod_name} has no such attribute"
        )
    for name in sorted(stub_dunders):
        if name != "__getattr__" and not runtime_has(module, name):
            problems.append(
                f"{stub_path}:{stub.names[name]}: {name} is declared in the stub "
                f"but {mod_name} has no such attribute"
            )

    for name in sorted(set(stub.classes) & set(stub.names)):
        if is_private(name) or not hasattr(module, name):
            continue
        obj = getattr(module, name)
        where = f"{stub_path}:{stub.classes[name].lineno}"
        if not inspect.isclass(obj):
            problems.append(
                f"{where}: {name} is a class in the stub but {mod_name}.{name} is "
                f"of type {type(obj).__name__}"
            )
            continue
        declared = stub_members(stub, name)
        own = stub.classes[name].members
        # A member a class inherits from a base that is itself in the stub is that base's
        # business: report it once, there.
        checked_bases = [
            b for b in obj.__mro__[1:] if b.__name__ in stub.classes and hasattr(module, b.__name__)
        ]

        def inherited(m: str, bases: list[type] = checked_bases) -> bool:
            return any(m in vars(b) for b in bases)

        runtime_members = public(dir(obj))
        declared_public = {m for m in declared if not m.startswith("_")}
        for m in sorted(runtime_members - declared_public):
            if not inherited(m):
                problems.append(f"{mod_name}.{name}.{m} is missing from the stub class {name}")
        missing = sorted(declared_public - runtime_members)
        missing += sorted(m for m in declared if is_dunder(m) and not runtime_has(obj, m))
        for m in missing:
            if m in own:
                problems.append(
                    f"{stub_path}:{declared[m]}: {name}.{m} is declared in the stub "
                    f"but {mod_name}.{name} has no such member"
                )
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--module", default=DEFAULT_MODULE, help="module to import")
    parser.add_argument("--stub", type=Path, default=DEFAULT_STUB, help="path of the .pyi")
    args = parser.parse_args(argv)

    stub_path: Path = args.stub
    try:
        shown = str(stub_path.resolve().relative_to(REPO))
    except ValueError:
        shown = str(stub_path)
    if not stub_path.is_file():
        print(f"check_stubs: stub file {shown} does not exist", file=sys.stderr)
        return 2
    try:
        stub = parse_stub(stub_path)
    except SyntaxError as e:
        print(f"check_stubs: cannot parse {shown}: {e}", file=sys.stderr)
        return 2

    try:
        module = importlib.import_module(args.module)
    except Exception:  # ImportError, or whatever the package's __init__ raises
        traceback.print_exc()
        print(
            f"check_stubs: cannot import {args.module}; build and install the extension "
            "first (e.g. `pip install .` or `nox -s lint`)",
            file=sys.stderr,
        )
        return 2

    problems = compare(module, stub, shown)
    origin = getattr(module, "__file__", None) or "?"
    if problems:
        print(f"check_stubs: {shown} disagrees with {args.module} ({origin}):")
        for p in problems:
            print(f"  - {p}")
        print(f"check_stubs: {len(problems)} difference(s)")
        return 1
    n_members = sum(len(stub_members(stub, c)) for c in stub.classes)
    print(
        f"check_stubs: {shown} matches {args.module}: {len(stub.names)} names, "
        f"{len(stub.classes)} classes, {n_members} class members"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
