"""Replays 213 requests recorded from the real VICIdial 2.14, each on the same fresh data.

tests/data/vicidial_independent_cases.json holds each request (GET query, POST body, SQL
run before it), VICIdial's status and body, the DIDs it changed, the vicidial_admin_log
and vicidial_api_log rows it wrote and, for the login cases, the user's row afterwards.
Every case starts from the same data, so each is a test of its own.

On MariaDB the database is VICIdial's own schema (tests/fixtures/vicidial_schema.sql,
MyISAM) with the recording's data; on SQLite it is vicidid's own schema with the same data.
One database serves a whole backend: before each case the tables a request can touch are
put back from a template (TRUNCATE resets AUTO_INCREMENT, so the did_ids in the recorded
bodies hold), which is much faster than a database per case.

Everything is compared, except what README.md lists as vicidid's deliberate deviations:
the rules that apply to every case are in `expected_*` below, the cases that differ as a
whole are in DEVIATIONS, each naming the README deviation it shows.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import MYSQL_ROOT, need_mariadb, serve
from tests.test_existing_vicidial import run_sql_file
from tests.test_vicidial_sample import load_sample_data
from vicidid.store import tables as t
from vicidid.store.db import make_engine
from vicidid.store.schema import init_db

HERE = Path(__file__).parent
CASES = json.loads((HERE / "data" / "vicidial_independent_cases.json").read_text())
BY_NAME = {c["case"]: c for c in CASES}

# Tables vicidid writes; a case's pre_sql may touch others, which are then put back too.
WRITTEN = (
    "vicidial_inbound_dids",
    "vicidial_users",
    "vicidial_api_log",
    "vicidial_api_urls",
    "vicidial_admin_log",
)
TABLE_NAME = re.compile(r"\b(?:UPDATE|INTO)\s+(\w+)", re.I)

# README "copy_did copies every column": VICIdial leaves these at their defaults.
COPY_DROPPED = ("inbound_route_answer", "pre_filter_recent_call", "pre_filter_recent_extension")

# README "Bad copy items are reported, not inserted": VICIdial inserts an empty item as a
# DID with an empty pattern and cuts an item over 50 characters to 50 (or fails on the cut
# one's duplicate); vicidid answers `NEW DID IS NOT VALID` for such an item and inserts the
# rest. The expected answer is vicidid's, and nothing empty or cut may be stored.
BAD_COPY_ITEMS = {
    "copyitems_trailing_comma",
    "copyitems_51_chars",
    "copyitems_leading_comma",
    "copyitems_double_comma",
    "copyitems_only_commas",
    "copyitems_two_51_same_prefix",
    "copyitems_51_then_its_prefix",
    "copy_mixed_empty_long_dup",
}
# README "What it answers": did_info and did_list are vicidid's own read functions.
EXTENSIONS = {
    "nofunc_did_list",
    "nofunc_did_info",
    "nofunc_did_list_post",
    "nofunc_did_list_level7",
}
DEVIATIONS: dict[str, str] = {
    **{name: "bad copy items" for name in BAD_COPY_ITEMS},
    **{name: "extension" for name in EXTENSIONS},
}

# Behaviour another change brings; the case is skipped until it is in.
# On SQLite, vicidid's own schema compares DID patterns case-sensitively (VICIdial's MariaDB
# collation does not) and has no admin_ip_list column: these cases only make sense on
# VICIdial's schema.
MARIADB_ONLY = {
    "copynoadd_case_insensitive",
    "upd_did_case_insensitive",
    "add_existing_other_case",
    "upd_group_lower",
    "ip_admin_list_not_used_for_api",
}


def case_params(backend: str) -> list:
    params = []
    for case in CASES:
        name = case["case"]
        if backend == "sqlite" and name in MARIADB_ONLY:
            continue
        params.append(pytest.param(name, id=name))
    return params


# --- the database, once per backend, put back before each case ------------------------------


class Replayer:
    """A database with the recording's data, a server on it, and a way back to the start."""

    def __init__(self, engine: sa.engine.Engine, restore) -> None:
        self.engine = engine
        self.restore = restore
        self.server = None
        self.dirty: set[str] = set()  # tables the last case's pre_sql changed


