"""A request's fixed statements, sent straight to the driver, several in one round trip.

On MariaDB/MySQL each round trip costs the database CPU and the worker a pass through
SQLAlchemy's execution path, which costs more than the driver's own work. update_did
therefore reads the caller, the login settings and the DID in one round trip and sends
the change with its admin_log, api_log and api_urls rows in another (then COMMIT, on
InnoDB). The statements are still built with SQLAlchemy, compiled once per shape, and
their values still travel as bound parameters; several go in one message with the
driver's multi-statement mode, which is switched on only for the connections that send
such messages (the server's; the management commands' connections go without it, and
there each statement is a message of its own). On mysqlclient the message is escaped and
its results read with less Python (store/mysqldb.py).

Errors come back as SQLAlchemy's exceptions, with a lost connection invalidated, so the
pipeline's fault handling (store/faults.py) treats them exactly as any other statement's.
SQLite takes the statements one by one through SQLAlchemy: it has no round trips to save,
and its column types need SQLAlchemy's conversions.

A change to a row read earlier (`Write.needs_row`) is checked for the rows it affected: if
another client deleted the row meanwhile, the writes after it must not run (they are its
audit rows). SQLite's are simply not sent. MariaDB runs every statement of a message
whatever the ones before it did, so there the change's affected-row count is kept in a
session variable (`SET @vicidid_found = ROW_COUNT()`: the binary log carries a user
variable's value with each statement that uses it, so a statement-based replica decides
alike) and the writes after it go as INSERT … SELECT … WHERE that count (`Write.if_found`).
The count is also read back from the message's results, and `send` raises RowMissing. No
round trip is added.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection, Dialect

from vicidid.errors import VicididError
from vicidid.store import faults, mysqldb
from vicidid.store.db import AUTOCOMMIT, autocommitting, multi_statements


@dataclass(frozen=True)
class Compiled:
    sql: str
    names: tuple[str, ...]  # the bound parameters, in the order the SQL takes them
    defaults: Mapping[str, Any]  # values SQLAlchemy bound itself (LIMIT 1, literals)
    take: Callable[[Mapping[str, object]], tuple[object, ...]] = field(init=False, compare=False)

    def __post_init__(self) -> None:
        # the values picked in C rather than name by name: every statement sent does this
        object.__setattr__(self, "take", _taker(self.names))

    def values(self, params: Mapping[str, object]) -> tuple[object, ...]:
        return self.take({**self.defaults, **params} if self.defaults else params)


def _taker(names: tuple[str, ...]) -> Callable[[Mapping[str, object]], tuple[object, ...]]:
    if len(names) > 1:
        return itemgetter(*names)
    # itemgetter takes at least one name, and gives a lone value bare
    return lambda params: tuple([params[name] for name in names])


@functools.lru_cache(maxsize=256)
def _compiled(clause: Any, dialect: Dialect, keys: tuple[str, ...]) -> Compiled:
    compiled = clause.compile(
        dialect=dialect,
        column_keys=list(keys) if keys else None,
        compile_kwargs={"render_postcompile": True},
    )
    if getattr(compiled, "_bind_processors", None):  # none for the types vicidid sends
        raise TypeError("a statement sent directly must need no bind processing")
    if not dialect.positional:
        raise TypeError("statements sent together need a positional paramstyle (db.py)")
    names = tuple(getattr(compiled, "positiontup", None) or ())  # SQLCompiler's
    binds = getattr(compiled, "binds", {})
    # values SQLAlchemy bound itself; a value the caller must give has none (KeyError)
    defaults = {n: b.value for n, b in binds.items() if not b.required and n in names}
    return Compiled(compiled.string, names, defaults)


@dataclass(frozen=True)
class Read:
    """A SELECT whose rows come back as dicts."""

    clause: sa.Select[Any]
    params: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Write:
    """An INSERT, UPDATE or DELETE whose result the request does not need.

    `rescue` runs when this very write fails on a database that keeps what ran before it
    (MyISAM): the admin_log row of a change that has landed is written another way.

    `needs_row`: an UPDATE or DELETE of a row the request read. If it affects no row, the
    writes after it do not run and `send` raises RowMissing. A write that may follow it in
    a batch has `if_found`: the same write as a statement that runs only if that change
    found its row (IF_FOUND), with the same parameters.
    """

    clause: sa.Executable
    params: Mapping[str, object]
    table: str
    keys: tuple[str, ...] = ()  # the columns given (INSERT/UPDATE); () for every bound name
    repeatable: bool = False  # writes the same values however often it runs
    rescue: Callable[[], None] | None = field(default=None, compare=False)
    needs_row: bool = False
    if_found: sa.Executable | None = field(default=None, compare=False)


# The affected-row count of the last change that needs its row, for the statements after
# it in the same message (MariaDB/MySQL: a message's statements all run).
FOUND_KEPT = sa.text("SET @vicidid_found = ROW_COUNT()")
IF_FOUND = sa.text("@vicidid_found > 0")


class RowMissing(VicididError):
    """A write that needs its row (`Write.needs_row`) affected none: another client
    deleted the row since it was read. The writes before it ran (on MyISAM they stay), it
    changed nothing, and the ones after it did not run. `index` is that write."""

    def __init__(self, index: int) -> None:
        super().__init__(index)
        self.index = index


class WriteFailed(VicididError):
    """A write of a batch failed; `index` is the write the database refused or lost."""

    def __init__(self, index: int, error: sa_exc.DBAPIError) -> None:
        super().__init__(index, error)
        self.index = index
        self.error = error


def _message(
    parts: list[Compiled], params: list[Mapping[str, object]]
) -> tuple[str, tuple[object, ...]]:
    """Statements joined into one message, with their values in order."""
    values: list[object] = []
    for part, given in zip(parts, params, strict=True):
        values.extend(part.values(given))
    return ";\n".join([p.sql for p in parts]), tuple(values)


def direct(conn: Connection) -> bool:
    return conn.dialect.name in ("mysql", "mariadb")


def fetch(conn: Connection, reads: Sequence[Read]) -> list[list[dict[str, Any]]]:
    """Each read's rows, all in one round trip on MariaDB/MySQL."""
    if not direct(conn):
        return [
            [dict(r) for r in conn.execute(rd.clause, dict(rd.params)).mappings()] for rd in reads
        ]
    _begin(conn)
    parts = [_compiled(rd.clause, conn.dialect, ()) for rd in reads]
    params = [rd.params for rd in reads]
    results: list[list[dict[str, Any]]] = []
    for first, last in _groups(conn, len(parts)):
        sql, values = _message(parts[first:last], params[first:last])
        with _cursor(conn, sql, values) as cursor:
            way = _way(cursor)
            way.execute(cursor, sql, values)
            while True:
                names, rows = way.rows(cursor)
                results.append([dict(zip(names, row, strict=True)) for row in rows])
                if not way.next_statement(cursor):
                    break
    return results


