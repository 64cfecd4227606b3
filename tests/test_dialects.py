"""The catalogues: every outcome has words in every dialect, and the words are exact."""

from __future__ import annotations

import pytest

from vicidid import fields
from vicidid.core.dialects import VALUES, context, json_answer, simple, vicidial
from vicidid.core.outcomes import CopyCounts, Kind, Outcome

ROUTE = next(f for f in fields.DID_FIELDS if f.key == "did_route")
MENU = next(f for f in fields.DID_FIELDS if f.key == "menu_id")
USER_ID = next(f for f in fields.DID_FIELDS if f.key == "user_id")
DESC = fields.DID_FIELDS[0]


def o(kind: Kind, **kw) -> Outcome:
    kw.setdefault("function", "update_did")
    kw.setdefault("user", "6666")
    return Outcome(kind, **kw)


CASES = [
    # outcome, simple line, vicidial line
    (
        o(Kind.UPDATED, did="18001234567"),
        "SUCCESS: 18001234567 | DID Updated Successfully",
        "SUCCESS: update_did DID HAS BEEN UPDATED - 6666|18001234567",
    ),
    (
        o(Kind.DELETED, did="18001234567", did_id=23),
        "SUCCESS: 18001234567 | DID Deleted Successfully",
        "SUCCESS: update_did DID HAS BEEN DELETED - 6666|18001234567|23",
    ),
    (
        o(Kind.NO_UPDATES, did="18001234567"),
        "NOTICE: 18001234567 | No Updates Given",
        "NOTICE: update_did NO UPDATES DEFINED: |6666|",
    ),
    (
        o(Kind.DID_NOT_FOUND, did="19999999999"),
        "ERROR: DID PATTERN NOT FOUND",
        "ERROR: update_did DID DOES NOT EXIST: |6666|19999999999",
    ),
    (
        o(Kind.DID_NOT_FOUND, function="copy_did", did="19999999999"),
        "ERROR: DID PATTERN NOT FOUND",
        "ERROR: copy_did SOURCE DID DOES NOT EXIST: |6666|19999999999",
    ),
    (
        o(Kind.INVALID_FIELD, field=ROUTE, value="BOGUS"),
        "ERROR: INVALID did_route | must be one of EXTEN, VOICEMAIL, AGENT, PHONE, IN_GROUP, "
        "CALLMENU, VMAIL_NO_INST",
        "ERROR: update_did DID ROUTE IS NOT VALID, THIS IS AN OPTIONAL FIELD: |6666|BOGUS",
    ),
    (
        o(Kind.NO_PERMISSION, user="7777"),
        "ERROR: USER DOES NOT HAVE PERMISSION TO USE THIS FUNCTION",
        "ERROR: update_did USER DOES NOT HAVE PERMISSION TO UPDATE DIDS: |7777|0",
    ),
    (
        o(Kind.NO_PERMISSION, function="copy_did"),
        "ERROR: USER DOES NOT HAVE PERMISSION TO USE THIS FUNCTION",
        "ERROR: copy_did USER DOES NOT HAVE PERMISSION TO ADD DIDS: |6666|0",
    ),
    (
        o(Kind.FUNCTION_NOT_ALLOWED, user="5555"),
        "ERROR: USER DOES NOT HAVE PERMISSION TO USE THIS FUNCTION",
        "ERROR: auth USER DOES NOT HAVE PERMISSION TO USE THIS FUNCTION: |5555|update_did|",
    ),
    (
        o(Kind.INVALID_SOURCE, value="x"),
        "ERROR: INVALID SOURCE | source must be 2 to 20 letters or digits",
        "ERROR: Invalid Source - x\nERROR: Invalid Source: |x|",
    ),
    (
        o(Kind.BAD_LOGIN),
        "ERROR: INVALID USERNAME OR PASSWORD",
        "ERROR: Login incorrect, please try again: |6666||BAD|",
    ),
    (
        o(Kind.LOCKED),
        "ERROR: ACCOUNT LOCKED | too many failed logins, try again in 15 minutes",
        "ERROR: Too many login attempts, try again in 15 minutes: |6666|LOCK|",
    ),
    (
        o(Kind.IP_REFUSED, value="10.1.2.3"),
        "ERROR: IP ADDRESS NOT ALLOWED | 10.1.2.3",
        "ERROR: Your IP Address is not allowed: 10.1.2.3: ||IPBLOCK|",
    ),
    (
        o(Kind.ADDED, function="add_did", did="7275553331"),
        "SUCCESS: 7275553331 | DID Added Successfully",
        "SUCCESS: add_did DID HAS BEEN ADDED - 6666|7275553331",
    ),
    (
        o(Kind.DID_EXISTS, function="add_did", did="7275553331"),
        "ERROR: DID ALREADY EXISTS | 7275553331",
        "ERROR: add_did DID ALREADY EXISTS: |6666|7275553331",
    ),
    (
        o(Kind.UNKNOWN_REFERENCE, function="add_did", field=MENU, value="NOPE"),
        "ERROR: INVALID menu_id | no call menu named NOPE",
        "ERROR: update_did MENU ID MUST BE A VALID CALL MENU IN THE SYSTEM, THIS IS AN OPTIONAL "
        "FIELD: |6666|NOPE",
    ),
    (
        o(Kind.UNKNOWN_REFERENCE, field=USER_ID, value="9999"),
        "ERROR: INVALID user_id | no user named 9999",
        "ERROR: update_did USER ID MUST BE A VALID USER IN THE SYSTEM: |6666|9999",
    ),
    (
        o(Kind.INVALID_FIELD, function="copy_did", field=DESC, value="abc"),
        "ERROR: INVALID did_description | must be 6 to 50 characters",
        "ERROR: copy_did DID DESCRIPTION MUST BE EITHER BLANK OR FROM 6 TO 50 CHARACTERS, THIS IS "
        "AN OPTIONAL FIELD: |6666|abc",
    ),
    (
        o(
            Kind.MISSING_FIELD,
            function="copy_did",
            field=fields.NEW_DIDS,
            extra={"required": True, "data": "18001234567|"},
        ),
        "ERROR: MISSING REQUIRED FIELD | new_did_pattern",
        "ERROR: copy_did YOU MUST USE ALL REQUIRED FIELDS: |6666|18001234567|",
    ),
    (
        o(
            Kind.CONFLICTING_VALUES,
            field=fields.DID_FIELDS[1],
            name="did_active",
            extra={"other": "active"},
        ),
        "ERROR: CONFLICTING VALUES | did_active and active",
        "ERROR: update_did CONFLICTING VALUES: |6666|did_active|active",
    ),
    (
        o(Kind.NO_FUNCTION, function=""),
        "ERROR: NO FUNCTION SPECIFIED",
        "ERROR: NO FUNCTION SPECIFIED",
    ),
    (
        o(Kind.UNKNOWN_FUNCTION, function="add_lead", value="add_lead"),
        "ERROR: UNKNOWN FUNCTION | add_lead",
        "ERROR: NO FUNCTION SPECIFIED",
    ),
    (
        o(Kind.NO_DELETE_PERMISSION, did="1"),
        "ERROR: USER DOES NOT HAVE PERMISSION TO DELETE DIDS",
        "ERROR: update_did USER DOES NOT HAVE PERMISSION TO DELETE DIDS: |6666|1",
    ),
    (
        o(Kind.TOO_MANY_DIDS, function="copy_did", extra={"count": 10001}),
        "ERROR: TOO MANY DIDS | 10001 given, at most 10000",
        "ERROR: copy_did TOO MANY DIDS: |6666|10001",
    ),
    (
        o(Kind.DATABASE_DOWN),
        "ERROR: DATABASE UNAVAILABLE",
        "ERROR: update_did DATABASE UNAVAILABLE: |6666|",
    ),
]


