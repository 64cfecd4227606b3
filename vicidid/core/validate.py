"""Checking parameter values against the registry: plain functions, first failure wins."""

from __future__ import annotations

import re

from vicidid.core.call import Call
from vicidid.core.outcomes import Extra, Kind, Outcome
from vicidid.core.params import Absent, BadChars, Conflict, Given
from vicidid.fields import Field
from vicidid.store.statements import queries

DIGITS = re.compile(r"[0-9]+")


def vicidial_problem(field: Field, value: str) -> bool:
    """True when a value fails the check VICIdial itself makes: its choices, or its length."""
    if field.choices and field.vicidial_checks_choices:
        return value not in field.choices
    return not field.min_len <= len(value) <= field.max_len


def own_problem(field: Field, value: str) -> bool:
    """True when a value VICIdial would take breaks vicidid's stricter rule for its column:
    choices VICIdial does not check (it stores '' there), digits for a number column."""
    if field.choices and not field.vicidial_checks_choices:
        return value not in field.choices
    return field.digits and not DIGITS.fullmatch(value)


def value_problem(field: Field, value: str) -> bool:
    """True when a value breaks the field's length, choices or digits rule."""
    return vicidial_problem(field, value) or own_problem(field, value)


def refusal(
    call: Call,
    field: Field,
    got: Given | BadChars | Conflict,
    extra: Extra,
    *,
    stricter: bool = True,
) -> Outcome | None:
    """Why a given value is refused (conflicting aliases, characters, length, choices), if it is.

    `stricter=False` leaves out vicidid's own checks (`own_problem`), for a caller that
    makes them after every field has had VICIdial's.
    """
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
    if field.itemised:
        return None
    problem = value_problem if stricter else vicidial_problem
    if problem(field, got.value):
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
    """The column changes the given fields ask for, or the first error.

    VICIdial's own checks come first, field by field in its order, so that a request
    VICIdial refuses gets the line VICIdial prints; a value VICIdial would take but store
    as '' or 0 is then refused by vicidid's stricter checks, in the same order
    (docs/behaviour.md#order-of-checks).
    """
    changes: dict[str, str] = {}
    given: list[tuple[Field, Given]] = []
    for field, got in call.params.given(fields):
        error = refusal(call, field, got, {}, stricter=False)
        if error:
            return {}, error
        assert isinstance(got, Given)
        if field.ref and not queries.ref_exists(call.conn, field.ref, got.value):
            return {}, call.outcome(
                Kind.UNKNOWN_REFERENCE, field=field, name=got.name, value=got.value
            )
        given.append((field, got))
        changes[field.column or field.key] = got.value
    for field, got in given:
        if own_problem(field, got.value):
            return {}, call.outcome(
                Kind.INVALID_FIELD, field=field, name=got.name, value=got.value, extra={}
            )
    return changes, None
