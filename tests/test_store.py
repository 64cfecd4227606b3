"""The store under stress: lost connections, a database that is gone; the connections
each thread keeps (store/db.py Kept)."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from urllib.parse import parse_qsl

import pytest
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from tests.conftest import MYSQL_ROOT, serve
from vicidid.cli import demo
from vicidid.core.call import POLICIES
from vicidid.core.pipeline import Incoming, Pipeline
from vicidid.store import faults, reflect
from vicidid.store.db import (
    READ_FIRST,
    Kept,
    WriterTurns,
    make_engine,
    reading_first,
    safe_url,
    writer_turns,
)
from vicidid.store.schema import init_db
from vicidid.store.statements import logins, queries

Q = (
    "function=update_did&user=6666&pass=1234&source=test&did_pattern=18001234567"
    "&did_description=After+{n}"
)


@pytest.mark.mariadb
def test_connections_killed_by_the_server_are_replaced(mariadb_url):
    """As after a MariaDB restart: every pooled connection is gone; the next request works."""
    demo_engine = make_engine(mariadb_url)
    init_db(demo_engine)
    demo.load(demo_engine)
    with serve(demo_engine) as live:
        for n in range(3):
            assert live.get(Q.format(n=n)).text.startswith("SUCCESS")
        name = demo_engine.url.database
        root = sa.create_engine(MYSQL_ROOT)
        with root.connect() as conn:
            ids = (
                conn.execute(
                    sa.text("SELECT id FROM information_schema.processlist WHERE db = :db"),
                    {"db": name},
                )
                .scalars()
                .all()
            )
            assert ids
            for i in ids:
                conn.execute(sa.text(f"KILL {int(i)}"))
        root.dispose()
        assert live.client.get(f"{live.url}/healthz").text == "OK\n"
        for n in range(3, 8):
            assert live.get(Q.format(n=n)).text == (
                "SUCCESS: 18001234567 | DID Updated Successfully\n"
            )


def test_database_gone_is_a_503_line_never_a_traceback(tmp_path):
    engine = make_engine("mysql+pymysql://nobody:secretpw@127.0.0.1:1/none")
    reply = Pipeline(engine, POLICIES["simple"]).handle(Incoming(query=[("function", "version")]))
    assert [o.kind.value for o in reply.outcomes] == ["database_down"]
    with serve(engine) as live:
        r = live.get(Q.format(n=1))
        assert (r.status_code, r.text) == (503, "ERROR: DATABASE UNAVAILABLE\n")
        r = live.get(Q.format(n=1) + "&format=json")
        assert r.status_code == 503 and r.json()["kind"] == "database_down"
        assert live.client.get(f"{live.url}/healthz").status_code == 503


def test_safe_url_hides_the_password():
    assert "secretpw" not in safe_url("mysql+pymysql://u:secretpw@h/db")
    assert safe_url("not a url") == "<invalid database URL>"


def astuple_shallow(found: logins.Found) -> tuple:
    return tuple(getattr(found, f.name) for f in dataclasses.fields(found))


def test_the_login_read_gives_caller_and_settings_in_one_statement(db_url):
    """Both halves as the two separate reads gave them, with or without a settings row,
    and the rows of a read sent along."""
    engine = make_engine(db_url)
    init_db(engine)
    demo.load(engine)
    dids = reflect.did_table(engine)
    with engine.begin() as conn:
        row, settings, also, *_ = astuple_shallow(logins.login_read(conn, "6666"))
        assert row == logins.caller(conn, "6666")
        assert list(row or {}) == list(logins.caller(conn, "6666") or {})  # in the same order
        assert settings == logins.system_settings(conn)
        assert also is None
        # an unknown user still gets the settings: they say what a password check costs
        assert logins.login_read(conn, "nobody") == logins.Found(None, settings, None)
        also = logins.login_read(
            conn, "6666", queries.did_read(dids, "18001234567", ("did_pattern",))
        ).also
        assert also == [{"did_pattern": "18001234567"}]
        conn.execute(sa.text("DELETE FROM system_settings"))
        row, settings, *_ = astuple_shallow(logins.login_read(conn, "6666"))
        assert row == logins.caller(conn, "6666")
        assert set(settings.values()) == {None}
    engine.dispose()


def lost(
    committing: bool,
    invalidated: bool = True,
    code: int = 2013,
    transactional: bool = True,
    wrote: bool = False,
) -> bool:
    error = sa_exc.OperationalError(
        "COMMIT" if committing else "SELECT 1",
        {},
        Exception(code, "Lost connection to server during query"),
        connection_invalidated=invalidated,
    )
    attempt = faults.Attempt(wrote=wrote, changed=wrote, committing=committing)
    return faults.may_rerun(error, attempt, transactional)


def test_a_transaction_runs_again_unless_its_connection_was_lost_in_commit():
    assert lost(committing=False, wrote=True)  # the server rolled it back: safe to run again
    assert not lost(committing=True)  # it may have landed: never run twice
    assert lost(committing=False, invalidated=False, code=1213)  # deadlock
    assert not lost(committing=False, invalidated=False, code=1062)  # a real error


def test_on_myisam_a_request_runs_again_only_before_its_first_write():
    assert lost(committing=False, transactional=False)
    assert not lost(committing=False, transactional=False, wrote=True)
    assert not lost(committing=False, invalidated=False, code=1213, transactional=False, wrote=True)


def test_writers_to_one_sqlite_file_take_turns_across_processes(tmp_path):
    """Two WriterTurns on one file stand for two worker processes: one waits for the other."""
    path = str(tmp_path / "vicidid.db")
    first, second = WriterTurns(path + "-lock"), WriterTurns(path + "-lock")
    order: list[str] = []

    def write_second() -> None:
        with second:
            order.append("second")

    with first:
        waiter = threading.Thread(target=write_second)
        waiter.start()
        waiter.join(timeout=0.3)
        assert waiter.is_alive()  # still waiting while the first writer holds its turn
        order.append("first done")
    waiter.join(timeout=5)
    assert order == ["first done", "second"]


def test_only_sqlite_files_take_turns(db_url):
    engine = make_engine(db_url)
    assert isinstance(writer_turns(engine), WriterTurns) == db_url.startswith("sqlite")
    engine.dispose()


@pytest.mark.parametrize(
    ("url", "codec"),
    [
        ("sqlite:///x.db", None),
        ("mysql+pymysql://u@h/db?charset=utf8mb4", None),
        ("mysql+pymysql://u@h/db", None),
        ("mysql+pymysql://u@h/db?charset=latin1", "cp1252"),
        ("mysql+pymysql://u@h/db?charset=utf8", "utf-8"),
        ("mysql+pymysql://u@h/db?charset=gbk", "gbk"),
        ("mysql+pymysql://u@h/db?charset=sjis", "shift_jis"),
        ("mysql+pymysql://u@h/db?charset=koi8r", "koi8-r"),
        ("mysql+pymysql://u@h/db?charset=nosuchset", None),
    ],
)
def test_the_connections_codec_comes_from_the_url(url, codec):
    from vicidid.store import sizes

    engine = sa.create_engine(url)  # not connected: the URL says it all
    assert sizes.link_codec(engine) == codec


def test_a_value_is_written_as_the_connection_can_carry_it():
    from vicidid.store.sizes import Room

    wide = Room(50, codec="utf-8", widest=4, link="gbk")
    assert wide.fit("Main\U0001f600Line 中") == "Main?Line 中"
    assert Room(50, codec="cp1252", widest=1, link="gbk").fit("é中😀") == "é??"
    assert Room(50).fit("Main\U0001f600Line") == "Main\U0001f600Line"  # utf8mb4 carries all


def test_a_thread_keeps_its_connection_from_one_block_to_the_next(db_url):
    engine = make_engine(db_url, pool_size=2)
    kept = Kept(engine)
    checkouts: list[object] = []
    sa.event.listen(engine, "checkout", lambda *args: checkouts.append(args))
    seen: list[sa.Connection] = []
    for _ in range(3):
        with kept.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
            seen.append(conn)
    assert seen[0] is seen[1] is seen[2]
    assert len(checkouts) == 1  # taken from the pool once, not once a block

    other: list[sa.Connection] = []

    def elsewhere() -> None:
        with kept.connect() as conn:
            other.append(conn)

    worker = threading.Thread(target=elsewhere)
    worker.start()
    worker.join()
    assert other[0] is not seen[0]  # another thread keeps one of its own
    engine.dispose()


@pytest.fixture
def kept(db_url) -> Iterator[Kept]:
    """Connections kept on an empty database of each backend, with a table kept_t."""
    engine = make_engine(db_url)
    kept = Kept(engine)
    with kept.begin() as conn:
        conn.execute(sa.text("CREATE TABLE kept_t (n INTEGER)"))
    yield kept
    engine.dispose()


def test_a_kept_connection_never_stays_in_a_transaction(kept):
    with kept.connect() as conn:
        conn.begin()
        conn.execute(sa.text("INSERT INTO kept_t VALUES (1)"))  # neither committed ...
    with pytest.raises(RuntimeError), kept.begin() as conn:
        conn.execute(sa.text("INSERT INTO kept_t VALUES (2)"))
        raise RuntimeError  # ... nor kept when the block raises
    with kept.connect() as conn:
        assert not conn.in_transaction()
        assert conn.execute(sa.text("SELECT COUNT(*) FROM kept_t")).scalar() == 0
    with kept.begin() as conn:
        conn.execute(sa.text("INSERT INTO kept_t VALUES (3)"))
    with kept.engine.connect() as conn:  # committed, as a transaction on any connection is
        assert conn.execute(sa.text("SELECT n FROM kept_t")).scalars().all() == [3]


def test_a_block_within_a_block_has_a_connection_of_its_own(kept):
    with kept.begin() as outer:
        outer.execute(sa.text("INSERT INTO kept_t VALUES (1)"))
        with kept.connect() as inner:
            assert inner is not outer
        assert outer.in_transaction()  # the inner block's end left it alone
    with kept.connect() as conn:
        assert conn is outer  # and the thread still keeps the outer one
        assert conn.execute(sa.text("SELECT n FROM kept_t")).scalars().all() == [1]


def test_a_lost_kept_connection_is_let_go_and_the_next_block_opens_another(kept):
    with kept.connect() as lost:
        lost.execute(sa.text("SELECT 1"))
        lost.invalidate()  # as SQLAlchemy marks a connection the server dropped
    with kept.connect() as conn:
        assert conn is not lost
        assert conn.execute(sa.text("SELECT 1")).scalar() == 1


def test_a_kept_connection_goes_back_to_the_pool_now_and_then(db_url):
    # so that the pool renews it once it is older than pool_recycle, as before
    engine = make_engine(db_url)
    kept = Kept(engine, hand_back=0.0)
    checkins: list[object] = []
    sa.event.listen(engine, "checkin", lambda *args: checkins.append(args))
    for _ in range(3):
        with kept.connect() as conn:
            assert conn.execute(sa.text("SELECT 1")).scalar() == 1
    assert len(checkins) == 2  # given back before the second and the third block
    engine.dispose()


def test_sqlites_read_first_mark_ends_with_the_block(sqlite_url):
    engine = make_engine(sqlite_url)
    kept = Kept(engine)
    with kept.connect() as conn:
        reading_first(conn)  # a request that stopped before its write transaction
    with kept.connect() as conn:
        assert not conn.get_execution_options().get(READ_FIRST)
    engine.dispose()


def test_a_pipeline_thread_takes_its_connection_from_the_pool_once(demo_engine):
    checkouts: list[object] = []
    pipeline = Pipeline(demo_engine, POLICIES["simple"])
    pipeline.handle(Incoming(query=[("function", "version")]))  # its connection taken
    sa.event.listen(demo_engine, "checkout", lambda *args: checkouts.append(args))
    for n in range(5):
        reply = pipeline.handle(Incoming(query=list(parse_qsl(Q.format(n=n)))))
        assert reply.kinds[-1].value == "updated", reply.kinds
    assert checkouts == []  # each request used the connection the thread kept


def test_request_threads_at_once_each_keep_one_and_the_rest_uses_the_overflow(db_url):
    # The most the server runs: as many request threads as pooled connections (it runs
    # fewer on InnoDB), all busy at once; a health check or a management command still
    # gets a connection.
    threads = 4
    engine = make_engine(db_url, pool_size=threads)
    init_db(engine)
    demo.load(engine)
    pipeline = Pipeline(engine, POLICIES["simple"])
    pipeline.handle(Incoming(query=[("function", "version")]))  # the tables read once
    start = threading.Barrier(threads)
    kinds: list[str] = []
    held: list[sa.Connection] = []

    def requests(k: int) -> None:
        start.wait()
        for n in range(5):
            query = parse_qsl(Q.format(n=f"{k}-{n}"))
            kinds.append(pipeline.handle(Incoming(query=list(query))).kinds[-1].value)
        with pipeline.kept.connect() as conn:
            held.append(conn)
            assert not conn.in_transaction()

    workers = [threading.Thread(target=requests, args=(k,)) for k in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert kinds == ["updated"] * threads * 5
    assert len({id(conn) for conn in held}) == threads  # one each, none shared
    with engine.connect() as other:  # the pool's overflow, past the kept ones
        assert other.execute(sa.text("SELECT 1")).scalar() == 1
    assert pipeline.healthy()
    engine.dispose()
