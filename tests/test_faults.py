"""Failures, for real: MariaDB connections killed mid-request, a SQLite writer killed -9.

On InnoDB (and SQLite) a request that loses its connection was rolled back and runs again.
On MyISAM, VICIdial's own engine, every statement lands as it runs: a request is never run
a second time once it has written, and is answered "may be partly applied" instead — never
"already exists" for its own insert, never an update audited twice.

Connections are killed with `KILL CONNECTION` from another connection, only connections
to the test's own database: at chosen points (before the first statement, after the DID
write, at COMMIT) and at random under concurrent load.
"""

from __future__ import annotations

import itertools
import logging
import os
import random
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from bench.soak import Killer, reconcile, verdict
from tests.conftest import MYSQL_ROOT, serve
from tests.test_existing_vicidial import vicidial_url  # noqa: F401  (a fixture)
from tests.test_myisam_copy import no_lock_url  # noqa: F401  (a fixture)
from vicidid.cli import demo
from vicidid.core.call import POLICIES
from vicidid.core.dialects import simple, vicidial
from vicidid.core.outcomes import Kind, Outcome
from vicidid.core.pipeline import Incoming, Pipeline
from vicidid.store import faults
from vicidid.store.db import all_transactional, make_engine
from vicidid.store.schema import init_db
from vicidid.store.statements import bulk, queries

SOURCE_DID = "18001234567"
LOGIN = [("user", "6666"), ("pass", "1234"), ("source", "faults")]
AUDITED = ("MODIFY", "COPY", "ADD")


# --- databases -------------------------------------------------------------------------


@pytest.fixture
def innodb_url(mariadb_url) -> str:
    engine = make_engine(mariadb_url)
    init_db(engine)
    demo.load(engine)
    engine.dispose()
    return mariadb_url


@pytest.fixture(params=["myisam", "innodb"])
def engine_name(request) -> str:
    return request.param


@pytest.fixture
def url(engine_name, request) -> str:
    """VICIdial's own MyISAM schema with its sample data, or vicidid's InnoDB demo."""
    return request.getfixturevalue("vicidial_url" if engine_name == "myisam" else "innodb_url")


def db_name(url: str) -> str:
    return sa.engine.make_url(url).database


def thread_id(dbapi_conn) -> int:
    return int(dbapi_conn.thread_id())  # mysqlclient and PyMySQL both have it


class KillAt:
    """Kill the request's own connection once, at a chosen point of its transaction."""

    def __init__(self, engine: sa.engine.Engine, killer: Killer, point: str, target: str = ""):
        self.killer, self.point, self.target, self.fired = killer, point, target, False
        self.seen = 0
        sa.event.listen(engine, "before_cursor_execute", self.before_statement)
        sa.event.listen(engine, "commit", self.before_commit)

    def _kill(self, conn) -> None:
        self.fired = True
        self.killer.kill(thread_id(conn.connection.dbapi_connection))

    def before_statement(self, conn, cursor, statement, *args) -> None:
        if self.fired:
            return
        if self.point == "first":
            self._kill(conn)
        elif self.point == "statement" and self.target in statement:
            self.seen += 1
            if self.seen == 3 or "vicidial_admin_log" in self.target:
                self._kill(conn)

    def before_commit(self, conn) -> None:
        if self.point == "commit" and not self.fired:
            self._kill(conn)


def request(pipeline: Pipeline, **params: str) -> list[Outcome]:
    query = list(params.items()) + LOGIN
    return pipeline.handle(Incoming(query=query)).outcomes


def audit_rows(engine: sa.engine.Engine, event_type: str, record: str = "") -> list[dict]:
    sql = "SELECT * FROM vicidial_admin_log WHERE event_section='DIDS' AND event_type=:t"
    with engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(sa.text(sql), {"t": event_type}).mappings()]
    return [r for r in rows if record in r["event_notes"]]


