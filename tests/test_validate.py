"""Checking values in VICIdial's order: its own checks first, vicidid's stricter ones after."""

from __future__ import annotations

import pytest

from tests import test_functions
from vicidid.core.call import POLICIES
from vicidid.core.dialects import vicidial
from vicidid.core.outcomes import Kind
from vicidid.core.pipeline import Incoming, Pipeline
from vicidid.core.validate import own_problem, value_problem, vicidial_problem
from vicidid.fields import DID_FIELDS

FIELDS = {f.key: f for f in DID_FIELDS}
ASM, LIST_ID = FIELDS["agent_search_method"], FIELDS["list_id"]
AUTH = [("user", "6666"), ("pass", "1234"), ("source", "unit"), ("did_pattern", "18001234567")]

engine = test_functions.engine  # the demo data with plain passwords (a fixture)


@pytest.mark.parametrize(
    ("key", "value", "vicidial", "own"),
    [
        ("agent_search_method", "XX", False, True),  # VICIdial checks the length only
        ("agent_search_method", "XXX", True, True),
        ("agent_search_method", "LB", False, False),
        ("list_id", "abc", False, True),  # VICIdial takes it and stores 0
        ("list_id", "111111111111111", True, False),
        ("list_id", "123", False, False),
        ("did_route", "BOGUS", True, False),  # VICIdial checks the routes itself
        ("active", "X", True, False),
    ],
)
def test_vicidials_check_and_vicidids_own(key, value, vicidial, own):
    field = FIELDS[key]
    assert vicidial_problem(field, value) is vicidial
    assert own_problem(field, value) is own
    assert value_problem(field, value) is (vicidial or own)


def refused_field(engine, dialect: str, **fields: str) -> str:
    pipeline = Pipeline(engine, POLICIES[dialect])
    reply = pipeline.handle(Incoming(query=[("function", "update_did"), *AUTH, *fields.items()]))
    [outcome] = reply.outcomes
    assert outcome.kind is Kind.INVALID_FIELD
    assert outcome.field is not None
    return outcome.field.key


@pytest.mark.parametrize("dialect", ["simple", "vicidial"])
def test_a_list_id_vicidial_refuses_comes_before_a_search_method_only_vicidid_refuses(
    engine, dialect
):
    # VICIdial takes XX (two characters) and answers the list_id line
    assert refused_field(engine, dialect, list_id="111111111111111", agent_search_method="XX") == (
        "list_id"
    )
    # a search method VICIdial refuses itself still comes first, in its own order
    assert refused_field(engine, dialect, list_id="111111111111111", agent_search_method="XXX") == (
        "agent_search_method"
    )
    # alone, XX is refused all the same: VICIdial would store '' in its ENUM
    assert refused_field(engine, dialect, agent_search_method="XX") == "agent_search_method"


@pytest.mark.parametrize("dialect", ["simple", "vicidial"])
def test_vicidids_own_checks_keep_the_fields_order_among_themselves(engine, dialect):
    assert refused_field(engine, dialect, agent_search_method="XX", list_id="abc") == (
        "agent_search_method"
    )
    assert refused_field(engine, dialect, list_id="abc", phone_code="44444444444") == "phone_code"


def test_the_vicidial_line_is_vicidials(engine):
    pipeline = Pipeline(engine, POLICIES["vicidial"])
    reply = pipeline.handle(
        Incoming(
            query=[
                ("function", "update_did"),
                *AUTH,
                ("list_id", "111111111111111"),
                ("agent_search_method", "XX"),
            ]
        )
    )
    assert vicidial.render(reply.outcomes) == (
        "ERROR: update_did LIST ID MUST BE FROM 3 TO 14 DIGITS, THIS IS AN OPTIONAL FIELD: "
        "|6666|111111111111111\n"
    )
