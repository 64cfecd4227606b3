"""A JSON request body read as parameters: the same names as a form, one value each.

`{"function": "copy_did", "user": "admin", "pass": "1234", "source": "crm",
"did_pattern": "18001234567", "new_dids": ["18002223334", 18002223335]}` reads as the form
`function=copy_did&…&new_dids=18002223334,18002223335`. Values are strings or numbers; a
list is taken only where the parameter is a list of DIDs; null counts as not given.
Anything else is refused with a reason, so that a caller never has a body silently ignored.
"""

from __future__ import annotations

import json
from collections.abc import Collection

from vicidid.errors import VicididError
from vicidid.web.forms import MAX_PARAMS

NAME_SHOWN = 60


class MalformedJson(VicididError, ValueError):
    """The body is not a JSON object of parameters; the message says why."""


def _scalar(name: str, value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise MalformedJson(f"{name[:NAME_SHOWN]} must be a string or a number")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # 18001234567.0 is the number 18001234567
    return str(value)


def pairs(body: bytes, lists: Collection[str]) -> list[tuple[str, str]]:
    """(name, value) pairs of a JSON object; `lists` names the parameters that take a list."""
    try:
        data = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise MalformedJson("the body is not UTF-8") from error
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
