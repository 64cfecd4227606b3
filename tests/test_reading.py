"""did_info and did_list: the same permission model, admin_viewable_groups applied."""

from __future__ import annotations

import sqlalchemy as sa

INFO = "function=did_info&user=admin&pass=1234&source=test&did_pattern="
LIST = "function=did_list&user=admin&pass=1234&source=test"


def add_dids(live, *rows) -> None:
    with live.engine.begin() as conn:
        for pattern, group, route in rows:
            conn.execute(
                sa.text(
                    "INSERT INTO vicidial_inbound_dids (did_pattern, did_description, user_group, "
                    "did_route) VALUES (:p, 'Added for tests', :g, :r)"
                ),
                {"p": pattern, "g": group, "r": route},
            )


def scope_admin(live, viewable: str) -> None:
    with live.engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE vicidial_user_groups SET admin_viewable_groups=:v"), {"v": viewable}
        )


def test_did_info_text(live):
    r = live.get(INFO + "18001234567")
    lines = dict(line.split("|", 1) for line in r.text.splitlines())
    assert lines["did_pattern"] == "18001234567"
    assert lines["did_route"] == "IN_GROUP"
    assert lines["group_id"] == "SALES_TEAM"
    assert lines["voicemail_ext"] == ""  # NULL
    assert len(lines) >= 60  # every column


def test_did_info_json_and_not_found(live):
    body = live.get(INFO + "18001234567&format=json").json()
    assert body["row"]["did_description"] == "Customer Support Line"
    r = live.get(INFO + "19990000000&format=json")
    assert r.status_code == 404
    assert live.get(INFO + "19990000000").text == "ERROR: DID PATTERN NOT FOUND\n"


def test_did_list_filters_and_paging(live):
    add_dids(
        live,
        ("18005550001", "---ALL---", "EXTEN"),
        ("18005550002", "SALES", "AGENT"),
        ("18005550003", "OTHER", "EXTEN"),
    )
    r = live.get(LIST)
    lines = r.text.splitlines()
    assert lines[0].startswith("did_id|did_pattern|did_description")
    assert [line.split("|")[1] for line in lines[1:]] == [
        "18001234567",
        "18005550001",
        "18005550002",
        "18005550003",
    ]
    page = live.get(LIST + "&prefix=1800555&limit=2&offset=1&format=json").json()
    assert [row["did_pattern"] for row in page["rows"]] == ["18005550002", "18005550003"]
    assert (page["limit"], page["offset"]) == (2, 1)
    routed = live.get(LIST + "&route=EXTEN&format=json").json()
    assert [row["did_pattern"] for row in routed["rows"]] == ["18005550001", "18005550003"]
    grouped = live.get(LIST + "&group_id=SALES_TEAM&format=json").json()
    assert [row["did_pattern"] for row in grouped["rows"]] == ["18001234567"]
    assert live.get(LIST + "&limit=0").text == "ERROR: INVALID limit | must be 1 to 1000\n"
    assert live.get(LIST + "&route=NOWHERE").text.startswith("ERROR: INVALID route |")


def test_prefix_is_literal_not_a_wildcard(live):
    add_dids(live, ("1_2", "---ALL---", "EXTEN"), ("1x2", "---ALL---", "EXTEN"))
    body = live.get(LIST + "&prefix=1_&format=json").json()
    assert [row["did_pattern"] for row in body["rows"]] == ["1_2"]


def test_viewable_groups_apply_to_reading(live):
    add_dids(live, ("18005550002", "SALES", "AGENT"), ("18005550003", "OTHER", "EXTEN"))
    scope_admin(live, " SALES -")
    body = live.get(LIST + "&format=json").json()
    assert [row["did_pattern"] for row in body["rows"]] == ["18001234567", "18005550002"]
    assert live.get(INFO + "18005550003").text == "ERROR: DID PATTERN NOT FOUND\n"
    assert live.get(INFO + "18005550002").text.startswith("did_id|")


def test_reading_needs_api_access_but_not_modify(live):
    with live.engine.begin() as conn:
        conn.execute(sa.text("UPDATE vicidial_users SET modify_inbound_dids='0'"))
    assert live.get(INFO + "18001234567").text.startswith("did_id|")
    with live.engine.begin() as conn:
        conn.execute(sa.text("UPDATE vicidial_users SET vdc_agent_api_access='0'"))
    assert live.get(INFO + "18001234567").text == (
        "ERROR: USER DOES NOT HAVE PERMISSION TO USE THIS FUNCTION\n"
    )
