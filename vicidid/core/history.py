"""A DID's history, worked out from its vicidial_admin_log rows.

VICIdial's notes say only which DID changed (`did: P did_id: N`); what changed is in each
row's event_sql, the statement that was run. Reading the rows in order, the values an
ADD or an UPDATE set are known from then on, so every later change shows before -> after.
A value set before the log begins (or on a copy's source) is shown as `?`.

Lines are returned as the rows hold them; whoever shows them escapes their control
characters (core/text.py), so a value never starts a line of its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

UNKNOWN = "?"
_VALUE = r"'(?:[^'\\]|\\.)*'|NULL|-?\d+(?:\.\d+)?"
_PAIR = re.compile(rf"\s*,?\s*(\w+)\s*=\s*({_VALUE})", re.I)
_SET = re.compile(r"\bset\b", re.I)
_INSERT = re.compile(r"\(([^)]*)\)\s*values\s*\(", re.I)
_ITEM = re.compile(rf"\s*,?\s*({_VALUE})", re.I)
_SOURCE = re.compile(r"^DID Source: (\S*) ")
# How each line of a copy's log ends; a line that does not is part of the next one (an
# item that held a line break, in a row written before items were written escaped)
_ENDED = re.compile(r"(?: ADDED, did_id: \d+| ALREADY EXISTS| INVALID)\Z|\ASTOPPED: ")


@dataclass
class Event:
    when: object
    kind: str  # the row's event_type: ADD, MODIFY, COPY, DELETE
    user: str
    ip: str | None  # NULL in rows written without one
    lines: list[str] = field(default_factory=list)


def unquote(token: str) -> str | None:
    if token.upper() == "NULL":
        return None
    if token.startswith("'"):
        return re.sub(r"\\(.)", r"\1", token[1:-1])
    return token


def set_values(sql: str) -> dict[str, str | None]:
    """The column = value pairs of an UPDATE's SET clause."""
    found = _SET.search(sql or "")
    values: dict[str, str | None] = {}
    pos = found.end() if found else len(sql or "")
    while m := _PAIR.match(sql, pos):
        values[m.group(1)] = unquote(m.group(2))
        pos = m.end()
    return values


def insert_values(sql: str) -> dict[str, str | None]:
    """The columns and values of an `INSERT … (cols) values (…)`."""
    found = _INSERT.search(sql or "")
    if not found:
        return {}
    columns = [c.strip() for c in found.group(1).split(",")]
    values: list[str | None] = []
    pos = found.end()
    while len(values) < len(columns) and (m := _ITEM.match(sql, pos)):
        values.append(unquote(m.group(1)))
        pos = m.end()
    return dict(zip(columns, values, strict=False))


def _text(value: str | None) -> str:
    return "NULL" if value is None else value


def events(rows: list[dict[str, Any]], pattern: str) -> list[Event]:
    """What each row did to the DID `pattern`, with before -> after where it is known."""
    known: dict[str, str | None] = {}
    out = []
    for row in rows:
        kind = row.get("event_type") or ""
        sql, notes = row.get("event_sql") or "", row.get("event_notes") or ""
        event = Event(row.get("event_date"), kind, row.get("user") or "", row.get("ip_address"))
        if kind == "ADD":
            known = {k: v for k, v in insert_values(sql).items() if k != "did_pattern"}
            event.lines = [f"{k}: {_text(v)}" for k, v in known.items()] or ["added"]
        elif kind == "MODIFY":
            for column, new in set_values(sql).items():
                old = _text(known[column]) if column in known else UNKNOWN
                if old == _text(new):
                    event.lines.append(f"{column}: {old} (unchanged)")
                else:
                    event.lines.append(f"{column}: {old} -> {_text(new)}")
                known[column] = new
            event.lines = event.lines or ["nothing set"]
        elif kind == "DELETE":
            known = {}
            event.lines = ["deleted"]
        elif kind == "COPY":
            event.lines = _copy_lines(notes, pattern)
            if event.lines[0].startswith("copied from"):
                known = {}  # the source's values, which its own history holds
        else:
            event.lines = notes.rstrip("\n").split("\n")
        out.append(event)
    return out


def copy_log(notes: str) -> tuple[str, list[str]]:
    """A COPY row's head and its log, one entry per new DID (or the STOPPED line).

    Only a line break ends a line (not the other characters `splitlines` breaks at); a line
    that does not end as an entry does is joined to the next, so that no item of a copy
    can pass for an entry of its own.
    """
    head, *lines = notes.rstrip("\n").split("\n")
    entries: list[str] = []
    joining = False
    for line in lines:
        if joining:
            entries[-1] += "\n" + line
        else:
            entries.append(line)
        joining = not _ENDED.search(entries[-1])
    return head, entries


def _copy_lines(notes: str, pattern: str) -> list[str]:
    head, log = copy_log(notes)
    found = _SOURCE.match(head)
    source = found.group(1) if found else UNKNOWN
    if source == pattern:
        return [f"copied onto: {entry}" for entry in log] or ["copied onto nothing"]
    mine = re.compile(rf"{re.escape(pattern)} ADDED, did_id: \d+")
    return [f"copied from {source}: {entry}" for entry in log if mine.fullmatch(entry)] or [head]
