"""Replays the answers recorded from the real VICIdial 2.14, in order, on fresh data.

tests/data/vicidial_cases.json holds each request, VICIdial's body, and what changed in
the database. Bodies are compared byte for byte, after normalising what a comparison with
VICIdial leaves out (the version line's time fields and build, did_ids where our sequence
differs). The deliberate deviation (copy_did copies the three columns VICIdial drops) is
asserted as a deviation.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import serve
from vicidid.store import tables as t
from vicidid.store.db import make_engine
from vicidid.store.schema import init_db

CASES = json.loads((Path(__file__).parent / "data" / "vicidial_cases.json").read_text())
COPY_DROPPED = ("inbound_route_answer", "pre_filter_recent_call", "pre_filter_recent_extension")


def load_sample_data(engine) -> None:
    """VICIdial's default rows that matter, then the recording's data.sql, adapted."""
    users = [
        # user, level, group, active, api, modify, delete, functions
        ("6666", 9, "ADMIN", "Y", "1", "1", "1", " ALL_FUNCTIONS "),
        ("VDAD", 1, "ADMIN", "N", "0", "0", "0", " ALL_FUNCTIONS "),
        ("VDCL", 1, "ADMIN", "N", "0", "0", "0", " ALL_FUNCTIONS "),
        ("7777", 7, "ADMIN", "Y", "1", "1", "1", " ALL_FUNCTIONS "),
        ("8888", 9, "ADMIN", "Y", "0", "1", "1", " ALL_FUNCTIONS "),
        ("5555", 9, "ADMIN", "Y", "1", "1", "1", " add_lead "),
        ("4444", 9, "ADMIN", "Y", "1", "1", "0", " ALL_FUNCTIONS "),
        ("3333", 9, "ADMIN", "Y", "1", "0", "0", " ALL_FUNCTIONS "),
        ("1001", 1, "AGENTS", "Y", "0", "0", "0", " ALL_FUNCTIONS "),
        ("2222", 9, "SCOPED", "Y", "1", "1", "1", " ALL_FUNCTIONS "),
        ("2223", 9, "ADMIN", "N", "1", "1", "1", " ALL_FUNCTIONS "),
    ]
    with engine.begin() as conn:
        conn.execute(t.system_settings.update().values(pass_hash_enabled=0, pass_cost=2))
        conn.execute(
            t.user_groups.insert(),
            [
                {"user_group": "ADMIN", "admin_viewable_groups": " ---ALL--- "},
                {"user_group": "SCOPED", "admin_viewable_groups": " SALES -"},
            ],
        )
        conn.execute(
            t.users.insert(),
            [
                {
                    "user": u,
                    "pass": "1234",
                    "user_level": lvl,
                    "user_group": g,
                    "active": a,
                    "vdc_agent_api_access": api,
                    "modify_inbound_dids": m,
                    "delete_inbound_dids": d,
                    "api_allowed_functions": f,
                }
                for u, lvl, g, a, api, m, d, f in users
            ],
        )
        conn.execute(
            t.servers.insert().values(
                server_id="S1", server_ip="10.0.0.5", active="Y", local_gmt="-5.00"
            )
        )
        conn.execute(t.inbound_groups.insert().values(group_id="SALES_TEAM"))
        conn.execute(t.call_menus.insert().values(menu_id="MAIN_MENU"))
        conn.execute(
            t.inbound_dids.insert(),
            [
                {"did_pattern": "default", "did_description": "Default DID"},
            ],
        )
        conn.execute(
            t.inbound_dids.insert().values(
                did_pattern="18001234567",
                did_description="Customer Support Line",
                did_route="IN_GROUP",
                group_id="SALES_TEAM",
                record_call="Y",
                custom_one="x1",
                user_group="---ALL---",
                inbound_route_answer="N",
                pre_filter_recent_call="RC1",
                pre_filter_recent_extension="8888",
            )
        )
        conn.execute(
            t.inbound_dids.insert().values(did_pattern="7275551114", did_description="Another DID")
        )
        conn.execute(
            t.inbound_dids.insert().values(
                did_pattern="18005550100", did_description="Other group DID", user_group="OTHER"
            )
        )


def normal(body: str) -> str:
    """Blank out what is not compared: the version's time fields, did_ids."""
    body = re.sub(
        r"BUILD: [^|]*\|DATE: [^|]*\|EPOCH: \d+\|DST: \d\|TZ: [^|]*\|TZNOW: [^|]*\|",
        "BUILD: *|DATE: *|EPOCH: *|DST: *|TZ: *|TZNOW: *|",
        body,
    )
    body = re.sub(r"(DID HAS BEEN ADDED - \w+\|[^|]+\|[^|]+\|)\d+(\|1)", r"\1ID\2", body)
    body = re.sub(r"(DID HAS BEEN DELETED - \w+\|[^|\n]+\|)\d+", r"\1ID", body)
    return re.sub(r"did_id: \d+", "did_id: ID", body)


