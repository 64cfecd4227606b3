"""Checking parameter values against the registry: plain functions, first failure wins."""

from __future__ import annotations

import re

from vicidid.core.call import Call
from vicidid.core.fields import Field
from vicidid.core.outcomes import Extra, Kind, Outcome
from vicidid.core.params import Absent, BadChars, Conflict, Given
from vicidid.store import queries

DIGITS = re.compile(r"[0-9]+")


def value_problem(field: Field, value: str) -> bool:
    """True when a value breaks the field's length, choices or digits rule."""
    if field.choices:
        return value not in field.choices
    if not field.min_len <= len(value) <= field.max_len:
        return True
    return field.digits and not DIGITS.fullmatch(value)


def refusal(
    call: Call, field: Field, got: Given | BadChars | Conflict, extra: Extra
) -> Outcome | None:
    """Why a given value is refused (conflicting aliases, characters, length, choices), if it is."""
    if isinstance(got, Conflict):
        return call.outcome(
            Kind.CONFLICTING_VALUES, field=field, name=got.names[0], extra={"other": got.names[1]}
        )
    if isinstance(got, BadChars):
        return call.outcome(
            Kind.INVALID_FIELD,
            field=field,
            name=got.name,
            value=got.value,
            extra={**extra, "chars": True},
        )
    if not field.itemised and value_problem(field, got.value):
        return call.outcome(
            Kind.INVALID_FIELD, field=field, name=got.name, value=got.value, extra=extra
        )
    return None


def read_required(call: Call, field: Field, data: str) -> tuple[str, Outcome | None]:
    """A required parameter's value, or the outcome that stops the request.

    `data` is what VICIdial prints after the user in its "required fields" line.
    """
    got = call.params.read(field)
    extra: Extra = {"required": True, "data": data}
    if isinstance(got, Absent):
        return "", call.outcome(Kind.MISSING_FIELD, field=field, extra=extra)
    error = refusal(call, field, got, extra)
    if error:
        return "", error
    assert isinstance(got, Given)  # refusal() refuses every other kind of value
    return got.value, None


def check_fields(call: Call, fields: tuple[Field, ...]) -> tuple[dict[str, str], Outcome | None]:
    """The column changes the given fields ask for, in VICIdial's order, or the first error."""
    changes: dict[str, str] = {}
    for field, got in call.params.given(fields):
        error = refusal(call, field, got, {})
        if error:
            return {}, error
        assert isinstance(got, Given)
        if field.ref and not queries.ref_exists(call.conn, field.ref, got.value):
            return {}, call.outcome(
                Kind.UNKNOWN_REFERENCE, field=field, name=got.name, value=got.value
            )
        changes[field.column or field.key] = got.value
    return changes, None
