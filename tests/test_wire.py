"""store/wire.py: several statements in one round trip, on a real MariaDB (and SQLite).

What a request sends is counted in the driver itself: each query, COMMIT and ROLLBACK the
driver puts on the wire is one round trip.
"""

from __future__ import annotations

from datetime import datetime

import pytest
import sqlalchemy as sa

from bench.inprocess import counting_round_trips
from bench.soak import Killer
from tests.conftest import MYSQL_ROOT
from vicidid.cli import demo
from vicidid.core.call import POLICIES
from vicidid.core.outcomes import Kind
from vicidid.core.pipeline import Incoming, Pipeline
from vicidid.store import faults, wire
from vicidid.store import tables as t
from vicidid.store.db import WRITTEN_TABLES, Kept, make_engine
from vicidid.store.schema import init_db
from vicidid.store.statements import changes

SOURCE_DID = "18001234567"
NOW = datetime(2026, 1, 2, 3, 4, 5)


def demo_engine(url: str, engine: str = "innodb") -> sa.engine.Engine:
    db = make_engine(url)
    init_db(db)
    demo.load(db)
    if engine == "myisam":
        with db.begin() as conn:
            for table in WRITTEN_TABLES:
                conn.exec_driver_sql(f"ALTER TABLE {table} ENGINE=MyISAM")
    return db


def update(pipeline: Pipeline, value: str, **extra: str):
    query = [
        ("function", "update_did"),
        ("user", "6666"),
        ("pass", "1234"),
        ("source", "wire"),
        ("did_pattern", SOURCE_DID),
        ("did_description", value),
        *extra.items(),
    ]
    return pipeline.handle(Incoming(query))


def count(db: sa.engine.Engine, table: str) -> int:
    with db.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(sa.table(table))).scalar_one()


def session(db: sa.engine.Engine | Kept) -> tuple[int, int]:
    """(@@in_transaction, @@autocommit) of the (only) pooled connection, or of the one this
    thread keeps, read as they are."""
    with db.connect() as conn:
        dbapi = conn.connection.dbapi_connection
        cursor = dbapi.cursor()
        cursor.execute("SELECT @@in_transaction, @@autocommit")
        in_transaction, autocommit = cursor.fetchone()
        cursor.close()
        return int(in_transaction), int(autocommit)


@pytest.mark.mariadb
@pytest.mark.parametrize(("engine", "trips"), [("innodb", 3), ("myisam", 2)])
def test_an_update_takes_three_round_trips_on_innodb_and_two_on_myisam(mariadb_url, engine, trips):
    db = demo_engine(mariadb_url, engine)
    pipeline = Pipeline(db, POLICIES["simple"])
    assert pipeline.did_table() is not None and pipeline.transactional == (engine == "innodb")
    assert update(pipeline, "First line").kinds == [Kind.UPDATED]  # the password now remembered
    for value in ("Line one", "Line two", "Line three"):
        with counting_round_trips() as sent:
            reply = update(pipeline, value)
        assert reply.kinds == [Kind.UPDATED]
        # the caller, the settings and the DID; the change, admin_log, api_log, api_urls;
        # and on InnoDB the COMMIT
        assert sent[0] == trips
    with db.connect() as conn:
        row = conn.execute(
            sa.text(
                "SELECT l.event_sql, u.url FROM vicidial_admin_log l, vicidial_api_log a "
                "JOIN vicidial_api_urls u ON u.api_id = a.api_id "
                "ORDER BY l.admin_log_id DESC, a.api_id DESC LIMIT 1"
            )
        ).one()
    assert "did_description='Line three'" in row.event_sql
    assert "did_description=Line+three" in row.url and "pass=" not in row.url
    assert count(db, "vicidial_api_log") == count(db, "vicidial_api_urls") == 4
    db.dispose()


