"""mysqlclient (MySQLdb), the faster MariaDB driver, driven with less Python per message.

Its cursor escapes each value through a per-type dispatch, formats datetimes in Python and
reads every statement's result with half a dozen calls. For the messages store/wire.py
sends, the same is done here on the connection itself, in fewer steps: the same bytes go
out, the same rows and the same errors come back. Only the driver's own cursor class with
its default encoders is driven so; anything else goes through the cursor's usual path."""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

try:  # imported by name: mysqlclient is optional (PyMySQL serves without it) and untyped
    _converters = importlib.import_module("MySQLdb.converters")
    Cursor: Any = importlib.import_module("MySQLdb.cursors").Cursor
    _DEFAULT_ENCODERS = (_converters.Thing2Str, _converters.DateTime2literal, _converters.None2NULL)
except ImportError:
    Cursor = None


def drives(cursor: Any) -> bool:
    """Whether this cursor is mysqlclient's plain one, escaping as the driver ships."""
    if Cursor is None or cursor.__class__ is not Cursor:
        return False
    encoders = cursor.connection.encoders
    return (encoders.get(int), encoders.get(datetime), encoders.get(type(None))) == (
        _DEFAULT_ENCODERS
    )


def message(cursor: Any, sql: str, values: Sequence[object]) -> bytes:
    """The statements with their values in, byte for byte as cursor.execute makes them.

    Texts go straight to the connection's escaping; integers, naive datetimes and None are
    written as the default encoders write them; any other value takes the driver's path.
    """
    db = cursor.connection
    encoding = db.encoding
    escape = db.string_literal
    literals: list[bytes] = []
    for value in values:
        if type(value) is str:
            literals.append(escape(value.encode(encoding)))
        elif type(value) is int:
            literals.append(str(value).encode(encoding))
        elif type(value) is datetime and value.tzinfo is None:
            # isoformat is format_TIMESTAMP's text, made in C; it needs no escaping
            literals.append(f"'{value.isoformat(' ')}'".encode(encoding))
        elif value is None:
            literals.append(b"NULL")
        else:
            literals.append(db.literal(value))
    return sql.encode(encoding) % tuple(literals)


def execute(cursor: Any, sql: str, values: Sequence[object]) -> None:
    """What cursor.execute(sql, values) sends, leaving the first statement's result unread."""
    cursor.connection.query(message(cursor, sql, values))


def rows(cursor: Any) -> tuple[list[str], Sequence[tuple[Any, ...]]]:
    """The current statement's column names and rows, read as the cursor reads them."""
    result = cursor.connection.store_result()
    if result is None:  # a statement without rows
        return [], ()
    return [d[0] for d in result.describe()], result.fetch_row(0)


def skip(cursor: Any) -> None:
    """The current statement's result dropped unread, as the cursor's close() drops it."""
    cursor.connection.discard_result()


def affected(cursor: Any) -> int:
    """The current statement's affected rows (matched rows for an UPDATE: SQLAlchemy
    connects with CLIENT_FOUND_ROWS), once its result is read or dropped."""
    return int(cursor.connection.affected_rows())


def next_statement(cursor: Any) -> bool:
    """On to the next statement's result; False when there is none. A statement the
    database refused raises here."""
    return bool(cursor.connection.next_result() == 0)