@pytest.fixture(scope="module")
def mariadb_replayer():
    need_mariadb()
    name = f"vicidid_test_{uuid.uuid4().hex[:12]}"
    template = f"{name}_tpl"
    root = sa.create_engine(MYSQL_ROOT)
    with root.begin() as conn:
        # VICIdial's installer leaves a latin1 database with MyISAM tables
        conn.exec_driver_sql(f"CREATE DATABASE {name} CHARACTER SET latin1")
        conn.exec_driver_sql(f"CREATE DATABASE {template} CHARACTER SET latin1")
    url = MYSQL_ROOT.set(database=name).render_as_string(hide_password=False)
    try:
        run_sql_file(url, HERE / "fixtures" / "vicidial_schema.sql")
        run_sql_file(url, HERE / "data" / "vicidial_sample_data.sql")
        with root.begin() as conn:
            names = conn.exec_driver_sql(f"SHOW TABLES FROM {name}").scalars().all()
            for table in names:
                conn.exec_driver_sql(f"CREATE TABLE {template}.{table} LIKE {name}.{table}")
                conn.exec_driver_sql(f"INSERT INTO {template}.{table} SELECT * FROM {name}.{table}")

        def restore(tables: set[str]) -> None:
            with root.begin() as conn:
                for table in sorted(tables):
                    conn.exec_driver_sql(f"TRUNCATE TABLE {name}.{table}")
                    conn.exec_driver_sql(
                        f"INSERT INTO {name}.{table} SELECT * FROM {template}.{table}"
                    )

        engine = make_engine(url)
        replayer = Replayer(engine, restore)
        with serve(engine, dialect="vicidial") as server:
            replayer.server = server
            yield replayer
        engine.dispose()
    finally:
        with root.begin() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {template}")
        root.dispose()


@pytest.fixture(scope="module")
def sqlite_replayer(tmp_path_factory):
    path = tmp_path_factory.mktemp("independent") / "vicidid.db"
    engine = make_engine(f"sqlite:///{path}")
    init_db(engine)
    load_sample_data(engine)
    meta = sa.MetaData()
    meta.reflect(engine)
    with engine.connect() as conn:
        saved = {
            name: [dict(r) for r in conn.execute(sa.select(table)).mappings()]
            for name, table in meta.tables.items()
        }

    def restore(tables: set[str]) -> None:
        with engine.begin() as conn:
            for name in sorted(tables & set(meta.tables)):
                conn.execute(meta.tables[name].delete())
                if saved[name]:
                    conn.execute(meta.tables[name].insert(), saved[name])

    replayer = Replayer(engine, restore)
    with serve(engine, dialect="vicidial") as server:
        replayer.server = server
        yield replayer
    engine.dispose()


def sqlite_sql(statement: str) -> str:
    """A pre_sql statement in SQLite's words (its only MySQL-ism is NOW() - INTERVAL)."""
    return re.sub(
        r"NOW\(\) - INTERVAL (\d+) MINUTE",
        lambda m: f"datetime('now', 'localtime', '-{m.group(1)} minutes')",
        statement,
    )


# --- what is compared -----------------------------------------------------------------------


def normal(text: str) -> str:
    """Blank what is not compared: the version line's build and time, a failed login's password.

    VICIdial echoes the password in `|USER|PASS|BAD|`; vicidid leaves it empty (README:
    "No password is echoed or stored").
    """
    text = re.sub(
        r"BUILD: [^|]*\|DATE: [^|]*\|EPOCH: [^|]*\|DST: [^|]*\|TZ: [^|]*\|TZNOW: [^|]*\|",
        "BUILD: *|DATE: *|EPOCH: *|DST: *|TZ: *|TZNOW: *|",
        text,
    )
    return re.sub(
        r"(Login incorrect, please try again: \|[^|\n]*\|)[^|\n]*(\|BAD\|)", r"\1\2", text
    )


