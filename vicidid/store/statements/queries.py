"""A request's statements about DIDs and its log rows, as small functions over a connection.

The login's statements are in logins.py, did_list's in listing.py, the writes that close
a request (sent together) in changes.py, the management commands' in admin_queries.py.

Callers own the transaction: a request opens one, and everything it changes (the DID,
its admin_log row, its api_log rows, the login bookkeeping) commits together. Every text
written is cut to its column's declared size here (store/sizes.py), whoever built it.

The statements of every request are built once, with bound parameters: building a
statement and computing its cache key cost SQLAlchemy more than running it does, and a
statement object remembers its cache key.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, CursorResult

from vicidid.rows import DidRow
from vicidid.store import sizes
from vicidid.store import tables as t
from vicidid.store.db import table_engines
from vicidid.store.wire import Read

REF_COLUMNS = {
    "server": t.servers.c.server_ip,
    "ingroup": t.inbound_groups.c.group_id,
    "menu": t.call_menus.c.menu_id,
    "user": t.users.c.user,
}


def did_table(columns: Iterable[str]) -> sa.TableClause:
    """vicidial_inbound_dids as it really is: the columns read from the database."""
    return sa.table("vicidial_inbound_dids", *(sa.column(c) for c in columns))


def ping(conn: Connection) -> None:
    """One round trip that needs no table: is the database there?"""
    conn.execute(sa.text("SELECT 1"))


def local_gmt(conn: Connection) -> str | None:
    """The first active server's GMT offset, as the version line shows it."""
    s = t.servers
    row = conn.execute(sa.select(s.c.local_gmt).where(s.c.active == "Y").limit(1)).first()
    return row[0] if row else None


def _ignore(stmt: sa.Insert) -> sa.Insert:
    return (
        stmt.prefix_with("OR IGNORE", dialect="sqlite")
        .prefix_with("IGNORE", dialect="mysql")
        .prefix_with("IGNORE", dialect="mariadb")
    )


def ref_exists(conn: Connection, kind: str, value: str) -> bool:
    col = REF_COLUMNS[kind]
    stmt = sa.select(sa.literal(1)).select_from(col.table).where(col == value)
    return conn.execute(stmt.limit(1)).first() is not None


@functools.lru_cache(maxsize=64)  # built once per shape: wire.py compiles each once
def _did_select(dids: sa.TableClause, columns: tuple[str, ...]) -> sa.Select[Any]:
    wanted = [dids.c[c] for c in columns] if columns else [dids]
    return sa.select(*wanted).where(dids.c.did_pattern == sa.bindparam("pattern"))


def did_by_pattern(
    conn: Connection, dids: sa.TableClause, pattern: str, columns: tuple[str, ...] = ()
) -> DidRow | None:
    """The DID's row: every column, or only `columns` (a narrow read is much cheaper)."""
    row = conn.execute(_did_select(dids, columns), {"pattern": pattern}).mappings().first()
    return dict(row) if row else None


def did_read(dids: sa.TableClause, pattern: str, columns: tuple[str, ...]) -> Read:
    """did_by_pattern as a read to send with others (login_read)."""
    return Read(_did_select(dids, columns), {"pattern": pattern})


def existing_patterns(conn: Connection, patterns: list[str]) -> set[str]:
    c = t.inbound_dids.c.did_pattern
    found: set[str] = set()
    for i in range(0, len(patterns), 500):
        chunk = patterns[i : i + 500]
        found.update(r[0] for r in conn.execute(sa.select(c).where(c.in_(chunk))))
    return found


# The SET clause is the keys of the parameters given with it.
UPDATE_DID = t.inbound_dids.update().where(t.inbound_dids.c.did_id == sa.bindparam("id_"))


DELETE_DID = t.inbound_dids.delete().where(t.inbound_dids.c.did_id == sa.bindparam("id_"))


@functools.lru_cache(maxsize=16)
def _did_insert(dids: sa.TableClause) -> sa.Insert:
    return _ignore(sa.insert(dids))


def insert_did(conn: Connection, dids: sa.TableClause, values: Mapping[str, object]) -> int | None:
    """Insert one DID unless its pattern exists; the new did_id, or None if it existed.

    The unique key decides, not an earlier SELECT, so two clients racing for the same
    new DID get one insert and one "already exists", never an error.
    """
    result = conn.execute(_did_insert(dids), sizes.of(conn).fit(t.inbound_dids.name, values))
    if result.rowcount != 1:
        return None
    return int(result.lastrowid)


def multi_insert(
    conn: Connection, table: str, rows: Sequence[Mapping[str, object]], prefix: str = ""
) -> CursorResult[Any]:
    """One INSERT of many rows, built directly for the driver.

    SQLAlchemy compiles a multi-row VALUES anew for every shape, which costs more than
    the insert itself; this string is cheap, and values still travel as parameters.
    """
    columns = list(rows[0])
    quote = conn.dialect.identifier_preparer.quote
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    one = "(" + ",".join([mark] * len(columns)) + ")"
    sql = (
        f"INSERT {prefix} INTO {quote(table)} ({','.join(quote(c) for c in columns)}) "
        f"VALUES {','.join([one] * len(rows))}"
    )
    params = tuple(_plain(conn, r[c]) for r in rows for c in columns)
    return conn.exec_driver_sql(sql, params)


def _plain(conn: Connection, value: object) -> object:
    # SQLite gets datetimes as text, the way SQLAlchemy stores them (Python's own adapter
    # is deprecated).
    if isinstance(value, datetime) and conn.dialect.name == "sqlite":
        return value.isoformat(sep=" ")
    return value


