"""Turning a request's raw parameters into values, with PHP's rules and the dialect's policy.

PHP's rules: a GET parameter wins over a POST one of the same name, and when a name
repeats the last value wins. The policy differs per dialect: `vicidial` silently removes
characters outside a field's set, as VICIdial does; `simple` keeps them so that
validation can refuse the value with a clear line. `vicidial` also reads each parameter
only under the names VICIdial reads (the registry says which), and takes ENUM values in
any case, as VICIdial's database does.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache

from vicidid.fields import Field


@dataclass(frozen=True)
class Absent:
    """The parameter was not given, or given empty."""


@dataclass(frozen=True)
class Given:
    value: str
    name: str  # the name the caller used


@dataclass(frozen=True)
class BadChars:
    value: str
    name: str


@dataclass(frozen=True)
class Conflict:
    names: tuple[str, str]


Read = Absent | Given | BadChars | Conflict
ABSENT = Absent()


def merge(query: Iterable[tuple[str, str]], form: Iterable[tuple[str, str]]) -> dict[str, str]:
    """One mapping from the query and the form: last repeat wins, GET wins over POST."""
    merged = dict(form)
    merged.update(dict(query))
    return merged


@cache
def _outside(charset: str) -> re.Pattern[str]:
    return re.compile(f"[^{charset}]")


def strip_to(charset: str, value: str) -> str:
    return _outside(charset).sub("", value)


class Params:
    """The request's parameters, read through the registry with one dialect's policy."""

    def __init__(self, raw: dict[str, str], *, filtering: bool, vicidial: bool = False) -> None:
        self.raw = raw
        self.filtering = filtering
        self.vicidial = vicidial
        # Each given field's read (raw is never changed), by the field's id: a Field's own
        # hash walks all its attributes. The entry keeps the field, so the id stays its own.
        self._reads: dict[int, tuple[Field, Read]] = {}

    def _case(self, field: Field, value: str) -> str:
        if self.vicidial and field.case_blind and value.upper() in field.choices:
            return value.upper()
        return value

    def read(self, field: Field) -> Read:
        names = field.read_names[self.vicidial]
        if self.raw.keys().isdisjoint(names):
            return ABSENT  # the common case: most fields are not given
        known = self._reads.get(id(field))
        if known is not None and known[0] is field:
            return known[1]
        got = self._read_given(field, names)
        self._reads[id(field)] = (field, got)
        return got

    def _read_given(self, field: Field, names: tuple[str, ...]) -> Read:
        first: Given | None = None
        conflict: Conflict | None = None  # reported only if no later name has bad characters
        for name in names:
            value = self.raw.get(name, "")
            if self.filtering:
                value = strip_to(field.charset, value)
            elif value and not field.itemised and _outside(field.charset).search(value):
                return BadChars(value, name)
            if not value:
                continue
            value = self._case(field, field.normalise(value, name))
            if first is None:
                first = Given(value, name)
            elif conflict is None and value != first.value:
                conflict = Conflict((first.name, name))
        return conflict or first or ABSENT

    def given(self, fields: Iterable[Field]) -> Iterator[tuple[Field, Given | BadChars | Conflict]]:
        """The fields the request gives a value, in order, each with its read."""
        keys = self.raw.keys()
        for field in fields:
            if keys.isdisjoint(field.read_names[self.vicidial]):
                continue  # most of a function's fields are not given: no read for them
            got = self.read(field)
            if not isinstance(got, Absent):
                yield field, got

    def shown(self, field: Field) -> str:
        """The value as VICIdial would print it back: filtered in its dialect, else as sent."""
        for name in field.names_read(self.vicidial):
            value = self.raw.get(name, "")
            if self.filtering:
                value = strip_to(field.charset, value)
            if value:
                return value
        return ""

    def text(self, field: Field) -> str:
        """A value where only presence matters to the caller (user, source, function)."""
        got = self.read(field)
        return got.value if isinstance(got, Given | BadChars) else ""
