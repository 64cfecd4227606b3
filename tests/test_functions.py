"""Each API function through the pipeline, without HTTP, on a real SQLite file."""

from __future__ import annotations

from datetime import datetime

import pytest
import sqlalchemy as sa

from vicidid.cli import demo
from vicidid.core.call import POLICIES, Call
from vicidid.core.functions import FUNCTIONS, dispatch
from vicidid.core.outcomes import Kind
from vicidid.core.params import Params
from vicidid.core.pipeline import Incoming, Pipeline
from vicidid.store import reflect
from vicidid.store import tables as t
from vicidid.store.db import make_engine
from vicidid.store.schema import init_db
from vicidid.store.statements import logins

AUTH = [("user", "6666"), ("pass", "1234"), ("source", "unit")]


@pytest.fixture
def engine(sqlite_url):
    engine = make_engine(sqlite_url)
    init_db(engine)
    demo.load(engine)
    with engine.begin() as conn:  # plain passwords keep these tests fast
        conn.execute(sa.text("UPDATE system_settings SET pass_hash_enabled=0"))
        conn.execute(sa.text("UPDATE vicidial_users SET pass='1234'"))
    yield engine
    engine.dispose()


def call(engine, dialect="simple", **params):
    pipeline = Pipeline(engine, POLICIES[dialect])
    return pipeline.handle(Incoming(query=[*AUTH, *params.items()]))


def did(engine, pattern):
    with engine.connect() as conn:
        row = (
            conn.execute(
                sa.text("SELECT * FROM vicidial_inbound_dids WHERE did_pattern=:p"), {"p": pattern}
            )
            .mappings()
            .first()
        )
    return dict(row) if row else None


def admin_rows(engine):
    with engine.connect() as conn:
        return [
            dict(r)
            for r in conn.execute(
                sa.text("SELECT * FROM vicidial_admin_log ORDER BY admin_log_id")
            ).mappings()
        ]


def test_update_writes_the_change_and_its_audit_row(engine):
    reply = call(
        engine,
        function="update_did",
        did_pattern="18001234567",
        did_route="CALLMENU",
        menu_id="MAIN_MENU",
        agent_search_method="SO",
    )
    assert reply.kinds == [Kind.UPDATED]
    row = did(engine, "18001234567")
    assert (row["did_route"], row["menu_id"], row["agent_search_method"]) == (
        "CALLMENU",
        "MAIN_MENU",
        "SO",
    )
    (log,) = admin_rows(engine)
    assert (log["event_type"], log["event_code"], log["record_id"]) == (
        "MODIFY",
        "ADMIN API UPDATE DID",
        str(row["did_id"]),
    )
    # VICIdial's notes, nothing more; the statement holds what was set
    assert log["event_notes"] == f"did: 18001234567 did_id: {row['did_id']}"
    assert log["event_sql"] == (
        "UPDATE vicidial_inbound_dids set did_route='CALLMENU',menu_id='MAIN_MENU',"
        f"agent_search_method='SO' where did_id='{row['did_id']}';"
    )
    assert log["event_sql"].startswith("UPDATE vicidial_inbound_dids set did_route='CALLMENU'")


def test_first_invalid_field_in_vicidial_order_wins(engine):
    reply = call(
        engine,
        function="update_did",
        did_pattern="18001234567",
        phone_code="x",
        did_route="BOGUS",
        did_active="Q",
    )
    assert reply.outcomes[0].field.key == "active"
    assert did(engine, "18001234567")["did_route"] == "IN_GROUP"


def test_delete_needs_the_flag_and_ignores_other_fields(engine):
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE vicidial_users SET delete_inbound_dids='0' WHERE user='6666'"))
    reply = call(engine, function="update_did", did_pattern="18001234567", delete_did="Y")
    assert reply.kinds == [Kind.NO_DELETE_PERMISSION]
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE vicidial_users SET delete_inbound_dids='1' WHERE user='6666'"))
    reply = call(
        engine, function="update_did", did_pattern="18001234567", delete_did="Y", did_route="BOGUS"
    )
    assert reply.kinds == [Kind.DELETED]
    assert did(engine, "18001234567") is None
    assert admin_rows(engine)[-1]["event_code"] == "ADMIN API DELETE DID"


def test_delete_did_other_than_y_is_not_a_delete(engine):
    reply = call(engine, function="update_did", did_pattern="18001234567", delete_did="N")
    assert reply.kinds == [Kind.NO_UPDATES]


