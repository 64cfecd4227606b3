"""Bulk copies on MyISAM: multi-row inserts under LOCK TABLES, every new id known exactly.

On InnoDB a multi-row insert's ids come out consecutive and one that a concurrent client
raced into can be undone (queries.insert_dids). MyISAM offers neither, so a copy there
inserted one DID, one api_log row and one api_urls row per statement. What it does offer
is LOCK TABLES … WRITE: until UNLOCK TABLES, no other client reads or writes the locked
tables. Under that lock:

- one multi-row INSERT IGNORE of the new DIDs decides exactly as one insert per DID would:
  rows go in in order, and a pattern already there (or met earlier in the same statement,
  as the unique key compares them) is skipped;
- the rows whose id is at least the statement's first new id (the insert id MariaDB
  reports for a multi-row insert) are exactly the rows it inserted: the auto-increment
  counter is above every id already there, and no one else inserts. Reading them back
  gives each new DID its id, and each api_log row its id in insertion order (the url rows
  are copied from those rows), whatever auto_increment_increment is, and whatever other
  clients insert before the lock or after it.

That is simpler to trust than working ids out of the first one, and costs one SELECT.

Taken only where every VICIdial table a request writes is MyISAM (or Aria): LOCK TABLES and
UNLOCK TABLES commit the open transaction, which there holds nothing that has not already
landed. (Except vicidid's own Idempotency-Key table, InnoDB where `init-db --add-missing`
made it: a key's claim, with the answer it stores, is then committed before the request's
api_log rows rather than after them; the copy it answers for has landed by then.) So a
request keeps its MyISAM semantics (store/faults.py: never run twice once it wrote, a copy
stopped part-way still audited, "may be partly applied"). Every statement under a lock
names only the locked tables, as LOCK TABLES requires. A lock is held for one chunk at a
time: another client (VICIdial routing a call reads the DID table) waits for at most one
chunk's insert, as it waits for any MyISAM insert.

A database user without the LOCK TABLES privilege gets the one-row-per-statement path: said
once in the log, never an error to the caller.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection, CursorResult, Engine

from vicidid.rows import DidRow
from vicidid.store import faults, sizes
from vicidid.store import tables as t
from vicidid.store.db import WRITTEN_TABLES, PerEngine, table_engines
from vicidid.store.statements.queries import ApiLog

log = logging.getLogger("vicidid")

# Rows per locked statement. Other clients wait out the chunk under way: while a copy of
# 10,000 new DIDs ran, 8 others' update_did p99 was 114 to 142 ms with 500 rows a chunk, 96 ms
# with 200 (81 to 105 ms with 100, which made the copy twice as slow); bench/RESULTS.md.
CHUNK = 200
LOCKABLE_ENGINES = {"MYISAM", "ARIA"}  # no transactions: LOCK TABLES commits nothing pending


@dataclass
class Inserted:
    """What a copy's inserts have done so far, for the COPY row of a copy stopped part-way."""

    ids: dict[str, int] = field(default_factory=dict)  # each new DID's id, in insert order
    sending: list[str] = field(default_factory=list)  # the patterns of the insert under way


# Per engine: None until known, then whether copies there take the locked path.
def usable(conn: Connection) -> bool:
    """Whether this database takes the locked path (MariaDB/MySQL, every table a request
    writes MyISAM or Aria, LOCK TABLES not refused so far). Read once per engine."""
    return _usable.get(conn)


def _lockable(conn: Connection) -> bool:
    if conn.dialect.name not in ("mysql", "mariadb"):
        return False
    engines = table_engines(conn)
    return all(engines.get(name) in LOCKABLE_ENGINES for name in WRITTEN_TABLES)


_usable: PerEngine[bool] = PerEngine(_lockable)


def forget(engine: Engine) -> None:
    """Decide again on next use (after the tables or the grants changed)."""
    _usable.forget(engine)


@contextlib.contextmanager
def _locked(conn: Connection, tables: tuple[str, ...]) -> Iterator[bool]:
    """Hold WRITE locks on `tables`; yields False (and locks nothing) when refused."""
    try:
        conn.exec_driver_sql("LOCK TABLES " + ", ".join(f"{name} WRITE" for name in tables))
    except sa_exc.DBAPIError as error:
        if error.connection_invalidated or faults.classify(error) is not faults.Fault.PRIVILEGE:
            raise
        _refused(conn.engine, error)
        refused = True
    else:
        refused = False
    if refused:
        yield False
        return
    try:
        yield True
    except BaseException:
        # Released before anything else runs: the caller may audit on a fresh connection,
        # and a pooled connection must never go back holding locks.
        try:
            conn.exec_driver_sql("UNLOCK TABLES")
        except sa_exc.SQLAlchemyError:
            if not conn.invalidated:  # a lost connection's locks went with it
                conn.invalidate()
        raise
    conn.exec_driver_sql("UNLOCK TABLES")


def _refused(engine: Engine, error: sa_exc.DBAPIError) -> None:
    """The locked path is off for this engine from now on; said once."""
    if _usable.set(engine, False) is not False:
        log.warning(
            "LOCK TABLES refused (%s): copies on MyISAM insert one row per statement; "
            "GRANT LOCK TABLES to vicidid's database user for multi-row inserts",
            faults.describe(error),
        )


