"""A DID deleted by another client while a request that changes it is under way.

The request answers that the DID does not exist, writes no admin_log row for it and logs
the api_log row of that answer — whether the DID went while the request was paused for a
bcrypt hash of its password, or between the function's read and its UPDATE or DELETE.
On SQLite, InnoDB, and VICIdial's own MyISAM schema, where nothing can be
rolled back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from tests.test_existing_vicidial import vicidial_url  # noqa: F401  (a fixture)
from tests.test_faults import innodb_url  # noqa: F401  (a fixture)
from vicidid.cli import admin, demo
from vicidid.core.call import POLICIES
from vicidid.core.outcomes import Kind
from vicidid.core.pipeline import Incoming, Paused, Pending, Pipeline, Reply
from vicidid.store.db import make_engine
from vicidid.store.schema import init_db

DID = "18001234567"
CHANGE = [("did_description", "Changed line")]
DELETE = [("delete_did", "Y")]


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("innodb", marks=pytest.mark.mariadb),
        pytest.param("myisam", marks=pytest.mark.mariadb),
        pytest.param("myisam+pymysql", marks=pytest.mark.mariadb),
    ]
)
def db(request, tmp_path) -> Iterator[sa.engine.Engine]:
    """vicidid's demo on SQLite or InnoDB, or VICIdial's MyISAM schema with its sample data
    (also through PyMySQL, which reads a message's results another way: store/wire.py);
    user 6666's password 1234 as a bcrypt hash (cost 4), so that a login needs hashing."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'vicidid.db'}"
        created = make_engine(url)
        init_db(created)
        demo.load(created)
        created.dispose()
    else:
        url = request.getfixturevalue("innodb_url" if request.param == "innodb" else "vicidial_url")
    if request.param.endswith("+pymysql"):
        named = sa.engine.make_url(url).set(drivername="mysql+pymysql")
        url = named.render_as_string(hide_password=False)
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE system_settings SET pass_hash_enabled=:h, pass_key=:k, pass_cost=4"),
            {"h": "1", "k": "0123456789abcdef"},  # pass_hash_enabled: an ENUM in VICIdial's
        )
        admin.set_user(conn, "6666", "1234", admin.UserFlags())
    yield engine
    engine.dispose()


def query(extra: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [
        ("function", "update_did"),
        ("user", "6666"),
        ("pass", "1234"),
        ("source", "gone"),
        ("did_pattern", DID),
        *extra,
    ]


def paused_for_hash(
    pipeline: Pipeline, extra: list[tuple[str, str]], between: Callable[[], Any]
) -> Reply:
    """The request as the HTTP edge runs it when the password needs hashing (web/endpoint.py),
    with `between` run after the hash, before the pipeline resumes."""
    paused = pipeline.start(Incoming(query(extra)))
    assert isinstance(paused, Paused) and isinstance(paused.check, Pending)
    try:
        verdict = paused.check.check()
    finally:
        paused.check.done()
    between()
    reply = pipeline.resume(paused, verdict)
    assert isinstance(reply, Reply)
    return reply


def execute(engine: sa.engine.Engine, sql: str, **params: object) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text(sql), params)


def delete_did(engine: sa.engine.Engine) -> None:
    execute(engine, "DELETE FROM vicidial_inbound_dids WHERE did_pattern=:p", p=DID)


def did_ids(engine: sa.engine.Engine) -> list[int]:
    with engine.connect() as conn:
        found = conn.execute(
            sa.text("SELECT did_id FROM vicidial_inbound_dids WHERE did_pattern=:p"), {"p": DID}
        )
        return [int(i) for i in found.scalars()]


def changes_logged(engine: sa.engine.Engine) -> list[tuple[str, str]]:
    """(event_type, record_id) of every admin_log row about a DID change."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT event_type, record_id FROM vicidial_admin_log "
                "WHERE event_section='DIDS' ORDER BY admin_log_id"
            )
        )
        return [(r.event_type, r.record_id) for r in rows]


def api_logged(engine: sa.engine.Engine) -> list[tuple[str, str, str]]:
    """(result, result_reason, data) of every api_log row of update_did that has its URL."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT a.result, a.result_reason, a.data FROM vicidial_api_log a "
                "JOIN vicidial_api_urls u ON u.api_id = a.api_id "
                "WHERE a.function='update_did' ORDER BY a.api_id"
            )
        )
        return [(r.result, r.result_reason, r.data) for r in rows]


def logs(engine: sa.engine.Engine) -> tuple[list[tuple[str, str]], list[tuple[str, str, str]]]:
    return changes_logged(engine), api_logged(engine)


