"""VICIdial 2.14's wording, byte for byte, and the api_log rows it writes.

The contract: docs/behaviour.md#catalogue-vicidial.

Every entry is literal: VICIdial's separators and trailing pipes vary from message to
message, so nothing here is derived from a rule. An entry is
(line template, result, reason template, data template); the last three are the
vicidial_api_log row, written in both dialects.
"""

from __future__ import annotations

from typing import NamedTuple

from vicidid.core.dialects import context, listing, variant
from vicidid.core.outcomes import LOGIN_FAILURES, Outcome


class Entry(NamedTuple):
    line: str
    result: str
    reason: str
    data: str


OPTIONAL = "{fn} {reason}, THIS IS AN OPTIONAL FIELD"
REQUIRED = "{fn} YOU MUST USE ALL REQUIRED FIELDS"

CATALOGUE: dict[str, Entry] = {
    "version": Entry("{line}", "SUCCESS", "", "{line}"),
    "bad_login": Entry(
        "ERROR: Login incorrect, please try again: |{user}||BAD|",
        "ERROR",
        "Login incorrect, please try again",
        "",
    ),
    # vicidid's limit per address answers as a failed login does: VICIdial has no other words
    "throttled": Entry(
        "ERROR: Login incorrect, please try again: |{user}||BAD|",
        "ERROR",
        "Login incorrect, please try again",
        "",
    ),
    "locked": Entry(
        "ERROR: Too many login attempts, try again in 15 minutes: |{user}|LOCK|",
        "ERROR",
        "Too many login attempts, try again in 15 minutes",
        "",
    ),
    "credentials_conflict": Entry(
        "ERROR: auth CONFLICTING CREDENTIALS: |{user}|", "ERROR", "auth CONFLICTING CREDENTIALS", ""
    ),
    "ip_refused": Entry(
        "ERROR: Your IP Address is not allowed: {value}: ||IPBLOCK|",
        "ERROR",
        "Your IP Address is not allowed",
        "{value}",
    ),
    "no_function": Entry("ERROR: NO FUNCTION SPECIFIED", "ERROR", "NO FUNCTION SPECIFIED", ""),
    "unknown_function": Entry("ERROR: NO FUNCTION SPECIFIED", "ERROR", "NO FUNCTION SPECIFIED", ""),
    "invalid_source": Entry(
        "ERROR: Invalid Source - {value}\nERROR: Invalid Source: |{value}|",
        "ERROR",
        "Invalid Source",
        "",
    ),
    "function_not_allowed": Entry(
        "ERROR: auth USER DOES NOT HAVE PERMISSION TO USE THIS FUNCTION: |{user}|{fn}|",
        "ERROR",
        "auth USER DOES NOT HAVE PERMISSION TO USE THIS FUNCTION",
        "",
    ),
    "no_permission": Entry(
        "ERROR: {fn} USER DOES NOT HAVE PERMISSION TO UPDATE DIDS: |{user}|0",
        "ERROR",
        "{fn} USER DOES NOT HAVE PERMISSION TO UPDATE DIDS",
        "0",
    ),
    "no_permission/add": Entry(
        "ERROR: {fn} USER DOES NOT HAVE PERMISSION TO ADD DIDS: |{user}|0",
        "ERROR",
        "{fn} USER DOES NOT HAVE PERMISSION TO ADD DIDS",
        "0",
    ),
    "no_permission/view": Entry(
        "ERROR: {fn} USER DOES NOT HAVE PERMISSION TO VIEW DIDS: |{user}|0",
        "ERROR",
        "{fn} USER DOES NOT HAVE PERMISSION TO VIEW DIDS",
        "0",
    ),
    "no_delete_permission": Entry(
        "ERROR: update_did USER DOES NOT HAVE PERMISSION TO DELETE DIDS: |{user}|1",
        "ERROR",
        "update_did USER DOES NOT HAVE PERMISSION TO DELETE DIDS",
        "1",
    ),
    "missing_field": Entry("ERROR: " + REQUIRED + ": |{user}|{data}", "ERROR", REQUIRED, "{data}"),
    "invalid_field/required": Entry(
        "ERROR: " + REQUIRED + ": |{user}|{data}", "ERROR", REQUIRED, "{data}"
    ),
    "invalid_field": Entry(
        "ERROR: " + OPTIONAL + ": |{user}|{value}", "ERROR", OPTIONAL, "{value}"
    ),
    "invalid_field/extension": Entry(
        "ERROR: {fn} {reason}: |{user}|{value}", "ERROR", "{fn} {reason}", "{value}"
    ),
    "conflicting_values": Entry(
        "ERROR: {fn} CONFLICTING VALUES: |{user}|{name}|{other}",
        "ERROR",
        "{fn} CONFLICTING VALUES",
        "{name}|{other}",
    ),
    "too_many_dids": Entry(
        "ERROR: {fn} TOO MANY DIDS: |{user}|{count}", "ERROR", "{fn} TOO MANY DIDS", "{count}"
    ),
    "did_not_found": Entry(
        "ERROR: {fn} DID DOES NOT EXIST: |{user}|{did}", "ERROR", "{fn} DID DOES NOT EXIST", "{did}"
    ),
    "did_not_found/copy": Entry(
        "ERROR: copy_did SOURCE DID DOES NOT EXIST: |{user}|{did}",
        "ERROR",
        "copy_did SOURCE DID DOES NOT EXIST",
        "{did}",
    ),
    "did_exists": Entry(
        "ERROR: add_did DID ALREADY EXISTS: |{user}|{did}",
        "ERROR",
        "add_did DID ALREADY EXISTS",
        "{did}",
    ),
    "no_updates": Entry(
        "NOTICE: update_did NO UPDATES DEFINED: |{user}|",
        "NOTICE",
        "update_did NO UPDATES DEFINED",
        "",
    ),
    "updated": Entry(
        "SUCCESS: update_did DID HAS BEEN UPDATED - {user}|{did}",
        "SUCCESS",
        "update_did DID HAS BEEN UPDATED",
        "{did}",
    ),
    "deleted": Entry(
        "SUCCESS: update_did DID HAS BEEN DELETED - {user}|{did}|{did_id}",
        "SUCCESS",
        "update_did DID HAS BEEN DELETED",
        "{did}|{did_id}",
    ),
    "added": Entry(
        "SUCCESS: add_did DID HAS BEEN ADDED - {user}|{did}",
        "SUCCESS",
        "add_did DID HAS BEEN ADDED",
        "{did}",
    ),
    "copied": Entry(
        "NOTICE: copy_did DID HAS BEEN ADDED - {user}|{value}|{did}|{did_id}|1",
        "NOTICE",
        "copy_did DID HAS BEEN ADDED",
        "{value}|{did}|{did_id}|1",
    ),
    "copy_exists": Entry(
        "NOTICE: copy_did DID ALREADY EXISTS - {user}|{value}",
        "NOTICE",
        "copy_did DID ALREADY EXISTS",
        "{value}",
    ),
    "copy_invalid": Entry(
        "ERROR: copy_did NEW DID IS NOT VALID: |{user}|{value}",
        "ERROR",
        "copy_did NEW DID IS NOT VALID",
        "{value}",
    ),
    "copy_summary": Entry(
        "SUCCESS: copy_did DIDS HAVE BEEN ADDED - {user}|{did}|{added}|{failed}",
        "SUCCESS",
        "copy_did DIDS HAVE BEEN ADDED",
        "{did}|{added}|{failed}",
    ),
    "copy_summary/none": Entry(
        "ERROR: copy_did NO DIDS ADDED - {user}|{did}|0|{failed}",
        "ERROR",
        "copy_did NO DIDS ADDED",
        "{did}|0|{failed}",
    ),
    "did_info": Entry("", "SUCCESS", "did_info DID FOUND", "{did}"),
    "did_list": Entry("", "SUCCESS", "did_list DIDS LISTED", "{count}"),
    "replayed": Entry("", "NOTICE", "{fn} IDEMPOTENT REPLAY", "{value}"),
    "idempotency_reused": Entry(
        "ERROR: {fn} IDEMPOTENCY KEY REUSED: |{user}|{value}",
        "ERROR",
        "{fn} IDEMPOTENCY KEY REUSED",
        "{value}",
    ),
    "idempotency_unavailable": Entry(
        "ERROR: {fn} IDEMPOTENCY UNAVAILABLE: |{user}|{value}",
        "ERROR",
        "{fn} IDEMPOTENCY UNAVAILABLE",
        "{value}",
    ),
    "busy": Entry(
        "ERROR: {fn} SERVER BUSY, TRY AGAIN: |{user}|", "ERROR", "{fn} SERVER BUSY, TRY AGAIN", ""
    ),
    "overloaded": Entry(
        "ERROR: {fn} SERVER BUSY, TRY AGAIN: |{user}|", "ERROR", "{fn} SERVER BUSY, TRY AGAIN", ""
    ),
    "database_down": Entry(
        "ERROR: {fn} DATABASE UNAVAILABLE: |{user}|", "ERROR", "{fn} DATABASE UNAVAILABLE", ""
    ),
    "partly_applied": Entry(
        "ERROR: {fn} DATABASE CONNECTION LOST, CHANGE MAY BE PARTLY APPLIED: |{user}|{did}",
        "ERROR",
        "{fn} DATABASE CONNECTION LOST, CHANGE MAY BE PARTLY APPLIED",
        "{did}",
    ),
    "database_privilege": Entry(
        "ERROR: {fn} DATABASE PERMISSION DENIED: |{user}|",
        "ERROR",
        "{fn} DATABASE PERMISSION DENIED",
        "",
    ),
    "internal_error": Entry(
        "ERROR: {fn} INTERNAL ERROR: |{user}|", "ERROR", "{fn} INTERNAL ERROR", ""
    ),
    "too_large": Entry("ERROR: REQUEST TOO LARGE: ||", "ERROR", "REQUEST TOO LARGE", ""),
    "malformed_body": Entry(
        "ERROR: INVALID JSON BODY: ||{value}", "ERROR", "INVALID JSON BODY", "{value}"
    ),
    "invalid_text/surrogate": Entry(
        "ERROR: INVALID TEXT, NOT A CHARACTER: ||{name}",
        "ERROR",
        "INVALID TEXT, NOT A CHARACTER",
        "{name}",
    ),
    "invalid_text/nul": Entry(
        "ERROR: INVALID TEXT, NUL CHARACTER: ||{name}",
        "ERROR",
        "INVALID TEXT, NUL CHARACTER",
        "{name}",
    ),
    "invalid_text/charset": Entry(
        "ERROR: INVALID TEXT, NOT IN THE DATABASE CHARACTER SET: ||{name}",
        "ERROR",
        "INVALID TEXT, NOT IN THE DATABASE CHARACTER SET",
        "{name}",
    ),
    "fallback_down": Entry(
        "ERROR: {fn} FALLBACK UNAVAILABLE: |{user}|", "ERROR", "{fn} FALLBACK UNAVAILABLE", ""
    ),
    "fallback_timeout": Entry(
        "ERROR: {fn} FALLBACK TIMED OUT: |{user}|", "ERROR", "{fn} FALLBACK TIMED OUT", ""
    ),
}


