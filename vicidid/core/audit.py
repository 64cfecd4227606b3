"""Every VICIdial log row a request writes, as VICIdial writes them.

vicidial_admin_log (its event codes, event_sql and notes), vicidial_api_log (one row per
answer line) and vicidial_api_urls (the request's URL, without the password).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import quote_plus

from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection

from vicidid.core.call import Call
from vicidid.core.params import Params
from vicidid.fields import SOURCE
from vicidid.store import sizes, wire
from vicidid.store import tables as t
from vicidid.store.faults import describe
from vicidid.store.statements import bulk as locked
from vicidid.store.statements import changes, queries
from vicidid.store.wire import Write

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


def admin_write(
    call: Call, event_type: str, code: str, record_id: object, sql: str, notes: str
) -> Write:
    """The change's admin_log row, as a write to send with others.

    Where the change itself lands for good as it runs (MyISAM), a failure of this write
    must not leave it unaudited: the row is then written again on a fresh connection,
    unless it landed.
    """
    values = row(call, event_type, code, record_id, sql, notes)
    rescue = None if call.transactional else functools.partial(write_fresh, call, values)
    return changes.admin_log(call.conn, values, rescue)


def write(call: Call, event_type: str, code: str, record_id: object, sql: str, notes: str) -> None:
    """Write the change's admin_log row now, in the request's transaction."""
    send(call.conn, [admin_write(call, event_type, code, record_id, sql, notes)])


def send(conn: Connection, writes: list[Write]) -> None:
    """Send the writes (one round trip on MariaDB); a failed write's rescue runs first."""
    try:
        wire.send(conn, writes)
    except wire.WriteFailed as failed:
        rescue = writes[failed.index].rescue
        if rescue is not None:
            rescue()
        raise failed.error from None


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
URL_ERRORS = "backslashreplace"  # how a URL quotes what UTF-8 cannot encode


@dataclass(frozen=True)
class Request:
    """What every api_log row of one request shares, built before the request writes
    anything: its URL (quoted, cut to its column) cannot fail once a change has landed."""

    function: str
    source: str  # the source parameter, as shown
    url: str  # the request as vicidial_api_urls keeps it, password left out
    whole_url: str  # the same before its column had a say: the access log's (logged_url)

    @classmethod
    def of(cls, conn: Connection, function: str, params: Params, path: str) -> Request:
        whole = logged_url(path, params)
        url = sizes.of(conn).fit_value(t.api_urls.name, "url", whole)
        return cls(function, params.shown(SOURCE), url, whole)


def finish(
    conn: Connection,
    writes: list[Write],
    rows: list[LogRow],
    request: Request,
    user: str,
    ip: str,
    now: datetime,
    seconds: float,
    *,
    bulk: bool,
) -> None:
    """Send the request's last writes, then its api_log rows with their api_urls rows.

    Every row is built, each text cut to what its column and the connection hold, before
    the first of them is sent: what is left can only be the database's own failure.

    One round trip on MariaDB for a request with a few answer lines. A bulk copy's many
    rows go in multi-row inserts instead, after the writes: where ids come out consecutive
    (store/statements/queries.py), or on MyISAM under LOCK TABLES (store/statements/bulk.py);
    what neither takes goes row by row, several rows a message.
    """
    entries = _api_log_rows(rows, request, user, now, seconds)
    log = queries.api_log_values(conn, entries, request.url if entries else None, ip)
    if len(entries) > 1:
        send(conn, writes)
        writes = []
        if bulk:
            queries.api_log(conn, log)
            return
        done = locked.api_log(conn, log)
        log = dataclasses.replace(log, rows=log.rows[done:])
    send(conn, writes + changes.api_log_writes(log))


def _api_log_rows(
    rows: list[LogRow], request: Request, user: str, now: datetime, seconds: float
) -> list[dict[str, object]]:
    """A vicidial_api_log row for each answer line."""
    run_time = f"{seconds:.6f}"
    return [
        {
            "user": user,
            "api_date": now,
            "api_script": "non-agent",
            "function": request.function or "",
            "agent_user": "",
            "value": "",  # VICIdial logs the last POST field here, which can be the password
            "result": r.result,
            "result_reason": r.reason,
            "source": request.source,
            "data": r.data,
            "run_time": run_time,
        }
        for r in rows
    ]


def logged_url(path: str, params: Params) -> str:
    """The request as a URL, with the password left out: for vicidial_api_urls and the
    access log alike.

    A bulk copy's URL can run to megabytes, and it is stored once per api_log row: it is
    cut at URL_MAX characters (each DID's outcome is in its own api_log row anyway). Each
    name and value is cut first: quoting a megabyte only to keep its start is slow, and the
    encoding of a cut string is the start of the encoding of the whole. When nothing needs
    quoting, which one look at the joined text tells, nothing is quoted.
    """
    kept = [(k[:URL_MAX], v[:URL_MAX]) for k, v in params.raw.items() if k not in SECRET_PARAMS]
    if not kept:
        return path
    text = "&".join([f"{k}={v}" for k, v in kept])
    plain = (
        _PLAIN_QUERY.fullmatch(text)
        and text.count("=") == len(kept)  # no name or value holds a separator
        and text.count("&") == len(kept) - 1
    )
    query = (
        text.replace(" ", "+")
        if plain
        else "&".join([f"{_quoted(k)}={_quoted(v)}" for k, v in kept])
    )
    url = f"{path}?{query}"
    return url if len(url) <= URL_MAX else url[: URL_MAX - 3] + "..."


# Characters quote_plus leaves as they are (and the space, which it makes '+'), with the
# separators a query string puts between them
_PLAIN_QUERY = re.compile("[A-Za-z0-9_.~ &=-]*")
_PLAIN = re.compile(r"[A-Za-z0-9_.~-]*")


def _quoted(text: str) -> str:
    """As urlencode quotes it; most names and values need nothing, and are not looked at twice.

    A lone surrogate, which UTF-8 cannot encode, is quoted as its escape (`%5Cud800`).
    """
    return text if _PLAIN.fullmatch(text) else quote_plus(text, errors=URL_ERRORS)
