"""The package's layers: a module imports only from its own layer or lower ones.

errors and rows (the root exception, the typed rows that cross modules) < auth (deciding,
no I/O) < store (the database) < core (one request) < web, client, cli (the edges). The
edges do not import one another, except that the command line may start the server (web)
and call a remote one (client).
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).parent.parent / "vicidid"
RANK = {"errors": -1, "rows": -1, "auth": 0, "store": 1, "core": 2, "web": 3, "client": 3, "cli": 4}
# vicidid/__init__.py (the public API) and __main__.py sit above every layer
TOP = {"__init__", "__main__"}


def layer(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "vicidid" or len(parts) < 2:
        return None
    return parts[1]


def imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
    return found


def test_every_module_is_in_a_layer():
    strays = [
        p.relative_to(PACKAGE)
        for p in PACKAGE.rglob("*.py")
        if p.parent == PACKAGE and p.stem not in TOP and p.stem not in RANK
    ]
    assert not strays, f"modules outside the layer packages: {strays}"
    packages = {p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert packages == set(RANK) - {"errors", "rows"}


def test_no_layer_imports_a_higher_one():
    wrong = []
    for path in PACKAGE.rglob("*.py"):
        own = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
        if own in TOP:
            continue
        for module in imports(path):
            other = layer(module)
            if other is None or other not in RANK or other == own:
                continue
            if RANK[other] > RANK[own] or (RANK[other] == RANK[own]):
                wrong.append(f"{path.relative_to(PACKAGE)} imports {module}")
    assert not wrong, "\n".join(sorted(wrong))