def _groups(conn: Connection, count: int) -> list[tuple[int, int]]:
    """The statements each message carries ([first, last) of `count`): all in one on a
    connection with multi-statement mode, else one per message (the CLI's connections)."""
    if multi_statements(conn):
        return [(0, count)]
    return [(n, n + 1) for n in range(count)]


@dataclass(frozen=True)
class _Way:
    """How a message goes out and its results come back, statement by statement."""

    execute: Callable[[Any, str, tuple[object, ...]], None]
    rows: Callable[[Any], tuple[list[str], Sequence[tuple[Any, ...]]]]
    skip: Callable[[Any], None]  # drop the current statement's result
    affected: Callable[[Any], int]  # the current statement's rows affected (found, for UPDATE)
    next_statement: Callable[[Any], bool]  # raises when that statement failed


# Any DB-API cursor: it reads each result as it gets to it
_DBAPI = _Way(
    execute=lambda cursor, sql, values: cursor.execute(sql, values),
    rows=lambda cursor: ([d[0] for d in cursor.description or ()], cursor.fetchall()),
    skip=lambda cursor: None,
    affected=lambda cursor: int(cursor.rowcount),
    next_statement=lambda cursor: bool(cursor.nextset()),
)
_MYSQLDB = _Way(
    mysqldb.execute, mysqldb.rows, mysqldb.skip, mysqldb.affected, mysqldb.next_statement
)


