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
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from vicidid.core.fields import Field


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

    def _names(self, field: Field) -> tuple[str, ...]:
        return field.names_read(self.vicidial)

    def _case(self, field: Field, value: str) -> str:
        if self.vicidial and field.case_blind and value.upper() in field.choices:
            return value.upper()
        return value

    def read(self, field: Field) -> Read:
        names = self._names(field)
        if self.raw.keys().isdisjoint(names):
            return ABSENT  # the common case: most fields are not given
        found: list[Given] = []
        for name in names:
            value = self.raw.get(name, "")
            if self.filtering:
                value = strip_to(field.charset, value)
            elif value and not field.itemised and _outside(field.charset).search(value):
                return BadChars(value, name)
            if value:
                found.append(Given(self._case(field, field.normalise(value, name)), name))
        if not found:
            return ABSENT
        first = found[0]
        for other in found[1:]:
            if other.value != first.value:
                return Conflict((first.name, other.name))
        return first

    def shown(self, field: Field) -> str:
        """The value as VICIdial would print it back: filtered in its dialect, else as sent."""
        for name in self._names(field):
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
