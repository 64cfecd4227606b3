"""Hostile text and bytes in every field of every function, through a real server (hypothesis).

Each example is one request with a valid login (so that it reaches the function), sent as
a form POST, as JSON or as a GET query, to a server of either dialect, on SQLite, on an
InnoDB database `init_db` made and on VICIdial's own MyISAM schema (vicidid's tables added
by `init-db --add-missing`), MariaDB in strict mode. Any field may hold arbitrary text
(lone surrogates, NUL, control characters, characters latin1 lacks) or arbitrary bytes;
the DIDs and settings are often valid, so that hostile text meets real writes: a copy with
hostile items beside new DIDs, an add or an update with hostile text in the fields it does
not read.

Whatever arrives: no 5xx answer (a healthy database gives no reason for one), no traceback
and no error in the log, and nothing half written. Every new api_log row has its
vicidial_api_urls row; every DID added has its admin_log ADD or COPY row naming it and its
api_log row; every DID changed or deleted has its MODIFY or DELETE row. A query too long
for a request line goes as a form body instead.
"""

from __future__ import annotations

import itertools
import json
import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_from_bytes

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.conftest import MYSQL_ROOT, LiveServer, need_mariadb, serve
from tests.test_existing_vicidial import load_vicidial
from tests.test_limits import strict
from vicidid import fields
from vicidid.cli import admin, demo, main
from vicidid.store.db import make_engine
from vicidid.store.schema import init_db
from vicidid.store.statements import queries

FUNCTIONS = ("update_did", "copy_did", "add_did", "did_info", "did_list", "version")
SOURCES = ("18001234567",)  # copied from, never changed (in the demo and the sample data)
TARGETS = tuple(f"1900555{n:04d}" for n in range(20))  # updated and deleted (made by `site`)

# A valid value for each field, so that a request gets past the field and reaches a write.
VALID = {
    "did_description": "Hostile text test",
    "active": "Y",
    "did_active": "Y",
    "did_route": "EXTEN",
    "record_call": "N",
    "extension": "1001",
    "exten_context": "default",
    "voicemail_ext": "8500",
    "phone_extension": "1001",
    "server_ip": "10.0.0.5",
    "group": "SALES_TEAM",
    "menu_id": "MAIN_MENU",
    "filter_clean_cid_number": "X",
    "call_handle_method": "CID",
    "agent_search_method": "LB",
    "list_id": "999",
    "entry_list_id": "0",
    "campaign_id": "TEST",
    "phone_code": "1",
    "user_id": "6666",
    "route": "EXTEN",
    "prefix": "1800",
    "user_group": "ADMIN",
    "limit": "5",
    "offset": "0",
    "delete_did": "N",
    "format": "json",
}
OTHERS = (
    *fields.DID_FIELDS,
    *fields.LIST_FILTERS,
    fields.DELETE_DID,
    fields.FORMAT,
    fields.IDEMPOTENCY_KEY,
)
NAMES = {name: field.key for field in OTHERS for name in field.names}

_fresh = itertools.count()


def valid(key: str) -> st.SearchStrategy[str]:
    if key == "idempotency_key":  # a new key each time: an add or a copy that acts once
        return st.builds(lambda: f"hostile-{next(_fresh)}")
    return st.just(VALID[key])


def fresh_did() -> st.SearchStrategy[str]:
    """A DID no one has used: hypothesis picks the start, a counter makes it new."""
    return st.integers(10, 99).map(lambda n: f"{n}{next(_fresh):08d}")


# Any character, lone surrogates included; and the ones that have broken servers before.
CHARACTERS = st.one_of(
    st.characters(exclude_categories=()),
    st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF, exclude_categories=()),
    st.sampled_from(["\x00", "\n", "\r", "\x1b", "\x07", "\u2028", "\x81", "€", "😀", "'", "\\"]),
)
HOSTILE = st.one_of(
    st.text(CHARACTERS, max_size=40),
    st.text(CHARACTERS, min_size=300, max_size=3000),
    st.binary(max_size=60),  # arbitrary bytes: not always UTF-8
    st.integers(),  # JSON's numbers (in a form, their digits)
)
Value = str | bytes | int | list[Any]


def one_in(draw: st.DrawFn, n: int) -> bool:
    """True about once in n draws (st.one_of would flatten nested choices into equal ones)."""
    return draw(st.sampled_from(range(n))) == 0


@st.composite
def new_item(draw: st.DrawFn) -> Value:
    if one_in(draw, 3):
        return draw(HOSTILE)
    return draw(st.sampled_from(SOURCES)) if one_in(draw, 4) else draw(fresh_did())


def new_dids() -> st.SearchStrategy[Value]:
    """Items new, existing or hostile, as one value or (in JSON) a list."""
    items = st.lists(new_item(), min_size=1, max_size=6)
    return st.one_of(items.map(lambda xs: b",".join(_bytes(x) for x in xs)), items.map(list))


