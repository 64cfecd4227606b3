"""format=json: the same pipeline, one object per request, meaningful HTTP statuses."""

from __future__ import annotations

import pytest

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