def key(o: Outcome) -> str:
    k = variant(o)
    if k in ("invalid_field", "unknown_reference", "copy_exists/single"):
        if k == "copy_exists/single":
            return "copy_exists"
        if o.extra.get("required"):
            return "invalid_field/required"
        if o.field is not None and not o.field.native:
            return "invalid_field/extension"
        return "invalid_field"
    return k


def entry(o: Outcome) -> Entry:
    return CATALOGUE[key(o)]


def line(o: Outcome) -> str:
    return entry(o).line.format_map(context(o, whole=True))  # VICIdial echoes values whole


def render(outcomes: list[Outcome]) -> str:
    return "".join(listing(o) or line(o) + "\n" for o in outcomes)


class LogRow(NamedTuple):
    result: str
    reason: str
    data: str


def log_rows(outcomes: list[Outcome], whole: bool = False) -> list[LogRow]:
    """The vicidial_api_log rows of a request: one per outcome, none for a failed login.

    `whole`: the data holds echoed values whole (the vicidial dialect), not cut short.
    """
    rows = []
    for o in outcomes:
        if o.kind in LOGIN_FAILURES:
            continue
        e, ctx = entry(o), context(o, whole)
        rows.append(LogRow(e.result, e.reason.format_map(ctx), e.data.format_map(ctx)))
    return rows