def description(engine: sa.engine.Engine, pattern: str) -> str | None:
    with engine.connect() as conn:
        return conn.execute(
            sa.text("SELECT did_description FROM vicidial_inbound_dids WHERE did_pattern=:p"),
            {"p": pattern},
        ).scalar()


# --- decisions, without a database ------------------------------------------------------


def test_the_engine_decides_whether_a_request_is_all_or_nothing():
    innodb = dict.fromkeys(
        (
            "vicidial_inbound_dids",
            "vicidial_admin_log",
            "vicidial_api_log",
            "vicidial_api_urls",
            "vicidial_users",
        ),
        "INNODB",
    )
    assert all_transactional("sqlite", {})
    assert all_transactional("mysql", innodb)
    assert not all_transactional("mysql", {**innodb, "vicidial_admin_log": "MYISAM"})
    assert not all_transactional("mysql", {**innodb, "vicidial_users": "MYISAM"})
    assert not all_transactional("mysql", {})


def test_writes_are_told_from_reads():
    assert faults.written_table("INSERT INTO vicidial_admin_log (a) VALUES (%s)") == (
        "vicidial_admin_log"
    )
    assert faults.written_table("INSERT IGNORE INTO vicidial_inbound_dids (a)") == (
        "vicidial_inbound_dids"
    )
    assert faults.written_table("INSERT OR IGNORE INTO vicidial_inbound_dids (a)") == (
        "vicidial_inbound_dids"
    )
    assert faults.written_table("UPDATE vicidial_users SET a=%s") == "vicidial_users"
    assert faults.written_table("DELETE FROM vicidial_inbound_dids WHERE a") == (
        "vicidial_inbound_dids"
    )
    assert faults.written_table("SELECT did_id FROM vicidial_inbound_dids") is None
    assert faults.written_table("SAVEPOINT sa_savepoint_1") is None


def error(code: object, message: str, invalidated: bool = False) -> sa.exc.DBAPIError:
    orig = Exception(code, message) if code is not None else Exception(message)
    return sa.exc.OperationalError("INSERT INTO t VALUES (%s)", ("secret",), orig, invalidated)


def test_database_errors_are_classed():
    unreachable, privilege = faults.Fault.UNREACHABLE, faults.Fault.PRIVILEGE
    server = faults.Fault.SERVER
    cases = [
        (error(2013, "Lost connection", invalidated=True), unreachable),
        (error(2003, "Can't connect to MySQL server on '127.0.0.1'"), unreachable),
        (error(1040, "Too many connections"), unreachable),
        (error(1213, "Deadlock found when trying to get lock"), unreachable),
        (error(None, "database is locked"), unreachable),
        (
            error(1142, "INSERT command denied to user 'v'@'h' for table 'vicidial_admin_log'"),
            privilege,
        ),
        (error(1045, "Access denied for user 'v'@'h'"), privilege),
        (error(None, "attempt to write a readonly database"), privilege),
        (error(1146, "Table 'x.vicidial_api_log' doesn't exist"), server),
        (error(1406, "Data too long for column 'data' at row 1"), server),
    ]
    for err, expected in cases:
        assert faults.classify(err) is expected, err
    assert faults.classify(sa.exc.TimeoutError("QueuePool limit reached")) is unreachable
    line = faults.describe(cases[5][0])
    assert "1142" in line and "INSERT command denied" in line
    assert "secret" not in line and "VALUES" not in line  # never the statement or parameters


def test_bulk_ids_need_an_increment_of_one():
    innodb = dict.fromkeys(queries.BULK_TABLES, "INNODB")
    assert queries.ids_consecutive(1, 1, innodb)
    assert not queries.ids_consecutive(1, 2, innodb)  # Galera, master-master
    assert not queries.ids_consecutive(2, 1, innodb)  # interleaved lock mode
    assert not queries.ids_consecutive(1, 1, {**innodb, "vicidial_api_log": "MYISAM"})


