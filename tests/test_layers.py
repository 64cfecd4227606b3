"""The package's layers: a module imports only from its own layer or lower ones.

about, errors, rows and fields (the version and the API's path, the exceptions, the typed
rows that cross modules, the parameter registry) < auth (deciding, no I/O) < store (the
database) < core (one request) < web, cli (the server's edges). The client is an edge of
its own, beside the server: it reads only the base modules, so it runs without the server.
The package root (vicidid/__init__.py, the public names, loaded lazily) sits above every
layer: no layer imports from it. The command line may start the server (web) and call a
remote one (client).
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).parent.parent / "vicidid"
BASE = ("about", "errors", "rows", "fields")
RANK = {
    **dict.fromkeys(BASE, -1),
    "auth": 0,
    "client": 0,  # beside auth: it imports only the base modules
    "store": 1,
    "core": 2,
    "web": 3,
    "cli": 4,
}
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
            if node.module != "vicidid":  # `from vicidid import x`: x is what is imported
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
    assert packages == set(RANK) - set(BASE)


def test_no_layer_imports_a_higher_one():
    wrong = []
    for path in PACKAGE.rglob("*.py"):
        own = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
        if own in TOP:
            continue
        for module in imports(path):
            if module == "vicidid" or (
                module.startswith("vicidid.")
                and module.count(".") == 1
                and layer(module) not in RANK
            ):
                # the package root, or a name it holds: above every layer
                wrong.append(f"{path.relative_to(PACKAGE)} imports the package root ({module})")
                continue
            other = layer(module)
            if other is None or other not in RANK or other == own:
                continue
            if RANK[other] > RANK[own] or (RANK[other] == RANK[own]):
                wrong.append(f"{path.relative_to(PACKAGE)} imports {module}")
    assert not wrong, "\n".join(sorted(wrong))


def lazy_imports() -> dict[str, str]:
    """vicidid/__init__.py's public names and the modules they are loaded from on first use."""
    tree = ast.parse((PACKAGE / "__init__.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.AnnAssign | ast.Assign):
            target = node.target if isinstance(node, ast.AnnAssign) else node.targets[0]
            if isinstance(target, ast.Name) and target.id == "_LAZY":
                return ast.literal_eval(node.value)  # type: ignore[arg-type]
    raise AssertionError("vicidid/__init__.py has no _LAZY")


def test_the_package_root_loads_each_public_name_from_a_layer():
    lazy = lazy_imports()
    assert "Client" in lazy and "create_app" in lazy  # the scan finds them
    strays = {name: module for name, module in lazy.items() if layer(module) not in RANK}
    assert strays == {}
    # the client's names come from the client and the base modules alone
    client = [m for n, m in lazy.items() if n in {"Client", "AsyncClient", "ApiError"}]
    assert all(RANK[layer(m) or ""] <= RANK["client"] for m in client)


def test_the_rule_sees_an_import_of_the_package_root(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("from vicidid import API_PATH\nfrom vicidid import fields\n")
    found = imports(module)
    assert "vicidid.API_PATH" in found and layer("vicidid.API_PATH") not in RANK
    assert layer("vicidid.fields") in RANK
