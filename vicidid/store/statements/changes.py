"""The writes that close a request, as values: sent together by store/wire.py.

A request that changes a DID ends with the change, its admin_log row and its api_log and
vicidial_api_urls rows. None of them needs an answer from the database (each api_urls
row takes its api_log row's id in SQL), so they travel in one round trip, in this order.
Every text is cut to its column's declared size here (store/sizes.py).

The change must find the DID it read (another client may have deleted it since): the log
rows after it are written only if it did (wire.py: `needs_row`, `if_found`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler

from vicidid.store import sizes, wire
from vicidid.store import tables as t
from vicidid.store.statements.queries import (
    ADMIN_LOG,
    API_LOG,
    DELETE_DID,
    UPDATE_DID,
    ApiLog,
    api_log_values,
)
from vicidid.store.wire import Write


class _LastId(sa.sql.functions.FunctionElement[int]):
    """The id the connection's last INSERT gave its row."""

    type = sa.Integer()
    inherit_cache = True


@compiles(_LastId)
def _last_id_mysql(element: _LastId, compiler: SQLCompiler, **kw: Any) -> str:
    return "LAST_INSERT_ID()"


@compiles(_LastId, "sqlite")
def _last_id_sqlite(element: _LastId, compiler: SQLCompiler, **kw: Any) -> str:
    return "last_insert_rowid()"


# inline: without it SQLAlchemy asks for the new row's id back (RETURNING), which nothing reads
API_URL_OF_LAST_LOG = t.api_urls.insert().inline().values(api_id=_LastId())
URL_KEYS = ("api_date", "remote_ip", "url")


@functools.lru_cache(maxsize=32)  # built once per shape: wire.py compiles each once
def _if_found(table: sa.Table, keys: tuple[str, ...], last_id: str = "") -> sa.Insert:
    """INSERT … SELECT of the values given under `keys` (and the last insert's id as
    `last_id`), which inserts only if the change before it found its row (wire.IF_FOUND)."""
    columns: list[str] = [last_id] if last_id else []
    values: list[sa.ColumnElement[Any]] = [_LastId()] if last_id else []
    columns.extend(keys)
    values.extend(sa.bindparam(k) for k in keys)
    return table.insert().from_select(columns, sa.select(*values).where(wire.IF_FOUND))


def did_update(conn: Connection, did_id: int, changes: Mapping[str, object]) -> Write:
    fitted = sizes.of(conn).fit(t.inbound_dids.name, dict(changes))
    return Write(
        UPDATE_DID,
        {"id_": did_id, **fitted},
        t.inbound_dids.name,
        (*fitted, "id_"),
        needs_row=True,
    )


def did_delete(did_id: int) -> Write:
    return Write(DELETE_DID, {"id_": did_id}, t.inbound_dids.name, needs_row=True)


def admin_log(
    conn: Connection, values: Mapping[str, object], rescue: Callable[[], None] | None
) -> Write:
    fitted = sizes.of(conn).fit(t.admin_log.name, dict(values))
    keys = tuple(fitted)
    return Write(
        ADMIN_LOG,
        fitted,
        t.admin_log.name,
        keys,
        rescue=rescue,
        if_found=_if_found(t.admin_log, keys),
    )


def api_log(
    conn: Connection, rows: list[dict[str, object]], url: str | None, remote_ip: str
) -> list[Write]:
    """Each api_log row, followed by its vicidial_api_urls row (no password in the URL)."""
    return api_log_writes(api_log_values(conn, rows, url, remote_ip))


def api_log_writes(log: ApiLog) -> list[Write]:
    """The writes of api_log rows already cut to their columns (queries.api_log_values)."""
    writes: list[Write] = []
    for row in log.rows:
        keys = tuple(row)
        writes.append(
            Write(API_LOG, row, t.api_log.name, keys, if_found=_if_found(t.api_log, keys))
        )
        if log.url is not None:
            values = {"api_date": row["api_date"], "remote_ip": log.remote_ip, "url": log.url}
            writes.append(
                Write(
                    API_URL_OF_LAST_LOG,
                    values,
                    t.api_urls.name,
                    URL_KEYS,
                    if_found=_if_found(t.api_urls, URL_KEYS, "api_id"),
                )
            )
    return writes
