"""Reading text answers — vicidid's simple dialect and VICIdial's own — into kinds.

A real VICIdial answers only text; so does vicidid without format=json. Each line is
matched against the shapes of both catalogues and becomes (kind, fields).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# (pattern, kind); the named groups are the line's fields. First match wins.
LINES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(p), k)
    for p, k in [
        # simple dialect
        (r"^SUCCESS: (?P<did>\S+) \| DID Updated Successfully$", "updated"),
        (r"^SUCCESS: (?P<did>\S+) \| DID Added Successfully$", "added"),
        (r"^SUCCESS: (?P<did>\S+) \| DID Deleted Successfully$", "deleted"),
        (r"^SUCCESS: (?P<source>\S+) -> (?P<did>\S+) \| DID Copied Successfully$", "copied"),
        (r"^ERROR: NEW DID ALREADY EXISTS(?: \| (?P<did>\S+))?$", "copy_exists"),
        (r"^ERROR: INVALID NEW DID \| (?P<did>.*)$", "copy_invalid"),
        (
            r"^(?:SUCCESS|ERROR): (?P<source>\S+) -> (?P<total>\d+) DIDs \| (?P<added>\d+) Copied, "
            r"(?P<existed>\d+) Already Existed, (?P<invalid>\d+) Invalid$",
            "copy_summary",
        ),
        (r"^NOTICE: (?P<did>\S+) \| No Updates Given$", "no_updates"),
        # VICIdial 2.14
        (r"^SUCCESS: update_did DID HAS BEEN UPDATED - [^|]*\|(?P<did>.*)$", "updated"),
        (
            r"^SUCCESS: update_did DID HAS BEEN DELETED - [^|]*\|(?P<did>[^|]*)\|(?P<did_id>\d+)$",
            "deleted",
        ),
        (r"^SUCCESS: add_did DID HAS BEEN ADDED - [^|]*\|(?P<did>.*)$", "added"),
        (
            r"^NOTICE: copy_did DID HAS BEEN ADDED - [^|]*\|(?P<did>[^|]*)\|(?P<source>[^|]*)\|"
            r"(?P<did_id>\d+)\|1$",
            "copied",
        ),
        (r"^NOTICE: copy_did DID ALREADY EXISTS - [^|]*\|(?P<did>.*)$", "copy_exists"),
        (r"^ERROR: copy_did NEW DID IS NOT VALID: \|[^|]*\|(?P<did>.*)$", "copy_invalid"),
        (
            r"^(?:SUCCESS: copy_did DIDS HAVE BEEN ADDED|ERROR: copy_did NO DIDS ADDED) - [^|]*\|"
            r"(?P<source>[^|]*)\|(?P<added>\d+)\|(?P<failed>\d+)$",
            "copy_summary",
        ),
        (r"^NOTICE: update_did NO UPDATES DEFINED: ", "no_updates"),
        (r"^VERSION: ", "version"),
    ]
]
# Errors by the words that identify them in either dialect.
ERRORS: list[tuple[str, str]] = [
    ("INVALID USERNAME OR PASSWORD", "bad_login"),
    ("Login incorrect", "bad_login"),
    ("ACCOUNT LOCKED", "locked"),
    ("Too many login attempts", "locked"),
    ("TOO MANY FAILED LOGINS", "throttled"),
    ("CONFLICTING CREDENTIALS", "credentials_conflict"),
    ("IP ADDRESS NOT ALLOWED", "ip_refused"),
    ("IP Address is not allowed", "ip_refused"),
    ("PERMISSION TO DELETE", "no_delete_permission"),
    ("PERMISSION TO USE THIS FUNCTION", "no_permission"),
    ("PERMISSION TO", "no_permission"),
    ("DID PATTERN NOT FOUND", "did_not_found"),
    ("DOES NOT EXIST", "did_not_found"),
    ("DID ALREADY EXISTS", "did_exists"),
    ("DATABASE UNAVAILABLE", "database_down"),
    ("SERVER BUSY", "busy"),
    ("DATABASE CONNECTION LOST", "partly_applied"),
    ("DATABASE PERMISSION DENIED", "database_privilege"),
    ("INTERNAL ERROR", "internal_error"),
]


@dataclass
class Line:
    text: str
    kind: str
    fields: dict[str, str]

    @property
    def ok(self) -> bool:
        return self.text.startswith(("SUCCESS", "NOTICE", "VERSION"))


def parse_line(text: str) -> Line:
    for pattern, kind in LINES:
        found = pattern.match(text)
        if found:
            return Line(text, kind, {k: v for k, v in found.groupdict().items() if v is not None})
    if text.startswith("ERROR"):
        for words, kind in ERRORS:
            if words in text:
                return Line(text, kind, {})
        return Line(text, "invalid_input", {})
    return Line(text, "unknown", {})


def parse(body: str) -> list[Line]:
    return [parse_line(line) for line in body.splitlines() if line.strip()]


def reason(text: str) -> str:
    """The words of an error line without its result word or VICIdial's data fields."""
    text = re.sub(r"^(ERROR|NOTICE|SUCCESS): ", "", text)
    return re.split(r": \||\s\|\s| - ", text, maxsplit=1)[0]