@pytest.mark.mariadb
@pytest.mark.parametrize("engine", ["innodb", "myisam"])
def test_no_connection_waits_in_the_pool_inside_a_transaction(mariadb_url, engine):
    # An idle connection inside a transaction would hold its tables' metadata locks and
    # stall a shop's ALTER TABLE: after any request, the connection the request thread
    # keeps holds none.
    db = demo_engine(mariadb_url, engine)
    one = make_engine(mariadb_url, pool_size=1)
    pipeline = Pipeline(one, POLICIES["simple"])
    update(pipeline, "Warm line")
    idle = (0, 1 if engine == "myisam" else 0)  # MyISAM: autocommit, nothing to COMMIT
    assert session(pipeline.kept) == idle
    assert update(pipeline, "Other line", did_route="NOWHERE").kinds[-1] is not Kind.UPDATED
    assert session(pipeline.kept) == idle
    reply = pipeline.handle(Incoming([("function", "did_info"), ("user", "6666")]))
    assert reply.kinds == [Kind.BAD_LOGIN]
    assert session(pipeline.kept) == idle
    # a connection the server dropped is replaced, and the new one is set up the same way
    killer = Killer(MYSQL_ROOT, sa.engine.make_url(mariadb_url).database)
    with pipeline.kept.connect() as conn:
        killed = int(conn.connection.dbapi_connection.thread_id())
    killer.kill(killed)
    assert update(pipeline, "After the kill").kinds == [Kind.UPDATED]
    with pipeline.kept.connect() as conn:
        assert int(conn.connection.dbapi_connection.thread_id()) != killed
    assert session(pipeline.kept) == idle
    killer.close()
    db.dispose()
    one.dispose()


def stored_notes(db: sa.engine.Engine) -> list[str]:
    """The admin_log rows' notes, in the order they were written."""
    with db.connect() as conn:
        query = sa.select(t.admin_log.c.event_notes).order_by(t.admin_log.c.admin_log_id)
        return list(conn.execute(query).scalars())


def log_writes(conn: sa.Connection, notes: list[str]) -> list[wire.Write]:
    values = {"event_date": NOW, "event_section": "DIDS", "event_type": "MODIFY", "user": "wire"}
    return [changes.admin_log(conn, {**values, "event_notes": n}, None) for n in notes]


def bad_write() -> wire.Write:
    # a column the table lacks: the database refuses it
    clause = sa.table("vicidial_admin_log", sa.column("no_such_column")).insert()
    return wire.Write(clause, {"no_such_column": "x"}, "vicidial_admin_log", ("no_such_column",))


@pytest.mark.mariadb
def test_values_stay_values_however_they_are_written(mariadb_url):
    db = demo_engine(mariadb_url)
    hostile = ["x'; DROP TABLE vicidial_admin_log; -- ", "%s %(a)s %%", "\\'; \\", "\x00;"]
    with db.begin() as conn:
        wire.send(conn, log_writes(conn, hostile))
    assert stored_notes(db) == hostile
    db.dispose()


@pytest.mark.mariadb
@pytest.mark.parametrize("engine", ["innodb", "myisam"])
def test_a_refused_write_is_named_and_the_ones_after_it_never_run(mariadb_url, engine):
    db = demo_engine(mariadb_url, engine)
    with db.connect() as conn:
        writes = [*log_writes(conn, ["one", "two"]), bad_write(), *log_writes(conn, ["four"])]
        with pytest.raises(wire.WriteFailed) as failed:
            wire.send(conn, writes)
        conn.rollback()
    assert failed.value.index == 2
    assert isinstance(failed.value.error, sa.exc.DBAPIError)
    assert faults.classify(failed.value.error) is faults.Fault.SERVER
    # InnoDB rolled the first two back; MyISAM kept them; the fourth never ran
    assert stored_notes(db) == ([] if engine == "innodb" else ["one", "two"])
    db.dispose()