@pytest.mark.parametrize(("outcome", "simple_line", "vicidial_line"), CASES)
def test_lines(outcome, simple_line, vicidial_line):
    assert simple.render([outcome]) == simple_line + "\n"
    assert vicidial.render([outcome]) == vicidial_line + "\n"


def copy(*items: tuple[Kind, str], added: int, existed: int, invalid: int) -> list[Outcome]:
    single = len(items) == 1
    outs = [
        o(
            kind,
            function="copy_did",
            did="18001234567",
            value=v,
            did_id=7 if kind is Kind.COPIED else None,
            single=single,
        )
        for kind, v in items
    ]
    outs.append(
        o(
            Kind.COPY_SUMMARY,
            function="copy_did",
            did="18001234567",
            single=single,
            counts=CopyCounts(added, existed, invalid),
        )
    )
    return outs


def test_single_copy():
    ok = copy((Kind.COPIED, "18002223333"), added=1, existed=0, invalid=0)
    assert simple.render(ok) == "SUCCESS: 18001234567 -> 18002223333 | DID Copied Successfully\n"
    assert vicidial.render(ok) == (
        "NOTICE: copy_did DID HAS BEEN ADDED - 6666|18002223333|18001234567|7|1\n"
        "SUCCESS: copy_did DIDS HAVE BEEN ADDED - 6666|18001234567|1|0\n"
    )
    exists = copy((Kind.COPY_EXISTS, "18002223333"), added=0, existed=1, invalid=0)
    assert simple.render(exists) == "ERROR: NEW DID ALREADY EXISTS\n"
    assert vicidial.render(exists) == (
        "NOTICE: copy_did DID ALREADY EXISTS - 6666|18002223333\n"
        "ERROR: copy_did NO DIDS ADDED - 6666|18001234567|0|1\n"
    )