def test_partly_applied_words_in_every_dialect():
    o = Outcome(Kind.PARTLY_APPLIED, function="copy_did", user="6666", did="18001234567")
    assert simple.render([o]) == (
        "ERROR: DATABASE CONNECTION LOST | the change to 18001234567 may be partly applied\n"
    )
    assert vicidial.render([o]) == (
        "ERROR: copy_did DATABASE CONNECTION LOST, CHANGE MAY BE PARTLY APPLIED: "
        "|6666|18001234567\n"
    )
    rows = vicidial.log_rows([o])
    assert rows[0].data == "18001234567"


# --- chosen points ----------------------------------------------------------------------

CHANGES = {
    "update_did": {"did_pattern": SOURCE_DID, "did_description": "Changed here"},
    "add_did": {"did_pattern": "18009990001", "did_description": "Added here"},
    "copy_did": {"did_pattern": SOURCE_DID, "new_did_pattern": "18009990002"},
}
SUCCESS = {"update_did": Kind.UPDATED, "add_did": Kind.ADDED, "copy_did": Kind.COPIED}
AUDIT = {"update_did": "MODIFY", "add_did": "ADD", "copy_did": "COPY"}
DID_WRITE = {
    "update_did": "UPDATE vicidial_inbound_dids",
    "add_did": "INSERT IGNORE INTO vicidial_inbound_dids",
    "copy_did": "INSERT IGNORE INTO vicidial_inbound_dids",
}


def landed(engine, function: str) -> bool:
    if function == "update_did":
        return description(engine, SOURCE_DID) == "Changed here"
    new = CHANGES[function].get("new_did_pattern") or CHANGES[function]["did_pattern"]
    return description(engine, new) is not None


@pytest.mark.mariadb
@pytest.mark.parametrize("function", sorted(CHANGES))
@pytest.mark.parametrize("point", ["first", "after_did_write", "commit"])
def test_a_connection_killed_at_a_chosen_point(url, engine_name, function, point):
    engine = make_engine(url)
    killer = Killer(MYSQL_ROOT, db_name(url))
    pipeline = Pipeline(engine, POLICIES["simple"])
    pipeline.did_table()  # read the schema before the kills begin
    pipeline.has_idempotency_table()
    assert pipeline.transactional == (engine_name == "innodb")
    # The password verified once, as a running server has it: a first login's guess is
    # counted in a COMMIT of its own, and the COMMIT killed here is the request's. The last
    # login made old again, so that the request writes its login as before.
    request(pipeline, function="did_info", did_pattern=SOURCE_DID)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE vicidial_users SET last_login_date=NULL WHERE user='6666'"))
    if point == "after_did_write":
        kill = KillAt(engine, killer, "statement", "INSERT INTO vicidial_admin_log")
    else:
        kill = KillAt(engine, killer, point)
    outcomes = request(pipeline, function=function, **CHANGES[function])
    assert kill.fired and killer.kills == 1
    kinds = [o.kind for o in outcomes]
    audit = audit_rows(engine, AUDIT[function])
    myisam = engine_name == "myisam"
    if point == "first" or (point == "after_did_write" and not myisam):
        # nothing had landed, or the server rolled it back: run again, once
        assert kinds[0] is SUCCESS[function], kinds
        assert landed(engine, function) and len(audit) == 1
    elif point == "after_did_write" and function == "update_did":
        # the change and its admin_log row travel in one message, killed before it went:
        # nothing landed, but vicidid cannot know that, so it never runs it again
        assert kinds == [Kind.PARTLY_APPLIED]
        assert not landed(engine, function) and audit == []
    elif point == "after_did_write":  # MyISAM: the DID write stays, never run twice
        assert (
            kinds == [Kind.PARTLY_APPLIED] and outcomes[0].did == CHANGES[function]["did_pattern"]
        )
        assert landed(engine, function)
        assert len(audit) == 1  # written on a fresh connection
    else:  # lost at COMMIT: InnoDB rolled it all back, MyISAM kept it all
        assert kinds == [Kind.PARTLY_APPLIED]
        assert landed(engine, function) == myisam
        assert len(audit) == (1 if myisam else 0)
    assert Kind.COPY_EXISTS not in kinds and Kind.DID_EXISTS not in kinds
    killer.close()
    engine.dispose()


