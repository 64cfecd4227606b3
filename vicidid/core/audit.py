"""Every VICIdial log row a request writes, as VICIdial writes them.

vicidial_admin_log (its event codes, event_sql and notes), vicidial_api_log (one row per
answer line) and vicidial_api_urls (the request's URL, without the password).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection

from vicidid.core.call import Call
from vicidid.core.fields import SOURCE
from vicidid.core.params import Params
from vicidid.store import bulk as locked
from vicidid.store import queries, sizes
from vicidid.store import tables as t
from vicidid.store.faults import describe

if TYPE_CHECKING:  # the dialects import the function registry, whose functions import this
    from vicidid.core.dialects.vicidial import LogRow

log = logging.getLogger("vicidid")


def fit(conn: Connection, column: str, text: str) -> str:
    """Cut a text to its admin_log column's declared size, saying how much was left out.

    VICIdial declares event_sql and event_notes MEDIUMTEXT; a database vicidid created
    may hold less (TEXT on MariaDB), and a bulk copy's notes can run to megabytes.
    """
    return sizes.of(conn).fit_value(t.admin_log.name, column, text, note=True)


def quote(value: object) -> str:
    if value is None:
        return "NULL"
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def set_clause(values: Mapping[str, object]) -> str:
    return ",".join(f"{col}={quote(v)}" for col, v in values.items())


def row(
    call: Call, event_type: str, code: str, record_id: object, sql: str, notes: str
) -> dict[str, object]:
    return {
        "event_date": call.now,
        "user": call.user,
        "ip_address": call.ip,
        "event_section": "DIDS",
        "event_type": event_type,
        "record_id": str(record_id),
        "event_code": code,
        "event_sql": fit(call.conn, "event_sql", sql),
        "event_notes": fit(call.conn, "event_notes", notes),
        "user_group": call.caller.get("user_group") or "",
    }


def write(call: Call, event_type: str, code: str, record_id: object, sql: str, notes: str) -> None:
    """Write the change's admin_log row, in the request's transaction.

    Where the change itself has already landed for good (MyISAM), a failure here must not
    leave it unaudited: the row is written again on a fresh connection, unless it landed.
    """
    values = row(call, event_type, code, record_id, sql, notes)
    try:
        queries.admin_log(call.conn, **values)
    except sa_exc.DBAPIError:
        if not call.transactional:
            write_fresh(call, values)
        raise


def write_fresh(call: Call, values: dict[str, object]) -> None:
    """Best effort: the admin_log row on a new connection, when the request's one failed."""
    try:
        with call.conn.engine.connect() as fresh:
            if not queries.admin_log_exists(fresh, values):
                queries.admin_log(fresh, **values)
            fresh.commit()
    except sa_exc.SQLAlchemyError as error:
        log.error(
            "admin_log %s row of DID id %s not written: %s",
            values["event_type"],
            values["record_id"],
            describe(error),
        )


SECRET_PARAMS = {"pass"}
URL_MAX = 4_000


@dataclass(frozen=True)
class Request:
    """What every api_log row of one request shares."""

    function: str
    user: str
    params: Params
    path: str


def api_log(
    conn: Connection,
    rows: list[LogRow],
    request: Request,
    ip: str,
    now: datetime,
    seconds: float,
    *,
    bulk: bool,
) -> None:
    """The request's vicidial_api_log rows, each with its vicidial_api_urls row.

    Many rows go in multi-row inserts: with `bulk` (consecutive ids), or on MyISAM under
    LOCK TABLES (store/bulk.py); otherwise one statement per row. Every text is cut to its
    column in the store (store/sizes.py).
    """
    run_time = f"{seconds:.6f}"
    source = request.params.shown(SOURCE)
    entries: list[dict[str, object]] = [
        {
            "user": request.user,
            "api_date": now,
            "api_script": "non-agent",
            "function": request.function or "",
            "agent_user": "",
            "value": "",  # VICIdial logs the last POST field here, which can be the password
            "result": r.result,
            "result_reason": r.reason,
            "source": source,
            "data": r.data,
            "run_time": run_time,
        }
        for r in rows
    ]
    url = logged_url(request.path, request.params)
    if not bulk and len(entries) > 1:  # on MyISAM: under LOCK TABLES, if allowed
        entries = entries[locked.api_log(conn, entries, url, ip) :]
    if entries:
        queries.api_log(conn, entries, url, ip, bulk=bulk)


def logged_url(path: str, params: Params) -> str:
    """The request as a URL for vicidial_api_urls, with the password left out.

    A bulk copy's URL can run to megabytes, and it is stored once per api_log row: it is
    cut at URL_MAX characters (each DID's outcome is in its own api_log row anyway).
    """
    # each name and value cut first: quoting a megabyte only to keep its start is slow,
    # and the encoding of a cut string is the start of the encoding of the whole
    kept = [(k[:URL_MAX], v[:URL_MAX]) for k, v in params.raw.items() if k not in SECRET_PARAMS]
    url = f"{path}?{urlencode(kept)}" if kept else path
    return url if len(url) <= URL_MAX else url[: URL_MAX - 3] + "..."
