"""A caller's text: refused at the edge when nothing can keep it, shown escaped, never obeyed."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vicidid.core import text
from vicidid.core.dialects import simple, vicidial
from vicidid.core.outcomes import Kind
from vicidid.store.sizes import Room

BASE = {"function": "update_did", "user": "admin", "pass": "1234", "did_pattern": "18001234567"}


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("plain text", "plain text"),
        ("a\x1b[31mred", "a\\x1b[31mred"),
        ("bell\x07", "bell\\x07"),
        ("two\nlines\r", "two\\nlines\\r"),
        ("tab\there", "tab\\there"),
        ("nul\x00", "nul\\x00"),
        ("sep\u2028arator", "sep\\u2028arator"),
        ("lone\ud800", "lone\\ud800"),
        ("café ✓ 😀", "café ✓ 😀"),
    ],
)
def test_escaped_shows_control_characters_as_escapes(raw, shown):
    assert text.escaped(raw) == shown


@given(st.text())
def test_escaped_is_one_printable_line_that_any_stream_can_write(value):
    shown = text.escaped(value)
    assert shown.isprintable()
    assert len(shown.splitlines()) <= 1
    shown.encode("utf-8")  # no surrogate left


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ({**BASE, "x": "a\ud800"}, (("x", text.SURROGATE))),
        ({**BASE, "x\udfff": "1"}, (("x\udfff", text.SURROGATE))),
        ({**BASE, "did_description": "abc\udc80def"}, ("did_description", text.SURROGATE)),
        ({**BASE, "user": "ad\x00min"}, ("user", text.NUL)),
        ({**BASE, "pass": "12\x0034"}, ("pass", text.NUL)),
        ({**BASE, "did_pattern": "1800\x00"}, ("did_pattern", text.NUL)),
        ({**BASE, "source_did_pattern": "1800\x00"}, ("source_did_pattern", text.NUL)),
    ],
)
def test_what_nothing_can_keep_is_refused_in_the_simple_dialect(raw, why):
    refused = text.refused(raw, None, filtering=False, codec=None)
    assert refused is not None and refused.kind is Kind.INVALID_TEXT
    assert (refused.extra["why"], refused.name) == (why[1], text.escaped(why[0]))


def test_the_vicidial_dialect_refuses_only_surrogates_as_it_filters_the_rest():
    # VICIdial removes the NUL and the emoji from user and pass itself: nothing to refuse
    raw = {**BASE, "user": "ad\x00min😀", "pass": "12\x0034", "did_pattern": "1800😀"}
    assert text.refused(raw, ("a\x00", "b😀"), filtering=True, codec="latin-1") is None
    refused = text.refused({**raw, "x": "\ud800"}, None, filtering=True, codec=None)
    assert refused is not None and refused.extra["why"] == text.SURROGATE


@pytest.mark.parametrize("codec", ["cp1252", "gbk", "shift_jis"])
def test_a_character_the_connection_lacks_is_refused_in_an_identifier_only(codec):
    emoji = "\U0001f600"
    for name in ("user", "pass", "did_pattern"):
        refused = text.refused({**BASE, name: "ab" + emoji}, None, False, codec)
        assert refused is not None
        assert (refused.extra["why"], refused.name) == (text.CHARSET, name)
    # a value VICIdial's columns hold is cut and filtered as before, not refused here
    assert text.refused({**BASE, "did_description": emoji}, None, False, codec) is None
    # what the character set has is fine (gbk has 中, latin1 has é)
    fine = "é" if codec == "cp1252" else "中"
    assert text.refused({**BASE, "user": fine}, None, False, codec) is None
    assert text.refused({**BASE, "user": emoji}, None, False, None) is None  # utf8mb4


def test_a_user_name_its_column_lacks_a_character_of_is_refused():
    # a latin1 column behind a utf8mb4 connection: MariaDB refuses to compare the two
    latin1 = Room(20, codec="cp1252", widest=1)
    held = {"user": latin1.carries}
    for name in ("\x80", "ad\U0001f600"):
        refused = text.refused({**BASE, "user": name}, None, False, None, held)
        assert refused is not None and (refused.extra["why"], refused.name) == (
            text.CHARSET,
            "user",
        )
        refused = text.refused(BASE, (name, "1234"), False, None, held)  # HTTP Basic
        assert refused is not None and refused.name == "user"
    assert text.refused({**BASE, "user": "é€"}, None, False, None, held) is None
    # the column of a user name only: passwords and DIDs are compared otherwise
    assert text.refused({**BASE, "pass": "\x80"}, None, False, None, held) is None
    # utf8mb3 lacks what lies beyond U+FFFF
    utf8mb3 = {"user": Room(20, codec="utf-8", widest=3, bmp_only=True).carries}
    assert text.refused({**BASE, "user": "ad\U0001f600"}, None, False, None, utf8mb3)
    assert text.refused({**BASE, "user": "中"}, None, False, None, utf8mb3) is None


def test_basic_credentials_are_identifiers_too():
    assert text.refused(BASE, ("admin", "12\x0034"), False, None) is not None
    refused = text.refused(BASE, ("ad\U0001f600", "1234"), False, "gbk")
    assert refused is not None and refused.name == "user"
    assert text.refused(BASE, ("admin", "1234"), False, "gbk") is None


def test_the_refusal_names_the_parameter_never_the_value():
    raw = {**BASE, "pass": "s3cret\x00", "function": "update\x1bdid"}
    refused = text.refused(raw, None, False, None)
    assert refused is not None
    line = simple.render([refused])
    assert line == "ERROR: INVALID TEXT | pass holds a NUL character\n"
    assert "s3cret" not in line
    assert vicidial.render([refused]) == "ERROR: INVALID TEXT, NUL CHARACTER: ||pass\n"
    assert refused.function == "update\\x1bdid"


def test_a_hostile_name_is_shown_escaped_and_short():
    raw = {**BASE, "\n" * 100 + "\ud800": "1"}
    refused = text.refused(raw, None, False, None)
    assert refused is not None
    line = simple.render([refused])
    assert line.count("\n") == 1 and line.isascii()
    assert len(refused.name) == text.NAME_SHOWN


@given(
    st.dictionaries(st.text(max_size=8), st.text(max_size=20), max_size=6),
    st.one_of(st.none(), st.tuples(st.text(max_size=8), st.text(max_size=8))),
    st.booleans(),
    st.sampled_from([None, "cp1252", "gbk", "shift_jis", "ascii"]),
)
def test_whatever_is_not_refused_can_be_carried_and_whatever_is_refused_renders(
    raw, basic, filtering, codec
):
    refused = text.refused(raw, basic, filtering, codec)
    if refused is None:
        for name, value in raw.items():  # every name and value is text UTF-8 can carry
            (name + value).encode("utf-8")
    else:
        for render in (simple.render, vicidial.render):
            line = render([refused])
            assert line.endswith("\n") and line.count("\n") == 1
            line.encode("utf-8")