@pytest.fixture
def one_by_one_url(engine_name, request) -> str:
    """Where a copy inserts one DID per statement: on MyISAM, a user who may not LOCK TABLES."""
    return request.getfixturevalue("no_lock_url" if engine_name == "myisam" else "innodb_url")


@pytest.mark.mariadb
def test_a_copy_stopped_part_way_on_myisam_audits_what_it_inserted(one_by_one_url, engine_name):
    url = one_by_one_url
    engine = make_engine(url)
    killer = Killer(MYSQL_ROOT, db_name(url))
    pipeline = Pipeline(engine, POLICIES["vicidial"])
    pipeline.did_table()
    pipeline.has_idempotency_table()
    new = [f"1800777{n:04d}" for n in range(6)]
    KillAt(engine, killer, "statement", "INSERT IGNORE INTO vicidial_inbound_dids")
    outcomes = request(
        pipeline, function="copy_did", source_did_pattern=SOURCE_DID, new_dids=",".join(new)
    )
    with engine.connect() as conn:
        there = (
            conn.execute(
                sa.text("SELECT did_pattern FROM vicidial_inbound_dids WHERE did_pattern LIKE :p"),
                {"p": "1800777%"},
            )
            .scalars()
            .all()
        )
    audit = audit_rows(engine, "COPY")
    if engine_name == "innodb":  # rolled back and run again: the whole copy, once
        assert outcomes[-1].kind is Kind.COPY_SUMMARY and outcomes[-1].counts.added == 6
        assert sorted(there) == new and len(audit) == 1
    else:  # killed before the third insert: two DIDs stay, and the COPY row names them
        assert [o.kind for o in outcomes] == [Kind.PARTLY_APPLIED]
        assert vicidial.render(outcomes) == (
            "ERROR: copy_did DATABASE CONNECTION LOST, CHANGE MAY BE PARTLY APPLIED: "
            f"|6666|{SOURCE_DID}\n"
        )
        assert sorted(there) == new[:2]
        (row,) = audit
        assert f"{new[0]} ADDED" in row["event_notes"] and f"{new[1]} ADDED" in row["event_notes"]
        assert (
            f"STOPPED: the database failed after 2 of 6 new DIDs; {new[2]} may have"
            in (row["event_notes"])
        )
        assert new[3] not in row["event_notes"]
    killer.close()
    engine.dispose()


