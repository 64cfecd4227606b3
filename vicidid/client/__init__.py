"""The Python client (sync and async, on httpx): talks to vicidid and to VICIdial itself."""

from vicidid.client.api import AsyncClient, Client
from vicidid.errors import (
    AlreadyExists,
    ApiError,
    AuthError,
    InvalidInput,
    NotFound,
    PermissionDenied,
    Unavailable,
)

__all__ = [
    "AlreadyExists",
    "ApiError",
    "AsyncClient",
    "AuthError",
    "Client",
    "InvalidInput",
    "NotFound",
    "PermissionDenied",
    "Unavailable",
]
