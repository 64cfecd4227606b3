"""A caller's text as it can be stored, logged and shown: plain functions, no I/O.

Two questions about text a request holds. Can it be kept at all? A lone surrogate (JSON's
`"\\ud800"`) is no character: no database, log or URL can hold it. A NUL, or a character
the database connection's character set lacks, cannot be in a user name, a password or a
DID that is looked up: such a request is refused before it is read as parameters
(`refused`, docs/behaviour.md#refused-text). And how is it shown? Control characters are
shown escaped (`\\x1b`, `\\n`), never obeyed: a value cannot start a line of its own in a
log row, the access log or the command line's output (`escaped`).
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable, Iterable, Mapping

from vicidid.core.outcomes import Kind, Outcome
from vicidid.fields import DID_PATTERN, PASS, SOURCE_DID, USER

# Why a text is refused; the dialects word each one.
SURROGATE = "surrogate"  # a lone surrogate: not a character
NUL = "nul"  # a NUL in a user name, password or DID
CHARSET = "charset"  # a character the connection's character set lacks

NAME_SHOWN = 60
_SURROGATES = re.compile("[\ud800-\udfff]")
# Identifiers a request looks up as the dialect reads them; the vicidial dialect filters
# them to VICIdial's characters first, which a database always holds.
IDENTIFIERS = (USER, PASS, DID_PATTERN, SOURCE_DID)


def escaped(text: str) -> str:
    """The text with every character that is not printable written as its escape.

    `\\x1b`, `\\n`, `\\u2028`, `\\ud800`: shown, never obeyed. A space stays a space;
    printable text (the common case) is returned as it is.
    """
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in text)


def has_surrogate(text: str) -> bool:
    return not text.isascii() and _SURROGATES.search(text) is not None


def holds(codec: str | None, text: str) -> bool:
    """Whether a connection with this codec can carry the text (None: any text)."""
    if codec is None or text.isascii():
        return True
    try:
        text.encode(codec)
    except UnicodeEncodeError:
        return False
    return True


def known_codec(name: str) -> str | None:
    """A Python codec's name, or None when Python has no such codec."""
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def problem(
    raw: Mapping[str, str],
    identifiers: Iterable[tuple[str, str]],
    codec: str | None,
    held: Mapping[str, Callable[[str], bool]] | None = None,
) -> tuple[str, str] | None:
    """(parameter name, why) of the first text to refuse, or None.

    `raw`: every parameter as sent; `identifiers`: (name, value) of what is looked up, as
    the dialect reads it; `codec`: the database connection's, None when it holds any text;
    `held`: by identifier, whether the column it is compared with holds all its characters.
    """
    for name, value in raw.items():
        if has_surrogate(name) or has_surrogate(value):
            return name, SURROGATE
    for name, value in identifiers:
        if has_surrogate(value):
            return name, SURROGATE
        if "\x00" in value:
            return name, NUL
        if not holds(codec, value) or (held and name in held and not held[name](value)):
            return name, CHARSET
    return None


def refused(
    raw: Mapping[str, str],
    basic: tuple[str, str] | None,
    filtering: bool,
    codec: str | None,
    held: Mapping[str, Callable[[str], bool]] | None = None,
) -> Outcome | None:
    """The answer to a request whose text cannot be stored or logged, or None.

    `basic`: HTTP Basic credentials; `filtering`: the dialect removes characters outside
    each field's set (as VICIdial), so the identifiers it looks up are always plain;
    `held`: as for `problem`.
    """
    identifiers: list[tuple[str, str]] = []
    if not filtering:
        for field in IDENTIFIERS:
            identifiers += [(name, raw[name]) for name in field.names if name in raw]
        if basic is not None:
            identifiers += [(USER.name, basic[0]), (PASS.name, basic[1])]
    found = problem(raw, identifiers, codec, held)
    if found is None:
        return None
    name, why = found
    function = raw.get("function", "")
    return Outcome(
        Kind.INVALID_TEXT,
        function="" if has_surrogate(function) else escaped(function)[:NAME_SHOWN],
        name=escaped(name)[:NAME_SHOWN],
        extra={"why": why},
    )