@pytest.mark.mariadb
@pytest.mark.parametrize("at", ["dids", "api_log"])
def test_a_locked_copy_killed_part_way_on_myisam(vicidial_url, at):  # noqa: F811
    """Multi-row inserts under LOCK TABLES (store/statements/bulk.py), killed at the third chunk of
    DIDs, or at the api_log rows once every DID and the COPY row are in."""
    engine = make_engine(vicidial_url, pool_size=1)
    killer = Killer(MYSQL_ROOT, db_name(vicidial_url))
    pipeline = Pipeline(engine, POLICIES["simple"])
    pipeline.did_table()
    pipeline.has_idempotency_table()
    new = [f"1800778{n:04d}" for n in range(2 * bulk.CHUNK + 6)]
    if at == "dids":
        KillAt(engine, killer, "statement", "INSERT IGNORE INTO vicidial_inbound_dids")
    else:
        KillAt(engine, killer, "statement", "INSERT  INTO vicidial_api_log")
    outcomes = request(
        pipeline, function="copy_did", source_did_pattern=SOURCE_DID, new_dids=",".join(new)
    )
    assert killer.kills == 1
    assert [o.kind for o in outcomes] == [Kind.PARTLY_APPLIED]
    assert simple.render(outcomes) == (
        f"ERROR: DATABASE CONNECTION LOST | the change to {SOURCE_DID} may be partly applied\n"
    )
    with engine.connect() as conn:
        there = dict(
            conn.execute(
                sa.text(
                    "SELECT did_pattern, did_id FROM vicidial_inbound_dids "
                    "WHERE did_pattern LIKE '1800778%'"
                )
            ).all()
        )
    (row,) = audit_rows(engine, "COPY")
    notes = row["event_notes"]
    if at == "dids":  # two chunks in, the third never sent: the COPY row names the two
        landed = new[: 2 * bulk.CHUNK]
        assert sorted(there) == landed
        assert notes.endswith(
            f"STOPPED: the database failed after {len(landed)} of {len(new)} new DIDs; "
            f"any of 6 from {new[-6]} to {new[-1]} may have been added\n"
        )
    else:  # every DID in, and the copy's own COPY row
        landed = new
        assert sorted(there) == new and "STOPPED" not in notes
    assert notes.count(" ADDED, did_id: ") == len(landed)
    for pattern in landed:
        assert f"\n{pattern} ADDED, did_id: {there[pattern]}\n" in notes
    assert row["record_id"] == str(there[landed[-1]])
    # no table stays locked, and the rest can be copied again
    again = request(
        pipeline, function="copy_did", source_did_pattern=SOURCE_DID, new_dids=",".join(new)
    )
    assert again[-1].kind is Kind.COPY_SUMMARY
    assert (again[-1].counts.added, again[-1].counts.existed) == (
        len(new) - len(landed),
        len(landed),
    )
    killer.close()
    engine.dispose()


# --- at random, under load --------------------------------------------------------------


def load_and_kill(url: str, dialect: str, seconds: float, clients: int) -> dict:
    """Mixed update/copy/add from many clients through a real server, kills now and then."""
    engine = make_engine(url, pool_size=4)
    killer = Killer(MYSQL_ROOT, db_name(url))
    answers: list[tuple[str, str, int, dict]] = []  # (function, did, status, body)
    counter = iter(range(1_000_000))
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    with serve(engine, dialect=dialect) as server:

        def client(number: int) -> None:
            rng = random.Random(number)
            with httpx.Client(timeout=60) as http:
                while time.monotonic() < stop:
                    with lock:
                        n = next(counter)
                    function = rng.choice(["update_did", "copy_did", "add_did"])
                    did = f"1800{number:02d}{n:05d}"
                    params = {"function": function, "format": "json", **dict(LOGIN)}
                    if function == "update_did":
                        params |= {"did_pattern": SOURCE_DID, "did_description": f"Load {n}"}
                    elif function == "copy_did":
                        params |= {"source_did_pattern": SOURCE_DID, "new_dids": did}
                    else:
                        params |= {"did_pattern": did, "did_description": f"Load {n}"}
                    r = http.get(f"{server.url}/vicidial/non_agent_api.php", params=params)
                    answers.append((function, did, r.status_code, r.json()))

        with ThreadPoolExecutor(clients + 1) as pool:
            futures = [pool.submit(client, n) for n in range(clients)]
            futures.append(pool.submit(killer.kill_now_and_then, stop, 0.02, 0.12))
            for f in futures:
                f.result()
    engine.dispose()  # its pooled connections may have been killed while idle
    result = reconcile(engine, answers)
    result["kills"] = killer.kills
    killer.close()
    engine.dispose()
    return result


@pytest.mark.mariadb
def test_random_kills_under_load_reconcile(url, engine_name):
    result = load_and_kill(url, "vicidial" if engine_name == "myisam" else "simple", 6, 6)
    assert result["kills"] >= 5, result
    assert result["requests"] >= 50, result
    assert result["own_insert_exists"] == 0, result  # never "already exists" for its own DID
    assert set(result["statuses"]) <= {200, 503}, result
    assert result["added_missing"] == 0, result
    for function, (ok, partly, audit) in result["per_function"].items():
        assert ok <= audit <= ok + partly, (function, result)
    if engine_name == "innodb":
        assert result["dids_unaudited"] == 0, result
    assert verdict(result, innodb=engine_name == "innodb") == []


