"""copy_did on VICIdial's own MyISAM schema: multi-row inserts under LOCK TABLES.

Real MariaDB, VICIdial's tables (tests/fixtures/vicidial_schema.sql) with its sample data.
Every new DID must still be reported with its own did_id, and every vicidial_api_urls row
must point at its own api_log row, while other clients insert DIDs and api_log rows at the
same time; a database user without the LOCK TABLES privilege still copies, one DID per
statement. (A copy killed part-way: tests/test_faults.py.)
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import MYSQL_ROOT, serve
from tests.test_existing_vicidial import vicidial_url  # noqa: F401  (a fixture)
from vicidid.core.call import POLICIES
from vicidid.core.dialects import vicidial
from vicidid.core.outcomes import Kind, Outcome
from vicidid.core.pipeline import Incoming, Pipeline
from vicidid.store import tables
from vicidid.store.db import make_engine, table_engines
from vicidid.store.schema import init_db
from vicidid.store.statements import bulk

pytestmark = pytest.mark.mariadb
SOURCE_DID = "18001234567"
LOGIN = [("user", "6666"), ("pass", "1234")]


@pytest.fixture
def no_lock_url(vicidial_url) -> Iterator[str]:  # noqa: F811  (the fixture imported above)
    """The same database, through a user with every privilege vicidid needs but LOCK TABLES."""
    name = sa.engine.make_url(vicidial_url).database
    user = f"nolock_{name[-8:]}"
    root = sa.create_engine(MYSQL_ROOT)
    with root.begin() as conn:
        conn.execute(sa.text(f"CREATE USER '{user}'@'%' IDENTIFIED BY 'pw'"))
        conn.execute(sa.text(f"GRANT SELECT, INSERT, UPDATE, DELETE ON `{name}`.* TO '{user}'@'%'"))
    try:
        yield MYSQL_ROOT.set(username=user, password="pw", database=name).render_as_string(
            hide_password=False
        )
    finally:
        with root.begin() as conn:
            conn.execute(sa.text(f"DROP USER '{user}'@'%'"))
        root.dispose()


def copy(pipeline: Pipeline, new: list[str], source: str = "test") -> list[Outcome]:
    query = [
        ("function", "copy_did"),
        ("source", source),  # first: the stored URL (cut at 4,000 characters) keeps it
        *LOGIN,
        ("source_did_pattern", SOURCE_DID),
        ("new_dids", ",".join(new)),
    ]
    return pipeline.handle(Incoming(query=query)).outcomes


def rows_by_pattern(engine: sa.engine.Engine, patterns: list[str]) -> dict[str, dict]:
    with engine.connect() as conn:
        found = conn.execute(
            sa.text("SELECT * FROM vicidial_inbound_dids WHERE did_pattern IN :p").bindparams(
                sa.bindparam("p", expanding=True)
            ),
            {"p": patterns},
        ).mappings()
        return {r["did_pattern"]: dict(r) for r in found}


def test_the_locked_path_is_taken_only_where_no_written_table_is_innodb(vicidial_url):  # noqa: F811
    engine = make_engine(vicidial_url)
    with engine.connect() as conn:
        assert bulk.usable(conn)
        conn.exec_driver_sql("ALTER TABLE vicidial_api_urls ENGINE=InnoDB")
        bulk.forget(engine)
        assert not bulk.usable(conn)  # LOCK TABLES would commit an InnoDB table's writes
    engine.dispose()


# --- concurrent writers -------------------------------------------------------------------

SPACE = [str(16500000000 + n) for n in range(3_000)]  # the new DIDs everyone races for


class Writer:
    """Another client, writing as VICIdial does: one row per statement, ids from the insert."""

    def __init__(self, url: str) -> None:
        self.engine = sa.create_engine(url)  # a plain engine: none of vicidid's code
        self.dids: dict[str, int] = {}  # pattern -> did_id, for the DIDs it inserted
        self.logged = 0

    def insert_dids(self, stop: threading.Event, seed: int) -> None:
        rng = random.Random(seed)
        with self.engine.connect() as conn:
            while not stop.is_set():
                pattern = rng.choice(SPACE)
                result = conn.execute(
                    sa.text(
                        "INSERT IGNORE INTO vicidial_inbound_dids (did_pattern, did_description) "
                        "VALUES (:p, 'by another client')"
                    ),
                    {"p": pattern},
                )
                conn.commit()
                if result.rowcount == 1:
                    self.dids[pattern] = int(result.lastrowid)

    def insert_api_logs(self, stop: threading.Event) -> None:
        with self.engine.connect() as conn:
            while not stop.is_set():
                n = self.logged = self.logged + 1
                now = datetime.now().replace(microsecond=0)
                result = conn.execute(
                    sa.text(
                        "INSERT INTO vicidial_api_log (user, api_date, function, source, data) "
                        "VALUES ('writer', :now, 'other', 'writer', :n)"
                    ),
                    {"n": str(n), "now": now},
                )
                conn.execute(
                    sa.text(
                        "INSERT INTO vicidial_api_urls (api_id, api_date, url) "
                        "VALUES (:id, :now, :url)"
                    ),
                    {"id": result.lastrowid, "now": now, "url": f"writer {n}"},
                )
                conn.commit()


def test_concurrent_writers_never_get_a_copy_s_ids_wrong(vicidial_url):  # noqa: F811
    engine = make_engine(vicidial_url, pool_size=8)
    pipelines = {name: Pipeline(engine, POLICIES[name]) for name in ("vicidial", "simple")}
    for pipeline in pipelines.values():
        pipeline.did_table()
    rng = random.Random(3)
    # 8 copies of 150 (the vicidial dialect's most) and 2 of 2,000 (simple), overlapping
    # one another and the other client's DIDs
    jobs = [("vicidial", rng.sample(SPACE, 150), f"copy{k}") for k in range(8)]
    jobs += [("simple", rng.sample(SPACE, 2_000), f"copy{k}") for k in (8, 9)]
    writer = Writer(vicidial_url)
    stop = threading.Event()
    with ThreadPoolExecutor(7) as pool:
        others = [pool.submit(writer.insert_dids, stop, seed) for seed in (1, 2)]
        others.append(pool.submit(writer.insert_api_logs, stop))
        copies = [pool.submit(copy, pipelines[p], new, source) for p, new, source in jobs]
        answers = [f.result() for f in copies]
        stop.set()
        for f in others:
            f.result()

    copied: dict[str, int] = {}
    for (_, new, _), outcomes in zip(jobs, answers, strict=True):
        assert outcomes[-1].kind is Kind.COPY_SUMMARY, outcomes[-1]
        assert [o.value for o in outcomes[:-1]] == new
        assert {o.kind for o in outcomes[:-1]} <= {Kind.COPIED, Kind.COPY_EXISTS}
        for o in outcomes[:-1]:
            if o.kind is Kind.COPIED:
                assert o.value not in copied and o.value not in writer.dids  # inserted once
                copied[o.value] = o.did_id
    assert len(copied) > 1_000 and len(writer.dids) > 10 and writer.logged > 10
    there = rows_by_pattern(engine, SPACE)
    # every DID of the space was inserted by exactly one client, with the id it was told
    assert {p: r["did_id"] for p, r in there.items()} == copied | writer.dids
    for pattern in copied:
        assert there[pattern]["did_description"] != "by another client"

    with engine.connect() as conn:
        pairs = conn.execute(
            sa.text(
                "SELECT u.url, u.api_date AS url_date, l.api_id, l.source, l.data, l.api_date "
                "FROM vicidial_api_urls u LEFT JOIN vicidial_api_log l ON l.api_id = u.api_id"
            )
        ).mappings()
        pairs = [dict(p) for p in pairs]
        logged = conn.execute(sa.text("SELECT COUNT(*) FROM vicidial_api_log")).scalar_one()
    assert len(pairs) == logged  # every api_log row has its one url row
    for p in pairs:
        assert p["api_id"] is not None and p["url_date"] == p["api_date"], p
        if p["source"] == "writer":
            assert p["url"] == f"writer {p['data']}", p
        else:  # the copy's own request, by its source
            assert f"source={p['source']}&" in p["url"], p
    per_copy = [sum(1 for p in pairs if p["source"] == source) for _, _, source in jobs]
    assert per_copy == [len(new) + 1 for _, new, _ in jobs]  # one per answer line
    engine.dispose()


# --- the LOCK TABLES privilege missing ----------------------------------------------------


def test_without_lock_tables_a_copy_inserts_one_did_per_statement(
    vicidial_url,  # noqa: F811
    no_lock_url,
    caplog,
):
    # The source DID holds what escaping must get right: quotes, %, a backslash, latin1
    root = sa.create_engine(vicidial_url)
    with root.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE vicidial_inbound_dids SET did_description = :d, "
                "did_carrier_description = :c WHERE did_pattern = :p"
            ),
            {"d": "50% 'off' \\ é", "c": "%s %% %(x)s ?", "p": SOURCE_DID},
        )
    root.dispose()
    locked_new = [f"1801000{n:04d}" for n in range(150)]
    plain_new = [f"1802000{n:04d}" for n in range(150)]

    locked = make_engine(vicidial_url)
    locked_answer = copy(Pipeline(locked, POLICIES["vicidial"]), locked_new, "locked")

    plain = make_engine(no_lock_url)
    sent: list[str] = []
    sa.event.listen(plain, "before_cursor_execute", lambda c, cur, s, *a: sent.append(s))
    pipeline = Pipeline(plain, POLICIES["vicidial"])
    with caplog.at_level(logging.WARNING, logger="vicidid"):
        plain_answer = copy(pipeline, plain_new, "plain")
        assert copy(pipeline, ["18020009998", "18020009999"])[-1].counts.added == 2
    refused = [r for r in caplog.records if "LOCK TABLES refused" in r.getMessage()]
    assert len(refused) == 1 and "1044" in refused[0].getMessage()  # said once
    assert sum(s.startswith("LOCK TABLES") for s in sent) == 1  # tried once per engine
    assert sum(s.startswith("INSERT IGNORE INTO vicidial_inbound_dids") for s in sent) == 152
    # one api_log row per statement, several statements a message (store/wire.py)
    assert sum(s.count("INSERT INTO vicidial_api_log ") for s in sent) == 151 + 3

    # the same answers and the same rows, whichever way they were inserted
    assert [o.kind for o in locked_answer] == [Kind.COPIED] * 150 + [Kind.COPY_SUMMARY]
    assert _shape(locked_answer) == _shape(plain_answer)
    with_lock = rows_by_pattern(locked, locked_new)
    without = rows_by_pattern(locked, plain_new)
    source = rows_by_pattern(locked, [SOURCE_DID])[SOURCE_DID]
    for a, b in zip(locked_new, plain_new, strict=True):
        assert with_lock[a]["did_id"] == _id(locked_answer, a)
        assert without[b]["did_id"] == _id(plain_answer, b)
        for row in (with_lock[a], without[b]):
            assert {k: v for k, v in row.items() if k not in ("did_id", "did_pattern")} == {
                k: v for k, v in source.items() if k not in ("did_id", "did_pattern")
            }
    assert with_lock[locked_new[0]]["did_carrier_description"] == "%s %% %(x)s ?"
    assert with_lock[locked_new[0]]["did_description"] == "50% 'off' \\ é"
    # and the same api_log rows, each with its url row
    logged = {
        source: _api_rows(locked, source, answer)
        for source, answer in (("locked", locked_answer), ("plain", plain_answer))
    }
    assert len(logged["locked"]) == 151 and all(r["url"] for r in logged["locked"])
    assert [
        {**r, "data": r["data"].replace("1801000", "1802000")} for r in logged["locked"]
    ] == logged["plain"]
    locked.dispose()
    plain.dispose()


def _shape(outcomes: list[Outcome]) -> list[str]:
    """The vicidial dialect's answer with each new DID and its id replaced by place-holders."""
    lines = vicidial.render(outcomes).splitlines()
    for n, o in enumerate(outcomes[:-1]):
        lines[n] = lines[n].replace(f"|{o.value}|", "|NEW|").replace(f"|{o.did_id}|", "|ID|")
    return lines