def normal_log(row: dict) -> dict:
    row = dict(row)
    if row["result_reason"] == "copy_did DID HAS BEEN ADDED":
        row["data"] = re.sub(r"\|\d+\|1$", "|ID|1", row["data"])
    if row["result_reason"] == "update_did DID HAS BEEN DELETED":
        row["data"] = re.sub(r"\|\d+$", "|ID", row["data"])
    row["data"] = normal(row["data"])
    return row


def snapshot(engine) -> dict[str, dict]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(t.inbound_dids)).mappings().all()
    return {r["did_pattern"]: dict(r) for r in rows}


def new_rows(engine, table: sa.Table, after: int) -> list[dict]:
    key = next(iter(table.primary_key.columns))
    with engine.connect() as conn:
        rows = conn.execute(sa.select(table).where(key > after).order_by(key)).mappings().all()
    return [dict(r) for r in rows]


def last_id(engine, table: sa.Table) -> int:
    key = next(iter(table.primary_key.columns))
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.coalesce(sa.func.max(key), 0))).scalar_one()


def text(value) -> str:
    return "None" if value is None else str(value)


@pytest.fixture
def sample_server(db_url):
    engine = make_engine(db_url)
    init_db(engine)
    load_sample_data(engine)
    with serve(engine, dialect="vicidial") as server:
        yield server
    engine.dispose()


def test_replay_recorded_cases(sample_server):
    replay(sample_server)


def replay(sample_server) -> None:
    """Send every recorded request in order; compare bodies, DID changes and log rows."""
    engine = sample_server.engine
    for case in CASES:
        before = snapshot(engine)
        api_before, admin_before = last_id(engine, t.api_log), last_id(engine, t.admin_log)
        r = sample_server.get(case["query"])
        name = case["case"]
        assert r.status_code == case["status"], name
        assert normal(r.text) == normal(case["body"]), name

        after = snapshot(engine)
        for pattern, change in case["dids_changed"].items():
            if change.get("deleted"):
                assert pattern not in after, name
            elif "added" in change:
                row = after[pattern]
                for column, value in change["added"].items():
                    if name.startswith("copy") and column in COPY_DROPPED:
                        source = before["18001234567"][column]
                        assert row[column] == source, (name, column)  # deliberate deviation
                    else:
                        assert text(row[column]) == value, (name, column)
            else:
                for column, (old, new) in change.items():
                    assert text(before[pattern][column]) == old, (name, column)
                    assert text(after[pattern][column]) == new, (name, column)
        unchanged = set(before) - set(case["dids_changed"])
        assert {p: after.get(p) for p in unchanged} == {p: before[p] for p in unchanged}, name

        api_rows = new_rows(engine, t.api_log, api_before)
        got = [
            {
                k: text(r[k]) if r[k] is not None else ""
                for k in ("function", "result", "result_reason", "source", "data", "value")
            }
            for r in api_rows
        ]
        expected = case["api_log"]
        assert [normal_log(g) for g in got] == [normal_log(e) for e in expected], name

        admin_rows = new_rows(engine, t.admin_log, admin_before)
        assert len(admin_rows) == len(case["admin_log"]), name
        for got_row, want in zip(admin_rows, case["admin_log"], strict=True):
            for column in ("event_section", "event_type", "event_code"):
                assert got_row[column] == want[column], (name, column)
            assert normal(got_row["event_notes"]) == normal(want["event_notes"]), name
