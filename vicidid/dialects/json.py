"""`format=json`: one object per request, with a meaningful HTTP status (SPEC §1).

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

from vicidid.dialects import simple, vicidial
from vicidid.outcomes import Kind, Outcome

STATUS = {
    Kind.BAD_LOGIN: 401,
    Kind.LOCKED: 401,
    Kind.THROTTLED: 429,
    Kind.CREDENTIALS_CONFLICT: 401,
    Kind.IP_REFUSED: 403,
    Kind.FUNCTION_NOT_ALLOWED: 403,
    Kind.NO_PERMISSION: 403,
    Kind.NO_DELETE_PERMISSION: 403,
    Kind.DID_NOT_FOUND: 404,
    Kind.DID_EXISTS: 409,
    Kind.COPY_EXISTS: 409,
    Kind.NO_FUNCTION: 422,
    Kind.UNKNOWN_FUNCTION: 422,
    Kind.INVALID_SOURCE: 422,
    Kind.MISSING_FIELD: 422,
    Kind.INVALID_FIELD: 422,
    Kind.UNKNOWN_REFERENCE: 422,
    Kind.CONFLICTING_VALUES: 422,
    Kind.TOO_MANY_DIDS: 422,
    Kind.COPY_INVALID: 422,
    Kind.IDEMPOTENCY_REUSED: 422,
    Kind.IDEMPOTENCY_UNAVAILABLE: 503,
    Kind.DATABASE_DOWN: 503,
    Kind.INTERNAL_ERROR: 503,
    Kind.TOO_LARGE: 413,
}
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


def _plain(value: object) -> object:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat(sep=" ") if isinstance(value, dt.datetime) else value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def body(outcomes: list[Outcome], function: str, changed: list[str]) -> dict:
    final = outcomes[-1]
    # A copy of one DID is described by its one item, as the simple dialect's line is.
    lead = outcomes[0] if final.kind is Kind.COPY_SUMMARY and final.single else final
    reason_row = vicidial.log_rows([lead])
    obj: dict = {
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
        obj["row"] = {k: _plain(v) for k, v in final.rows[0].items()}
    if final.kind is Kind.DID_LIST:
        obj["rows"] = [{k: _plain(v) for k, v in r.items()} for r in final.rows]
        obj["limit"] = final.extra.get("limit")
        obj["offset"] = final.extra.get("offset")
    if lead.field is not None:
        obj["field"] = lead.name or lead.field.name
    return obj


def render(outcomes: list[Outcome], function: str, changed: list[str]) -> tuple[int, str]:
    return status(outcomes), json.dumps(body(outcomes, function, changed), ensure_ascii=False)
