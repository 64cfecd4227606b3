"""Arbitrary requests thrown at the real endpoint (hypothesis), on SQLite and on MariaDB.

Parameters, Basic auth, X-Forwarded-For (from a trusted proxy), did_list filters and
format=json in any mix. Whatever arrives: no 5xx; a text answer is one line per outcome,
each starting SUCCESS:, NOTICE: or ERROR:; a JSON answer is one object; and when the
answer refuses, the DIDs are exactly as before (no half-written change). MariaDB runs in
strict mode, where anything too long for its column would be an error.
"""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.conftest import MYSQL_ROOT, need_mariadb, serve
from tests.test_limits import strict
from vicidid import fields
from vicidid.cli import demo
from vicidid.store.db import make_engine
from vicidid.store.schema import init_db

NAMES = sorted(
    {
        n
        for f in (
            *fields.DID_FIELDS,
            fields.DID_PATTERN,
            fields.NEW_DIDS,
            fields.SOURCE,
            fields.DELETE_DID,
        )
        for n in f.names
    }
    | {"function", "user", "pass", "format", "junk"}
    | {"route", "did_active", "group_id", "prefix", "user_group", "limit", "offset"}
)
FUNCTIONS = ["update_did", "copy_did", "add_did", "version", "did_info", "did_list", "", "x"]
VALUES = st.one_of(
    st.sampled_from(
        [
            "Y",
            "N",
            "18001234567",
            "18002223333",
            "SALES_TEAM",
            "MAIN_MENU",
            "AGENT",
            "IN_GROUP",
            "ALLCALLS",
            "1001",
            "admin",
            "1234",
            "test",
            "10.0.0.5",
            "Customer Support Line",
            "a,,b",
            "+1800",
            "'; DROP TABLE x;--",
            "json",
            "---ALL---",
            "1800",
            "0",
            "1000",
            "-1",
        ]
    ),
    st.text(max_size=60),
    st.text(max_size=400),
)
ASCII = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=120)
BASIC = st.one_of(st.none(), st.tuples(st.sampled_from(["admin", "6666", "x"]), VALUES))
FORWARDED = st.one_of(
    st.none(), st.sampled_from(["10.0.0.5", "10.0.0.5, 127.0.0.1", "2001:db8::" + "f" * 80]), ASCII
)


@pytest.fixture(
    scope="module",
    params=[
        ("sqlite", "simple"),
        ("sqlite", "vicidial"),
        pytest.param(("mariadb", "simple"), marks=pytest.mark.mariadb),
        pytest.param(("mariadb", "vicidial"), marks=pytest.mark.mariadb),
    ],
    ids=lambda p: "-".join(p),
)
def fuzz_server(request, tmp_path_factory):
    backend, dialect = request.param
    root = None
    if backend == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'fuzz.db'}")
    else:
        need_mariadb()
        name = f"vicidid_fuzz_{uuid.uuid4().hex[:12]}"
        root = sa.create_engine(MYSQL_ROOT)
        with root.begin() as conn:
            conn.execute(sa.text(f"CREATE DATABASE {name} CHARACTER SET utf8mb4"))
        engine = strict(MYSQL_ROOT.set(database=name).render_as_string(hide_password=False))
    init_db(engine)
    demo.load(engine)
    with engine.begin() as conn:  # plain passwords: bcrypt would only slow the fuzzing
        conn.execute(sa.text("UPDATE system_settings SET pass_hash_enabled=0"))
        conn.execute(sa.text("UPDATE vicidial_users SET pass='1234'"))
    try:
        with serve(engine, dialect=dialect, trusted_proxies=("127.0.0.1",)) as server:
            yield server
    finally:
        engine.dispose()
        if root is not None:
            with root.begin() as conn:
                conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name}"))
            root.dispose()


def did_rows(server) -> list[tuple]:
    with server.engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(sa.text("SELECT * FROM vicidial_inbound_dids ORDER BY did_id"))
        ]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    function=st.sampled_from(FUNCTIONS),
    extra=st.dictionaries(st.sampled_from(NAMES), VALUES, max_size=8),
    post=st.booleans(),
    as_json=st.booleans(),
    basic=BASIC,
    forwarded=FORWARDED,
)
# text no database or log can keep, refused at the edge with 400 (found by this test)
@example(
    function="update_did",
    extra={"did_pattern": "\x00"},
    post=False,
    as_json=False,
    basic=None,
    forwarded=None,
)
def test_any_request_gets_a_well_formed_answer(
    fuzz_server, function, extra, post, as_json, basic, forwarded
):
    params = {"user": "admin", "pass": "1234", "source": "fuzz", "function": function, **extra}
    if as_json:
        params["format"] = "json"
    if basic is not None:
        params.pop("user")
        params.pop("pass")
    forwarded = (forwarded or "").strip()  # httpx refuses a value with edge spaces
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    before = did_rows(fuzz_server)
    url = f"{fuzz_server.url}/vicidial/non_agent_api.php"
    if post:
        r = fuzz_server.client.post(url, data=params, headers=headers, auth=basic)
    else:
        r = fuzz_server.client.get(url, params=params, headers=headers, auth=basic)
    assert r.status_code < 500, r.text[:300]
    refused = (
        _check_json(r)
        if r.headers["content-type"] == "application/json"
        else _check_text(r, params["function"])
    )
    if refused:
        assert did_rows(fuzz_server) == before


def _check_json(r) -> bool:
    """A JSON answer is one object with its result; True when it refused."""
    body = r.json()
    assert isinstance(body, dict)
    assert body["result"] in ("SUCCESS", "NOTICE", "ERROR") and body["kind"]
    return body["result"] != "SUCCESS"


def _check_text(r, function: str) -> bool:
    """One line per outcome, each starting with its result word; True when it refused."""
    assert r.status_code in (200, 400, 413)  # 400: text refused at the edge, or a bad body
    assert r.headers["content-type"] == "text/plain; charset=utf-8"
    assert r.text.endswith("\n")
    lines = r.text.splitlines()
    if function in ("did_info", "did_list") and not r.text.startswith("ERROR"):
        return False
    assert all(line.split(":")[0] in ("SUCCESS", "NOTICE", "ERROR", "VERSION") for line in lines)
    return all(line.startswith(("ERROR", "NOTICE")) for line in lines)