# --- the database refuses ---------------------------------------------------------------


@pytest.mark.mariadb
def test_a_missing_grant_is_named_and_changes_nothing(innodb_url, caplog):
    name = db_name(innodb_url)
    user = f"vicidid_{name[-8:]}"
    root = sa.create_engine(MYSQL_ROOT)
    with root.begin() as conn:
        conn.execute(sa.text(f"CREATE USER '{user}'@'%' IDENTIFIED BY 'pw'"))
        conn.execute(sa.text(f"GRANT SELECT ON `{name}`.* TO '{user}'@'%'"))
        for table in ("vicidial_inbound_dids", "vicidial_users", "vicidial_api_log"):
            conn.execute(sa.text(f"GRANT INSERT, UPDATE ON `{name}`.{table} TO '{user}'@'%'"))
    try:
        url = MYSQL_ROOT.set(username=user, password="pw", database=name)
        engine = make_engine(url.render_as_string(hide_password=False))
        with caplog.at_level(logging.ERROR, logger="vicidid"), serve(engine) as live:
            r = live.get(
                "function=update_did&user=6666&pass=1234&source=test"
                f"&did_pattern={SOURCE_DID}&did_description=Not+allowed"
            )
            assert r.status_code == 500
            assert r.text.startswith("ERROR: DATABASE PERMISSION DENIED | ")
            assert r.text.count("\n") == 1
            j = live.get(
                "function=update_did&user=6666&pass=1234&source=test&format=json"
                f"&did_pattern={SOURCE_DID}&did_description=Not+allowed"
            )
            assert (j.status_code, j.json()["kind"]) == (500, "database_privilege")
        logged = "\n".join(r.getMessage() for r in caplog.records)
        assert "1142" in logged and "vicidial_admin_log" in logged and "pw" not in logged
        assert description(engine, SOURCE_DID) == "Customer Support Line"  # rolled back
        engine.dispose()
    finally:
        with root.begin() as conn:
            conn.execute(sa.text(f"DROP USER '{user}'@'%'"))
        root.dispose()


@pytest.mark.mariadb
def test_a_server_fault_is_a_500_line(innodb_url, caplog):
    engine = make_engine(innodb_url)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "CREATE TRIGGER refuse BEFORE INSERT ON vicidial_api_urls FOR EACH ROW "
                "SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'refused by a trigger'"
            )
        )
    with caplog.at_level(logging.ERROR, logger="vicidid"), serve(engine) as live:
        r = live.get(
            "function=update_did&user=6666&pass=1234&source=test"
            f"&did_pattern={SOURCE_DID}&did_description=Not+kept"
        )
    assert (r.status_code, r.text) == (500, "ERROR: INTERNAL ERROR | nothing was changed\n")
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "1644" in logged and "refused by a trigger" in logged and "Traceback" not in r.text
    assert description(engine, SOURCE_DID) == "Customer Support Line"
    engine.dispose()


# --- ids that are not consecutive -------------------------------------------------------


@pytest.mark.mariadb
def test_spaced_auto_increment_takes_the_one_row_path(innodb_url):
    plain = make_engine(innodb_url)
    assert Pipeline(plain, POLICIES["simple"]).did_table() is not None
    assert Pipeline(plain, POLICIES["simple"]).bulk_ids is False  # read on first use
    p = Pipeline(plain, POLICIES["simple"])
    p.did_table()
    assert p.bulk_ids is True  # InnoDB, increment 1: a real read says yes
    plain.dispose()

    spaced = make_engine(innodb_url)
    sa.event.listen(
        spaced,
        "connect",
        lambda dbapi_conn, _: dbapi_conn.cursor().execute(
            "SET SESSION auto_increment_increment = 2"
        ),
    )
    pipeline = Pipeline(spaced, POLICIES["simple"])
    pipeline.did_table()
    assert pipeline.bulk_ids is False
    new = [f"1800666{n:04d}" for n in range(300)]
    outcomes = request(
        pipeline, function="copy_did", source_did_pattern=SOURCE_DID, new_dids=",".join(new)
    )
    assert outcomes[-1].counts.added == 300
    with spaced.connect() as conn:
        ids = conn.execute(sa.text("SELECT api_id FROM vicidial_api_log ORDER BY api_id")).scalars()
        ids = list(ids)
        orphans = conn.execute(
            sa.text(
                "SELECT COUNT(*) FROM vicidial_api_urls u "
                "LEFT JOIN vicidial_api_log l ON l.api_id = u.api_id WHERE l.api_id IS NULL"
            )
        ).scalar_one()
        urls = conn.execute(sa.text("SELECT COUNT(*) FROM vicidial_api_urls")).scalar_one()
    assert len(ids) == 301 and {b - a for a, b in itertools.pairwise(ids)} == {2}
    assert (urls, orphans) == (301, 0)  # every url row points at its own api_log row
    spaced.dispose()


