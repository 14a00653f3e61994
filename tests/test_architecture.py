"""The layers of docs/architecture.md hold: no module imports a layer above its own, and no
two modules import each other, directly or round a longer circle (lazy imports count)."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src" / "mea_culpa"

BASE = {"errors", "paths", "files", "yamlfile", "text"}
# What each layer may import besides itself (docs/architecture.md draws the same picture).
ALLOWED: dict[str, set[str]] = {
    "text": set(),
    "errors": set(),
    "paths": {"errors"},
    "files": {"errors", "paths"},
    "yamlfile": {"errors", "files", "paths"},
    "playbook": BASE,
    "apology": BASE,
    "run": BASE | {"playbook"},
    "journal": BASE | {"playbook", "run"},
    "messages": BASE | {"playbook", "run", "apology"},
    "export": BASE | {"playbook", "run", "messages", "apology"},
    "cli": BASE | {"playbook", "run", "journal", "messages", "apology", "export"},
}
# modules still on their way into a layer, with the layer they are counted in
TRANSITIONAL: dict[str, str] = {}


# Nothing is known to break the layers: a pair here would be an import the test lets pass.
PENDING: set[tuple[str, str]] = set()


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every mea_culpa module `path` imports, at the top or inside a function."""
    found: set[str] = set()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("mea_culpa"))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("mea_culpa") and node.level == 0:
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                found.add(candidate if _is_module(candidate) else node.module)
    return found


def _is_module(name: str) -> bool:
    relative = Path(*name.split(".")[1:])
    return (SRC / relative).with_suffix(".py").is_file() or (SRC / relative / "__init__.py").is_file()


def layer(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "package"
    top = parts[1]
    return TRANSITIONAL.get(top, top)


def graph() -> dict[str, set[str]]:
    return {module_name(p): imports_of(p) for p in SRC.rglob("*.py")}


def test_no_module_imports_a_layer_above_its_own():
    wrong = []
    for module, targets in graph().items():
        own = layer(module)
        if own in ("package", "__main__"):
            continue
        for target in targets:
            other = layer(target)
            if other not in (own, "package") and other not in ALLOWED.get(own, set()) and (module, target) not in PENDING:
                wrong.append(f"{module} imports {target} ({own} -> {other})")
    assert wrong == []


def test_there_is_no_import_circle():
    edges = graph()
    for module in edges:  # a module importing its own package's __init__ is not a circle
        edges[module] = {t for t in edges[module] if not module.startswith(t + ".") and t != module}
    circles = []
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for target in sorted(edges.get(node, ())):
            if state.get(target) == 1:
                circles.append(" -> ".join(path[path.index(target):] + [target]) if target in path else f"{node} -> {target}")
            elif target not in state:
                visit(target, path + [target])
        state[node] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])
    assert circles == []


def test_every_layer_says_what_it_owns_and_may_import():
    for init in SRC.glob("*/__init__.py"):
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
        assert "May import" in doc, init
