"""Outcomes as values: what happened, to whom, and why, without any words.

Functions return outcomes; only the dialects (vicidid.core.dialects) turn them into text,
JSON or log rows. An outcome names its kind, the function and caller, and the subject
(the DID, the offending value, the field).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from dataclasses import field as default
from typing import TYPE_CHECKING, Any, TypedDict

from vicidid.fields import Field

if TYPE_CHECKING:
    from vicidid.core.idempotency import Stored


class Kind(enum.Enum):
    # answers before or during login
    VERSION = "version"
    BAD_LOGIN = "bad_login"
    LOCKED = "locked"
    THROTTLED = "throttled"  # too many failed logins from the client's address
    BUSY = "busy"  # too many passwords waiting to be checked: not checked, try again
    CREDENTIALS_CONFLICT = "credentials_conflict"
    IP_REFUSED = "ip_refused"
    # request shape
    NO_FUNCTION = "no_function"
    UNKNOWN_FUNCTION = "unknown_function"
    INVALID_SOURCE = "invalid_source"
    FUNCTION_NOT_ALLOWED = "function_not_allowed"
    NO_PERMISSION = "no_permission"
    NO_DELETE_PERMISSION = "no_delete_permission"
    MISSING_FIELD = "missing_field"
    INVALID_FIELD = "invalid_field"
    UNKNOWN_REFERENCE = "unknown_reference"
    CONFLICTING_VALUES = "conflicting_values"
    TOO_MANY_DIDS = "too_many_dids"
    # existence
    DID_NOT_FOUND = "did_not_found"
    DID_EXISTS = "did_exists"
    # results
    NO_UPDATES = "no_updates"
    UPDATED = "updated"
    DELETED = "deleted"
    ADDED = "added"
    COPIED = "copied"  # one new DID of a copy
    COPY_EXISTS = "copy_exists"
    COPY_INVALID = "copy_invalid"
    COPY_SUMMARY = "copy_summary"
    REPLAYED = "replayed"  # the stored answer to an earlier request with the same key
    IDEMPOTENCY_REUSED = "idempotency_reused"
    IDEMPOTENCY_UNAVAILABLE = "idempotency_unavailable"
    DID_INFO = "did_info"
    DID_LIST = "did_list"
    # the server itself
    DATABASE_DOWN = "database_down"
    PARTLY_APPLIED = "partly_applied"  # the connection was lost after a write that stays
    DATABASE_PRIVILEGE = "database_privilege"  # vicidid's database user lacks a grant
    INTERNAL_ERROR = "internal_error"
    OVERLOADED = "overloaded"  # too many requests waiting for a request thread: try again
    TOO_LARGE = "too_large"
    MALFORMED_BODY = "malformed_body"  # a JSON body that cannot be read as parameters
    INVALID_TEXT = "invalid_text"  # text no database or log can keep (core/text.py)
    # the fallback non_agent_api.php (functions vicidid does not implement)
    FORWARDED = "forwarded"  # answered by the fallback, its answer passed back unchanged
    FALLBACK_DOWN = "fallback_down"
    FALLBACK_TIMEOUT = "fallback_timeout"


# Outcomes that are not a failure.
GOOD = {
    Kind.VERSION,
    Kind.NO_UPDATES,
    Kind.UPDATED,
    Kind.DELETED,
    Kind.ADDED,
    Kind.COPIED,
    Kind.DID_INFO,
    Kind.DID_LIST,
    Kind.REPLAYED,
}
# Outcomes of a failed login: VICIdial writes no api_log row for them (an IP refusal is one).
LOGIN_FAILURES = {
    Kind.BAD_LOGIN,
    Kind.LOCKED,
    Kind.CREDENTIALS_CONFLICT,
    Kind.IP_REFUSED,
    Kind.THROTTLED,
    Kind.BUSY,
}


@dataclass(frozen=True)
class CopyCounts:
    added: int = 0
    existed: int = 0
    invalid: int = 0

    @property
    def total(self) -> int:
        return self.added + self.existed + self.invalid

    @property
    def failed(self) -> int:
        return self.existed + self.invalid


class Extra(TypedDict, total=False):
    """What an outcome carries beyond its fields, for the dialects' words."""

    required: bool  # a missing or refused required field (VICIdial's "required fields" line)
    data: str  # what that line prints after the user
    chars: bool  # refused for its characters, not its length or choices
    other: str  # the other of two conflicting parameter names
    rule: str  # the rule a refused value broke
    count: int  # DIDs asked for, or rows listed
    limit: int  # did_list's page
    offset: int
    line: str  # version's line
    seconds: str  # how long to wait before trying again
    stored: Stored  # the answer an idempotency key replays
    why: str  # why a text was refused at the edge (core/text.py)
    size: str  # the body limit, in words (e.g. "1 MiB")


@dataclass(frozen=True)
class Outcome:
    kind: Kind
    function: str = ""
    user: str = ""
    did: str = ""  # the DID the request is about (copy: the source)
    value: str = ""  # the offending value, or the new DID of a copy item
    field: Field | None = None
    name: str = ""  # the parameter name the caller used
    did_id: int | None = None
    counts: CopyCounts | None = None
    single: bool = False  # a copy with exactly one new DID
    rows: list[dict[str, object]] = default(default_factory=list)  # did_info / did_list payload
    extra: Extra = default(default_factory=lambda: Extra())

    @property
    def ok(self) -> bool:
        if self.kind is Kind.COPY_SUMMARY:
            return bool(self.counts and self.counts.added)
        return self.kind in GOOD


def one(kind: Kind, **kw: Any) -> list[Outcome]:
    return [Outcome(kind, **kw)]
