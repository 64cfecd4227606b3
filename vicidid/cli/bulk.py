"""Bulk provisioning: clone one DID onto many numbers, from a CSV file or a range.

Locally the copies go through the same pipeline as the API (so the same permission
checks and the same audit rows, one copy_did per chunk); with a URL they go through the
API itself.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import ParamSpec, TextIO, TypeVar

import httpx
from sqlalchemy.engine import Engine

from vicidid.client.api import Client, CopyResult, DidPage
from vicidid.core.call import POLICIES
from vicidid.core.dialects import simple
from vicidid.core.outcomes import Kind
from vicidid.core.pipeline import Incoming, Pipeline
from vicidid.errors import ApiError, BulkError
from vicidid.rows import DidRow
from vicidid.store import reflect
from vicidid.store.statements import admin_queries, queries

P = ParamSpec("P")
T = TypeVar("T")

CHUNK = 1000
PAGE = 1000
# How a server without a function says so: VICIdial, and vicidid without the extension.
NOT_THERE = ("NO FUNCTION SPECIFIED", "UNKNOWN FUNCTION")
MAX_RANGE = 100_000
HEADER_NAMES = {"did", "did_pattern", "number", "phone", "new_did"}
SEPARATORS = re.compile(r"[\s\-().]")
VALID = re.compile(r"\+?[0-9A-Za-z:*#._]{2,50}")


@dataclass
class Summary:
    added: list[str] = field(default_factory=list)
    existed: list[str] = field(default_factory=list)
    invalid: list[tuple[str, str]] = field(default_factory=list)  # (item, reason)

    def tally(self, did: str, kind: str) -> None:
        """Count one new DID's outcome (an outcome kind's value, as in the JSON `results`)."""
        if kind == Kind.COPIED.value:
            self.added.append(did)
        elif kind == Kind.COPY_EXISTS.value:
            self.existed.append(did)
        else:
            self.invalid.append((did, "not a valid DID"))


def normalise(number: str) -> str:
    """'(800) 222-3300' -> '8002223300'; a leading + is kept."""
    return SEPARATORS.sub("", number.strip())


def read_numbers(path: Path) -> list[str]:
    """The numbers of a CSV: its first column, or the column named did/number/…"""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise BulkError(f"cannot read {path}: {error}") from error
    rows = [r for r in csv.reader(text.splitlines()) if any(c.strip() for c in r)]
    if not rows:
        return []
    column = 0
    header = [c.strip().lower() for c in rows[0]]
    named = [i for i, c in enumerate(header) if c in HEADER_NAMES]
    if named:
        column, rows = named[0], rows[1:]
    elif not VALID.fullmatch(normalise(rows[0][0])):
        rows = rows[1:]  # a header row with other names
    return [normalise(r[column]) if column < len(r) else "" for r in rows]


def expand_range(text: str) -> list[str]:
    """'18002223300-18002223399' -> the 100 numbers, both ends included."""
    first, sep, last = text.partition("-")
    if not sep or not first.isdigit() or not last.isdigit():
        raise BulkError("a range is FIRST-LAST, both numbers, e.g. 18002223300-18002223399")
    if len(first) != len(last):
        raise BulkError("both ends of a range must have the same number of digits")
    low, high = int(first), int(last)
    if high < low:
        raise BulkError("the range ends before it starts")
    if high - low + 1 > MAX_RANGE:
        raise BulkError(f"a range holds at most {MAX_RANGE:,} numbers")
    return [str(n).zfill(len(first)) for n in range(low, high + 1)]


def chunks(items: list[str], size: int = CHUNK) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def split_valid(numbers: Iterable[str]) -> tuple[list[str], Summary]:
    summary = Summary()
    valid = []
    for number in numbers:
        if VALID.fullmatch(number):
            valid.append(number)
        else:
            summary.invalid.append((number, "must be 2 to 50 digits or letters"))
    return valid, summary


def copy_form(
    like: str,
    numbers: list[str],
    user: str,
    password: str,
    description: str | None,
    active: str | None,
) -> list[tuple[str, str]]:
    form = [
        ("function", "copy_did"),
        ("user", user),
        ("pass", password),
        ("source", "vicidcli"),
        ("source_did_pattern", like),
        ("new_dids", ",".join(numbers)),
    ]
    if description:
        form.append(("did_description", description))
    if active:
        form.append(("did_active", active))
    return form


def run_local(
    engine: Engine,
    like: str,
    numbers: list[str],
    user: str,
    password: str,
    *,
    description: str | None = None,
    active: str | None = None,
    progress: Callable[[int], None] = lambda n: None,
) -> Summary:
    pipeline = Pipeline(engine, POLICIES["simple"])

    def copy(chunk: list[str]) -> list[tuple[str, str]]:
        form = copy_form(like, chunk, user, password, description, active)
        reply = pipeline.handle(Incoming(form=form, ip="127.0.0.1", path="vicidid did import"))
        final = reply.outcomes[-1]
        if final.kind is not Kind.COPY_SUMMARY:
            raise BulkError(simple.render(reply.outcomes).strip())
        return [(o.value, o.kind.value) for o in reply.outcomes[:-1]]

    return copy_in_chunks(numbers, copy, progress)


def run_remote(
    url: str,
    like: str,
    numbers: list[str],
    user: str,
    password: str,
    *,
    description: str | None = None,
    active: str | None = None,
    progress: Callable[[int], None] = lambda n: None,
) -> Summary:
    """copy_did through a server's API: vicidid's or a real VICIdial's (read as text)."""
    with _client(url, user, password) as api:

        def copy(chunk: list[str]) -> list[tuple[str, str]]:
            result = _remote(
                url, api.copy_did, like, chunk, did_description=description, did_active=active
            )
            if not isinstance(result, CopyResult):
                raise BulkError(f"{url} answered: {result.message.strip()}")
            return [(item.did, item.kind) for item in result.items]

        return copy_in_chunks(numbers, copy, progress)