# --- SQLite: a writer killed -9 ---------------------------------------------------------

WRITER = """
import sys, time
import sqlalchemy as sa
from vicidid.core.call import POLICIES
from vicidid.core.pipeline import Incoming, Pipeline
from vicidid.store.db import make_engine

url, pause = sys.argv[1], sys.argv[2] == "pause"
engine = make_engine(url)
inserts = []

@sa.event.listens_for(engine, "before_cursor_execute")
def halfway(conn, cursor, statement, *args):
    if "vicidial_inbound_dids" in statement and statement.startswith("INSERT"):
        inserts.append(1)
        if pause and len(inserts) == 10:
            print("halfway", flush=True)
            time.sleep(60)

new = ",".join(f"1800555{n:04d}" for n in range(5000))
print("started", flush=True)
Pipeline(engine, POLICIES["simple"]).handle(Incoming(query=[
    ("function", "copy_did"), ("user", "6666"), ("pass", "1234"), ("source", "faults"),
    ("did_pattern", "18001234567"), ("new_dids", new)]))
print("done", flush=True)
"""


def copied(engine) -> tuple[int, int]:
    with engine.connect() as conn:
        dids = conn.execute(
            sa.text("SELECT COUNT(*) FROM vicidial_inbound_dids WHERE did_pattern LIKE '1800555%'")
        ).scalar_one()
        audit = conn.execute(
            sa.text("SELECT COUNT(*) FROM vicidial_admin_log WHERE event_type='COPY'")
        ).scalar_one()
    return dids, audit


def test_sqlite_writer_killed_mid_copy_leaves_all_or_nothing(sqlite_url):
    engine = make_engine(sqlite_url)
    init_db(engine)
    demo.load(engine)
    root = Path(__file__).parent.parent
    env = {**os.environ, "PYTHONPATH": str(root)}

    def writer(mode: str) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-c", WRITER, sqlite_url, mode],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )

    proc = writer("pause")  # killed at a chosen point: the 10th chunk of inserts
    assert proc.stdout.readline() == "started\n"
    assert proc.stdout.readline() == "halfway\n"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    proc.stdout.close()
    assert copied(engine) == (0, 0)

    for delay in (0.2, 0.5, 1.0):  # killed at a moment of chance
        proc = writer("run")
        assert proc.stdout.readline() == "started\n"
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        proc.stdout.close()
        dids, audit = copied(engine)
        assert (dids, audit) in ((0, 0), (5000, 1)), (delay, dids, audit)
        if dids:
            break

    # the file is whole and the next writer goes on
    reply = Pipeline(engine, POLICIES["simple"]).handle(
        Incoming(
            query=[
                ("function", "copy_did"),
                ("did_pattern", SOURCE_DID),
                ("new_dids", ",".join(f"1800555{n:04d}" for n in range(5000))),
                *LOGIN,
            ]
        )
    )
    counts = reply.outcomes[-1].counts
    assert counts.added + counts.existed == 5000
    assert copied(engine)[0] == 5000
    engine.dispose()
