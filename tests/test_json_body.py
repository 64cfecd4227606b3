"""JSON request bodies: the same parameters as a form, and a clear line when malformed."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vicidid.web import forms, json_body

API = "/vicidial/non_agent_api.php"
LISTS = ("new_dids", "new_did_pattern")


def post_json(live, content: bytes | str, query: str = ""):
    return live.client.post(
        f"{live.url}{API}{'?' + query if query else ''}",
        content=content,
        headers={"Content-Type": "application/json"},
    )


def test_pairs_strings_numbers_lists_and_null():
    body = b'{"did_pattern": 18001234567, "list_id": 101.0, "new_dids": ["1", 2], "x": null}'
    assert json_body.pairs(body, LISTS) == [
        ("did_pattern", "18001234567"),
        ("list_id", "101"),
        ("new_dids", "1,2"),
    ]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "not valid JSON (Expecting property name enclosed in double quotes"),
        (b"[1, 2]", "the body must be one JSON object of parameters"),
        (b'{"did_active": true}', "did_active must be a string or a number"),
        (b'{"did_route": {"a": 1}}', "did_route must be a string or a number"),
        (b'{"did_route": ["AGENT"]}', "did_route takes one value, not a list"),
        (b'{"new_dids": [["1"]]}', "new_dids must be a string or a number"),
        (b'{"a": "\xff"}', "the body is not UTF-8"),
    ],
)
def test_malformed_bodies_say_why(body, reason):
    with pytest.raises(json_body.MalformedJson) as error:
        json_body.pairs(body, LISTS)
    assert str(error.value).startswith(reason)


def test_update_did_from_a_json_body(live):
    response = post_json(
        live,
        '{"function": "update_did", "user": "admin", "pass": "1234", "source": "crm",'
        ' "did_pattern": 18001234567, "did_route": "AGENT", "user_id": 1001}',
    )
    assert response.text == "SUCCESS: 18001234567 | DID Updated Successfully\n"
    row = live.did("18001234567")
    assert (row["did_route"], row["user"]) == ("AGENT", "1001")


def test_copy_did_with_a_list_and_a_json_answer(live):
    response = post_json(
        live,
        '{"function": "copy_did", "user": "admin", "pass": "1234", "source": "crm",'
        ' "did_pattern": "18001234567", "new_dids": ["18002223334", 18002223335],'
        ' "format": "json"}',
    )
    assert response.status_code == 200
    assert response.json()["counts"] == {"added": 2, "existed": 0, "invalid": 0}
    assert live.did("18002223335") is not None


def test_get_still_wins_over_a_json_body(live):
    response = post_json(
        live,
        '{"function": "update_did", "user": "admin", "pass": "1234", "source": "crm",'
        ' "did_pattern": "18001234567", "did_active": "N"}',
        query="did_active=Y",
    )
    assert response.text == "SUCCESS: 18001234567 | DID Updated Successfully\n"
    assert live.did("18001234567")["did_active"] == "Y"


def test_malformed_json_is_one_clear_line_and_changes_nothing(live):
    before = live.did("18001234567")
    logged = live.count("vicidial_api_log")
    response = post_json(live, '{"function": "update_did", "did_active": "N",')
    assert response.status_code == 400  # refused before it is read as parameters
    assert response.text.startswith("ERROR: INVALID JSON BODY | not valid JSON (")
    assert response.text.count("\n") == 1
    as_json = post_json(live, "[1]", query="format=json")
    assert as_json.status_code == 400
    assert as_json.json()["kind"] == "malformed_body"
    assert as_json.json()["message"] == (
        "ERROR: INVALID JSON BODY | the body must be one JSON object of parameters"
    )
    assert live.did("18001234567") == before
    assert live.count("vicidial_api_log") == logged


def test_a_json_password_is_never_echoed(live):
    response = post_json(live, '{"function": "update_did", "user": "admin", "pass": true}')
    assert response.text == "ERROR: INVALID JSON BODY | pass must be a string or a number\n"


def test_at_most_as_many_parameters_as_a_form():
    body = json.dumps({f"p{n}": "x" for n in range(1500)}).encode()
    found = json_body.pairs(body, ())
    assert len(found) == forms.MAX_PARAMS and found[-1] == (f"p{forms.MAX_PARAMS - 1}", "x")


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"a": ' + b"1" * 5000 + b"}", "a number longer than 100 digits"),
        (b'{"a": -' + b"1" * 100 + b"}", "a number longer than 100 digits"),
        (b'{"a": 1.' + b"5" * 5000 + b"}", "a number longer than 100 digits"),
        (b'{"a": [' + b"1" * 101 + b"]}", "a number longer than 100 digits"),
        (b"[" * 100_000 + b"]" * 100_000, "brackets nested deeper than 10"),
        (b"[" * 100_000, "brackets nested deeper than 10"),
        (b'{"a": ' * 11 + b"1" + b"}" * 11, "brackets nested deeper than 10"),
        (b"[" + b"[[]" * 11 + b"]" * 12, "brackets nested deeper than 10"),
    ],
)
def test_reading_is_bounded(body, reason):
    with pytest.raises(json_body.MalformedJson) as error:
        json_body.pairs(body, LISTS)
    assert str(error.value) == reason


def test_within_the_bounds_is_read_as_before():
    assert json_body.pairs(b'{"a": ' + b"1" * 100 + b"}", LISTS) == [("a", "1" * 100)]
    # brackets inside strings are text; ten deep is the limit, not past it
    assert json_body.pairs(b'{"a": "' + b"[" * 50 + b'"}', LISTS) == [("a", "[" * 50)]
    assert not json_body.too_deep(b"[" * 10 + b"]" * 10)
    assert json_body.too_deep(b"[" * 11 + b"]" * 11)
    assert not json_body.too_deep(b"[]" * 1000 + b'{"a": [[1, 2], {"b": "]]]]"}]}' * 100)
    assert json_body.too_deep(b"{" + b'"k\\\\": [' * 11 + b"]" * 11 + b"}")  # key ends in \\


@given(st.binary(max_size=300))
def test_any_bytes_are_pairs_or_a_reason(body):
    try:
        found = json_body.pairs(body, LISTS)
    except json_body.MalformedJson as error:
        assert str(error)
    else:
        assert all(isinstance(n, str) and isinstance(v, str) for n, v in found)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=30,
)


@given(json_values)
def test_any_json_is_pairs_or_a_reason(value):
    try:
        json_body.pairs(json.dumps(value).encode(), LISTS)
    except json_body.MalformedJson as error:
        assert str(error)
