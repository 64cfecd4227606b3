"""Every URL and every response line of the two tutorials, against a real server.

The URLs are the tutorials' own, with `your-vicidial-server` replaced by the test
server; each runs on both backends.
"""

from __future__ import annotations

import pytest

UPDATE = (
    "function=update_did&user=admin&pass=1234&source=DIDUpdate&did_pattern=18001234567"
    "&did_description=Customer%20Support%20Line&did_route=AGENT&user_id=1001"
    "&voicemail_ext=8500&did_active=Y&recording=ALLCALLS"
)
COPY = (
    "function=copy_did&user=admin&pass=1234&source=DIDCopy&did_pattern=18001234567"
    "&new_did_pattern=18002223333&did_active=Y"
)

NOT_ALLOWED = "ERROR: USER DOES NOT HAVE PERMISSION TO USE THIS FUNCTION\n"
BAD_LOGIN = "ERROR: INVALID USERNAME OR PASSWORD\n"


def test_update_tutorial_url(live):
    """The browser/cURL/Postman URL of the update tutorial answers its success line."""
    r = live.get(UPDATE)
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/plain; charset=utf-8"
    assert r.text == "SUCCESS: 18001234567 | DID Updated Successfully\n"
    row = live.did("18001234567")
    assert row["did_description"] == "Customer Support Line"
    assert row["did_route"] == "AGENT"
    assert row["user"] == "1001"
    assert row["voicemail_ext"] == "8500"
    assert row["did_active"] == "Y"
    assert row["record_call"] == "Y"


def test_update_tutorial_url_twice(live):
    """Pasting the same URL again answers the same success line."""
    ok = "SUCCESS: 18001234567 | DID Updated Successfully\n"
    assert [live.get(UPDATE).text, live.get(UPDATE).text] == [ok, ok]


def test_copy_tutorial_url(live):
    before = live.did("18001234567")
    r = live.get(COPY)
    assert r.text == "SUCCESS: 18001234567 -> 18002223333 | DID Copied Successfully\n"
    new = live.did("18002223333")
    assert new["did_active"] == "Y"
    for column in before:
        if column not in ("did_id", "did_pattern", "did_active"):
            assert new[column] == before[column], column


def test_copy_tutorial_url_again_says_exists(live):
    live.get(COPY)
    assert live.get(COPY).text == "ERROR: NEW DID ALREADY EXISTS\n"


def test_postman_post_form_works_too(live):
    r = live.post(dict(pair.split("=", 1) for pair in COPY.split("&")))
    assert r.text == "SUCCESS: 18001234567 -> 18002223333 | DID Copied Successfully\n"


@pytest.mark.parametrize("url", [UPDATE, COPY])
@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("pass=1234", "pass=wrong"),
        ("user=admin", "user=nobody"),
    ],
)
def test_bad_credentials(live, url, change, expected):
    r = live.get(url.replace(change, expected))
    assert r.text == BAD_LOGIN
    assert live.did("18002223333") is None


def test_agent_below_level_8_is_not_allowed(live):
    for url in (UPDATE, COPY):
        assert live.get(url.replace("user=admin", "user=1001")).text == NOT_ALLOWED
    assert live.did("18001234567")["did_route"] == "IN_GROUP"


def _set_user(live, **values):
    import sqlalchemy as sa

    with live.engine.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE vicidial_users SET "
                + ",".join(f"{k}=:{k}" for k in values)
                + " WHERE user='admin'"
            ),
            values,
        )


@pytest.mark.parametrize(
    "values",
    [
        {"user_level": 7},
        {"vdc_agent_api_access": "0"},
        {"api_allowed_functions": " add_lead "},
        {"modify_inbound_dids": "0"},
    ],
)
def test_permission_errors(live, values):
    _set_user(live, **values)
    assert live.get(UPDATE).text == NOT_ALLOWED
    assert live.get(COPY).text == NOT_ALLOWED
    assert live.did("18002223333") is None


def test_function_named_in_allowed_functions_is_enough(live):
    _set_user(live, api_allowed_functions=" update_did ")
    assert live.get(UPDATE).text == "SUCCESS: 18001234567 | DID Updated Successfully\n"
    assert live.get(COPY).text == NOT_ALLOWED


def test_did_not_found(live):
    assert (
        live.get(UPDATE.replace("did_pattern=18001234567", "did_pattern=19998887777")).text
        == "ERROR: DID PATTERN NOT FOUND\n"
    )
    assert (
        live.get(COPY.replace("did_pattern=18001234567", "did_pattern=19998887777")).text
        == "ERROR: DID PATTERN NOT FOUND\n"
    )


@pytest.mark.parametrize("url", [UPDATE, COPY])
def test_no_function(live, url):
    query = "&".join(p for p in url.split("&") if not p.startswith("function="))
    assert live.get(query).text == "ERROR: NO FUNCTION SPECIFIED\n"
