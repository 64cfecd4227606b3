"""core/pipeline.py: one pass per request, paused where a password must be hashed.

`start` runs a request up to a password check that needs a bcrypt hash and returns
`Paused`; `resume` goes on from the login with the check's verdict, keeping what the
request read and counted; `handle` runs the whole request on one thread. On vicidid's
demo in a real SQLite file, user 6666's password stored as a bcrypt hash (cost 4).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from vicidid.auth.hash_slots import Follow
from vicidid.cli import admin, demo
from vicidid.core import audit
from vicidid.core.call import POLICIES
from vicidid.core.outcomes import Kind
from vicidid.core.pipeline import Incoming, Paused, Pending, Pipeline, Reply
from vicidid.store.db import make_engine
from vicidid.store.schema import init_db

DID = "18001234567"


@pytest.fixture
def db(tmp_path) -> Iterator[sa.engine.Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'vicidid.db'}")
    init_db(engine)
    demo.load(engine)
    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE system_settings SET pass_hash_enabled='1', pass_key=:k, pass_cost=4"),
            {"k": "0123456789abcdef"},
        )
        admin.set_user(conn, "6666", "1234", admin.UserFlags())
    yield engine
    engine.dispose()


def update(password: str = "1234", description: str = "Paused line") -> Incoming:
    return Incoming(
        [
            ("function", "update_did"),
            ("user", "6666"),
            ("pass", password),
            ("source", "test"),
            ("did_pattern", DID),
            ("did_description", description),
        ]
    )


def scalar(engine: sa.engine.Engine, sql: str) -> object:
    with engine.connect() as conn:
        return conn.execute(sa.text(sql)).scalar()


def description(engine: sa.engine.Engine) -> object:
    return scalar(
        engine, f"SELECT did_description FROM vicidial_inbound_dids WHERE did_pattern='{DID}'"
    )


def failures(engine: sa.engine.Engine) -> object:
    return scalar(engine, "SELECT failed_login_count FROM vicidial_users WHERE user='6666'")


def checked_and_resumed(pipeline: Pipeline, paused: Paused) -> tuple[Reply, float]:
    """The check run and the request resumed, as the HTTP edge does; the check's seconds."""
    assert isinstance(paused.check, Pending)
    started = time.perf_counter()
    try:
        verdict = paused.check.check()
    finally:
        paused.check.done()
    hashing = time.perf_counter() - started
    reply = pipeline.resume(paused, verdict)
    assert isinstance(reply, Reply)
    return reply, hashing


def test_a_hash_pauses_the_request_and_resume_goes_on_from_the_login(db):
    pipeline = Pipeline(db, POLICIES["simple"])
    paused = pipeline.start(update())
    assert isinstance(paused, Paused) and isinstance(paused.check, Pending)
    assert description(db) != "Paused line"  # nothing of the function ran yet
    assert failures(db) == 1  # the guess is counted before it is checked
    reply, hashing = checked_and_resumed(pipeline, paused)
    assert reply.kinds == [Kind.UPDATED]
    assert reply.params is paused.request.params  # read once, not parsed again
    assert description(db) == "Paused line"
    assert failures(db) == 0  # a right password gives its claim back
    # the api_log row's run time covers the whole request, the hash included
    run_time = scalar(db, "SELECT run_time FROM vicidial_api_log ORDER BY api_id DESC")
    assert float(str(run_time)) >= hashing


def test_a_wrong_password_resumed_is_refused_and_counted_once(db):
    pipeline = Pipeline(db, POLICIES["simple"])
    paused = pipeline.start(update(password="wrong1"))
    assert isinstance(paused, Paused)
    reply, _ = checked_and_resumed(pipeline, paused)
    assert reply.kinds == [Kind.BAD_LOGIN]
    assert failures(db) == 1
    assert description(db) != "Paused line"


def test_the_same_check_under_way_is_followed_then_read_again(db):
    pipeline = Pipeline(db, POLICIES["simple"])
    first = pipeline.start(update())
    second = pipeline.start(update(description="Second line"))
    assert isinstance(first, Paused) and isinstance(first.check, Pending)
    # the same user and password, while the first check runs: wait for it, count nothing
    assert isinstance(second, Paused) and isinstance(second.check, Follow)
    assert failures(db) == 1
    checked_and_resumed(pipeline, first)
    assert second.check.done.done()
    # resumed without a verdict: the login is read again and finds the password remembered
    reply = pipeline.resume(second, None)
    assert isinstance(reply, Reply) and reply.kinds == [Kind.UPDATED]
    assert description(db) == "Second line"
    assert failures(db) == 0


def test_handle_hashes_on_its_own_thread_and_never_pauses(db):
    reply = Pipeline(db, POLICIES["simple"]).handle(update())
    assert reply.kinds == [Kind.UPDATED]
    assert description(db) == "Paused line"


def test_the_reply_carries_the_url_the_api_urls_row_was_built_from(db):
    # the access log takes it from the reply rather than building it again on the event loop
    pipeline = Pipeline(db, POLICIES["simple"])
    reply = pipeline.handle(update(description="Logged line"))
    assert reply.kinds == [Kind.UPDATED]
    assert reply.url == audit.logged_url(update().path, reply.params)
    assert "did_description=Logged+line" in reply.url and "pass=" not in reply.url
    assert reply.url == scalar(db, "SELECT url FROM vicidial_api_urls ORDER BY api_id DESC")
