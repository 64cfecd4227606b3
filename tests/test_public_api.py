"""The package's public names: each one resolves, and the client stays light to import."""

from __future__ import annotations

import importlib
import subprocess
import sys
import tomllib
from pathlib import Path

import vicidid

ROOT = Path(__file__).resolve().parent.parent
SERVER_ONLY = ("sqlalchemy", "starlette", "uvicorn", "prometheus_client")


def test_every_public_name_is_the_object_its_module_defines():
    for name in vicidid.__all__:
        value = getattr(vicidid, name)
        module = vicidid._LAZY.get(name)
        if module is not None:
            assert value is getattr(importlib.import_module(module), name)
    assert set(vicidid._LAZY) <= set(vicidid.__all__)


def test_an_unknown_name_is_an_attribute_error():
    try:
        vicidid.no_such_name  # noqa: B018
    except AttributeError as error:
        assert "no_such_name" in str(error)
    else:
        raise AssertionError("vicidid.no_such_name resolved")


def test_the_client_imports_without_the_server():
    code = (
        "import sys\n"
        "from vicidid import Client, AsyncClient, ApiError, API_PATH\n"
        f"print(sorted(m for m in {SERVER_ONLY!r} if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]"


def test_the_type_hints_ship_with_the_package():
    assert (ROOT / "vicidid" / "py.typed").is_file()
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "py.typed" in config["tool"]["setuptools"]["package-data"]["vicidid"]


def test_the_type_checkers_see_the_same_names_as_the_lazy_loader():
    """vicidid/__init__.py names each public name for the loader (_LAZY), for `import *`
    (__all__) and for type checkers (its TYPE_CHECKING imports): the three agree."""
    import ast

    tree = ast.parse((ROOT / "vicidid" / "__init__.py").read_text())
    guarded = next(n for n in tree.body if isinstance(n, ast.If))
    typed = {
        a.asname or a.name for n in guarded.body if isinstance(n, ast.ImportFrom) for a in n.names
    }
    assert typed == set(vicidid._LAZY)
    assert set(vicidid.__all__) == typed | {"API_PATH", "__version__"}