def test_add_did_with_defaults_and_fields(engine):
    reply = call(
        engine,
        function="add_did",
        did_pattern="+17275551112",
        did_description="Plus sign DID",
        did_route="IN_GROUP",
        group_id="SALES_TEAM",
    )
    assert reply.kinds == [Kind.ADDED]
    row = did(engine, "+17275551112")
    assert (row["did_route"], row["group_id"], row["extension"], row["list_id"]) == (
        "IN_GROUP",
        "SALES_TEAM",
        "9998811112",
        "999",
    )
    assert admin_rows(engine)[-1]["event_notes"] == (
        f"did: +17275551112 did_id: {row['did_id']} inserted: 1"
    )
    assert call(engine, function="add_did", did_pattern="+17275551112").kinds == [Kind.DID_EXISTS]


def test_add_did_checks_fields_and_adds_nothing_on_error(engine):
    reply = call(engine, function="add_did", did_pattern="7275550000", menu_id="NOPE")
    assert reply.kinds == [Kind.UNKNOWN_REFERENCE]
    assert did(engine, "7275550000") is None


def test_copy_copies_every_column_even_unknown_ones(engine):
    with engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE vicidial_inbound_dids ADD COLUMN site_note TEXT"))
        conn.execute(
            sa.text(
                "UPDATE vicidial_inbound_dids SET site_note='rack 4', "
                "inbound_route_answer='N', pre_filter_recent_call='RC1', "
                "custom_three='c3' WHERE did_pattern='18001234567'"
            )
        )
    reply = call(
        engine,
        function="copy_did",
        source_did_pattern="18001234567",
        new_dids="18002223333",
        did_description="Copied line",
    )
    assert reply.kinds == [Kind.COPIED, Kind.COPY_SUMMARY]
    source, new = did(engine, "18001234567"), did(engine, "18002223333")
    for column in source:
        if column not in ("did_id", "did_pattern", "did_description"):
            assert new[column] == source[column], column
    assert new["site_note"] == "rack 4" and new["did_description"] == "Copied line"


def test_copy_items_simple_skips_empty_items(engine):
    reply = call(
        engine,
        function="copy_did",
        did_pattern="18001234567",
        new_did_pattern="18002223334,,18002223334,1800-abc,1,",
    )
    kinds = [(o.kind, o.value) for o in reply.outcomes[:-1]]
    assert kinds == [
        (Kind.COPIED, "18002223334"),
        (Kind.COPY_EXISTS, "18002223334"),
        (Kind.COPY_INVALID, "1800-abc"),
        (Kind.COPY_INVALID, "1"),
    ]
    counts = reply.outcomes[-1].counts
    assert (counts.added, counts.existed, counts.invalid) == (1, 1, 2)
    log = admin_rows(engine)[-1]
    assert log["event_type"] == "COPY"
    assert log["event_notes"].startswith(
        "DID Source: 18001234567 Inserts: 1 Insert Errors: 3 Copy Log:\n18002223334 ADDED, did_id: "
    )


def test_copy_items_vicidial_reports_empty_and_long_items(engine):
    long = "1" * 51
    reply = call(
        engine,
        "vicidial",
        function="copy_did",
        source_did_pattern="18001234567",
        new_dids=f"18002223335,,{long}",
    )
    assert [o.kind for o in reply.outcomes] == [
        Kind.COPIED,
        Kind.COPY_INVALID,
        Kind.COPY_INVALID,
        Kind.COPY_SUMMARY,
    ]
    assert did(engine, "") is None and did(engine, long) is None


def test_copy_limits(engine):
    many = ",".join(f"1{n:010d}" for n in range(10_001))
    reply = call(engine, function="copy_did", did_pattern="18001234567", new_did_pattern=many)
    assert reply.kinds == [Kind.TOO_MANY_DIDS]
    reply = call(
        engine,
        "vicidial",
        function="copy_did",
        source_did_pattern="18001234567",
        new_dids=",".join(f"1{n:010d}" for n in range(200)),
    )  # > 2,000 characters
    assert reply.kinds == [Kind.INVALID_FIELD]
    assert reply.outcomes[0].extra["required"]


def test_copy_source_invisible_to_a_scoped_admin(engine):
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE vicidial_user_groups SET admin_viewable_groups=' SALES -'"))
        conn.execute(sa.text("UPDATE vicidial_inbound_dids SET user_group='OTHER'"))
    reply = call(
        engine, function="copy_did", did_pattern="18001234567", new_did_pattern="18002223336"
    )
    assert reply.kinds == [Kind.DID_NOT_FOUND]
    # add_did ignores visibility: a DID number is global
    assert call(engine, function="add_did", did_pattern="18001234567").kinds == [Kind.DID_EXISTS]


def test_every_request_logs_its_run_time(engine):
    call(engine, function="update_did", did_pattern="19990000000", did_active="N")
    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT * FROM vicidial_api_log")).mappings().one()
        url = conn.execute(sa.text("SELECT url FROM vicidial_api_urls")).scalar_one()
    assert row["result"] == "ERROR" and row["api_script"] == "non-agent"
    assert 0 < float(row["run_time"]) < 5
    assert "pass" not in url and "did_pattern=19990000000" in url