@pytest.mark.parametrize(
    "engine",
    [
        "sqlite",
        pytest.param("innodb", marks=pytest.mark.mariadb),
        pytest.param("myisam", marks=pytest.mark.mariadb),
    ],
)
@pytest.mark.parametrize("found", [True, False])
def test_the_writes_after_a_change_run_only_if_it_found_its_row(engine, found, tmp_path, request):
    url = (
        f"sqlite:///{tmp_path / 'wire.db'}"
        if engine == "sqlite"
        else request.getfixturevalue("mariadb_url")
    )
    db = demo_engine(url, "innodb" if engine == "sqlite" else engine)
    with db.connect() as conn:
        (did_id,) = conn.execute(sa.select(t.inbound_dids.c.did_id)).scalars()
    change = {"did_description": "Wire line"}
    with db.connect() as conn:
        writes = [
            changes.did_update(conn, did_id if found else did_id + 1000, change),
            *log_writes(conn, ["one", "two"]),
            *changes.api_log(conn, [{"api_date": NOW, "function": "wire"}], "/wire?x=1", "ip"),
        ]
        with counting_round_trips() as sent:
            if found:
                wire.send(conn, writes)
            else:
                with pytest.raises(wire.RowMissing) as missing:
                    wire.send(conn, writes)
                assert missing.value.index == 0
        conn.commit()
    if engine != "sqlite":
        assert sent[0] == 1  # the count kept and checked in the same message
    assert stored_notes(db) == (["one", "two"] if found else [])
    assert count(db, "vicidial_api_log") == count(db, "vicidial_api_urls") == int(found)
    db.dispose()


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("mariadb", marks=pytest.mark.mariadb)])
def test_a_batch_larger_than_a_message_lands_whole_and_in_order(backend, tmp_path, request):
    url = (
        f"sqlite:///{tmp_path / 'wire.db'}"
        if backend == "sqlite"
        else request.getfixturevalue("mariadb_url")
    )
    db = demo_engine(url)
    notes = [f"n{i}" for i in range(wire.MESSAGE_STATEMENTS * 2 + 7)]
    notes[3] = "y" * (wire.MESSAGE_BYTES // 2)  # with the next one, more than a message
    notes[4] = "z" * (wire.MESSAGE_BYTES // 2)
    with db.begin() as conn:
        writes = log_writes(conn, notes)
        with counting_round_trips() as sent:
            wire.send(conn, writes)
    if backend == "mariadb":
        # writes 0-3 (the next would pass MESSAGE_BYTES), then 500, 500 and the last 3
        assert sent[0] == 4
    assert [n[:20] for n in stored_notes(db)] == [n[:20] for n in notes]
    db.dispose()


@pytest.mark.mariadb
def test_reads_come_back_each_with_its_rows_in_one_round_trip(mariadb_url):
    db = demo_engine(mariadb_url)
    users = sa.select(t.users.c.user).where(t.users.c.user == sa.bindparam("u"))
    dids = sa.select(t.inbound_dids.c.did_pattern).order_by(t.inbound_dids.c.did_pattern)
    with db.connect() as conn, counting_round_trips() as sent:
        found = wire.fetch(conn, [wire.Read(users, {"u": "nobody"}), wire.Read(dids)])
        assert sent[0] == 1
    assert found[0] == []
    assert [r["did_pattern"] for r in found[1]] == sorted(r["did_pattern"] for r in found[1])
    assert {"did_pattern": SOURCE_DID} in found[1]
    db.dispose()


@pytest.mark.mariadb
def test_a_connection_lost_under_a_batch_is_invalidated_as_sqlalchemys_own(mariadb_url):
    db = demo_engine(mariadb_url)
    killer = Killer(MYSQL_ROOT, sa.engine.make_url(mariadb_url).database)
    with db.connect() as conn:
        writes = log_writes(conn, ["lost"])
        killer.kill(int(conn.connection.dbapi_connection.thread_id()))
        with pytest.raises(wire.WriteFailed) as failed:
            wire.send(conn, writes)
    assert failed.value.error.connection_invalidated
    assert faults.classify(failed.value.error) is faults.Fault.UNREACHABLE
    assert "lost" not in str(failed.value.error)  # no parameters in what gets logged
    killer.close()
    with db.connect() as conn:  # the pool dropped it: the next connection works
        assert conn.execute(sa.text("SELECT 1")).scalar_one() == 1
    db.dispose()


def test_a_batch_at_a_messages_limits_is_one_message_and_past_them_two():
    part = wire.Compiled("INSERT INTO x (a) VALUES (%s)", ("a",), {})
    insert = sa.table("x", sa.column("a")).insert()

    def writes(*texts: str) -> tuple[list[wire.Compiled], list[wire.Write]]:
        return [part] * len(texts), [wire.Write(insert, {"a": t}, "x") for t in texts]

    most = wire.MESSAGE_STATEMENTS
    assert wire._message_ends(*writes(*[""] * most)) == [most]
    assert wire._message_ends(*writes(*[""] * (most + 1))) == [most, most + 1]
    room = wire.MESSAGE_BYTES - 2 * len(part.sql)  # for the two texts together
    assert wire._message_ends(*writes("y" * (room // 2), "z" * (room - room // 2))) == [2]
    assert wire._message_ends(*writes("y" * (room // 2), "z" * (room - room // 2 + 1))) == [1, 2]