def copy_in_chunks(
    numbers: list[str],
    copy: Callable[[list[str]], list[tuple[str, str]]],
    progress: Callable[[int], None],
) -> Summary:
    """The numbers checked, then copied a chunk at a time by `copy`, which gives each new
    DID's result (DID, kind); run_local and run_remote differ only in their `copy`."""
    valid, summary = split_valid(numbers)
    for chunk in chunks(valid):
        for did, kind in copy(chunk):
            summary.tally(did, kind)
        progress(len(chunk))
    return summary


def _client(url: str, user: str, password: str) -> Client:
    # credentials travel in the POST body: never in a URL, and VICIdial knows no Basic auth
    return Client(url, user, password, source="vicidcli", timeout=120)


def _remote(url: str, call: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """One API call; any failure becomes a BulkError that says what the server answered."""
    try:
        return call(*args, **kwargs)
    except ApiError as error:
        answered = error.line.strip() or error.reason
        if error.kind == "invalid_input" and any(w in answered for w in NOT_THERE):
            name = getattr(call, "__name__", "this function")
            raise BulkError(
                f"{url} has no {name} (a VICIdial's own non_agent_api.php?): this needs a "
                f"vicidid server; it answered: {answered}"
            ) from error
        raise BulkError(f"{url} answered: {answered}") from error
    except (httpx.HTTPError, ValueError, KeyError) as error:
        raise BulkError(f"{url} could not be used: {type(error).__name__}: {error}") from error


def dry_run(engine: Engine, like: str, numbers: list[str]) -> Summary:
    """What an import would do, read-only."""
    valid, summary = split_valid(numbers)
    with engine.connect() as conn:
        if queries.did_by_pattern(conn, queries.did_table(["did_pattern"]), like) is None:
            raise BulkError(f"no DID {like} to copy from")
        seen: set[str] = set()
        for chunk in chunks(valid):
            existing = queries.existing_patterns(conn, chunk)
            for number in chunk:
                if number in existing or number in seen:
                    summary.existed.append(number)
                else:
                    summary.added.append(number)
                    seen.add(number)
    return summary


def dry_run_remote(url: str, like: str, numbers: list[str], user: str, password: str) -> Summary:
    """Read-only through the API: did_info for the source, did_list pages for the rest."""
    valid, summary = split_valid(numbers)
    with _client(url, user, password) as api:
        _remote(url, api.did_info, like)
    existing = {row["did_pattern"] for row in export_remote(url, user, password)}
    seen: set[str] = set()
    for number in valid:
        if number in existing or number in seen:
            summary.existed.append(number)
        else:
            summary.added.append(number)
            seen.add(number)
    return summary


def export_local(engine: Engine, prefix: str = "") -> tuple[list[str], list[DidRow]]:
    dids = reflect.did_table(engine)
    with engine.connect() as conn:
        return reflect.did_columns(engine), admin_queries.dids_by_prefix(conn, dids, prefix)


def export_remote(url: str, user: str, password: str, prefix: str = "") -> list[DidRow]:
    rows: list[DidRow] = []
    filters = {"prefix": prefix} if prefix else {}
    with _client(url, user, password) as api:
        while True:
            page = _remote(url, api.did_list, limit=PAGE, offset=len(rows), **filters)
            if not isinstance(page, DidPage):
                raise BulkError(f"{url} answered: {page.message.strip()}")
            rows += page.rows
            if len(page.rows) < PAGE:
                return rows


def write_csv(out: TextIO, columns: list[str], rows: list[DidRow]) -> None:
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