def expected_api_row(row: dict) -> dict:
    """VICIdial logs the last POST field's raw value in `value` (it can be the password);
    vicidid leaves it empty (README: "No password is echoed or stored")."""
    return {**row, "value": "", "data": normal(row["data"])}


def text(value) -> str:
    return "None" if value is None else str(value)


def dids(engine) -> dict[str, dict]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT * FROM vicidial_inbound_dids")).mappings().all()
    return {r["did_pattern"]: dict(r) for r in rows}


def rows_after(engine, table: sa.Table, after: int) -> list[dict]:
    key = next(iter(table.primary_key.columns))
    with engine.connect() as conn:
        found = conn.execute(sa.select(table).where(key > after).order_by(key)).mappings().all()
    return [dict(r) for r in found]


def last_id(engine, table: sa.Table) -> int:
    key = next(iter(table.primary_key.columns))
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.coalesce(sa.func.max(key), 0))).scalar_one()


def user_row(engine, user: str) -> dict:
    u = t.users.c
    wanted = (u.user, u.failed_login_count, u.failed_last_type_today, u.last_login_date)
    with engine.connect() as conn:
        return dict(conn.execute(sa.select(*wanted).where(u.user == user)).mappings().one())


def send(replayer: Replayer, case: dict):
    server = replayer.server
    url = f"{server.url}/vicidial/non_agent_api.php"
    if case["query"]:
        url += "?" + case["query"]
    if case["method"] == "GET":
        return server.client.get(url)
    return server.client.post(
        url,
        content=case["form_body"].encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )


def replay_case(replayer: Replayer, case: dict) -> dict:
    """Run one case from the start data; what it answered and changed."""
    engine = replayer.engine
    pre = [s.strip() for s in (case["pre_sql"] or "").split(";") if s.strip()]
    touched = {m.lower() for s in pre for m in TABLE_NAME.findall(s)}
    replayer.restore(set(WRITTEN) | replayer.dirty | touched)
    replayer.dirty = touched
    if pre:
        with engine.begin() as conn:
            for statement in pre:
                if engine.dialect.name == "sqlite":
                    statement = sqlite_sql(statement)
                conn.exec_driver_sql(statement)
    before = dids(engine)
    api_before, admin_before = last_id(engine, t.api_log), last_id(engine, t.admin_log)
    r = send(replayer, case)
    return {
        "status": r.status_code,
        "body": r.text,
        "before": before,
        "after": dids(engine),
        "api": rows_after(engine, t.api_log, api_before),
        "admin": rows_after(engine, t.admin_log, admin_before),
    }


def check_same(case: dict, got: dict, engine) -> None:
    """Everything VICIdial answered and changed, vicidid answered and changed too."""
    assert got["status"] == case["status"]
    assert normal(got["body"]) == normal(case["body"])
    check_dids(case, got)
    admin = ("event_section", "event_type", "event_code", "event_notes")
    want_admin = [{k: a[k] for k in admin} for a in case["admin_log"]]
    assert [{k: a[k] for k in admin} for a in got["admin"]] == want_admin
    columns = ("function", "result", "result_reason", "source", "data", "value")
    got_api = [{k: "" if r[k] is None else str(r[k]) for k in columns} for r in got["api"]]
    assert [expected_api_row(g) for g in got_api] == [expected_api_row(w) for w in case["api_log"]]
    assert all(g["value"] == "" for g in got_api)
    if "user_after" in case:
        check_user(case["user_after"], engine)


