"""The login throttle's table, vicidid_login_throttle: one window of failures per address.

Every worker and every server on the database counts in the same rows. An attempt is
claimed with one conditional UPDATE, which the database runs whole (a row lock on
InnoDB, a table lock on MyISAM, the one writer on SQLite): of attempts that arrive
together, only as many as the limit leaves pass. Times are whole seconds since the epoch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql, sqlite
from sqlalchemy.engine import Connection

from vicidid.auth.throttle import Limit
from vicidid.store import tables as t

_T = t.login_throttle
_C = _T.c
_THE_ADDRESS = _C.address == sa.bindparam("at_address")

# The address's window, for the login's read (store/statements/logins.py): failures and start.
FAILURES = sa.select(_C.failures).where(_THE_ADDRESS).scalar_subquery()
WINDOW_START = sa.select(_C.window_start).where(_THE_ADDRESS).scalar_subquery()

_EXPIRED = _C.window_start <= sa.bindparam("expired")
# MariaDB assigns left to right, each assignment seeing the ones before it: `failures` is
# worked out first, from the window as it was. SQLite sees the old row in every one.
CLAIM = (
    _T.update()
    .where(_THE_ADDRESS, sa.or_(_EXPIRED, _C.failures < sa.bindparam("limit")))
    .ordered_values(
        (_C.failures, sa.case((_EXPIRED, 1), else_=_C.failures + 1)),
        (_C.window_start, sa.case((_EXPIRED, sa.bindparam("now")), else_=_C.window_start)),
    )
)
_NEW_ROW: dict[str, Any] = {
    "address": sa.bindparam("at_address"),
    "window_start": sa.bindparam("now"),
}
# The row, where it is missing. On InnoDB, INSERT IGNORE would take a shared lock on a row
# that is there, and two claims that both then UPDATE it would deadlock; ON DUPLICATE KEY
# UPDATE takes the exclusive lock the UPDATE needs anyway.
_MYSQL_INSERT = mysql.insert(_T).values(failures=0, **_NEW_ROW)
NEW_WINDOW = {
    "mysql": _MYSQL_INSERT.on_duplicate_key_update(address=_MYSQL_INSERT.inserted.address),
    "sqlite": sqlite.insert(_T).values(failures=0, **_NEW_ROW).on_conflict_do_nothing(),
}
# Given back only in the window the claim counted in (it may have ended since).
RELEASE = (
    _T.update()
    .where(_THE_ADDRESS, _C.window_start == sa.bindparam("window"), _C.failures > 0)
    .values(failures=_C.failures - 1)
)
PURGE = _T.delete().where(_EXPIRED)


@dataclass(frozen=True)
class Window:
    address: str
    started: int
    failures: int


def claim(conn: Connection, address: str, now: int, limit: Limit, seen: int | None) -> int | None:
    """Count an attempt from this address before it is checked.

    The start of the window it counted in, or None when the address is over the limit.
    `seen`: the window's start as the login's read found it; None where there was no row or
    nothing was read, and then the row is added where missing and its start read back in
    the same transaction. A window that another server started between the read and this
    claim makes the start given back a guess that `release` may miss: the attempt then
    stays counted, never the other way round.
    """
    values = {"at_address": address, "now": now, "expired": now - limit.seconds}
    insert = NEW_WINDOW["sqlite" if conn.dialect.name == "sqlite" else "mysql"]
    if seen is None:
        conn.execute(insert, values)
    counted = conn.execute(CLAIM, {**values, "limit": limit.failures}).rowcount == 1
    if not counted and seen is not None:
        # Over the limit, or the row went since it was read (purged, cleared): add it again
        # where it is missing, and count once more.
        conn.execute(insert, values)
        counted = conn.execute(CLAIM, {**values, "limit": limit.failures}).rowcount == 1
        seen = None
    if not counted:
        return None
    if seen is None:  # the row is this transaction's to read: its window as counted
        return int(conn.execute(WINDOW_START_OF, {"at_address": address}).scalar_one())
    return seen if limit.live(seen, now) else now


WINDOW_START_OF = sa.select(_C.window_start).where(_THE_ADDRESS)


def window(conn: Connection, address: str) -> tuple[int | None, int | None]:
    """(failures, start) of the address's window; (None, None) when it has none."""
    row = conn.execute(WINDOW_OF, {"at_address": address}).first()
    return (int(row.failures), int(row.window_start)) if row else (None, None)


WINDOW_OF = sa.select(_C.failures, _C.window_start).where(_THE_ADDRESS)


def release(conn: Connection, address: str, window: int) -> None:
    """The claimed attempt turned out right: it is no failure after all."""
    conn.execute(RELEASE, {"at_address": address, "window": window})


def purge(conn: Connection, now: int, limit: Limit) -> int:
    """Forget windows that have ended."""
    return conn.execute(PURGE, {"expired": now - limit.seconds}).rowcount


def windows(conn: Connection, now: int, limit: Limit) -> list[Window]:
    """The windows still running, most failures first."""
    rows = conn.execute(
        sa.select(_C.address, _C.window_start, _C.failures)
        .where(_C.window_start > now - limit.seconds)
        .order_by(_C.failures.desc(), _C.address)
    )
    return [Window(r.address, int(r.window_start), int(r.failures)) for r in rows]


def clear(conn: Connection, address: str) -> bool:
    """Forget this address's failures; False when it had none counted."""
    return conn.execute(_T.delete().where(_THE_ADDRESS), {"at_address": address}).rowcount > 0
