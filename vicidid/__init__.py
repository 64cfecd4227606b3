"""vicidid: VICIdial's Non-Agent API for inbound DIDs, as a fast, safe Python server.

The names below are the public API. The server's are loaded on first use, so that
`from vicidid import Client` does not pull in the server, its database layer or Starlette.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from vicidid.about import API_PATH, __version__

# public name -> the module that defines it
_LAZY = {
    "Client": "vicidid.client",
    "AsyncClient": "vicidid.client",
    "ApiError": "vicidid.client",
    "AuthError": "vicidid.client",
    "PermissionDenied": "vicidid.client",
    "NotFound": "vicidid.client",
    "AlreadyExists": "vicidid.client",
    "InvalidInput": "vicidid.client",
    "Unavailable": "vicidid.client",
    "create_app": "vicidid.web.app",
    "Settings": "vicidid.web.settings",
    "Pipeline": "vicidid.core.pipeline",
    "VicididError": "vicidid.errors",
}

__all__ = [
    "API_PATH",
    "AlreadyExists",
    "ApiError",
    "AsyncClient",
    "AuthError",
    "Client",
    "InvalidInput",
    "NotFound",
    "PermissionDenied",
    "Pipeline",
    "Settings",
    "Unavailable",
    "VicididError",
    "__version__",
    "create_app",
]

if TYPE_CHECKING:
    from vicidid.client import (
        AlreadyExists,
        ApiError,
        AsyncClient,
        AuthError,
        Client,
        InvalidInput,
        NotFound,
        PermissionDenied,
        Unavailable,
    )
    from vicidid.core.pipeline import Pipeline
    from vicidid.errors import VicididError
    from vicidid.web.app import create_app
    from vicidid.web.settings import Settings


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'vicidid' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # looked up once
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