@st.composite
def requests(draw: st.DrawFn) -> dict[str, Value]:
    """A request that would reach a write, then 0 to 3 of its fields (or others) hostile."""
    function = draw(HOSTILE) if one_in(draw, 8) else draw(st.sampled_from(FUNCTIONS))
    params: dict[str, Value] = {"function": function, "user": "6666", "pass": "1234"}
    params["source"] = "fuzz"
    if function == "copy_did" or (function not in FUNCTIONS and draw(st.booleans())):
        params[draw(st.sampled_from(fields.SOURCE_DID.names))] = draw(st.sampled_from(SOURCES))
        params[draw(st.sampled_from(fields.NEW_DIDS.names))] = draw(new_dids())
    elif function == "add_did":
        params["did_pattern"] = draw(fresh_did())
    else:
        params["did_pattern"] = draw(fresh_did() if one_in(draw, 4) else st.sampled_from(TARGETS))
        if function == "update_did" and one_in(draw, 6):
            params["delete_did"] = "Y"
    for name in draw(st.lists(st.sampled_from(sorted(NAMES)), max_size=5, unique=True)):
        params[name] = draw(valid(NAMES[name]))
    pool = sorted({*params, *NAMES, "junk"})
    for name in draw(st.lists(st.sampled_from(pool), max_size=3, unique=True)):
        params[name] = draw(HOSTILE)
    if one_in(draw, 5):  # a name no one knows, itself hostile
        params[draw(st.text(CHARACTERS, min_size=1, max_size=20))] = draw(HOSTILE)
    return params


def _bytes(value: Value) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, list):
        return b",".join(_bytes(v) for v in value)
    return str(value).encode("utf-8", "surrogatepass")


def urlencoded(params: dict[str, Value]) -> str:
    return "&".join(
        f"{quote_from_bytes(_bytes(k))}={quote_from_bytes(_bytes(v))}" for k, v in params.items()
    )


def _json_value(value: Value) -> object:
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")  # a byte UTF-8 lacks: a lone surrogate
    if isinstance(value, list):
        return [_json_value(v) for v in value]
    return value


def as_json(params: dict[str, Value]) -> bytes:
    body = {k: _json_value(v) for k, v in params.items()}
    return json.dumps(body).encode()  # ASCII: surrogates travel as \\udXXX escapes


class Captured(logging.Handler):
    """Every record at WARNING or above that vicidid or uvicorn logs."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@dataclass
class Site:
    engine_name: str
    servers: dict[str, LiveServer]  # by dialect, on one database
    captured: Captured


def _plain_passwords(engine: sa.engine.Engine) -> None:
    with engine.begin() as conn:  # bcrypt would only slow the examples down
        conn.execute(sa.text("UPDATE system_settings SET pass_hash_enabled='0'"))
        conn.execute(sa.text("UPDATE vicidial_users SET pass='1234' WHERE user='6666'"))


@pytest.fixture(
    scope="module",
    params=[
        "sqlite",
        pytest.param("innodb", marks=pytest.mark.mariadb),
        pytest.param("myisam", marks=pytest.mark.mariadb),
    ],
)
def site(request, tmp_path_factory) -> Iterator[Site]:
    name = None
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('hostile') / 'h.db'}")
        init_db(engine)
        demo.load(engine)
    else:
        need_mariadb()
        name = f"vicidid_hostile_{uuid.uuid4().hex[:12]}"
        root = sa.create_engine(MYSQL_ROOT)
        with root.begin() as conn:
            conn.execute(sa.text(f"CREATE DATABASE {name} CHARACTER SET utf8mb4"))
        root.dispose()
        url = MYSQL_ROOT.set(database=name).render_as_string(hide_password=False)
        if request.param == "myisam":
            load_vicidial(url)
            added = CliRunner().invoke(main, ["--db", url, "init-db", "--add-missing"])
            assert added.exit_code == 0, added.output
            engine = strict(url)
        else:
            engine = strict(url)
            init_db(engine)
            demo.load(engine)
    _plain_passwords(engine)
    with engine.begin() as conn:
        if not queries.ref_exists(conn, "server", VALID["server_ip"]):
            admin.add_reference(conn, "server", VALID["server_ip"])
    captured = Captured()
    loggers = [logging.getLogger(n) for n in ("", "uvicorn")]  # uvicorn's do not reach the root
    for logger in loggers:
        logger.addHandler(captured)
    try:
        with serve(engine, dialect="simple") as simple, serve(engine, dialect="vicidial") as vici:
            made = simple.get(
                "function=copy_did&user=6666&pass=1234&source=fuzz"
                f"&did_pattern={SOURCES[0]}&new_dids={','.join(TARGETS)}"
            )
            assert made.text.startswith("SUCCESS"), made.text
            yield Site(request.param, {"simple": simple, "vicidial": vici}, captured)
    finally:
        for logger in loggers:
            logger.removeHandler(captured)
        engine.dispose()
        if name is not None:
            root = sa.create_engine(MYSQL_ROOT)
            with root.begin() as conn:
                conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name}"))
            root.dispose()


@dataclass(frozen=True)
class State:
    dids: dict[str, dict[str, Any]]  # every DID's row, by pattern
    admin_id: int  # the last admin_log row's id
    api_id: int  # the last api_log row's id


def state(engine: sa.engine.Engine) -> State:
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT * FROM vicidial_inbound_dids")).mappings()
        dids = {r["did_pattern"]: dict(r) for r in rows}
        admin = "SELECT COALESCE(MAX(admin_log_id), 0) FROM vicidial_admin_log"
        api = "SELECT COALESCE(MAX(api_id), 0) FROM vicidial_api_log"
        return State(
            dids, conn.execute(sa.text(admin)).scalar_one(), conn.execute(sa.text(api)).scalar_one()
        )


def written_since(engine: sa.engine.Engine, before: State) -> tuple[list[Any], list[Any], set[int]]:
    """The admin_log rows, the api_log rows and the api_urls rows' ids written since."""
    with engine.connect() as conn:
        admin = conn.execute(
            sa.text("SELECT * FROM vicidial_admin_log WHERE admin_log_id > :i"),
            {"i": before.admin_id},
        ).all()
        api = conn.execute(
            sa.text("SELECT * FROM vicidial_api_log WHERE api_id > :i"), {"i": before.api_id}
        ).all()
        urls = conn.execute(
            sa.text("SELECT api_id FROM vicidial_api_urls WHERE api_id > :i"), {"i": before.api_id}
        ).scalars()
        return list(admin), list(api), set(urls)