def test_bulk_copy_as_in_the_spec():
    outs = copy(
        (Kind.COPIED, "18002223334"),
        (Kind.COPY_EXISTS, "18002223333"),
        (Kind.COPY_INVALID, "1800-abc"),
        added=1,
        existed=1,
        invalid=1,
    )
    assert simple.render(outs) == (
        "SUCCESS: 18001234567 -> 18002223334 | DID Copied Successfully\n"
        "ERROR: NEW DID ALREADY EXISTS | 18002223333\n"
        "ERROR: INVALID NEW DID | 1800-abc\n"
        "SUCCESS: 18001234567 -> 3 DIDs | 1 Copied, 1 Already Existed, 1 Invalid\n"
    )
    none = copy((Kind.COPY_EXISTS, "a1"), (Kind.COPY_EXISTS, "b2"), added=0, existed=2, invalid=0)
    assert simple.render(none).splitlines()[-1] == (
        "ERROR: 18001234567 -> 2 DIDs | 0 Copied, 2 Already Existed, 0 Invalid"
    )
    assert json_answer.status(none) == 409


def test_log_rows_as_vicidial_writes_them():
    outs = copy(
        (Kind.COPIED, "18002223334"),
        (Kind.COPY_EXISTS, "18002223333"),
        added=1,
        existed=1,
        invalid=0,
    )
    assert [tuple(r) for r in vicidial.log_rows(outs)] == [
        ("NOTICE", "copy_did DID HAS BEEN ADDED", "18002223334|18001234567|7|1"),
        ("NOTICE", "copy_did DID ALREADY EXISTS", "18002223333"),
        ("SUCCESS", "copy_did DIDS HAVE BEEN ADDED", "18001234567|1|1"),
    ]
    assert vicidial.log_rows([o(Kind.BAD_LOGIN)]) == []
    assert vicidial.log_rows([o(Kind.LOCKED)]) == []


def test_every_kind_has_words():
    for kind in Kind:
        if kind in (
            Kind.DID_INFO,
            Kind.DID_LIST,
            Kind.COPY_SUMMARY,
            Kind.VERSION,
            Kind.REPLAYED,
            Kind.FORWARDED,  # the fallback's own answer goes back, not vicidid's words
        ):
            continue
        outcome = o(kind, field=ROUTE, value="v", did="d", counts=CopyCounts(1, 0, 0))
        assert simple.render([outcome]).endswith("\n"), kind
        assert vicidial.render([outcome]).endswith("\n"), kind
        status, _ = json_answer.render([outcome], "update_did", [])
        assert status in (200, 400, 401, 403, 404, 409, 413, 422, 429, 500, 502, 503, 504)


def test_context_values():
    menu_error = o(
        Kind.INVALID_FIELD,
        function="add_did",
        user="6666\n",
        did="1" * 120,
        value="m 1",
        field=MENU,
        name="menu_id",
        counts=CopyCounts(added=2, existed=1, invalid=3),
        extra={"other": "x", "line": "l", "count": 7, "seconds": "9", "size": "1 MiB"},
    )
    expected = {
        "fn": "update_did",  # VICIdial's prefix for add_did's menu error
        "user": "6666\\n",
        "did": "1" * 97 + "...",
        "value": "m 1",
        "name": "menu_id",
        "other": "x",
        "rule": "must be 1 to 50 characters",
        "charset": "letters, digits, - and _",
        "hint": "",
        "thing": "call menu",
        "reason": "MENU ID MUST BE A VALID CALL MENU IN THE SYSTEM",
        "data": "m 1",
        "did_id": "",
        "added": 2,
        "existed": 1,
        "invalid": 3,
        "failed": 4,
        "total": 6,
        "line": "l",
        "count": 7,
        "seconds": "9",
        "size": "1 MiB",
    }
    assert set(VALUES) == set(expected)
    ctx = context(menu_error)
    assert {name: ctx[name] for name in expected} == expected
    assert context(menu_error, whole=True)["did"] == "1" * 120
    bare = context(o(Kind.UPDATED, did="1800", did_id=0))
    unrelated = ("name", "rule", "charset", "thing", "reason", "other")
    assert [bare[n] for n in unrelated] == [""] * len(unrelated)
    assert (bare["total"], bare["did_id"]) == (0, 0)


def test_context_works_out_only_the_values_a_template_names():
    ctx = context(o(Kind.UPDATED, did="18001234567"))
    assert "SUCCESS: {did} | {user}".format_map(ctx) == "SUCCESS: 18001234567 | 6666"
    assert sorted(ctx) == ["did", "user"]
    with pytest.raises(KeyError):
        "{nothing}".format_map(ctx)
