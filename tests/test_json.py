"""format=json: the same pipeline, one object per request, meaningful HTTP statuses."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from tests.conftest import serve
from vicidid.core.dialects import json_answer

BASE = "function=update_did&user=admin&pass=1234&source=test&format=json"
COPY = "function=copy_did&user=admin&pass=1234&source=test&format=json&did_pattern=18001234567"


@pytest.mark.parametrize(
    ("query", "status", "kind"),
    [
        (BASE + "&did_pattern=18001234567&did_active=N", 200, "updated"),
        (BASE + "&did_pattern=18001234567", 200, "no_updates"),
        (BASE.replace("pass=1234", "pass=no") + "&did_pattern=18001234567", 401, "bad_login"),
        (
            BASE.replace("user=admin", "user=1001") + "&did_pattern=18001234567&did_active=N",
            403,
            "no_permission",
        ),
        (BASE + "&did_pattern=19990000000&did_active=N", 404, "did_not_found"),
        (BASE + "&did_pattern=18001234567&did_route=NOPE", 422, "invalid_field"),
        (BASE + "&did_pattern=18001234567&group_id=NOPE", 422, "unknown_reference"),
        (BASE.replace("function=update_did", "function=bogus"), 422, "unknown_function"),
        (
            "function=add_did&user=admin&pass=1234&source=test&format=json&did_pattern=18001234567",
            409,
            "did_exists",
        ),
        (COPY + "&new_did_pattern=18001234567", 409, "copy_exists"),
        (COPY + "&new_did_pattern=1,2", 422, "copy_summary"),
    ],
)
def test_status_and_kind(live, query, status, kind):
    r = live.get(query)
    assert r.status_code == status
    assert r.headers["content-type"] == "application/json"
    body = r.json()
    assert body["kind"] == kind
    assert body["result"] == (
        "SUCCESS"
        if status == 200 and kind != "no_updates"
        else "NOTICE"
        if kind == "no_updates"
        else "ERROR"
    )
    assert body["message"].startswith(body["result"])


def test_update_body(live):
    body = live.get(BASE + "&did_pattern=18001234567&did_active=N").json()
    assert body == {
        "result": "SUCCESS",
        "function": "update_did",
        "kind": "updated",
        "message": "SUCCESS: 18001234567 | DID Updated Successfully",
        "reason": "update_did DID HAS BEEN UPDATED",
        "dids": ["18001234567"],
        "did": "18001234567",
        "did_id": live.did("18001234567")["did_id"],
    }


def test_bulk_copy_body(live):
    r = live.get(COPY + "&new_dids=18002223334,18001234567,1800-abc")
    assert r.status_code == 200
    body = r.json()
    assert body["counts"] == {"added": 1, "existed": 1, "invalid": 1}
    assert [(i["did"], i["kind"]) for i in body["results"]] == [
        ("18002223334", "copied"),
        ("18001234567", "copy_exists"),
        ("1800-abc", "copy_invalid"),
    ]
    assert body["results"][0]["did_id"] == live.did("18002223334")["did_id"]
    assert body["dids"] == ["18002223334"]
    assert body["message"].splitlines()[-1] == (
        "SUCCESS: 18001234567 -> 3 DIDs | 1 Copied, 1 Already Existed, 1 Invalid"
    )


def test_json_with_post_and_basic_auth(live):
    r = live.post(
        {
            "function": "update_did",
            "source": "test",
            "format": "json",
            "did_pattern": "18001234567",
            "did_route": "CALLMENU",
            "menu_id": "MAIN_MENU",
        },
        auth=("admin", "1234"),
    )
    assert r.status_code == 200 and r.json()["kind"] == "updated"
    assert live.did("18001234567")["menu_id"] == "MAIN_MENU"


def test_version_json(live):
    body = live.get("function=version&format=json").json()
    assert body["result"] == "SUCCESS"
    assert body["message"].startswith("VERSION: 2.14-194|BUILD: vicidid-")


# Every column type a customised DID table can hold ---------------------------------------

ODD_COLUMNS = {
    "sqlite": [
        ("price", "DECIMAL(8,2)", "12.50"),
        ("opens", "TIME", "'08:30:00'"),
        ("since", "DATE", "'2026-11-25'"),
        ("seen", "DATETIME", "'2026-11-25 10:11:12'"),
        ("raw", "BLOB", "X'414243'"),
    ],
    "mysql": [
        ("price", "DECIMAL(8,2)", "12.50"),
        ("opens", "TIME", "'-08:30:00'"),
        ("since", "DATE", "'2026-11-25'"),
        ("seen", "DATETIME", "'2026-11-25 10:11:12'"),
        ("raw", "VARBINARY(8)", "'ABC'"),
        ("days", "SET('MON','TUE','WED')", "'MON,WED'"),
        ("flag", "BIT(1)", "b'1'"),
        ("ratio", "DOUBLE", "0.25"),
    ],
}
EXPECTED = {
    "price": ("12.50", 12.5),  # SQLite hands back a float
    "opens": ("08:30:00", "-8:30:00"),
    "since": "2026-11-25",
    "seen": "2026-11-25 10:11:12",
    "raw": "ABC",
    "days": "MON,WED",
    "ratio": 0.25,
}


def test_did_info_and_did_list_render_every_column_type(demo_engine):
    columns = ODD_COLUMNS["sqlite" if demo_engine.dialect.name == "sqlite" else "mysql"]
    with demo_engine.begin() as conn:
        for name, sql_type, value in columns:
            conn.exec_driver_sql(f"ALTER TABLE vicidial_inbound_dids ADD COLUMN {name} {sql_type}")
            conn.exec_driver_sql(
                f"UPDATE vicidial_inbound_dids SET {name} = {value} "
                "WHERE did_pattern = '18001234567'"
            )
    with serve(demo_engine) as live:
        info = live.get(
            "function=did_info&user=admin&pass=1234&source=test&format=json&did_pattern=18001234567"
        )
        listed = live.get("function=did_list&user=admin&pass=1234&source=test&format=json")
        text = live.get(
            "function=did_info&user=admin&pass=1234&source=test&did_pattern=18001234567"
        )
    assert info.status_code == listed.status_code == 200, info.text
    row, first = info.json()["row"], listed.json()["rows"][0]
    for name, _, _ in columns:
        want = EXPECTED.get(name)
        if isinstance(want, tuple):
            assert row[name] in want
        elif want is not None:
            assert row[name] == want
        assert first[name] == row[name]
    assert text.status_code == 200 and "price|12.5" in text.text


def test_values_json_cannot_carry_are_written_plainly():
    assert json_answer.plain(Decimal("0.10")) == "0.10"
    assert json_answer.plain(dt.timedelta(days=1, hours=2, seconds=3)) == "26:00:03"
    assert json_answer.plain(-dt.timedelta(minutes=90)) == "-1:30:00"
    assert json_answer.plain(dt.time(8, 30)) == "08:30:00"
    assert json_answer.plain({"b", "a"}) == "a,b"
    assert json_answer.plain(b"\xffA") == "\ufffdA"
    assert json_answer.plain(float("nan")) == "nan"
    assert json_answer.plain(object()).startswith("<object")


def test_an_answer_that_cannot_be_rendered_is_a_clear_error(live, monkeypatch):
    def broken(_value):
        raise ValueError("cannot render")

    monkeypatch.setattr(json_answer, "_cell", broken)  # a value no rule covers
    r = live.get(BASE.replace("update_did", "did_info") + "&did_pattern=18001234567")
    assert r.headers["content-type"] == "application/json"
    assert r.json()["kind"] == "internal_error" and r.json()["result"] == "ERROR"
    assert r.status_code in (500, 503)