URL_MAX = 8000  # a longer query goes as a form body: servers cap a request line's length


def send(server: LiveServer, params: dict[str, Value], how: str):
    url = f"{server.url}/vicidial/non_agent_api.php"
    if how == "json":
        headers = {"content-type": "application/json"}
        return server.client.post(url, content=as_json(params), headers=headers)
    query = urlencoded(params)
    if how == "get" and len(query) <= URL_MAX:
        return server.client.get(f"{url}?{query}")
    headers = {"content-type": "application/x-www-form-urlencoded"}
    return server.client.post(url, content=query.encode(), headers=headers)


def audited(before: State, after: State, admin: list[Any], api: list[Any]) -> list[str]:
    """What is missing from the audit of the DIDs this request added, changed or deleted."""
    missing = []
    for pattern, row in after.dids.items():
        did_id = row["did_id"]
        if pattern not in before.dids:
            notes = [r.event_notes or "" for r in admin]
            add = f"did: {pattern} did_id: {did_id} "
            copy = f"\n{pattern} ADDED, did_id: {did_id}\n"
            if not any(
                (r.event_type == "ADD" and (r.event_notes or "").startswith(add))
                or (r.event_type == "COPY" and copy in (r.event_notes or ""))
                for r in admin
            ):
                missing.append(f"no ADD or COPY row for {pattern} ({did_id}): {notes!r}")
            if not any(
                r.data == pattern
                or (
                    (r.data or "").startswith(f"{pattern}|")
                    and (r.data or "").endswith(f"|{did_id}|1")
                )
                for r in api
            ):
                missing.append(f"no api_log row for {pattern} ({did_id})")
        elif row != before.dids[pattern] and not any(
            r.event_type == "MODIFY" and r.record_id == str(did_id) for r in admin
        ):
            missing.append(f"no MODIFY row for {pattern} ({did_id})")
    for pattern, row in before.dids.items():
        if pattern not in after.dids and not any(
            r.event_type == "DELETE" and r.record_id == str(row["did_id"]) for r in admin
        ):
            missing.append(f"no DELETE row for {pattern} ({row['did_id']})")
    if after.dids != before.dids and not api:
        missing.append("no api_log row")
    return missing


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.large_base_example,
        HealthCheck.data_too_large,
    ],
)
@given(
    params=requests(),
    dialect=st.sampled_from(["simple", "vicidial"]),
    how=st.sampled_from(["form", "json", "get"]),
)
def test_hostile_text_never_fails_a_request_nor_leaves_it_half_written(site, params, dialect, how):
    server = site.servers[dialect]
    before = state(server.engine)
    site.captured.records.clear()
    r = send(server, params, how)
    after = state(server.engine)
    admin, api, urls = written_since(server.engine, before)
    sent = f"{site.engine_name} {dialect} {how}: {params!r}"[:2000]
    event(f"HTTP {r.status_code}")
    event("DIDs written" if after.dids != before.dids else "no DID written")
    assert r.status_code < 500, f"{r.status_code} {r.text[:300]!r} for {sent}"
    logged = [
        f"{x.levelname} {x.name}: {x.getMessage()}"
        for x in site.captured.records
        if x.exc_info or x.levelno >= logging.ERROR
    ]
    assert not logged, f"{logged} for {sent}"
    assert urls == {row.api_id for row in api}, f"api_log rows without their URL for {sent}"
    missing = audited(before, after, admin, api)
    assert not missing, f"{missing} for {sent}"
