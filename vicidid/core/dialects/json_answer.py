"""`format=json`: one object per request, with a meaningful HTTP status (docs/behaviour.md#json).

Field by field (also in README):
  result    SUCCESS, NOTICE or ERROR: the request as a whole
  function  the function asked for ("" when none)
  kind      the outcome's name, stable for programs (e.g. "updated", "did_not_found")
  message   the same line(s) as the simple dialect
  reason    VICIdial's reason text, as written to vicidial_api_log
  did       the DID the request is about (copy: the source), when there is one
  dids      the DIDs this request changed
  results   copy_did only: one {did, result, kind, did_id} per new DID, in the given order
  counts    copy_did only: {added, existed, invalid}
  did_id    update/delete/add: the row's did_id
  row/rows  did_info / did_list: the DID columns; did_list adds limit and offset
"""

from __future__ import annotations

import datetime as dt
import json
import math
from decimal import Decimal

from vicidid.core.dialects import simple, vicidial
from vicidid.core.dialects.status import STATUS
from vicidid.core.outcomes import Kind, Outcome

COPY_ITEMS = (Kind.COPIED, Kind.COPY_EXISTS, Kind.COPY_INVALID)


def result_word(o: Outcome) -> str:
    if o.kind is Kind.NO_UPDATES:
        return "NOTICE"
    return "SUCCESS" if o.ok else "ERROR"


def status(outcomes: list[Outcome]) -> int:
    final = outcomes[-1]
    if final.kind is Kind.COPY_SUMMARY:
        if final.ok:
            return 200
        items = [o for o in outcomes if o.kind in COPY_ITEMS]
        # none added: "already exists" if any item existed, else the items were invalid
        return 409 if any(o.kind is Kind.COPY_EXISTS for o in items) else 422
    return STATUS.get(final.kind, 200)


def plain(value: object) -> object:
    """A column value JSON can carry, for every type a VICIdial table can hold.

    Dates and times as MariaDB writes them; DECIMAL exactly, as a string; TIME (a
    timedelta from the drivers) as [-]H:MM:SS; SET as its comma-separated members;
    binary as UTF-8 text; anything else as its text.
    """
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return _time(value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, set | frozenset):
        return ",".join(sorted(str(v) for v in value))
    return str(value)


def _time(delta: dt.timedelta) -> str:
    sign = "-" if delta < dt.timedelta(0) else ""
    delta = abs(delta)
    minutes, seconds = divmod(delta.seconds, 60)
    hours = delta.days * 24 + minutes // 60
    fraction = f".{delta.microseconds:06d}" if delta.microseconds else ""
    return f"{sign}{hours}:{minutes % 60:02d}:{seconds:02d}{fraction}"


def _cell(value: object) -> object:
    """A row's value: JSON's own types pass, the rest as plain() says."""
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    return plain(value)


def body(outcomes: list[Outcome], function: str, changed: list[str]) -> dict[str, object]:
    final = outcomes[-1]
    # A copy of one DID is described by its one item, as the simple dialect's line is.
    lead = outcomes[0] if final.kind is Kind.COPY_SUMMARY and final.single else final
    reason_row = vicidial.log_rows([lead])
    obj: dict[str, object] = {
        "result": result_word(final),
        "function": final.function or function,
        "kind": lead.kind.value,
        "message": simple.render(outcomes).rstrip("\n")
        if final.kind not in (Kind.DID_INFO, Kind.DID_LIST)
        else "",
        "reason": reason_row[0].reason if reason_row else simple.line(lead),
        "dids": changed,
    }
    if final.did:
        obj["did"] = final.did
    if final.did_id is not None:
        obj["did_id"] = final.did_id
    if final.kind is Kind.COPY_SUMMARY and final.counts:
        obj["results"] = [
            {
                "did": o.value,
                "result": "SUCCESS" if o.kind is Kind.COPIED else "ERROR",
                "kind": o.kind.value,
                "did_id": o.did_id,
            }
            for o in outcomes
            if o.kind in COPY_ITEMS
        ]
        c = final.counts
        obj["counts"] = {"added": c.added, "existed": c.existed, "invalid": c.invalid}
    if final.kind is Kind.DID_INFO:
        obj["row"] = {k: _cell(v) for k, v in final.rows[0].items()}
    if final.kind is Kind.DID_LIST:
        obj["rows"] = [{k: _cell(v) for k, v in r.items()} for r in final.rows]
        obj["limit"] = final.extra.get("limit")
        obj["offset"] = final.extra.get("offset")
    if lead.field is not None:
        obj["field"] = lead.name or lead.field.name
    return obj


def render(outcomes: list[Outcome], function: str, changed: list[str]) -> tuple[int, str]:
    text = json.dumps(body(outcomes, function, changed), ensure_ascii=False, default=plain)
    return status(outcomes), text