def insert_dids(
    conn: Connection,
    dids: sa.TableClause,
    template: DidRow,
    patterns: list[str],
    inserted: Inserted,
) -> int:
    """Insert a copy of the template for each pattern that does not exist yet, chunk by
    chunk under LOCK TABLES; each new DID's id goes into `inserted` as its chunk lands.

    Returns how many of `patterns` it went through: all of them, or none where this
    database does not take the locked path (insert those left one by one instead).
    """
    if not usable(conn):
        return 0
    fit = sizes.of(conn).fit
    template = fit(t.inbound_dids.name, template)  # once: every row shares it
    c = dids.c
    for start in range(0, len(patterns), CHUNK):
        chunk = patterns[start : start + CHUNK]
        rows = [fit(t.inbound_dids.name, {"did_pattern": p}) for p in chunk]
        with _locked(conn, (t.inbound_dids.name,)) as locked:
            if not locked:
                return start
            inserted.sending = chunk
            result = _insert(conn, t.inbound_dids.name, rows, template, "IGNORE")
            new: dict[str, int] = {}
            if result.rowcount > 0:
                first = int(result.lastrowid)
                found = conn.execute(
                    sa.select(c.did_pattern, c.did_id).where(c.did_id >= first)
                ).all()
                new = {pattern: did_id for pattern, did_id in found}
                if len(new) != result.rowcount or not new.keys() <= {
                    r["did_pattern"] for r in rows
                }:
                    raise RuntimeError(
                        f"{result.rowcount} DIDs inserted under LOCK TABLES, "
                        f"{len(found)} read back from id {first}"
                    )
            for pattern, row in zip(chunk, rows, strict=True):
                did_id = new.pop(row["did_pattern"], None)  # a repeat finds it taken
                if did_id is not None:
                    inserted.ids[pattern] = did_id
            inserted.sending = []
    return len(patterns)


def api_log(conn: Connection, log: ApiLog) -> int:
    """The api_log rows, each with its vicidial_api_urls row, in multi-row inserts under
    LOCK TABLES (elsewhere changes.api_log sends them one by one, several a message).

    The url rows are copied from the api_log rows just inserted (INSERT … SELECT), so the
    URL, the same for every row, is sent once per chunk rather than once per row. Returns
    how many rows it wrote: all, or none where this database does not take the locked path.
    """
    if not usable(conn):
        return 0
    rows, url = log.rows, log.url
    where = {"url": url or "", "remote_ip": log.remote_ip}
    tables = (t.api_log.name,) if url is None else (t.api_log.name, t.api_urls.name)
    # every chunk's statement made (its shared values escaped) before the first is sent
    chunks = [_shared(rows[start : start + CHUNK]) for start in range(0, len(rows), CHUNK)]
    statements = [_statement(conn, t.api_log.name, own, shared) for own, shared in chunks]
    for number, ((own, _), statement) in enumerate(zip(chunks, statements, strict=True)):
        with _locked(conn, tables) as locked:
            if not locked:
                return number * CHUNK
            first = int(conn.exec_driver_sql(*statement).lastrowid)
            if url is None:
                continue
            copied = conn.execute(URLS_FROM_LOG, {"first": first, **where}).rowcount
            if copied != len(own):
                raise RuntimeError(
                    f"{len(own)} api_log rows inserted under LOCK TABLES, "
                    f"{copied} url rows made from id {first}"
                )
    return len(rows)


def _shared(rows: list[dict[str, object]]) -> tuple[list[dict[str, object]], dict[str, object]]:
    """The rows' own values, and the values every row has alike (the first column always
    counts as a row's own: a statement keeps at least one parameter per row)."""
    first = rows[0]
    alike = {
        c: v
        for c, v in list(first.items())[1:]
        if all(type(r[c]) is type(v) and r[c] == v for r in rows)
    }
    return [{c: v for c, v in r.items() if c not in alike} for r in rows], alike


def _insert(
    conn: Connection,
    table: str,
    rows: Sequence[Mapping[str, object]],
    shared: Mapping[str, object],
    prefix: str = "",
) -> CursorResult[Any]:
    return conn.exec_driver_sql(*_statement(conn, table, rows, shared, prefix))


def _statement(
    conn: Connection,
    table: str,
    rows: Sequence[Mapping[str, object]],
    shared: Mapping[str, object],
    prefix: str = "",
) -> tuple[str, tuple[object, ...]]:
    """One INSERT of many rows: each row's own values as parameters, and the values every
    row shares written into the statement once escaped (escaping the same values once per
    row cost more than the insert itself). Each row must have a value of its own."""
    quote = conn.dialect.identifier_preparer.quote
    own = list(rows[0])
    one = "(" + ",".join(["%s"] * len(own) + _literals(conn, list(shared.values()))) + ")"
    sql = (
        f"INSERT {prefix} INTO {quote(table)} ({','.join(quote(c) for c in (*own, *shared))}) "
        f"VALUES {','.join([one] * len(rows))}"
    )
    return sql, tuple(r[c] for r in rows for c in own)


def _literals(conn: Connection, values: list[object]) -> list[str]:
    """Each value as SQL, escaped by the driver just as it escapes a parameter, with `%`
    doubled to stand in a statement the driver then formats with the parameters."""
    cursor: Any = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        return [str(cursor.mogrify("%s", (v,))).replace("%", "%%") for v in values]
    finally:
        cursor.close()


_log = t.api_log.c
# Under the lock, the api_log rows from the chunk's first id on are the chunk's own.
URLS_FROM_LOG = t.api_urls.insert().from_select(
    ["api_id", "api_date", "remote_ip", "url"],
    sa.select(
        _log.api_id,
        _log.api_date,
        sa.bindparam("remote_ip", type_=sa.String),
        sa.bindparam("url", type_=sa.Text),
    ).where(_log.api_id >= sa.bindparam("first")),
)
