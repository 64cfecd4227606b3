"""The tutorials' wording (docs/behaviour.md#catalogue-simple), the default dialect."""

from __future__ import annotations

from vicidid.core.dialects import context, listing, variant
from vicidid.core.outcomes import Outcome

COPY_COUNTS = "{did} -> {total} DIDs | {added} Copied, {existed} Already Existed, {invalid} Invalid"
NOT_ALLOWED = "ERROR: USER DOES NOT HAVE PERMISSION TO USE THIS FUNCTION"
INVALID = "ERROR: INVALID {name} | {rule}"

CATALOGUE: dict[str, str] = {
    "version": "{line}",
    "updated": "SUCCESS: {did} | DID Updated Successfully",
    "copied": "SUCCESS: {did} -> {value} | DID Copied Successfully",
    "function_not_allowed": NOT_ALLOWED,
    "no_permission": NOT_ALLOWED,
    "no_permission/add": NOT_ALLOWED,
    "no_permission/view": NOT_ALLOWED,
    "bad_login": "ERROR: INVALID USERNAME OR PASSWORD",
    "did_not_found": "ERROR: DID PATTERN NOT FOUND",
    "did_not_found/copy": "ERROR: DID PATTERN NOT FOUND",
    "copy_exists/single": "ERROR: NEW DID ALREADY EXISTS",
    "copy_exists": "ERROR: NEW DID ALREADY EXISTS | {value}",
    "copy_invalid": "ERROR: INVALID NEW DID | {value}",
    "copy_summary": "SUCCESS: " + COPY_COUNTS,
    "copy_summary/none": "ERROR: " + COPY_COUNTS,
    "no_function": "ERROR: NO FUNCTION SPECIFIED",
    "added": "SUCCESS: {did} | DID Added Successfully",
    "deleted": "SUCCESS: {did} | DID Deleted Successfully",
    "did_exists": "ERROR: DID ALREADY EXISTS | {did}",
    "no_delete_permission": "ERROR: USER DOES NOT HAVE PERMISSION TO DELETE DIDS",
    "no_updates": "NOTICE: {did} | No Updates Given",
    "unknown_function": "ERROR: UNKNOWN FUNCTION | {value}",
    "invalid_source": "ERROR: INVALID SOURCE | source must be 2 to 20 letters or digits",
    "missing_field": "ERROR: MISSING REQUIRED FIELD | {name}",
    "invalid_field": INVALID,
    "invalid_field/chars": "ERROR: INVALID {name} | only {charset} are allowed{hint}",
    "unknown_reference": "ERROR: INVALID {name} | no {thing} named {value}",
    "conflicting_values": "ERROR: CONFLICTING VALUES | {name} and {other}",
    "credentials_conflict": "ERROR: CONFLICTING CREDENTIALS",
    "locked": "ERROR: ACCOUNT LOCKED | too many failed logins, try again in 15 minutes",
    "throttled": "ERROR: TOO MANY FAILED LOGINS | from this address, try again in a minute",
    "ip_refused": "ERROR: IP ADDRESS NOT ALLOWED | {value}",
    "too_many_dids": "ERROR: TOO MANY DIDS | {count} given, at most 10000",
    "idempotency_reused": "ERROR: IDEMPOTENCY KEY REUSED | {value} was used with other parameters",
    "idempotency_unavailable": "ERROR: IDEMPOTENCY UNAVAILABLE | run `vicidid init-db "
    "--add-missing` to add its table",
    "busy": "ERROR: SERVER BUSY | too many logins waiting to be checked, try again in a second",
    "overloaded": "ERROR: SERVER BUSY | too many requests waiting, try again in a second",
    "database_down": "ERROR: DATABASE UNAVAILABLE",
    "partly_applied": "ERROR: DATABASE CONNECTION LOST | the change to {did} may be partly applied",
    "database_privilege": "ERROR: DATABASE PERMISSION DENIED | vicidid's database user lacks "
    "a privilege (the server log names it); nothing was changed",
    "internal_error": "ERROR: INTERNAL ERROR | nothing was changed",
    "too_large": "ERROR: REQUEST TOO LARGE | at most {size}",
    "malformed_body": "ERROR: INVALID JSON BODY | {value}",
    "invalid_text/surrogate": "ERROR: INVALID TEXT | {name} holds a lone surrogate, "
    "which is not a character",
    "invalid_text/nul": "ERROR: INVALID TEXT | {name} holds a NUL character",
    "invalid_text/charset": "ERROR: INVALID TEXT | {name} holds a character the database "
    "cannot store",
    "fallback_down": "ERROR: FALLBACK UNAVAILABLE | {value} goes to VICIdial's "
    "non_agent_api.php, which did not answer",
    "fallback_timeout": "ERROR: FALLBACK TIMED OUT | {value} goes to VICIdial's "
    "non_agent_api.php, which did not answer in {seconds} s",
}


def line(o: Outcome) -> str:
    key = variant(o)
    if key == "invalid_field" and o.extra.get("chars"):
        key = "invalid_field/chars"
    return CATALOGUE[key].format_map(context(o))


def render(outcomes: list[Outcome]) -> str:
    """One line per outcome; a copy of one DID drops the summary line (the tutorial's shape)."""
    shown = [o for o in outcomes if not (o.kind.value == "copy_summary" and o.single)]
    return "".join(listing(o) or line(o) + "\n" for o in shown)
