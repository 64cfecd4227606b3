"""vicidial_admin_log rows as VICIdial writes them: its event codes, event_sql and notes."""

from __future__ import annotations

from vicidid.call import Call
from vicidid.store import queries, sizes
from vicidid.store import tables as t


def fit(conn, column: str, text: str) -> str:
    """Cut a text to its admin_log column's declared size, saying how much was left out.

    VICIdial declares event_sql and event_notes MEDIUMTEXT; a database vicidid created
    may hold less (TEXT on MariaDB), and a bulk copy's notes can run to megabytes.
    """
    return sizes.of(conn).fit_value(t.admin_log.name, column, text, note=True)


def quote(value: object) -> str:
    if value is None:
        return "NULL"
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def set_clause(values: dict[str, object]) -> str:
    return ",".join(f"{col}={quote(v)}" for col, v in values.items())


def write(call: Call, event_type: str, code: str, record_id: object, sql: str, notes: str) -> None:
    queries.admin_log(
        call.conn,
        event_date=call.now,
        user=call.user,
        ip_address=call.ip,
        event_section="DIDS",
        event_type=event_type,
        record_id=str(record_id),
        event_code=code,
        event_sql=fit(call.conn, "event_sql", sql),
        event_notes=fit(call.conn, "event_notes", notes),
        user_group=call.caller.get("user_group") or "",
    )
