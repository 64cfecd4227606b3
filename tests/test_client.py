"""The Python client against the real server, in every dialect, sync and async."""

from __future__ import annotations

import asyncio

import pytest

from tests.conftest import serve
from vicidid.client import (
    AlreadyExists,
    AsyncClient,
    AuthError,
    Client,
    InvalidInput,
    NotFound,
    PermissionDenied,
)
from vicidid.client import parse as client_parse
from vicidid.client.api import CopyResult

MODES = [("simple", "auto"), ("simple", "simple"), ("vicidial", "vicidial"), ("vicidial", "auto")]


@pytest.fixture(params=MODES, ids=["json", "simple-text", "vicidial-text", "vicidial-json"])
def api(request, demo_engine):
    server_dialect, client_dialect = request.param
    with (
        serve(demo_engine, dialect=server_dialect) as live,
        Client(live.url, "6666", "1234", dialect=client_dialect) as client,
    ):
        yield client, live


def test_update_delete_add(api):
    client, live = api
    result = client.update_did("18001234567", did_route="AGENT", user_id="1001")
    assert (result.result, result.kind, result.did) == ("SUCCESS", "updated", "18001234567")
    assert live.did("18001234567")["did_route"] == "AGENT"
    assert client.update_did("18001234567").kind == "no_updates"
    added = client.add_did("18005550100", did_description="Added by the client")
    assert added.kind == "added" and live.did("18005550100") is not None
    assert client.delete_did("18005550100").kind == "deleted"
    assert live.did("18005550100") is None


def test_copy(api):
    client, _ = api
    result = client.copy_did("18001234567", ["18002223333", "18002223334", "18001234567"])
    assert isinstance(result, CopyResult)
    assert (result.added, result.existed, result.invalid) == (2, 1, 0)
    assert [i.did for i in result.items] == ["18002223333", "18002223334", "18001234567"]
    assert result.items[0].ok and not result.items[2].ok
    one = client.copy_did("18001234567", "18002223333")
    assert (one.added, one.existed) == (0, 1)


def test_errors_are_exceptions_with_reasons(api):
    client, _ = api
    with pytest.raises(NotFound) as raised:
        client.update_did("19990000000", did_active="N")
    assert raised.value.reason
    with pytest.raises(AlreadyExists):
        client.add_did("18001234567")
    with pytest.raises(InvalidInput):
        client.update_did("18001234567", did_route="NOWHERE")


def test_bad_login_and_permission(api):
    client, live = api
    dialect = client.dialect
    with Client(live.url, "6666", "wrong", dialect=dialect) as bad, pytest.raises(AuthError):
        bad.update_did("18001234567", did_active="N")
    agent_dialect = "vicidial" if "vicidial" in dialect else dialect
    with Client(live.url, "admin", "1234", dialect=agent_dialect) as admin:
        assert admin.update_did("18001234567", did_active="Y").kind == "updated"
    import sqlalchemy as sa

    with live.engine.begin() as conn:
        conn.execute(sa.text("UPDATE vicidial_users SET modify_inbound_dids='0' WHERE user='6666'"))
    with pytest.raises(PermissionDenied):
        client.update_did("18001234567", did_active="N")


def test_reading(api):
    client, _ = api
    info = client.did_info("18001234567")
    assert info.row["did_route"] == "IN_GROUP"
    page = client.did_list(limit=10)
    assert [r["did_pattern"] for r in page.rows] == ["18001234567"]


def test_basic_auth_and_async(demo_engine):
    with serve(demo_engine) as live:

        async def main():
            async with AsyncClient(live.url, "6666", "1234", use_basic_auth=True) as client:
                result = await client.update_did("18001234567", did_active="N")
                copy = await client.copy_did("18001234567", ["18002220001"])
                version = await client.version()
                with pytest.raises(NotFound):
                    await client.did_info("19990000000")
                return result, copy, version

        result, copy, version = asyncio.run(main())
        assert result.kind == "updated" and copy.added == 1
        assert version.startswith("VERSION: 2.14-194|BUILD: vicidid-")
        assert live.did("18001234567")["did_active"] == "N"


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        ("ERROR: Login incorrect, please try again: |6666||BAD|", "bad_login"),
        ("ERROR: update_did DID DOES NOT EXIST: |6666|19999999999", "did_not_found"),
        ("NOTICE: copy_did DID HAS BEEN ADDED - 6666|18002223333|18001234567|7|1", "copied"),
        ("SUCCESS: copy_did DIDS HAVE BEEN ADDED - 6666|18001234567|1|0", "copy_summary"),
        (
            "ERROR: auth USER DOES NOT HAVE PERMISSION TO USE THIS FUNCTION: |5555|update_did|",
            "no_permission",
        ),
        ("ERROR: Your IP Address is not allowed: 127.0.0.1: ||IPBLOCK|", "ip_refused"),
        ("SUCCESS: update_did DID HAS BEEN DELETED - 6666|18002223333|23", "deleted"),
    ],
)
def test_parses_vicidial_lines(line, kind):
    parsed = client_parse.parse_line(line)
    assert parsed.kind == kind
    if kind == "copied":
        assert parsed.fields == {"did": "18002223333", "source": "18001234567", "did_id": "7"}
