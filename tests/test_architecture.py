"""The shape of the package, checked from its source: no import cycles between modules,
services never reach up into the layers built on them, and the read side writes nothing
itself.

Read with `ast`, not by importing: an import inside a function is a dependency too (the
layering checks count it), but only imports that run when a module is loaded can form a
cycle (the cycle check counts those)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "caseflow"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def _loaded_nodes(tree: ast.Module):
    """The statements that run when the module is imported: not function bodies, not
    `if TYPE_CHECKING:` blocks."""
    pending = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            continue
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            pending.extend(node.orelse)
            continue
        yield node
        pending.extend(ast.iter_child_nodes(node))


def _imports(name: str, *, loaded_only: bool) -> list[tuple[str, int, list[str]]]:
    """(imported caseflow module, line, names taken from it) of module `name`."""
    tree = ast.parse(MODULES[name].read_text(), filename=str(MODULES[name]))
    nodes = _loaded_nodes(tree) if loaded_only else ast.walk(tree)
    package = name if _is_package(name) else name.rpartition(".")[0]
    found = []
    for node in nodes:
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                if submodule in MODULES:  # `from . import figures`: the module itself
                    found.append((submodule, node.lineno, []))
                else:
                    found.append((source, node.lineno, [alias.name]))
    return [(target, line, names) for target, line, names in found if target in MODULES]


def _cycle() -> list[str] | None:
    graph = {name: sorted({target for target, _line, _names in _imports(name, loaded_only=True)})
             for name in MODULES}
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(name: str) -> list[str] | None:
        state[name] = 1
        path.append(name)
        for target in graph[name]:
            if state.get(target) == 1:
                return path[path.index(target):] + [target]
            if target not in state and (found := visit(target)):
                return found
        path.pop()
        state[name] = 2
        return None

    for name in MODULES:
        if name not in state and (found := visit(name)):
            return found
    return None


def test_no_module_imports_itself_through_others_when_loaded():
    cycle = _cycle()
    assert cycle is None, "import cycle: " + " → ".join(cycle)


def test_the_cycle_check_finds_a_cycle(tmp_path, monkeypatch):
    fake = {"caseflow.a": tmp_path / "a.py", "caseflow.b": tmp_path / "b.py"}
    fake["caseflow.a"].write_text("from .b import thing\n")
    fake["caseflow.b"].write_text("def f():\n    from .a import other\n")
    monkeypatch.setitem(globals(), "MODULES", fake)
    assert _cycle() is None  # an import inside a function runs later: no cycle
    fake["caseflow.b"].write_text("from . import a\n")
    assert _cycle() == ["caseflow.a", "caseflow.b", "caseflow.a"]


LOWER_LAYERS = ("caseflow.services", "caseflow.models", "caseflow.workflow", "caseflow.audit",
                "caseflow.schemas", "caseflow.security")
UPPER_LAYERS = ("caseflow.reports", "caseflow.transfers", "caseflow.devdata", "caseflow.web",
                "caseflow.api", "caseflow.cli")


def _in(name: str, packages: tuple[str, ...]) -> bool:
    return any(name == package or name.startswith(package + ".") for package in packages)


@pytest.mark.parametrize("name", [name for name in MODULES if _in(name, LOWER_LAYERS)])
def test_services_and_the_domain_never_call_upward(name):
    upward = [f"line {line}: {target}" for target, line, _names in _imports(name, loaded_only=False)
              if _in(target, UPPER_LAYERS)]
    assert not upward, f"{name} imports a layer built on it: {upward}"


# The read side may read through these services, and keeps its derived caches (sealed
# months, dashboard snapshots) through the last two; every other service changes data.
READ_SIDE_SERVICES = {"caseflow.services.access", "caseflow.services.runtime", "caseflow.services.context",
                      "caseflow.services.sealed_months", "caseflow.services.snapshots"}
WRITES = {("caseflow.database", "write_transaction"), ("sqlalchemy", "insert"), ("sqlalchemy", "update"),
          ("sqlalchemy", "delete")}


def _writes(name: str) -> list[str]:
    tree = ast.parse(MODULES[name].read_text())
    found = [f"line {node.lineno}: {node.module}.{alias.name}" for node in ast.walk(tree)
             if isinstance(node, ast.ImportFrom) and node.module for alias in node.names
             if (node.module, alias.name) in WRITES or (node.level and alias.name == "write_transaction")]
    found += [f"line {node.lineno}: session.{node.attr}" for node in ast.walk(tree)
              if isinstance(node, ast.Attribute) and node.attr in ("add", "add_all", "merge", "flush", "commit")
              and ast.unparse(node.value).endswith("session")]
    return found


@pytest.mark.parametrize("name", [name for name in MODULES if _in(name, ("caseflow.reports", "caseflow.transfers"))])
def test_the_read_side_and_transfers_write_only_through_services(name):
    assert not _writes(name), f"{name} writes itself: {_writes(name)}"


@pytest.mark.parametrize("name", [name for name in MODULES if _in(name, ("caseflow.reports",))])
def test_the_read_side_uses_no_service_that_changes_data(name):
    services = {target for target, _line, _names in _imports(name, loaded_only=False)
                if _in(target, ("caseflow.services",)) and target != "caseflow.services"}
    services |= {f"caseflow.services.{names[0]}" for target, _line, names in _imports(name, loaded_only=False)
                 if target == "caseflow.services" and names}
    assert services <= READ_SIDE_SERVICES, f"{name} uses {sorted(services - READ_SIDE_SERVICES)}"


def test_the_write_check_sees_a_write(tmp_path, monkeypatch):
    module = tmp_path / "leaky.py"
    module.write_text("from ..database import write_transaction\n\ndef f():\n    db.session.add(x)\n")
    monkeypatch.setitem(MODULES, "caseflow.reports.leaky", module)
    assert len(_writes("caseflow.reports.leaky")) == 2


# The only imports made inside a function: each breaks a cycle, said where it is made.
IMPORTS_INSIDE_FUNCTIONS = {
    ("caseflow", "RowIdConverter.__init__"),  # the package's modules import it first, as their parent
    ("caseflow", "create_app"),  # likewise
    ("caseflow.cli", "_create_app"),  # create_app imports caseflow.cli
    ("caseflow.web.errors", "_record_denied"),  # web.auth imports web.errors
}


def _functions_importing(name: str) -> set[tuple[str, str]]:
    found = set()

    def visit(node: ast.AST, scope: list[str]) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                visit(child, [*scope, child.name])
            elif isinstance(child, ast.Import | ast.ImportFrom) and scope and not isinstance(node, ast.ClassDef):
                found.add((name, ".".join(scope)))
            else:
                visit(child, scope)

    visit(ast.parse(MODULES[name].read_text()), [])
    return found


def test_imports_are_made_at_the_top_unless_they_break_a_cycle():
    found = set().union(*(_functions_importing(name) for name in MODULES))
    assert found == IMPORTS_INSIDE_FUNCTIONS, (
        f"imported inside a function: {sorted(found - IMPORTS_INSIDE_FUNCTIONS)}; "
        f"no longer: {sorted(IMPORTS_INSIDE_FUNCTIONS - found)}")


def _readme_map() -> str:
    readme = (PACKAGE.parent / "README.md").read_text(encoding="utf-8")
    return readme.split("## What is where", 1)[1].split("\n## ", 1)[0]


def _tracked_top_level() -> set[str]:
    """The project's top-level folders that git tracks (not the venv, build output or caches)."""
    import subprocess

    listed = subprocess.run(["git", "ls-files"], cwd=PACKAGE.parent, capture_output=True, text=True)
    if listed.returncode != 0:
        pytest.skip("not a git checkout")
    return {line.split("/", 1)[0] for line in listed.stdout.splitlines() if "/" in line}


def test_readme_names_every_part_of_the_tree():
    """README's "What is where" names every top-level folder, every package of caseflow/ and
    every module directly in it, so that the map the next person reads matches the tree."""
    text = _readme_map()
    parts = {f"{name}/" for name in _tracked_top_level() - {"caseflow"}}
    parts |= {f"{path.name}/" for path in PACKAGE.iterdir()
              if path.is_dir() and not path.name.startswith(("_", "."))}
    parts |= {path.name for path in PACKAGE.glob("*.py") if path.name != "__init__.py"}
    missing = sorted(part for part in parts if not re.search(rf"(?<![\w.]){re.escape(part)}", text))
    assert not missing, f"README's 'What is where' does not name: {missing}"
