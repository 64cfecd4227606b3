"""Every statement vicidid runs, as small functions over a connection.

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
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import Connection, CursorResult
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal

from vicidid.rows import CallerRow, DidRow, SettingsRow
from vicidid.store import sizes
from vicidid.store import tables as t
from vicidid.store.db import table_engines
from vicidid.store.wire import Read, fetch

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


LOGIN_SETTINGS = (
    "pass_hash_enabled",
    "pass_key",
    "pass_cost",
    "allow_ip_lists",
    "system_ip_blacklist",
)


SYSTEM_SETTINGS = sa.select(*(t.system_settings.c[c] for c in LOGIN_SETTINGS)).limit(1)


def system_settings(conn: Connection) -> SettingsRow:
    """The system_settings values that logging in needs (VICIdial's table has hundreds)."""
    row = conn.execute(SYSTEM_SETTINGS).mappings().first()
    return cast(SettingsRow, dict(row)) if row else {}


_SAME_GROUP = t.user_groups.c.user_group == t.users.c.user_group
_USER_AND_GROUP = t.users.outerjoin(t.user_groups, _SAME_GROUP)
CALLER = (
    sa.select(t.users, t.user_groups.c.admin_viewable_groups, t.user_groups.c.api_ip_list)
    .select_from(_USER_AND_GROUP)
    .where(t.users.c.user == sa.bindparam("caller"))
)


def caller(conn: Connection, user: str) -> CallerRow | None:
    """The user's row with its group's viewing and IP columns."""
    row = conn.execute(CALLER, {"caller": user}).mappings().first()
    return cast(CallerRow, dict(row)) if row else None


# Constants written into the SQL, not bound: each bound value costs the driver an escape
_ONE: sa.ColumnClause[int] = sa.literal_column("1")
_ONE_ROW = sa.select(_ONE.label("one")).subquery("one_row")
# One row always, whether the user and the settings row exist or not: an unknown user
# still gets the settings (its password is checked against a dummy at the system's cost).
CALLER_AND_SETTINGS = sa.select(
    *CALLER.selected_columns,
    *(
        sa.select(t.system_settings.c[c]).limit(_ONE).scalar_subquery().label(f"settings_{c}")
        for c in LOGIN_SETTINGS
    ),
).select_from(
    _ONE_ROW.outerjoin(t.users, t.users.c.user == sa.bindparam("caller")).outerjoin(
        t.user_groups, _SAME_GROUP
    )
)


def caller_and_settings(conn: Connection, user: str) -> tuple[CallerRow | None, SettingsRow]:
    """caller() and system_settings() in one round trip: every login needs both."""
    caller, settings, _ = login_read(conn, user)
    return caller, settings


def login_read(
    conn: Connection, user: str, also: Read | None = None
) -> tuple[CallerRow | None, SettingsRow, list[dict[str, Any]] | None]:
    """The caller, the login settings and, in the same round trip, `also`'s rows."""
    reads = [Read(CALLER_AND_SETTINGS, {"caller": user})]
    if also is not None:
        reads.append(also)
    found = fetch(conn, reads)
    extra = found[1] if also is not None else None
    # first(): VICIdial's own schema does not make user names or group names unique
    if not found[0]:
        return None, {}, extra
    row = found[0][0]
    settings = cast(SettingsRow, {c: row[f"settings_{c}"] for c in LOGIN_SETTINGS})
    if row["user"] is None:
        return None, settings, extra
    caller = {k: v for k, v in row.items() if not k.startswith("settings_")}
    return cast(CallerRow, caller), settings, extra


# Writes the same values however often it runs: safe to run again after a lost connection
# even where it landed for good (MyISAM; see pipeline.py).
LOGIN_SUCCEEDED = (
    t.users.update()
    .where(t.users.c.user == sa.bindparam("caller"))
    .execution_options(repeatable=True)
)


def login_succeeded(conn: Connection, user: str, ip: str, now: datetime) -> None:
    values = {"caller": user, "last_login_date": now, "last_ip": ip, "failed_login_count": 0}
    conn.execute(LOGIN_SUCCEEDED, sizes.of(conn).fit(t.users.name, values))


_THE_CALLER = t.users.c.user == sa.bindparam("caller")
_FAILED_TODAY = {
    "failed_login_attempts_today": t.users.c.failed_login_attempts_today + 1,
    "failed_login_count_today": t.users.c.failed_login_count_today + 1,
    "failed_last_ip_today": sa.bindparam("from_ip"),
    "failed_last_type_today": "aBAD",
}
LOGIN_FAILED = (
    t.users.update()
    .where(_THE_CALLER)
    .values(failed_login_count=t.users.c.failed_login_count + 1, **_FAILED_TODAY)
)
# Ten failures or more, but the last login is over 15 minutes old: a new window starts.
LOGIN_FAILED_NEW_WINDOW = (
    t.users.update()
    .where(_THE_CALLER)
    .values(failed_login_count=1, last_login_date=sa.bindparam("at"), **_FAILED_TODAY)
)
LOGIN_LOCKED = (
    t.users.update()
    .where(_THE_CALLER)
    .values(
        failed_login_attempts_today=t.users.c.failed_login_attempts_today + 1,
        failed_last_ip_today=sa.bindparam("from_ip"),
        failed_last_type_today=sa.bindparam("kind"),
    )
)


def login_failed(conn: Connection, user: str, ip: str, now: datetime, new_window: bool) -> None:
    """A wrong password: one more failure, or the first of a new window."""
    stmt = LOGIN_FAILED_NEW_WINDOW if new_window else LOGIN_FAILED
    conn.execute(stmt, {"caller": user, "from_ip": _fit_ip(conn, ip), "at": now})


def login_locked(conn: Connection, user: str, ip: str) -> None:
    """Refused while locked: only the day's attempts and the last failure change."""
    conn.execute(LOGIN_LOCKED, {"caller": user, "from_ip": _fit_ip(conn, ip), "kind": "aLOCK"})


def login_ip_refused(conn: Connection, user: str, ip: str) -> None:
    """The right password from an address the IP lists refuse: the failure count stays."""
    conn.execute(LOGIN_LOCKED, {"caller": user, "from_ip": _fit_ip(conn, ip), "kind": "aIPBLOCK"})


def unlock(conn: Connection, user: str) -> bool:
    """Clear the user's failed logins; False when there is no such user."""
    result = conn.execute(
        t.users.update().where(_THE_CALLER).values(failed_login_count=0), {"caller": user}
    )
    return result.rowcount == 1


def _fit_ip(conn: Connection, ip: str) -> str:
    return sizes.of(conn).fit_value(t.users.name, "failed_last_ip_today", ip)


def ip_list(conn: Connection, list_id: str) -> list[str]:
    """The addresses of an IP list. As VICIdial, the list's `active` flag is not looked at,
    and a list that does not exist holds no address."""
    entries = t.ip_list_entries
    rows = conn.execute(sa.select(entries.c.ip_address).where(entries.c.ip_list_id == list_id))
    return [r[0] for r in rows]


def ref_exists(conn: Connection, kind: str, value: str) -> bool:
    col = REF_COLUMNS[kind]
    stmt = sa.select(sa.literal(1)).select_from(col.table).where(col == value)
    return conn.execute(stmt.limit(1)).first() is not None


@functools.lru_cache(maxsize=16)
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
API_URLS = t.api_urls.insert()


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


def api_log(
    conn: Connection,
    rows: list[dict[str, object]],
    url: str | None,
    remote_ip: str,
    bulk: bool = False,
) -> None:
    """The api_log rows of a request, each with its vicidial_api_urls row (no password).

    With `bulk` (consecutive ids), many rows go in one statement per table.
    """
    fit = sizes.of(conn).fit
    rows = [fit(t.api_log.name, row) for row in rows]
    if url is not None:
        where = fit(t.api_urls.name, {"url": url, "remote_ip": remote_ip})
        url, remote_ip = where["url"], where["remote_ip"]
    if bulk and len(rows) > 1:
        for start in range(0, len(rows), 500):
            chunk = rows[start : start + 500]
            result = multi_insert(conn, t.api_log.name, chunk)
            first = _first_id(conn, result, len(chunk))
            if url is not None:
                urls = [
                    {
                        "api_id": first + i,
                        "api_date": r["api_date"],
                        "remote_ip": remote_ip,
                        "url": url,
                    }
                    for i, r in enumerate(chunk)
                ]
                multi_insert(conn, t.api_urls.name, urls)
        return
    for row in rows:
        result = conn.execute(API_LOG, row)
        if url is not None:
            conn.execute(
                API_URLS,
                {
                    "api_id": result.lastrowid,
                    "api_date": row["api_date"],
                    "remote_ip": remote_ip,
                    "url": url,
                },
            )


class _Exact(ColumnElement[str]):
    """A text as its bytes, so that comparing two is exact whatever the collation says.

    MariaDB compares through the column's collation, which is blind to case and accents
    (and ignores trailing spaces): 'scoped' = 'SCOPÉD' = 'SCOPED '. User groups are
    compared exactly everywhere else (as VICIdial's PHP compares them in code), so
    did_list's filters compare the UTF-8 bytes. SQLite compares bytes already.
    """

    inherit_cache = True
    _traverse_internals = [("clause", InternalTraversal.dp_clauseelement)]
    type = sa.String()

    def __init__(self, clause: ColumnElement[Any]) -> None:
        self.clause = clause


@compiles(_Exact)
def _exact_plain(element: _Exact, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.clause, **kw)


@compiles(_Exact, "mysql")
def _exact_mysql(element: _Exact, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST(CONVERT({compiler.process(element.clause, **kw)} USING utf8mb4) AS BINARY)"


def exactly_in(column: ColumnElement[Any], values: Iterable[str]) -> ColumnElement[bool]:
    """`column IN values`, compared exactly (case, accents and trailing spaces count)."""
    return _Exact(column).in_([_Exact(sa.literal(v, sa.String)) for v in values])


@dataclass(frozen=True)
class DidFilters:
    """What did_list narrows the DIDs to; None (or empty) filters nothing."""

    route: str | None = None
    did_active: str | None = None
    group: str | None = None
    user_group: str | None = None
    prefix: str | None = None
    viewable_groups: Iterable[str] | None = None  # None: the caller sees every group


def _did_filters(dids: sa.TableClause, f: DidFilters) -> list[ColumnElement[bool]]:
    c = dids.c
    where: list[ColumnElement[bool]] = []
    if f.route is not None:
        where.append(c.did_route == f.route)
    if f.did_active is not None:
        where.append(c.did_active == f.did_active)
    # group names compared exactly, as did_info and update_did compare them
    if f.group is not None:
        where.append(exactly_in(c.group_id, [f.group]))
    if f.user_group is not None:
        where.append(exactly_in(c.user_group, [f.user_group]))
    if f.prefix is not None:
        where.append(c.did_pattern.startswith(f.prefix, autoescape=True))
    if f.viewable_groups is not None:
        where.append(exactly_in(c.user_group, sorted(f.viewable_groups)))
    return where


def did_page(
    conn: Connection, dids: sa.TableClause, filters: DidFilters, limit: int, offset: int
) -> list[DidRow]:
    where = _did_filters(dids, filters)
    stmt = sa.select(dids).where(*where).order_by(dids.c.did_pattern).limit(limit).offset(offset)
    return [dict(r) for r in conn.execute(stmt).mappings()]


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
                notes.like(f"%\n{p} ADDED%", escape="\\"),
            )
        )
        .order_by(a.c.admin_log_id)
    )
    return [dict(r) for r in conn.execute(stmt).mappings()]
