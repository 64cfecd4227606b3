"""vicidial_admin_log rows as VICIdial writes them: its event codes, event_sql and notes."""

from __future__ import annotations

from vicidid.call import Call
from vicidid.store import queries

TEXT_BYTES = 65_535  # VICIdial's event_sql and event_notes are TEXT columns


def fit(text: str, limit: int = TEXT_BYTES) -> str:
    """Cut a text to fit a TEXT column, saying how much was left out."""
    data = text.encode()
    if len(data) <= limit:
        return text
    kept = data[: limit - 40].decode(errors="ignore")
    kept = kept[: kept.rfind("\n") + 1] or kept
    return kept + f"... ({len(data) - len(kept.encode())} more bytes)\n"


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
        event_sql=fit(sql),
        event_notes=fit(notes),
        user_group=call.caller.get("user_group") or "",
    )
