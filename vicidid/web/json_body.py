"""A JSON request body read as parameters: the same names as a form, one value each.

`{"function": "copy_did", "user": "admin", "pass": "1234", "source": "crm",
"did_pattern": "18001234567", "new_dids": ["18002223334", 18002223335]}` reads as the form
`function=copy_did&…&new_dids=18002223334,18002223335`. Values are strings or numbers; a
list is taken only where the parameter is a list of DIDs; null counts as not given.
Anything else is refused with a reason, so that a caller never has a body silently ignored.

Reading is bounded: the body's size (the edge's limit, 1 MiB), the depth of its brackets
(MAX_DEPTH, looked at before parsing) and the length of a number (MAX_DIGITS): a body past
any of them is refused with the reason, at a cost linear in its bytes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection

from vicidid.errors import VicididError
from vicidid.web.forms import MAX_PARAMS

NAME_SHOWN = 60
MAX_DEPTH = 10  # a body of parameters needs two: the object, a list of DIDs in it
MAX_DIGITS = 100  # a DID is at most 50 characters; no parameter needs a longer number

# A JSON string (escapes included); braces read as brackets, every other byte dropped
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_AS_BRACKETS = bytes.maketrans(b"{}", b"[]")
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_OPENED_IN_A_ROW = re.compile(rb"\[{%d}" % (MAX_DEPTH + 1))


class MalformedJson(VicididError, ValueError):
    """The body is not a JSON object of parameters; the message says why."""


def _scalar(name: str, value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise MalformedJson(f"{name[:NAME_SHOWN]} must be a string or a number")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # 18001234567.0 is the number 18001234567
    return str(value)


def too_deep(body: bytes) -> bool:
    """Whether the body's brackets nest deeper than MAX_DEPTH (brackets in strings are text).

    Each pass drops every innermost pair `[]`, so a body whose brackets nest n deep is
    gone after n passes; at most MAX_DEPTH + 1 passes, each a scan in C. What no pass can
    drop (brackets that never close) counts as deep as it opens.
    """
    limit = MAX_DEPTH
    brackets = _STRING.sub(b"", body).translate(_AS_BRACKETS, _NOT_BRACKETS)
    if brackets.count(b"[") <= limit:
        return False  # the common case: too few brackets to go past the limit
    if _OPENED_IN_A_ROW.search(brackets):
        return True  # so many opened one after the other: no pass needed
    passes = 0
    while passes <= limit and b"[]" in brackets:
        brackets = brackets.replace(b"[]", b"")
        passes += 1
    return passes + brackets.count(b"[") > limit


def _number(text: str) -> int | float:
    if len(text) > MAX_DIGITS:
        raise MalformedJson(f"a number longer than {MAX_DIGITS} digits")
    return float(text) if any(c in text for c in ".eE") else int(text)


def pairs(body: bytes, lists: Collection[str]) -> list[tuple[str, str]]:
    """(name, value) pairs of a JSON object; `lists` names the parameters that take a list."""
    if too_deep(body):
        raise MalformedJson(f"brackets nested deeper than {MAX_DEPTH}")
    try:
        data = json.loads(body.decode("utf-8"), parse_int=_number, parse_float=_number)
    except UnicodeDecodeError as error:
        raise MalformedJson("the body is not UTF-8") from error
    except RecursionError as error:  # too_deep looks first: only a backstop
        raise MalformedJson(f"brackets nested deeper than {MAX_DEPTH}") from error
    except json.JSONDecodeError as error:
        raise MalformedJson(
            f"not valid JSON ({error.msg} at line {error.lineno} column {error.colno})"
        ) from error
    if not isinstance(data, dict):
        raise MalformedJson("the body must be one JSON object of parameters")
    found = []
    # at most as many parameters as a form gives (the rest ignored, as PHP does)
    for name, value in list(data.items())[:MAX_PARAMS]:
        if value is None:
            continue
        if isinstance(value, list):
            if name not in lists:
                raise MalformedJson(f"{name[:NAME_SHOWN]} takes one value, not a list")
            found.append((name, ",".join(_scalar(name, item) for item in value)))
        else:
            found.append((name, _scalar(name, value)))
    return found