def _first_id(conn: Connection, result: CursorResult[Any], count: int) -> int:
    """The id of the first row of a multi-row insert: SQLite reports the last one."""
    last = int(result.lastrowid)
    return last - count + 1 if conn.dialect.name == "sqlite" else last


BULK_TABLES = ("vicidial_inbound_dids", "vicidial_api_log", "vicidial_api_urls")


def ids_consecutive(
    lock_mode: int | str | None, increment: int | str | None, engines: dict[str, str]
) -> bool:
    """Whether a multi-row insert's rows get ids first, first + 1, … and can be undone.

    InnoDB's autoinc lock mode 0 or 1 hands a statement one block of ids; an
    auto_increment_increment above 1 (Galera, master-master replication) spaces them out;
    MyISAM cannot undo a multi-row insert that a concurrent client raced into.
    """
    return (
        lock_mode is not None
        and int(lock_mode) <= 1
        and increment is not None
        and int(increment) == 1
        and all(engines.get(name) == "INNODB" for name in BULK_TABLES)
    )


def consecutive_ids(conn: Connection) -> bool:
    """Whether multi-row inserts are safe on this connection's database (see ids_consecutive)."""
    if conn.dialect.name == "sqlite":
        return True  # one writer at a time; new rowids follow the largest
    if conn.dialect.name in ("mysql", "mariadb"):
        lock_mode, increment = conn.execute(
            sa.text("SELECT @@innodb_autoinc_lock_mode, @@auto_increment_increment")
        ).one()
        return ids_consecutive(lock_mode, increment, table_engines(conn))
    return False


def insert_dids(
    conn: Connection, dids: sa.TableClause, template: DidRow, patterns: list[str]
) -> dict[str, int] | None:
    """One multi-row insert of new DIDs; their ids, or None if any was raced in (undone)."""
    if not patterns:
        return {}
    fit = sizes.of(conn).fit
    template = fit(t.inbound_dids.name, template)  # once: every row shares it
    rows = [fit(t.inbound_dids.name, {"did_pattern": p}) | template for p in patterns]
    ignore = "OR IGNORE" if conn.dialect.name == "sqlite" else "IGNORE"
    savepoint = conn.begin_nested()
    result = multi_insert(conn, "vicidial_inbound_dids", rows, ignore)
    if result.rowcount != len(rows):
        savepoint.rollback()
        return None
    savepoint.commit()
    c = dids.c
    found = conn.execute(sa.select(c.did_pattern, c.did_id).where(c.did_pattern.in_(patterns)))
    return {pattern: did_id for pattern, did_id in found}


ADMIN_LOG = t.admin_log.insert()
API_LOG = t.api_log.insert()


def admin_log(conn: Connection, **values: object) -> None:
    conn.execute(ADMIN_LOG, sizes.of(conn).fit(t.admin_log.name, values))


def admin_log_exists(conn: Connection, values: dict[str, object]) -> bool:
    """Whether this very admin_log row is there (a write whose answer was lost may be)."""
    a = t.admin_log
    same = [
        a.c[k] == values[k] for k in ("event_date", "user", "event_type", "record_id", "event_code")
    ]
    rows = conn.execute(sa.select(a.c.event_notes).where(*same)).scalars()
    return any(notes == values["event_notes"] for notes in rows)


@dataclass(frozen=True)
class ApiLog:
    """A request's api_log rows, with the URL and the address their vicidial_api_urls rows
    share (no URL: no url rows), every text already cut to its column (store/sizes.py):
    what is left to do is sending them."""

    rows: list[dict[str, object]]
    url: str | None
    remote_ip: str


def api_log_values(
    conn: Connection, rows: list[dict[str, object]], url: str | None, remote_ip: str
) -> ApiLog:
    fit = sizes.of(conn).fit
    where = fit(t.api_urls.name, {"url": url or "", "remote_ip": remote_ip})
    fitted = [fit(t.api_log.name, row) for row in rows]
    return ApiLog(fitted, None if url is None else str(where["url"]), str(where["remote_ip"]))


def api_log(conn: Connection, log: ApiLog) -> None:
    """Many api_log rows in multi-row inserts, each with its vicidial_api_urls row (no
    password): only where ids come out consecutive (consecutive_ids). Elsewhere each row
    goes as its own statement (changes.py), or under LOCK TABLES on MyISAM (bulk.py).
    """
    rows, url, remote_ip = log.rows, log.url, log.remote_ip
    for start in range(0, len(rows), 500):
        chunk = rows[start : start + 500]
        result = multi_insert(conn, t.api_log.name, chunk)
        first = _first_id(conn, result, len(chunk))
        if url is not None:
            urls = [
                {"api_id": first + i, "api_date": r["api_date"], "remote_ip": remote_ip, "url": url}
                for i, r in enumerate(chunk)
            ]
            multi_insert(conn, t.api_urls.name, urls)


def admin_history(conn: Connection, pattern: str) -> list[dict[str, object]]:
    a = t.admin_log
    p = pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    notes = a.c.event_notes
    stmt = (
        sa.select(a)
        .where(a.c.event_section == "DIDS")
        .where(
            sa.or_(
                notes.like(f"did: {p} %", escape="\\"),
                notes.like(f"DID Source: {p} %", escape="\\"),
                notes.like(f"%\n{p} ADDED, did\\_id: %", escape="\\"),
            )
        )
        .order_by(a.c.admin_log_id)
    )
    return [dict(r) for r in conn.execute(stmt).mappings()]