def _way(cursor: Any) -> _Way:
    return _MYSQLDB if mysqldb.drives(cursor) else _DBAPI


def send(conn: Connection, writes: Sequence[Write]) -> None:
    """Run the writes in order: on MariaDB/MySQL in one round trip (per message of at most
    MESSAGE_STATEMENTS statements or about MESSAGE_BYTES).

    Raises WriteFailed naming the write that failed. When the database refused it, the
    writes before it ran (and on MyISAM stay) and the ones after it did not; when the
    connection was lost, any write of that message may have run. Raises RowMissing when
    a write that needs its row found none: the writes after it did not run.
    """
    if not writes:
        return
    for w in writes:
        faults.note_write(w.table, w.repeatable)
    if not direct(conn):
        for index, w in enumerate(writes):
            try:
                result = conn.execute(w.clause, dict(w.params))
            except sa_exc.DBAPIError as error:
                raise WriteFailed(index, error) from error
            if w.needs_row and result.rowcount == 0:
                raise RowMissing(index)
        return
    _begin(conn)
    parts = [_compiled(w.clause, conn.dialect, w.keys) for w in writes]
    first = 0
    for last in _message_ends(parts, writes):
        _send_message(conn, parts[first:last], writes[first:last], first)
        first = last


# A message stays well under MariaDB's smallest default max_allowed_packet (16 MiB on
# 10.x, 4 MiB on MySQL 5.7), whatever the rows hold (texts counted; numbers and dates
# are small).
MESSAGE_BYTES = 1 << 20
MESSAGE_STATEMENTS = 500


def _message_ends(parts: list[Compiled], writes: Sequence[Write]) -> list[int]:
    """Where each message of the batch ends (exclusive indexes)."""
    if len(writes) <= MESSAGE_STATEMENTS and _size(parts, writes) <= MESSAGE_BYTES:
        return [len(writes)]  # a request's few writes: summed at once, not write by write
    ends: list[int] = []
    size = count = 0
    for index, (part, w) in enumerate(zip(parts, writes, strict=True)):
        cost = _cost(part, w)
        if count and (size + cost > MESSAGE_BYTES or count == MESSAGE_STATEMENTS):
            ends.append(index)
            size = count = 0
        size += cost
        count += 1
    ends.append(len(writes))
    return ends


def _cost(part: Compiled, write: Write) -> int:
    """What a write adds to a message: its SQL and its texts (other values are small)."""
    return len(part.sql) + sum([len(v) for v in write.params.values() if v.__class__ is str])


def _size(parts: list[Compiled], writes: Sequence[Write]) -> int:
    """What all the writes add up to, as _cost counts each (in two passes, not a call a
    write: every request's writes are sized)."""
    texts = [len(v) for w in writes for v in w.params.values() if v.__class__ is str]
    return sum([len(p.sql) for p in parts]) + sum(texts)


def _statements(
    dialect: Dialect, parts: list[Compiled], writes: Sequence[Write]
) -> tuple[list[Compiled], list[Mapping[str, object]], list[int], int | None]:
    """A message's statements with their parameters, the write each belongs to, and the
    statement whose affected rows are checked (a write that needs its row), if any.

    The writes after one that needs its row go in their `if_found` form, behind the
    statement that keeps its count.
    """
    statements: list[Compiled] = []
    params: list[Mapping[str, object]] = []
    owners: list[int] = []
    checked: int | None = None
    for index, (part, w) in enumerate(zip(parts, writes, strict=True)):
        if checked is not None:
            if w.if_found is None or w.needs_row:
                raise TypeError("a write after one that needs its row must have an if_found form")
            part = _compiled(w.if_found, dialect, ())
        statements.append(part)
        params.append(w.params)
        owners.append(index)
        if w.needs_row:
            checked = len(statements) - 1
            if index + 1 < len(writes):
                statements.append(_compiled(FOUND_KEPT, dialect, ()))
                params.append({})
                owners.append(index)
    return statements, params, owners, checked


