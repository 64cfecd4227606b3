"""Where the dialects differ in policy: names read, copy checks, echoes, ENUM case.

Through the pipeline on a real SQLite file (the demo data), without HTTP.
"""

from __future__ import annotations

import pytest

from tests.test_functions import admin_rows, call, did, engine  # noqa: F401 (fixture)
from vicidid import fields
from vicidid.core.dialects import simple, vicidial
from vicidid.core.outcomes import Kind, Outcome
from vicidid.core.params import ABSENT, Given, Params

ACTIVE = next(f for f in fields.DID_FIELDS if f.key == "active")
COPY_ACTIVE = next(f for f in fields.COPY_FIELDS if f.key == "active")
USER_ID = next(f for f in fields.DID_FIELDS if f.key == "user_id")
SEARCH = next(f for f in fields.DID_FIELDS if f.key == "agent_search_method")


@pytest.mark.parametrize(
    ("field", "raw", "vicidial_reads"),
    [
        (ACTIVE, {"did_active": "N"}, ABSENT),
        (ACTIVE, {"active": "N"}, Given("N", "active")),
        (COPY_ACTIVE, {"active": "N"}, ABSENT),  # VICIdial's copy never reads it
        (USER_ID, {"user_id": "1001"}, ABSENT),
        (fields.SOURCE_DID, {"did_pattern": "18001234567"}, ABSENT),
        (fields.NEW_DIDS, {"new_did_pattern": "18001234568"}, ABSENT),
        (fields.NEW_DIDS, {"new_dids": "18001234568"}, Given("18001234568", "new_dids")),
    ],
)
def test_vicidial_reads_only_vicidials_names_simple_reads_both(field, raw, vicidial_reads):
    assert Params(raw, filtering=True, vicidial=True).read(field) == vicidial_reads
    ((name, value),) = raw.items()
    assert Params(raw, filtering=False).read(field) == Given(value, name)


def test_enum_values_any_case_in_vicidial_only():
    assert Params({"agent_search_method": "sO"}, filtering=True, vicidial=True).read(
        SEARCH
    ) == Given("SO", "agent_search_method")
    # a value outside the ENUM keeps its case, for the echo
    assert Params({"agent_search_method": "lox"}, filtering=True, vicidial=True).read(
        SEARCH
    ) == Given("lox", "agent_search_method")
    assert Params({"agent_search_method": "so"}, filtering=False).read(SEARCH) == Given(
        "so", "agent_search_method"
    )


def test_vicidial_name_for_clients():
    assert fields.vicidial_name("did_active", "N") == ("active", "N")
    assert fields.vicidial_name("recording", "ALLCALLS") == ("record_call", "Y")
    assert fields.vicidial_name("group_id", "SALES") == ("group", "SALES")
    assert fields.vicidial_name("user_id", "1001") == ("user_id", "1001")
    assert fields.vicidial_name("active", "Y") == ("active", "Y")


def test_update_ignores_tutorial_names_in_vicidial(engine):  # noqa: F811
    reply = call(
        engine,
        "vicidial",
        function="update_did",
        did_pattern="18001234567",
        did_active="N",
        group_id="NOPE",
        user_id="9999",
        recording="NEVER",
    )
    assert reply.kinds == [Kind.NO_UPDATES]
    assert did(engine, "18001234567")["did_active"] == "Y"
    reply = call(engine, "simple", function="update_did", did_pattern="18001234567", did_active="N")
    assert reply.kinds == [Kind.UPDATED]
    assert did(engine, "18001234567")["did_active"] == "N"


def test_copy_description_checked_first_in_simple_in_the_loop_in_vicidial(engine):  # noqa: F811
    args = {"function": "copy_did", "source_did_pattern": "18001234567", "did_description": "abc"}
    # every DID exists: VICIdial never meets the check
    reply = call(engine, "vicidial", new_dids="18001234567", **args)
    assert reply.kinds == [Kind.COPY_EXISTS, Kind.COPY_SUMMARY]
    assert [r["event_type"] for r in admin_rows(engine)] == ["COPY"]
    assert "Inserts: 0 Insert Errors: 1" in admin_rows(engine)[0]["event_notes"]
    # the first new DID meets it: nothing inserted, no COPY row
    reply = call(engine, "vicidial", new_dids="18001234567,18005550001", **args)
    assert reply.kinds == [Kind.COPY_EXISTS, Kind.INVALID_FIELD]
    assert did(engine, "18005550001") is None and len(admin_rows(engine)) == 1
    # simple: the check comes first
    reply = call(engine, "simple", new_dids="18001234567", **args)
    assert reply.kinds == [Kind.INVALID_FIELD]


def test_copy_row_written_when_nothing_is_inserted_in_simple_too(engine):  # noqa: F811
    reply = call(
        engine,
        "simple",
        function="copy_did",
        did_pattern="18001234567",
        new_did_pattern="18001234567",
    )
    assert reply.kinds == [Kind.COPY_EXISTS, Kind.COPY_SUMMARY]
    (row,) = admin_rows(engine)
    assert row["event_notes"] == (
        "DID Source: 18001234567 Inserts: 0 Insert Errors: 1 Copy Log:\n"
        "18001234567 ALREADY EXISTS\n"
    )


def test_one_character_copy_items(engine):  # noqa: F811
    args = {"function": "copy_did", "source_did_pattern": "18001234567"}
    reply = call(engine, "vicidial", new_dids="7,x", **args)
    assert reply.kinds == [Kind.COPIED, Kind.COPIED, Kind.COPY_SUMMARY]
    assert did(engine, "7") and did(engine, "x")
    reply = call(engine, "simple", new_dids="8,18005550002", **args)
    assert reply.kinds == [Kind.COPY_INVALID, Kind.COPIED, Kind.COPY_SUMMARY]
    assert did(engine, "8") is None


def test_echoes_whole_in_vicidial_cut_in_simple_one_line_in_both():
    long = "d" * 300
    out = Outcome(
        Kind.INVALID_FIELD,
        function="update_did",
        user="6666",
        field=fields.DID_FIELDS[0],
        value=long,
    )
    assert vicidial.line(out).endswith("|6666|" + long)
    assert vicidial.log_rows([out], whole=True)[0].data == long
    assert len(vicidial.log_rows([out])[0].data) == 100
    assert "d" * 98 not in simple.line(out)
    # a value no filter touched (Basic auth's user name) still cannot break the line
    odd = Outcome(Kind.BAD_LOGIN, user="a\nb\rc")
    assert "\n" not in vicidial.line(odd) and "\r" not in vicidial.line(odd)


def test_ip_refusal_writes_no_api_log_row():
    refused = Outcome(Kind.IP_REFUSED, function="update_did", user="6666", value="10.1.1.1")
    assert vicidial.log_rows([refused]) == []
    assert vicidial.line(refused) == "ERROR: Your IP Address is not allowed: 10.1.1.1: ||IPBLOCK|"