def assert_answered_gone(reply: Reply, db: sa.engine.Engine, before: tuple[list, list]) -> None:
    assert reply.kinds == [Kind.DID_NOT_FOUND] and reply.dids == []
    assert did_ids(db) == []
    changes, api = logs(db)
    assert changes == before[0]  # no MODIFY or DELETE row
    # only the api_log row of the answer given, as for any DID not found
    assert api[len(before[1]) :] == [("ERROR", "update_did DID DOES NOT EXIST", DID)]
    assert api[: len(before[1])] == before[1]


# --- while the request is paused for its password's hash -------------------------------


@pytest.mark.parametrize("extra", [CHANGE, DELETE], ids=["update", "delete"])
def test_a_did_deleted_while_paused_is_not_found(db, extra):
    pipeline = Pipeline(db, POLICIES["simple"])
    before = logs(db)
    reply = paused_for_hash(pipeline, extra, lambda: delete_did(db))
    assert_answered_gone(reply, db, before)


@pytest.mark.parametrize("extra", [CHANGE, DELETE], ids=["update", "delete"])
def test_a_did_added_again_while_paused_is_the_one_changed(db, extra):
    # resumed, the function reads the DID in its own transaction: the row there now is
    # the one it changes
    pipeline = Pipeline(db, POLICIES["simple"])
    (old,) = did_ids(db)

    def again() -> None:
        delete_did(db)
        execute(
            db,
            "INSERT INTO vicidial_inbound_dids (did_id, did_pattern, did_description) "
            "VALUES (:i, :p, 'new')",
            i=old + 1000,  # SQLite would give the deleted id again
            p=DID,
        )

    reply = paused_for_hash(pipeline, extra, again)
    assert reply.kinds == [Kind.DELETED if extra == DELETE else Kind.UPDATED]
    (new,) = did_ids(db) if extra == CHANGE else [reply.outcomes[0].did_id]
    assert new != old
    assert changes_logged(db)[-1] == ("DELETE" if extra == DELETE else "MODIFY", str(new))
    if extra == DELETE:
        assert did_ids(db) == []


def test_an_untouched_did_is_changed_once_resumed(db):
    pipeline = Pipeline(db, POLICIES["simple"])
    reply = paused_for_hash(pipeline, CHANGE, lambda: None)
    assert reply.kinds == [Kind.UPDATED] and reply.dids == [DID]
    assert changes_logged(db)[-1] == ("MODIFY", str(did_ids(db)[0]))
    assert api_logged(db)[-1] == ("SUCCESS", "update_did DID HAS BEEN UPDATED", DID)


# --- between the function's read and its write --------------------------------------


def deleting_before(db: sa.engine.Engine, verb: str) -> Callable[..., None]:
    """A listener that deletes the DID just before the request's `verb` of it goes out:
    from another connection on MariaDB; on SQLite, whose one writer is the request, on the
    request's own connection (the row is gone when its statement runs, all the same)."""
    done: list[bool] = []

    def listener(conn, cursor, statement: str, *args: object) -> None:
        if done or not statement.lstrip().upper().startswith(verb):
            return
        done.append(True)
        if db.dialect.name == "sqlite":
            cursor.connection.execute(
                "DELETE FROM vicidial_inbound_dids WHERE did_pattern=?", (DID,)
            )
        else:
            other = sa.create_engine(db.url)
            delete_did(other)
            other.dispose()

    return listener


@pytest.mark.parametrize(
    ("extra", "verb"),
    [(CHANGE, "UPDATE VICIDIAL_INBOUND_DIDS"), (DELETE, "DELETE FROM VICIDIAL_INBOUND_DIDS")],
    ids=["update", "delete"],
)
def test_a_did_deleted_between_the_read_and_the_write_is_not_found(db, extra, verb):
    pipeline = Pipeline(db, POLICIES["simple"])
    # the password hashed once and remembered: the login is settled in its read, which on
    # MariaDB carries the function's DID read too
    assert pipeline.handle(Incoming(query([("did_description", "First line")]))).kinds == [
        Kind.UPDATED
    ]
    before = logs(db)
    listener = deleting_before(db, verb)
    sa.event.listen(db, "before_cursor_execute", listener)
    try:
        reply = pipeline.handle(Incoming(query(extra)))
    finally:
        sa.event.remove(db, "before_cursor_execute", listener)
    assert_answered_gone(reply, db, before)
    # and the next request finds no DID either way
    again = pipeline.handle(Incoming(query(CHANGE)))
    assert again.kinds == [Kind.DID_NOT_FOUND]
