"""Parameter merging, aliases and the dialects' character policies, without HTTP."""

from __future__ import annotations

import pytest

from vicidid import fields
from vicidid.core.params import ABSENT, BadChars, Conflict, Given, Params, merge, strip_to


def test_get_wins_over_post_and_last_repeat_wins():
    merged = merge([("a", "1"), ("a", "2")], [("a", "post"), ("b", "x"), ("b", "y")])
    assert merged == {"a": "2", "b": "y"}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"did_active": "Y"}, Given("Y", "did_active")),
        ({"active": "N"}, Given("N", "active")),
        ({"did_active": "Y", "active": "Y"}, Given("Y", "did_active")),
        ({"did_active": "Y", "active": "N"}, Conflict(("did_active", "active"))),
        ({"did_active": "", "active": "N"}, Given("N", "active")),
        ({"did_active": ""}, ABSENT),
        ({}, ABSENT),
    ],
)
def test_alias_reading(raw, expected):
    assert Params(raw, filtering=False).read(fields.DID_FIELDS[1]) == expected


def test_recording_words_are_normalised_before_comparing():
    record = next(f for f in fields.DID_FIELDS if f.key == "record_call")
    assert Params({"recording": "ALLCALLS", "record_call": "Y"}, filtering=False).read(
        record
    ) == Given("Y", "recording")
    assert Params({"recording": "NEVER", "record_call": "Y"}, filtering=False).read(
        record
    ) == Conflict(("recording", "record_call"))
    # The words belong to `recording` only: VICIdial's record_call takes Y, N, Y_QUEUESTOP.
    assert Params({"record_call": "ALLCALLS"}, filtering=False).read(record) == Given(
        "ALLCALLS", "record_call"
    )


def test_simple_refuses_characters_outside_the_set():
    got = Params({"did_pattern": "1800 123"}, filtering=False).read(fields.DID_PATTERN)
    assert got == BadChars("1800 123", "did_pattern")


def test_vicidial_removes_them_silently():
    params = Params({"did_pattern": "1800 12'3;--"}, filtering=True)
    assert params.read(fields.DID_PATTERN) == Given("1800123", "did_pattern")


def test_vicidial_value_filtered_to_nothing_is_absent():
    assert Params({"did_description": "'';;"}, filtering=True).read(fields.DID_FIELDS[0]) is ABSENT


@pytest.mark.parametrize(
    ("charset", "value", "kept"),
    [
        (fields.ALNUM, "ab-12_!", "ab12"),
        (fields.WORD, "ab-12_!", "ab-12_"),
        (fields.TEXT_CHARS, "Hello, World. <b>", "Hello, World. b"),
        (fields.DID_CHARS, "+1 (800) 555*#", "+1800555*#"),
        ("0-9", "12a3", "123"),
    ],
)
def test_strip_to(charset, value, kept):
    assert strip_to(charset, value) == kept


def test_new_dids_are_checked_item_by_item_not_as_a_whole():
    got = Params({"new_dids": "1800-abc,18002223333"}, filtering=False).read(fields.NEW_DIDS)
    assert got == Given("1800-abc,18002223333", "new_dids")


def test_shown_is_what_vicidial_would_print():
    params = Params({"source": "te st!"}, filtering=True)
    assert params.shown(fields.SOURCE) == "test"
    assert Params({"source": "te st!"}, filtering=False).shown(fields.SOURCE) == "te st!"


def test_every_field_rule_is_words():
    for field in fields.DID_FIELDS:
        assert field.rule().startswith("must be"), field.key
    route = next(f for f in fields.DID_FIELDS if f.key == "did_route")
    assert route.rule() == (
        "must be one of EXTEN, VOICEMAIL, AGENT, PHONE, IN_GROUP, CALLMENU, VMAIL_NO_INST"
    )
    assert fields.DID_FIELDS[1].rule() == "must be Y or N"


def test_bad_characters_under_a_later_name_win_over_a_conflict():
    three = fields.Field("x", ("a", "b", "c"), fields.ALNUM)
    params = Params({"a": "x", "b": "y", "c": "z!"}, filtering=False)
    assert params.read(three) == BadChars("z!", "c")
    assert Params({"a": "x", "b": "y", "c": "z"}, filtering=False).read(three) == Conflict(
        ("a", "b")
    )


def test_a_second_read_answers_the_same():
    params = Params({"did_pattern": "1800 123", "did_active": "Y"}, filtering=False)
    active = fields.DID_FIELDS[1]
    assert params.read(fields.DID_PATTERN) == BadChars("1800 123", "did_pattern")
    assert params.read(fields.DID_PATTERN) == BadChars("1800 123", "did_pattern")
    assert params.read(active) == params.read(active) == Given("Y", "did_active")


def test_reads_are_told_apart_by_field_not_by_equal_looks():
    # copy_did's `active` differs from update_did's only in the names the vicidial dialect reads
    active, copy_active = fields.DID_FIELDS[1], fields.COPY_FIELDS[1]
    assert active.key == copy_active.key == "active"
    params = Params({"active": "N"}, filtering=True, vicidial=True)
    assert params.read(active) == Given("N", "active")
    assert params.read(copy_active) is ABSENT
    assert params.read(active) == Given("N", "active")


def test_given_yields_the_given_fields_in_the_registry_order():
    raw = {"did_route": "EXTEN", "did_description": "'';;", "extension": "8300", "user": "6666"}
    given = Params(raw, filtering=True).given(fields.DID_FIELDS)
    # did_description is filtered to nothing: absent, as a read says
    assert [(f.key, got) for f, got in given] == [
        ("did_route", Given("EXTEN", "did_route")),
        ("extension", Given("8300", "extension")),
    ]


def test_given_carries_refusals_and_case_blind_values():
    raw = {"agent_search_method": "lb", "did_active": "Y", "active": "N", "extension": "8 3"}
    simple = dict(Params(raw, filtering=False).given(fields.DID_FIELDS))
    by_key = {f.key: got for f, got in simple.items()}
    assert by_key == {
        "active": Conflict(("did_active", "active")),
        "extension": BadChars("8 3", "extension"),
        "agent_search_method": Given("lb", "agent_search_method"),
    }
    vicidial = Params(raw, filtering=True, vicidial=True).given(fields.DID_FIELDS)
    assert {f.key: got for f, got in vicidial} == {
        "active": Given("N", "active"),
        "extension": Given("83", "extension"),
        "agent_search_method": Given("LB", "agent_search_method"),
    }