def _api_rows(engine: sa.engine.Engine, source: str, answer: list[Outcome]) -> list[dict]:
    """A request's api_log rows in order, without what differs from run to run."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT l.*, u.url, u.remote_ip AS url_ip FROM vicidial_api_log l "
                "JOIN vicidial_api_urls u ON u.api_id = l.api_id AND u.api_date = l.api_date "
                "WHERE l.source = :s ORDER BY l.api_id"
            ),
            {"s": source},
        ).mappings()
        rows = [dict(r) for r in rows]
    for r, o in zip(rows, answer, strict=True):  # one row per answer line
        r["data"] = r["data"].replace(f"|{o.did_id}|", "|ID|")
        r["url"] = r["url"].replace(f"source={source}&", "")[:60]
        for k in ("api_id", "api_date", "run_time", "source"):
            del r[k]
    return rows


def _id(outcomes: list[Outcome], pattern: str) -> int:
    (did_id,) = [o.did_id for o in outcomes if o.kind is Kind.COPIED and o.value == pattern]
    return did_id


def test_a_locked_copy_leaves_no_lock_behind(vicidial_url):  # noqa: F811
    engine = make_engine(vicidial_url, pool_size=1)  # the next request gets the same connection
    pipeline = Pipeline(engine, POLICIES["simple"])
    new = [f"1803000{n:04d}" for n in range(1_200)]
    assert copy(pipeline, new)[-1].counts.added == 1_200
    other = sa.create_engine(vicidial_url)
    with other.connect() as conn:
        conn.exec_driver_sql("SET SESSION lock_wait_timeout = 5")
        for sql in (
            "INSERT INTO vicidial_api_log (user, api_date, function, source) "
            "VALUES ('x', NOW(), 'other', 'other')",
            "INSERT INTO vicidial_inbound_dids (did_pattern) VALUES ('18039999999')",
        ):
            conn.exec_driver_sql(sql)  # waits at most 5 s for a lock
        conn.commit()
    other.dispose()
    # the pooled connection holds no lock either: an update touches another table
    update = [
        ("function", "update_did"),
        ("source", "test"),
        *LOGIN,
        ("did_pattern", new[0]),
        ("did_description", "Still fine"),
    ]
    reply = pipeline.handle(Incoming(query=update))
    assert reply.kinds == [Kind.UPDATED]
    assert rows_by_pattern(engine, [new[0]])[new[0]]["did_description"] == "Still fine"
    engine.dispose()


def test_an_idempotency_key_on_innodb_beside_myisam_tables(vicidial_url):  # noqa: F811
    """vicidid's own key table (InnoDB, added by `init-db --add-missing`) beside VICIdial's
    MyISAM tables: the locked path's implicit commits keep the key's answer."""
    engine = make_engine(vicidial_url)
    init_db(engine, add_missing=True)
    with engine.connect() as conn:
        assert table_engines(conn)[tables.idempotency.name] == "INNODB"
        assert bulk.usable(conn)
    new = ",".join(f"1804000{n:04d}" for n in range(150))
    form = {
        "function": "copy_did",
        "user": "6666",
        "pass": "1234",
        "source": "test",
        "did_pattern": SOURCE_DID,
        "new_dids": new,
    }
    with serve(engine) as live:
        first = live.post(form, headers={"Idempotency-Key": "myisam-150"})
        again = live.post(form, headers={"Idempotency-Key": "myisam-150"})
        assert first.status_code == 200 and first.text.endswith(
            "| 150 Copied, 0 Already Existed, 0 Invalid\n"
        )
        assert again.text == first.text  # replayed, not run again
        assert live.count("vicidial_api_log") == 151 + 1  # the replay logs one line
    engine.dispose()


def test_the_readme_s_grants_take_the_locked_path(vicidial_url):  # noqa: F811
    """The database user README.md sets up (step 2) may LOCK TABLES and copy with them."""
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    grants = [line.strip() for line in readme.splitlines() if line.strip().startswith("GRANT ")]
    assert any("LOCK TABLES" in g for g in grants)
    name = sa.engine.make_url(vicidial_url).database
    user = f"readme_{name[-8:]}"
    root = sa.create_engine(MYSQL_ROOT)
    with root.begin() as conn:
        conn.execute(sa.text(f"CREATE USER '{user}'@'%' IDENTIFIED BY 'pw'"))
        for grant in grants:
            grant = grant.replace("asterisk.", f"`{name}`.").replace("'vicidid'@'127.0.0.1'", "")
            conn.execute(sa.text(grant.rstrip(";") + f"'{user}'@'%'"))
    try:
        url = MYSQL_ROOT.set(username=user, password="pw", database=name)
        engine = make_engine(url.render_as_string(hide_password=False))
        sent: list[str] = []
        sa.event.listen(engine, "before_cursor_execute", lambda c, cur, s, *a: sent.append(s))
        new = [f"1805000{n:04d}" for n in range(150)]
        outcomes = copy(Pipeline(engine, POLICIES["vicidial"]), new)
        assert [o.kind for o in outcomes] == [Kind.COPIED] * 150 + [Kind.COPY_SUMMARY]
        assert sum(s.startswith("LOCK TABLES") for s in sent) == 2  # DIDs, then the log rows
        assert sum(s.startswith("INSERT IGNORE INTO vicidial_inbound_dids") for s in sent) == 1
        engine.dispose()
    finally:
        with root.begin() as conn:
            conn.execute(sa.text(f"DROP USER '{user}'@'%'"))
        root.dispose()