def check_dids(case: dict, got: dict) -> None:
    before, after = got["before"], got["after"]
    copying = "copy_did" in (case["query"] or "") + (case["form_body"] or "")
    for pattern, change in case["dids_changed"].items():
        if change.get("deleted"):
            assert pattern not in after
        elif "added" in change:
            row = after[pattern]
            source = before[row_source(case)] if copying else None
            for column, value in change["added"].items():
                if copying and column in COPY_DROPPED:
                    assert row[column] == source[column], column  # README: copies every column
                else:
                    assert text(row[column]) == value, column
        else:
            for column, (old, new) in change.items():
                assert text(before[pattern][column]) == old, column
                assert text(after[pattern][column]) == new, column
    unchanged = set(before) - set(case["dids_changed"])
    assert {p: after.get(p) for p in unchanged} == {p: before[p] for p in unchanged}
    assert set(after) - set(before) == {p for p, c in case["dids_changed"].items() if "added" in c}


def row_source(case: dict) -> str:
    query = case["query"] + "&" + (case["form_body"] or "")
    return re.search(r"source_did_pattern=([^&]*)", query).group(1)


def check_user(want: dict, engine) -> None:
    row = user_row(engine, want["user"])
    assert row["failed_login_count"] == want["failed_login_count"]
    assert (row["failed_last_type_today"] or "") == want["failed_last_type_today"]
    last = row["last_login_date"]
    recent = isinstance(last, datetime) and datetime.now() - last < timedelta(minutes=1)
    assert recent == want["last_login_date_within_last_minute"]


def check_bad_copy_items(case: dict, got: dict) -> None:
    """README "Bad copy items are reported, not inserted"."""
    query = dict(p.split("=", 1) for p in case["query"].split("&"))
    items, source = query["new_dids"].split(","), query["source_did_pattern"]
    want, seen = [], set()
    for item in items:
        if not 0 < len(item) <= 50:
            want.append(f"ERROR: copy_did NEW DID IS NOT VALID: |6666|{item}")
        elif item in got["before"] or item in seen:
            want.append(f"NOTICE: copy_did DID ALREADY EXISTS - 6666|{item}")
        else:
            want.append(f"NOTICE: copy_did DID HAS BEEN ADDED - 6666|{item}|{source}|")
        seen.add(item)
    added = sum("HAS BEEN ADDED" in w for w in want)
    if added:
        want.append(f"SUCCESS: copy_did DIDS HAVE BEEN ADDED - 6666|{source}|{added}|")
    else:
        want.append(f"ERROR: copy_did NO DIDS ADDED - 6666|{source}|0|")
    lines = got["body"].splitlines()
    assert got["status"] == 200
    assert len(lines) == len(want)
    for line, start in zip(lines, want, strict=True):
        assert line.startswith(start)
    new = set(got["after"]) - set(got["before"])
    assert new == {i for i in items if 0 < len(i) <= 50} - set(got["before"])
    # one COPY row whatever happened, and one api_log row per line
    assert [a["event_type"] for a in got["admin"]] == ["COPY"]
    assert len(got["api"]) == len(lines)


def check_extension(case: dict, got: dict) -> None:
    """did_info and did_list are vicidid's own read functions (README "What it answers"):
    VICIdial, which has no such function, answers NO FUNCTION SPECIFIED. They change nothing."""
    assert got["status"] == 200
    assert "NO FUNCTION SPECIFIED" not in got["body"]
    assert got["after"] == got["before"] and not got["admin"]


CHECK_DEVIATION = {"bad copy items": check_bad_copy_items, "extension": check_extension}


def check(replayer: Replayer, name: str) -> None:
    case = BY_NAME[name]
    got = replay_case(replayer, case)
    if name in DEVIATIONS:
        CHECK_DEVIATION[DEVIATIONS[name]](case, got)
    else:
        check_same(case, got, replayer.engine)


@pytest.mark.mariadb
@pytest.mark.parametrize("name", case_params("mariadb"))
def test_replays_on_vicidials_schema(mariadb_replayer, name):
    check(mariadb_replayer, name)


@pytest.mark.parametrize("name", case_params("sqlite"))
def test_replays_on_sqlite(sqlite_replayer, name):
    check(sqlite_replayer, name)


def test_every_listed_case_exists():
    assert set(DEVIATIONS) | MARIADB_ONLY <= set(BY_NAME)