def test_large_copy_reports_each_did_with_its_id(engine):
    """Bulk copies go in multi-row inserts: ids and outcomes must still match per DID."""
    items = [f"1700{n:07d}" for n in range(450)]
    call(engine, function="add_did", did_pattern=items[10])
    reply = call(
        engine,
        function="copy_did",
        did_pattern="18001234567",
        new_did_pattern=",".join([*items, items[3]]),
    )
    copied = {o.value: o.did_id for o in reply.outcomes if o.kind is Kind.COPIED}
    assert len(copied) == 449
    assert [o.value for o in reply.outcomes if o.kind is Kind.COPY_EXISTS] == [items[10], items[3]]
    for pattern in (items[0], items[200], items[449]):
        assert did(engine, pattern)["did_id"] == copied[pattern]
    with engine.connect() as conn:
        logs = conn.execute(
            sa.text(
                "SELECT l.data, u.url FROM vicidial_api_log l JOIN vicidial_api_urls u "
                "ON u.api_id = l.api_id WHERE l.function='copy_did' ORDER BY l.api_id"
            )
        ).all()
    assert len(logs) == 451 + 1  # one per item, one summary
    assert logs[0][0] == f"{items[0]}|18001234567|{copied[items[0]]}|1"
    assert all(url.startswith("/vicidial/non_agent_api.php?") for _, url in logs)
    assert len(logs[0][1]) <= 4000


def test_vicidial_new_dids_shorter_than_two_characters_is_a_required_field_error(engine):
    reply = call(
        engine, "vicidial", function="copy_did", source_did_pattern="18001234567", new_dids="1"
    )
    assert reply.kinds == [Kind.INVALID_FIELD] and reply.outcomes[0].extra["required"]


def test_the_registry_says_which_functions_add_replay_or_only_read():
    assert {n for n, f in FUNCTIONS.items() if f.adds_dids} == {"add_did", "copy_did"}
    assert {n for n, f in FUNCTIONS.items() if f.idempotent} == {"add_did", "copy_did"}
    assert {n for n, f in FUNCTIONS.items() if not f.changes_dids} == {
        "did_info",
        "did_list",
        "version",
    }
    assert {n for n, f in FUNCTIONS.items() if not f.needs_login} == {"version"}


def test_version_is_answered_without_a_login_and_its_call_has_no_caller(engine):
    pipeline = Pipeline(engine, POLICIES["simple"])
    reply = pipeline.handle(Incoming(query=[("function", "version"), ("user", "nobody")]))
    assert reply.kinds == [Kind.VERSION] and reply.outcomes[0].user == "nobody"
    assert reply.outcomes[0].extra["line"].startswith("VERSION: 2.14-194|BUILD: vicidid-")
    params = Params({"user": "nobody"}, filtering=False)
    with engine.connect() as conn:
        now = datetime(2026, 1, 2, 3, 4, 5)
        call = Call(conn, params, POLICIES["simple"], None, "version", "", "", now, t.inbound_dids)
        assert call.user == "nobody"
        with pytest.raises(LookupError):
            call.caller  # noqa: B018 - only a function that needs a login may ask
        [outcome] = dispatch(call).outcomes
    assert outcome.kind is Kind.VERSION and outcome.user == "nobody"
    assert "|DATE: 2026-01-02 03:04:05|" in outcome.extra["line"]


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_without_the_modify_flag_only_the_reading_functions_run(engine, function):
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE vicidial_users SET modify_inbound_dids='0'"))
    reply = call(engine, function=function, did_pattern="8005551234")
    refused = reply.kinds == [Kind.NO_PERMISSION]
    assert refused is FUNCTIONS[function].changes_dids


def test_update_did_returns_its_writes_and_the_answer_should_the_did_be_gone(engine):
    params = Params(
        {"did_pattern": "18001234567", "did_description": "Returned, not sent"}, filtering=False
    )
    dids = reflect.did_table(engine)
    with engine.connect() as conn:
        caller = logins.login_read(conn, "6666").caller
        now = datetime(2026, 1, 2, 3, 4, 5)
        call = Call(conn, params, POLICIES["simple"], caller, "update_did", "unit", "", now, dids)
        done = dispatch(call)
        assert [o.kind for o in done.outcomes] == [Kind.UPDATED]
        assert [w.table for w in done.writes] == [t.inbound_dids.name, t.admin_log.name]
        assert [o.kind for o in done.if_gone] == [Kind.DID_NOT_FOUND]
        conn.rollback()
    # the function sent nothing itself: the pipeline sends what it returns
    assert did(engine, "18001234567")["did_description"] != "Returned, not sent"
