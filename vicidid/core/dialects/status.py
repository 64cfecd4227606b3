"""The HTTP status of every answer, in one table.

JSON answers use all of it. Text answers are 200 for results and errors alike (scripts
read the body, as they read VICIdial's), except where the server itself could not do its
part: those carry the same status as in JSON.
"""

from __future__ import annotations

from vicidid.core.outcomes import Kind

STATUS = {
    Kind.BAD_LOGIN: 401,
    Kind.LOCKED: 401,
    Kind.THROTTLED: 429,  # too many failed logins from one address
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
    Kind.TOO_LARGE: 413,
    Kind.MALFORMED_BODY: 400,
    Kind.INVALID_TEXT: 400,
    # the server's own trouble
    Kind.IDEMPOTENCY_UNAVAILABLE: 503,
    Kind.BUSY: 503,  # too many passwords waiting to be checked (Retry-After)
    Kind.DATABASE_DOWN: 503,  # unreachable or overloaded: worth trying again later
    Kind.PARTLY_APPLIED: 503,  # look at the DID before trying again
    Kind.OVERLOADED: 503,  # too many requests waiting for a request thread (Retry-After)
    Kind.DATABASE_PRIVILEGE: 500,
    Kind.INTERNAL_ERROR: 500,
    Kind.FALLBACK_DOWN: 502,  # VICIdial's own non_agent_api.php did not answer
    Kind.FALLBACK_TIMEOUT: 504,
}
SERVER_KINDS = {
    Kind.BUSY,
    Kind.OVERLOADED,
    Kind.TOO_LARGE,
    Kind.IDEMPOTENCY_UNAVAILABLE,
    Kind.DATABASE_DOWN,
    Kind.PARTLY_APPLIED,
    Kind.DATABASE_PRIVILEGE,
    Kind.INTERNAL_ERROR,
    Kind.FALLBACK_DOWN,
    Kind.FALLBACK_TIMEOUT,
}


# Refused at the edge, before the request is read as parameters: no script of VICIdial's
# sends such a request, and the status says at once that it was never looked at.
EDGE_KINDS = {Kind.MALFORMED_BODY, Kind.INVALID_TEXT}


def text_status(kind: Kind) -> int:
    """A text answer's status: 200, unless the server could not do its part or the request
    was refused at the edge."""
    return STATUS[kind] if kind in SERVER_KINDS or kind in EDGE_KINDS else 200
