"""Database failures: what kind of failure it was, and what a request may have written.

A request that meets a database error either runs again (when nothing it did can have
stayed behind), or is answered honestly: the database is unreachable or overloaded (503),
vicidid's database user lacks a privilege, or the server failed otherwise (500) — or,
when some of its writes may already be for good, the change may be partly applied.
"""

from __future__ import annotations

import contextlib
import enum
import re
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection, Engine, ExecutionContext


class Fault(enum.Enum):
    UNREACHABLE = "unreachable"  # lost, refused, overloaded or locked: try again later
    PRIVILEGE = "privilege"  # the database user may not do what vicidid needs
    SERVER = "server"  # anything else the database refused or failed at


# MariaDB/MySQL error codes, server (1xxx, 4xxx) and client library (2xxx).
UNREACHABLE_CODES = {
    1040,  # too many connections
    1053,  # server shutdown in progress
    1152,  # aborted connection
    1158,  # network read error
    1159,  # network read timeout
    1160,  # network write error
    1161,  # network write timeout
    1203,  # user has exceeded max_user_connections
    1205,  # lock wait timeout
    1213,  # deadlock
    1226,  # user has exceeded a resource limit
    1927,  # connection killed
    2002,  # cannot connect through the socket
    2003,  # cannot connect to the server
    2005,  # unknown server host
    2006,  # server has gone away
    2013,  # lost connection during a query
    2055,  # lost connection at an unexpected point
    4031,  # disconnected by the server (idle)
}
PRIVILEGE_CODES = {
    1044,  # access denied to the database
    1045,  # access denied for the user (wrong password or host)
    1142,  # command denied on a table
    1143,  # command denied on a column
    1227,  # a global privilege is needed
    1370,  # command denied on a routine
    1698,  # access denied without a password
}
# Errors after which the whole transaction may simply run again (where it rolled back).
RETRYABLE_CODES = {1205, 1213}
SQLITE_BUSY = ("database is locked", "database table is locked", "database is busy")
SQLITE_READONLY = ("readonly database", "read-only database", "unable to open database")


def code_and_message(error: BaseException) -> tuple[object, str]:
    """The driver's error code and message: never the statement or its parameters."""
    orig = getattr(error, "orig", None) or error
    args: tuple[object, ...] = getattr(orig, "args", ())
    if len(args) >= 2 and isinstance(args[0], int):  # mysqlclient and PyMySQL
        return args[0], str(args[1])
    code = getattr(orig, "sqlite_errorname", None)  # sqlite3 (Python 3.11+)
    message = str(args[0]) if args else type(orig).__name__
    return code, message


def describe(error: BaseException) -> str:
    """`1142 INSERT command denied …` for a log line (the class name when nothing else)."""
    code, message = code_and_message(error)
    kind = type(getattr(error, "orig", None) or error).__name__
    return f"{kind} {code}: {message}" if code is not None else f"{kind}: {message}"


def classify(error: BaseException) -> Fault:
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return Fault.UNREACHABLE
    if isinstance(error, sa_exc.TimeoutError):
        return Fault.UNREACHABLE  # every pooled connection busy: overloaded
    code, message = code_and_message(error)
    lowered = message.lower()
    if code in UNREACHABLE_CODES or any(s in lowered for s in SQLITE_BUSY):
        return Fault.UNREACHABLE
    if code in PRIVILEGE_CODES or any(s in lowered for s in SQLITE_READONLY):
        return Fault.PRIVILEGE
    if isinstance(error, sa_exc.InterfaceError):
        return Fault.UNREACHABLE  # the driver has no usable connection
    return Fault.SERVER


def may_rerun(error: sa_exc.DBAPIError, attempt: Attempt, transactional: bool) -> bool:
    """May the whole transaction run again after this error?

    Deadlocks, lock waits and a dropped connection, yes — where the database rolled the
    attempt back: on InnoDB or SQLite unless the connection was lost during COMMIT (the
    change may then have landed), and on MyISAM only while the attempt has sent no write
    (each one lands for good as it runs, so a second run would apply it twice).
    """
    if attempt.committing and error.connection_invalidated:
        return False
    if not transactional and attempt.wrote:
        return False
    return error.connection_invalidated or rolled_back(error)


def rolled_back(error: BaseException) -> bool:
    """Whether the database answered the statement by rolling the transaction back (or
    by refusing it, SQLite busy), so that nothing of it stayed — a COMMIT included: a
    deadlock, a lock wait, a Galera certification conflict (reported as a deadlock).
    A lost connection is not one of them: a COMMIT under way may then have landed."""
    if not isinstance(error, sa_exc.DBAPIError) or error.connection_invalidated:
        return False
    code, message = code_and_message(error)
    return code in RETRYABLE_CODES or any(s in message.lower() for s in SQLITE_BUSY)


@dataclass
class Attempt:
    """What one run of a request's transaction has sent to the database."""

    wrote: bool = False  # any write that must not be repeated
    changed: bool = False  # a write of the change itself (not login or api_log bookkeeping)
    committing: bool = False  # every statement ran; the COMMIT is under way


# Writes that are bookkeeping around a change, not the change: the caller's login counters
# and the request's api_log and api_urls rows.
BOOKKEEPING = {"vicidial_users", "vicidial_api_log", "vicidial_api_urls"}
_WRITE = re.compile(
    r"\s*(?:INSERT|UPDATE|DELETE|REPLACE)\b(?:[\w ]*?\b(?:INTO|FROM))?\s+[`\"]?(\w+)", re.I
)
_CURRENT: ContextVar[Attempt | None] = ContextVar("vicidid_attempt", default=None)


def written_table(statement: str) -> str | None:
    """The table an INSERT, UPDATE or DELETE writes; None for any other statement."""
    found = _WRITE.match(statement)
    return found.group(1) if found else None


def _seen(
    conn: Connection,
    cursor: object,
    statement: str,
    parameters: object,
    context: ExecutionContext | None,
    executemany: bool,
) -> None:
    if context is None:
        return  # a message store/wire.py sends: `send` noted its writes already
    table = written_table(statement)
    if table is not None:
        note_write(table, context.execution_options.get("repeatable", False))


def note_write(table: str, repeatable: bool = False) -> None:
    """Note, in the current Attempt, a write to `table` about to be sent."""
    attempt = _CURRENT.get()
    if attempt is None or attempt.changed or repeatable:
        return  # a repeatable write puts the same values again if run twice
    attempt.wrote = True
    if table not in BOOKKEEPING:
        attempt.changed = True


def watch_writes(engine: Engine) -> None:
    """Note every write the engine sends into the current Attempt (see tracking)."""
    if not sa.event.contains(engine, "before_cursor_execute", _seen):
        sa.event.listen(engine, "before_cursor_execute", _seen)


@contextlib.contextmanager
def tracking(attempt: Attempt) -> Iterator[Attempt]:
    """Within this block, writes sent on this thread are noted in `attempt`."""
    token = _CURRENT.set(attempt)
    try:
        yield attempt
    finally:
        _CURRENT.reset(token)
