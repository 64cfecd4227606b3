"""vicidial_admin_log rows as VICIdial writes them: its event codes, event_sql and notes."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection

from vicidid.core.call import Call
from vicidid.store import queries, sizes
from vicidid.store import tables as t
from vicidid.store.faults import describe

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
