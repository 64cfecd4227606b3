"""vicidid's public exceptions, under one root, so a caller catches one class instead of a list.

Signals that never leave the module raising them (a body past its limit, a client gone, a
row a statement missed) live beside their code; they derive from the root too.
"""

from __future__ import annotations


class VicididError(Exception):
    """Something vicidid cannot do; the message says why, in words fit for an operator.

    Every error the server, the store, the command line and the client raise on purpose
    derives from it.
    """


# the database


class DriverMissing(VicididError, RuntimeError):
    """The database URL needs a driver that is not installed."""


class ForeignDatabase(VicididError):
    """The database holds VICIdial tables that vicidid did not create."""


# the server and the command line


class PortTaken(VicididError):
    """The address cannot be listened on; the message says why, in one line."""


class BulkError(VicididError):
    """The bulk job cannot start; the message says why."""


class AdminError(VicididError):
    """A management command cannot be carried out; the message says why."""


class ConfigError(VicididError):
    """VICIdial's config (`--astguiclient`) cannot be read, or does not say where the
    database is; the message names the file, the line and the key."""


class PlanError(VicididError):
    """`vicidid setup` cannot decide what to write (no web server found, no PHP block, …)."""


class SetupError(VicididError):
    """A step of `vicidid setup` failed; what was done before it stays recorded, so --undo
    can put it back."""


# the client: a server's answer refusing the request


class ApiError(VicididError):
    """The API refused the request; `reason` says why, `line` is the answer as sent."""

    def __init__(self, reason: str, line: str = "", kind: str = "", status: int = 200):
        super().__init__(reason)
        self.reason, self.line, self.kind, self.status = reason, line, kind, status


class AuthError(ApiError):
    """Wrong user or password, locked out, or conflicting credentials."""


class PermissionDenied(ApiError):
    """The user may not do this, or not from this address."""


class NotFound(ApiError):
    """The DID does not exist (or the user may not see it)."""


class AlreadyExists(ApiError):
    """The DID to add or copy onto exists already."""


class InvalidInput(ApiError):
    """A parameter is missing or not allowed."""


class Unavailable(ApiError):
    """The server cannot reach its database."""