def _send_message(
    conn: Connection, parts: list[Compiled], writes: Sequence[Write], offset: int
) -> None:
    statements, params, owners, checked = _statements(conn.dialect, parts, writes)
    done = 0
    found = True
    try:
        for first, last in _groups(conn, len(statements)):
            sql, values = _message(statements[first:last], params[first:last])
            with _cursor(conn, sql, values) as cursor:
                way = _way(cursor)
                way.execute(cursor, sql, values)
                while True:
                    way.skip(cursor)
                    if done == checked:
                        found = way.affected(cursor) > 0
                    done += 1
                    if not way.next_statement(cursor):
                        break
    except sa_exc.DBAPIError as error:
        raise WriteFailed(offset + owners[min(done, len(owners) - 1)], error) from error
    if not found:
        assert checked is not None
        raise RowMissing(offset + owners[checked])


def use_autocommit(conn: Connection) -> None:
    """Each statement commits as it runs: for MyISAM, where COMMIT has nothing to do.

    Set once per pooled connection (one round trip); a connection left outside a
    transaction also holds no table's metadata lock while it waits in the pool.
    """
    record = conn.connection
    if not direct(conn) or record.info.get(AUTOCOMMIT):
        return
    dbapi = record.dbapi_connection
    assert dbapi is not None
    try:
        dbapi.autocommit(True)
    except conn.dialect.loaded_dbapi.Error as error:
        _raise(conn, error, "SET autocommit=1", (), None)
    record.info[AUTOCOMMIT] = True


def _begin(conn: Connection) -> None:
    # SQLAlchemy must know a transaction is open, so that it ends (COMMIT or ROLLBACK)
    # before the connection goes back to the pool; BEGIN itself is implicit in MySQL.
    if not conn.in_transaction() and not autocommitting(conn):
        conn.begin()


class _cursor:
    """A DBAPI cursor whose driver errors are raised as SQLAlchemy's, lost connections
    invalidated (the pool then drops them), as SQLAlchemy's own execution does; the
    engine's before_cursor_execute listeners see each message."""

    def __init__(self, conn: Connection, sql: str, values: tuple[object, ...]) -> None:
        self.conn, self.sql, self.values = conn, sql, values
        self.cursor: Any = None

    def __enter__(self) -> Any:
        dbapi = self.conn.connection.dbapi_connection
        assert dbapi is not None
        try:
            self.cursor = dbapi.cursor()
        except self.conn.dialect.loaded_dbapi.Error as error:
            _raise(self.conn, error, self.sql, self.values, None)
        # what listens to the engine's statements (logging, fault injection in tests)
        # sees these too, a message at a time
        self.conn.dispatch.before_cursor_execute(
            self.conn, self.cursor, self.sql, self.values, None, False
        )
        return self.cursor

    def __exit__(self, kind: object, error: BaseException | None, tb: object) -> None:
        cursor, self.cursor = self.cursor, None
        dbapi_error = self.conn.dialect.loaded_dbapi.Error
        try:
            cursor.close()  # reads any result the server still sends
        except dbapi_error as closing:
            error = error or closing
        if isinstance(error, dbapi_error):
            _raise(self.conn, error, self.sql, self.values, cursor)


def _raise(
    conn: Connection, error: BaseException, sql: str, values: tuple[object, ...], cursor: object
) -> None:
    dialect = conn.dialect
    dbapi = conn.connection.dbapi_connection
    lost = dialect.is_disconnect(error, dbapi, cursor)  # type: ignore[arg-type]
    if lost:
        conn.invalidate(error)
    raise sa_exc.DBAPIError.instance(
        sql,
        values,
        error,
        dialect.loaded_dbapi.Error,
        hide_parameters=True,
        connection_invalidated=lost,
        dialect=dialect,
    ) from error
