"""Bad input, end to end: one clear error line, HTTP 200, nothing changed, no secrets.

Every case goes through the real server and is checked by one helper, `refused`, which
states the error contract: a single `ERROR: ` line, status 200, text/plain, the DID
table unchanged, and the password nowhere in the answer or the logs.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

BASE = "function=update_did&user=admin&pass=1234&source=test&did_pattern=18001234567"
SECRET = "S3cretPw9"


def dids(live) -> list[dict]:
    with live.engine.connect() as conn:
        return [
            dict(r)
            for r in conn.execute(
                sa.text("SELECT * FROM vicidial_inbound_dids ORDER BY did_id")
            ).mappings()
        ]


def refused(live, response, line: str | None = None) -> None:
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.text.startswith("ERROR: ")
    assert response.text.count("\n") == 1 and response.text.endswith("\n")
    if line is not None:
        assert response.text == line + "\n"


@pytest.mark.parametrize(
    ("query", "line"),
    [
        (
            "function=frobnicate&user=admin&pass=1234&source=test",
            "ERROR: UNKNOWN FUNCTION | frobnicate",
        ),
        (
            "function=add_lead&user=admin&pass=1234&source=test",
            "ERROR: UNKNOWN FUNCTION | add_lead",
        ),
        (
            "function=update_did&user=admin&pass=1234&did_pattern=18001234567&did_active=N",
            "ERROR: INVALID SOURCE | source must be 2 to 20 letters or digits",
        ),
        (
            "function=update_did&user=admin&pass=1234&source=x&did_active=N",
            "ERROR: INVALID SOURCE | source must be 2 to 20 letters or digits",
        ),
        (
            "function=update_did&user=admin&pass=1234&source=a-b&did_active=N",
            "ERROR: INVALID SOURCE | source must be 2 to 20 letters or digits",
        ),
        (
            "function=update_did&user=admin&pass=1234&source=" + "a" * 21,
            "ERROR: INVALID SOURCE | source must be 2 to 20 letters or digits",
        ),
        (
            "function=update_did&user=admin&pass=1234&source=test&did_active=N",
            "ERROR: MISSING REQUIRED FIELD | did_pattern",
        ),
        (
            "function=copy_did&user=admin&pass=1234&source=test&did_pattern=18001234567",
            "ERROR: MISSING REQUIRED FIELD | new_did_pattern",
        ),
        (
            BASE + "&did_route=BOGUS",
            "ERROR: INVALID did_route | must be one of EXTEN, VOICEMAIL, AGENT, PHONE, IN_GROUP, "
            "CALLMENU, VMAIL_NO_INST",
        ),
        (
            BASE + "&did_active=maybe",
            "ERROR: INVALID did_active | only capital letters are allowed",
        ),
        (BASE + "&did_active=YES", "ERROR: INVALID did_active | must be Y or N"),
        (
            BASE + "&did_description=short",
            "ERROR: INVALID did_description | must be 6 to 50 characters",
        ),
        (
            BASE + "&did_description=" + "x" * 51,
            "ERROR: INVALID did_description | must be 6 to 50 characters",
        ),
        (
            BASE + "&did_description=%3Cscript%3Ealert(1)%3C/script%3E",
            "ERROR: INVALID did_description | only letters, digits, spaces and - . , _ are allowed",
        ),
        (
            BASE + "&did_description=Robert%27);DROP%20TABLE%20vicidial_inbound_dids;--",
            "ERROR: INVALID did_description | only letters, digits, spaces and - . , _ are allowed",
        ),
        (BASE + "&group_id=NOPE", "ERROR: INVALID group_id | no in-group named NOPE"),
        (BASE + "&menu_id=NOPE", "ERROR: INVALID menu_id | no call menu named NOPE"),
        (BASE + "&server_ip=10.9.9.9", "ERROR: INVALID server_ip | no server named 10.9.9.9"),
        (BASE + "&user_id=9999", "ERROR: INVALID user_id | no user named 9999"),
        (BASE + "&list_id=12ab", "ERROR: INVALID list_id | must be 3 to 14 digits"),
        (
            BASE + "&agent_search_method=XX",
            "ERROR: INVALID agent_search_method | must be one of LO, LB, SO",
        ),
        (
            BASE + "&recording=SOMETIMES",
            "ERROR: INVALID recording | must be one of ALLCALLS, NEVER, Y, N, Y_QUEUESTOP",
        ),
        (BASE + "&did_active=Y&active=N", "ERROR: CONFLICTING VALUES | did_active and active"),
        (
            BASE + "&group_id=SALES_TEAM&group=OTHER",
            "ERROR: CONFLICTING VALUES | group_id and group",
        ),
        (
            BASE.replace("18001234567", "1800%201234567"),
            "ERROR: INVALID did_pattern | only letters, digits and : + * # . _ are allowed "
            "(send + as %2B)",
        ),
        (
            BASE.replace("18001234567", "+18001234567"),
            "ERROR: INVALID did_pattern | only letters, digits and : + * # . _ are allowed "
            "(send + as %2B)",
        ),
        (
            BASE.replace("18001234567", "1" * 51),
            "ERROR: INVALID did_pattern | must be 2 to 50 characters",
        ),
        (BASE + "&did_description=Caf%C3%A9%20Line", None),
        (BASE + "&did_description=%FF%FE%FD%20broken", None),
        (BASE + "&did_description=nul%00byte", None),
        (BASE + "&did_description=" + "A" * 15_000, None),  # a line within the head's bound
    ],
)
def test_refused_and_nothing_changed(live, query, line):
    before = dids(live)
    refused(live, live.get(query), line)
    assert dids(live) == before


def test_a_request_line_past_the_heads_bound_is_refused_before_it_is_read(live):
    before = dids(live)
    response = live.get(BASE + "&did_description=" + "A" * 60_000)
    assert response.status_code == 431
    assert dids(live) == before


def test_repeated_parameters_last_wins(live):
    r = live.get(BASE + "&did_active=N&did_active=Y&did_route=AGENT")
    assert r.text == "SUCCESS: 18001234567 | DID Updated Successfully\n"
    assert live.did("18001234567")["did_active"] == "Y"


def test_get_wins_over_post(live):
    r = live.client.post(
        f"{live.url}/vicidial/non_agent_api.php?{BASE}&did_active=N",
        data={"did_active": "Y", "did_route": "EXTEN"},
    )
    assert r.text == "SUCCESS: 18001234567 | DID Updated Successfully\n"
    row = live.did("18001234567")
    assert (row["did_active"], row["did_route"]) == ("N", "EXTEN")


def test_multipart_post(live):
    form = dict(p.split("=", 1) for p in BASE.split("&"))
    r = live.client.post(
        f"{live.url}/vicidial/non_agent_api.php",
        files={k: (None, v) for k, v in {**form, "did_active": "N"}.items()},
    )
    assert r.text == "SUCCESS: 18001234567 | DID Updated Successfully\n"
    assert live.did("18001234567")["did_active"] == "N"


def test_body_over_one_mib_is_413(live):
    before = dids(live)
    r = live.post({"function": "update_did", "did_description": "x" * (1024 * 1024 + 10)})
    assert r.status_code == 413
    assert r.text == "ERROR: REQUEST TOO LARGE | at most 1 MiB\n"
    assert dids(live) == before


def test_no_updates_notice(live):
    assert live.get(BASE).text == "NOTICE: 18001234567 | No Updates Given\n"


def test_password_never_echoed_or_logged(live):
    with live.engine.begin() as conn:
        conn.execute(sa.text("UPDATE system_settings SET pass_hash_enabled=0"))
        conn.execute(sa.text(f"UPDATE vicidial_users SET pass='{SECRET}' WHERE user='admin'"))
    queries = [
        BASE.replace("pass=1234", f"pass={SECRET}") + "&did_active=N",
        BASE.replace("pass=1234", f"pass={SECRET}") + "&did_route=NOPE",
        BASE.replace("pass=1234", f"pass={SECRET}x"),
        f"function=version&user=admin&pass={SECRET}",
        f"function=nope&user=admin&pass={SECRET}&source=test",
    ]
    for q in queries:
        r = live.get(q)
        assert SECRET not in r.text
        r = live.get(q + "&format=json")
        assert SECRET not in r.text
    with live.engine.connect() as conn:
        for table in ("vicidial_api_log", "vicidial_api_urls", "vicidial_admin_log"):
            for row in conn.execute(sa.text(f"SELECT * FROM {table}")):
                assert all(SECRET not in str(v) for v in row), table
        urls = [r[0] for r in conn.execute(sa.text("SELECT url FROM vicidial_api_urls"))]
    assert urls and all("pass=" not in u for u in urls)


@pytest.mark.parametrize(
    ("query", "line"),
    [
        (
            "function=up%0Adate&user=admin&pass=1234&source=test",
            "ERROR: UNKNOWN FUNCTION | up\\ndate",
        ),
        (
            "function=" + "f" * 300 + "&user=admin&pass=1234&source=test",
            "ERROR: UNKNOWN FUNCTION | " + "f" * 97 + "...",
        ),
        (
            "function=copy_did&user=admin&pass=1234&source=test&did_pattern=18001234567"
            "&new_did_pattern=a%0Db%0Ac",
            "ERROR: INVALID NEW DID | a\\rb\\nc",
        ),
    ],
)
def test_echoed_values_stay_on_one_line(live, query, line):
    refused(live, live.get(query), line)


def test_uploaded_files_are_ignored_not_an_error(live):
    r = live.client.post(
        f"{live.url}/vicidial/non_agent_api.php",
        data={
            "function": "update_did",
            "user": "admin",
            "pass": "1234",
            "source": "test",
            "did_pattern": "18001234567",
            "did_active": "N",
        },
        files={"upload": ("x.txt", b"hello")},
    )
    assert r.text == "SUCCESS: 18001234567 | DID Updated Successfully\n"


def test_broken_multipart_is_an_answer_not_a_crash(live):
    r = live.client.post(
        f"{live.url}/vicidial/non_agent_api.php",
        content=b"--xyz\r\nbroken",
        headers={"content-type": "multipart/form-data; boundary=xyz"},
    )
    refused(live, r, "ERROR: INVALID USERNAME OR PASSWORD")
