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

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from vicidid.call import POLICIES
from vicidid.client import NODELAY
from vicidid.dialects import simple
from vicidid.outcomes import Kind
from vicidid.pipeline import Incoming, Pipeline
from vicidid.store import queries
from vicidid.store import tables as t

CHUNK = 1000
MAX_RANGE = 100_000
HEADER_NAMES = {"did", "did_pattern", "number", "phone", "new_did"}
SEPARATORS = re.compile(r"[\s\-().]")
VALID = re.compile(r"\+?[0-9A-Za-z:*#._]{2,50}")


class BulkError(Exception):
    """The bulk job cannot start; the message says why."""


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
    valid, summary = split_valid(numbers)
    pipeline = Pipeline(engine, POLICIES["simple"])
    for chunk in chunks(valid):
        form = copy_form(like, chunk, user, password, description, active)
        reply = pipeline.handle(Incoming(form=form, ip="127.0.0.1", path="vicidid did import"))
        final = reply.outcomes[-1]
        if final.kind is not Kind.COPY_SUMMARY:
            raise BulkError(simple.render(reply.outcomes).strip())
        for o in reply.outcomes[:-1]:
            summary.tally(o.value, o.kind.value)
        progress(len(chunk))
    return summary


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
    valid, summary = split_valid(numbers)
    endpoint = url.rstrip("/") + "/vicidial/non_agent_api.php"
    transport = httpx.HTTPTransport(socket_options=NODELAY)
    with httpx.Client(timeout=120, transport=transport) as client:
        for chunk in chunks(valid):
            form = [
                *copy_form(like, chunk, user, password, description, active),
                ("format", "json"),
            ]
            try:
                body = client.post(endpoint, data=dict(form)).json()
            except (httpx.HTTPError, ValueError) as error:
                raise BulkError(f"{url} did not answer as vicidid does: {error}") from error
            if "results" not in body:
                raise BulkError(body.get("message") or body.get("reason") or "unexpected answer")
            for item in body["results"]:
                summary.tally(item["did"], item["kind"])
            progress(len(chunk))
    return summary


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
    existing = {row["did_pattern"] for row in export_remote(url, user, password)}
    endpoint = url.rstrip("/") + "/vicidial/non_agent_api.php"
    info = httpx.get(
        endpoint,
        params={
            "function": "did_info",
            "user": user,
            "pass": password,
            "source": "vicidcli",
            "did_pattern": like,
            "format": "json",
        },
        timeout=60,
    ).json()
    if info.get("kind") != "did_info":
        raise BulkError(info.get("message") or f"no DID {like} to copy from")
    seen: set[str] = set()
    for number in valid:
        if number in existing or number in seen:
            summary.existed.append(number)
        else:
            summary.added.append(number)
            seen.add(number)
    return summary


def export_local(engine: Engine, prefix: str = "") -> tuple[list[str], list[dict]]:
    columns = [c["name"] for c in sa.inspect(engine).get_columns(t.inbound_dids.name)]
    dids = queries.did_table(columns)
    stmt = sa.select(dids).order_by(dids.c.did_pattern)
    if prefix:
        stmt = stmt.where(dids.c.did_pattern.startswith(prefix, autoescape=True))
    with engine.connect() as conn:
        return columns, [dict(r) for r in conn.execute(stmt).mappings()]


def export_remote(url: str, user: str, password: str, prefix: str = "") -> list[dict]:
    endpoint = url.rstrip("/") + "/vicidial/non_agent_api.php"
    rows: list[dict] = []
    with httpx.Client(timeout=60) as client:
        while True:
            params = {
                "function": "did_list",
                "user": user,
                "pass": password,
                "source": "vicidcli",
                "format": "json",
                "limit": 1000,
                "offset": len(rows),
            }
            if prefix:
                params["prefix"] = prefix
            body = client.get(endpoint, params=params).json()
            if "rows" not in body:
                raise BulkError(body.get("message") or "unexpected answer")
            rows += body["rows"]
            if len(body["rows"]) < 1000:
                return rows


def write_csv(out, columns: list[str], rows: list[dict]) -> None:
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
