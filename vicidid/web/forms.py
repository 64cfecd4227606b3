"""Reading parameters from a query string or a form body, bounded in work as PHP bounds it.

PHP (and so VICIdial) keeps the first 1,000 variables of the query string and the first
1,000 of the POST body (`max_input_vars`) and ignores the rest. vicidid does the same, and
stops reading at that point, so a body of half a million empty parameters costs no more
than one of a thousand: every step here is linear in the bytes it looks at.
"""

from __future__ import annotations

import codecs
import re
from typing import TYPE_CHECKING

import python_multipart
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import parse_options_header

if TYPE_CHECKING:  # the library declares its callbacks' shape for type checkers only
    from python_multipart.multipart import MultipartCallbacks

MAX_PARAMS = 1000
# PHP's max_file_uploads: files are never parameters, but each is a part to get through
MAX_FILES = 20
_SEPARATORS = re.compile("&*")
_ESCAPE = re.compile("%([0-9A-Fa-f]{2})")


def segments(text: str, limit: int = MAX_PARAMS) -> list[str]:
    """The first `limit` non-empty pieces of `text` between '&'s (PHP skips empty ones).

    Runs of '&' are skipped in one step each, and reading stops at the limit: the work is
    bounded by the limit, whatever the rest of the text holds.
    """
    found: list[str] = []
    pos, size = 0, len(text)
    while len(found) < limit:
        separators = _SEPARATORS.match(text, pos)
        assert separators is not None  # it matches the empty string too
        pos = separators.end()
        if pos >= size:
            break
        end = text.find("&", pos)
        end = size if end < 0 else end
        found.append(text[pos:end])
        pos = end
    return found


def percent_decode(text: str) -> str:
    """`%XX` escapes decoded; a '%' that starts no escape stands for itself, as in PHP.

    `text` holds one character per byte (read as latin-1) and so does the result. The
    standard library's decoder loops in Python once per escape; a megabyte of escapes
    must not cost a quarter of a second, so the loops here run inside C.
    """
    if "%" not in text:
        return text
    # When every '%' starts an escape, turn them into \\xXX and let the codec decode them;
    # a '%' that starts none makes the codec refuse, and the slower way below is taken.
    escaped = text.encode("latin-1").replace(b"\\", b"\\\\").replace(b"%", b"\\x")
    try:
        return codecs.escape_decode(escaped)[0].decode("latin-1")
    except ValueError:
        pass
    pieces = _ESCAPE.split(text)  # literal, hex, literal, hex, ..., literal
    pieces[1::2] = bytes.fromhex("".join(pieces[1::2])).decode("latin-1")
    return "".join(pieces)


def _text(piece: str) -> str:
    return percent_decode(piece.replace("+", " ")).encode("latin-1").decode("utf-8", "replace")


def query_pairs(text: str, limit: int = MAX_PARAMS) -> list[tuple[str, str]]:
    """The first `limit` parameters of a query string or urlencoded body, in order.

    `text` is the raw bytes read as latin-1; names and values are percent-decoded and read
    as UTF-8 (a byte that is not UTF-8 becomes U+FFFD).
    """
    pairs = []
    for piece in segments(text, limit):
        name, _, value = piece.partition("=")
        pairs.append((_text(name), _text(value)))
    return pairs


class _Enough(Exception):
    """Raised from a parser callback to stop reading: the rest would be ignored."""


def _decode(data: bytes, charset: str) -> str:
    try:
        return data.decode(charset)
    except UnicodeDecodeError:
        return data.decode("latin-1")


class _MultipartFields:
    """Callbacks for python-multipart that keep the text fields and skip file parts."""

    def __init__(self, charset: str, limit: int):
        self.charset, self.limit = charset, limit
        self.pairs: list[tuple[str, str]] = []
        self.parts = 0
        self.name: str | None = None  # None while in a part that is skipped (a file)
        self.data = bytearray()
        self.header_name = bytearray()
        self.header_value = bytearray()
        self.disposition = b""

    def callbacks(self) -> MultipartCallbacks:
        return {
            "on_part_begin": self.part_begin,
            "on_header_field": lambda d, s, e: self.header_name.extend(d[s:e]),
            "on_header_value": lambda d, s, e: self.header_value.extend(d[s:e]),
            "on_header_end": self.header_end,
            "on_headers_finished": self.headers_finished,
            "on_part_data": self.part_data,
            "on_part_end": self.part_end,
        }

    def part_begin(self) -> None:
        self.parts += 1
        if len(self.pairs) >= self.limit or self.parts > self.limit + MAX_FILES:
            raise _Enough
        self.name, self.disposition = None, b""
        self.data.clear()

    def header_end(self) -> None:
        if bytes(self.header_name).lower() == b"content-disposition":
            self.disposition = bytes(self.header_value)
        self.header_name.clear()
        self.header_value.clear()

    def headers_finished(self) -> None:
        _, options = parse_options_header(self.disposition)
        if b"name" in options and b"filename" not in options:
            self.name = _decode(options[b"name"], self.charset)

    def part_data(self, data: bytes, start: int, end: int) -> None:
        if self.name is not None:
            self.data.extend(data[start:end])

    def part_end(self) -> None:
        if self.name is not None:
            self.pairs.append((self.name, _decode(bytes(self.data), self.charset)))


def multipart_pairs(
    body: bytes, content_type: str, limit: int = MAX_PARAMS
) -> list[tuple[str, str]]:
    """The first `limit` text fields of a multipart body; files are read past, not kept.

    A body that is not valid multipart gives no parameters at all (rather than some of
    them, cut where the damage starts).
    """
    _, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if not boundary:
        return []
    charset = options.get(b"charset", b"utf-8").decode("latin-1")
    try:
        charset = codecs.lookup(charset).name
    except LookupError:
        charset = "latin-1"
    fields = _MultipartFields(charset, limit)
    try:
        parser = python_multipart.MultipartParser(boundary, fields.callbacks())
        parser.write(body)
        parser.finalize()
    except _Enough:
        pass
    except FormParserError:
        return []
    return fields.pairs


def form_pairs(body: bytes, content_type: str) -> list[tuple[str, str]]:
    """The POST parameters of a body, as PHP reads them for its Content-Type."""
    media = content_type.split(";")[0].strip().lower()
    if not body:
        return []
    if media == "multipart/form-data":
        return multipart_pairs(body, content_type)
    if media in ("application/x-www-form-urlencoded", ""):
        return query_pairs(body.decode("latin-1"))
    return []
