"""Nothing overflows: every text vicidid writes fits its column as the database declares it.

MariaDB runs here in strict mode (STRICT_TRANS_TABLES, as VICIdial's installs often do),
where a value too long for its column, or a character its character set lacks, is an
error instead of a silent cut.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.conftest import serve
from tests.test_existing_vicidial import table_definitions, vicidial_url  # noqa: F401
from vicidid.cli import demo
from vicidid.core.call import POLICIES
from vicidid.core.pipeline import Incoming, Pipeline
from vicidid.store import sizes
from vicidid.store.db import make_engine
from vicidid.store.schema import init_db
from vicidid.store.sizes import Room

LATIN1 = {"codec": "cp1252", "widest": 1}


def test_characters_and_bytes():
    assert Room(5).fit("abcdefg") == "abcde"
    assert Room(10, in_bytes=True).fit("é" * 8) == "é" * 5  # 2 bytes each in UTF-8
    assert Room(5, in_bytes=True).fit("ééé") == "éé"  # never half a character
    assert Room(5).fit("ééééé") == "ééééé"  # VARCHAR counts characters


def test_characters_a_character_set_lacks_become_question_marks():
    assert Room(10, **LATIN1).fit("a中€😀") == "a?€?"  # MariaDB's latin1 has €
    assert Room(10, bmp_only=True, widest=3).fit("a中😀") == "a中?"  # utf8mb3
    assert Room(None, **LATIN1).holds("中") is False
    assert Room(10).holds("中😀") is True


def test_a_noted_cut_says_what_was_left_out():
    text = "".join(f"1800{i:07d} ADDED\n" for i in range(100))
    cut = Room(500, in_bytes=True).fit(text, note=True)
    assert len(cut.encode()) <= 500
    assert cut.endswith(" more bytes)\n")
    kept = cut[: cut.index("...")]
    assert kept.endswith("\n") and text.startswith(kept)
    assert int(cut.split("(")[-1].split()[0]) == len(text) - len(kept)


def strict(url: str) -> sa.engine.Engine:
    """vicidid's engine on a MariaDB session in strict mode, whatever the server's default."""
    engine = make_engine(url)

    @sa.event.listens_for(engine, "connect")
    def _strict(dbapi_conn, _record):
        cursor = dbapi_conn.cursor()
        cursor.execute(
            "SET SESSION sql_mode = "
            "IF(@@sql_mode = '', 'STRICT_TRANS_TABLES', CONCAT(@@sql_mode, ',STRICT_TRANS_TABLES'))"
        )
        cursor.close()

    with engine.connect() as conn:
        assert "STRICT_TRANS_TABLES" in conn.execute(sa.text("SELECT @@SESSION.sql_mode")).scalar()
    return engine


@pytest.fixture(params=["vicidial-myisam", "vicidid-innodb"])
def strict_db(request, mariadb_url):
    """VICIdial's own schema (MyISAM, latin1) or one vicidid made (InnoDB), strict mode."""
    if request.param == "vicidial-myisam":
        url = request.getfixturevalue("vicidial_url")
        engine = strict(url)
        init_db(engine, add_missing=True)  # vicidid_idempotency
        with engine.begin() as conn:  # the sample data's users, plain passwords
            conn.execute(sa.text("UPDATE vicidial_users SET pass='1234' WHERE user='6666'"))
    else:
        engine = strict(mariadb_url)
        init_db(engine)
        demo.load(engine)
    yield engine
    engine.dispose()


def test_sizes_are_read_from_the_tables(db_url):
    engine = make_engine(db_url)
    init_db(engine)
    found = sizes.read(engine)
    assert found.room("vicidial_api_log", "user").size == 20
    assert not found.room("vicidial_api_log", "user").in_bytes
    assert found.room("vicidial_api_log", "api_id") is None  # a number
    if engine.dialect.name == "sqlite":
        assert found.room("vicidial_api_log", "data") is None  # SQLite's TEXT holds anything
    else:
        assert found.room("vicidial_api_log", "data").size == 65_535
        assert found.room("vicidial_api_log", "data").in_bytes
        assert found.room("vicidial_admin_log", "event_sql").size == 16_777_215
        assert found.room("vicidid_idempotency", "body").size == 16_777_215
    engine.dispose()


@pytest.mark.mariadb
def test_sizes_of_vicidials_own_tables(vicidial_url):  # noqa: F811
    vicidial = make_engine(vicidial_url)
    found = sizes.read(vicidial)
    data = found.room("vicidial_api_log", "data")
    assert (data.size, data.in_bytes, data.codec) == (65_535, True, "cp1252")
    assert found.room("vicidial_admin_log", "event_notes").size == 16_777_215  # MEDIUMTEXT
    assert found.room("vicidial_inbound_dids", "did_description").size == 50
    vicidial.dispose()


def api_log(engine) -> list[dict]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT * FROM vicidial_api_log ORDER BY api_id")).mappings()
        return [dict(r) for r in rows]


MISSING = {
    "simple": "ERROR: MISSING REQUIRED FIELD | did_pattern\n",
    "vicidial": "ERROR: copy_did YOU MUST USE ALL REQUIRED FIELDS: |6666||18000000000,",
}


@pytest.mark.mariadb
@pytest.mark.parametrize("dialect", ["simple", "vicidial"])
def test_ten_thousand_new_dids_without_a_source(strict_db, dialect):
    user = "6666"
    new_dids = ",".join(f"1800{i:07d}" for i in range(10_000))
    with serve(strict_db, dialect=dialect) as live:
        r = live.post(
            {"function": "copy_did", "user": user, "pass": "1234", "source": "test"}
            | {"new_dids": new_dids}
        )
    assert r.status_code == 200
    assert r.text.startswith(MISSING[dialect])
    assert len(r.text.splitlines()) == 1
    row = api_log(strict_db)[-1]
    assert (row["function"], row["result"]) == ("copy_did", "ERROR")
    stored = row["data"].encode("utf-8")
    assert row["data"].startswith("|18000000000,18000000001")
    if dialect == "simple":  # the simple dialect echoes at most 100 characters
        assert len(stored) == 100 and row["data"].endswith("...")
    else:  # the vicidial dialect echoes whole: cut to the TEXT column, not refused
        assert 60_000 < len(stored) <= 65_535


LONG = "é中" * 20_000  # 40,000 characters, 100,000 bytes in UTF-8


@pytest.mark.mariadb
@pytest.mark.parametrize("dialect", ["simple", "vicidial"])
@pytest.mark.parametrize(
    "extra",
    [
        {"function": "copy_did" + LONG},
        {"function": "update_did", "source": LONG},
        {"function": "update_did", "did_pattern": "18001234567", "did_route": LONG},
        {"function": "update_did", "did_pattern": "1800" + LONG},
        {"function": "add_did", "did_pattern": "7275550000", "did_description": "x" * 70_000},
    ],
    ids=["function", "source", "did_route", "did_pattern", "did_description"],
)
def test_long_echoed_values_are_answered_and_logged(strict_db, dialect, extra):
    user = "6666"
    params = {"user": user, "pass": "1234", "source": "test", **extra}
    before = len(api_log(strict_db))
    with serve(strict_db, dialect=dialect) as live:
        r = live.post(params)
        did = live.did("18001234567")
    assert r.status_code == 200, r.text[:300]
    assert r.text.startswith(("ERROR", "NOTICE")), r.text[:300]  # vicidial: filtered away
    assert r.text.count("\n") == (2 if r.text.startswith("ERROR: Invalid Source") else 1)
    rows = api_log(strict_db)
    assert len(rows) == before + 1
    assert len(rows[-1]["function"]) <= 20 and len(rows[-1]["source"]) <= 20
    assert len(rows[-1]["data"].encode()) <= 65_535
    assert did is not None and did["did_route"] in ("EXTEN", "IN_GROUP")


@pytest.mark.mariadb
def test_a_long_forwarded_address_fits_every_ip_column(strict_db):
    hop = "x" * 300
    query = (
        "function=update_did&user=6666&pass=1234&source=test&did_pattern=18001234567&did_active=N"
    )
    with serve(strict_db, trusted_proxies=("127.0.0.1",)) as live:
        r = live.get(query, headers={"X-Forwarded-For": hop})
    assert r.text.startswith("SUCCESS"), r.text
    with strict_db.connect() as conn:
        ip = conn.execute(sa.text("SELECT ip_address FROM vicidial_admin_log")).scalars().all()
        remote = conn.execute(sa.text("SELECT remote_ip FROM vicidial_api_urls")).scalars().all()
    declared = sizes.read(strict_db)  # VICIdial's admin_log keeps 15, vicidid's 50
    assert ip[-1] == hop[: declared.room("vicidial_admin_log", "ip_address").size]
    assert remote[-1] == hop[: declared.room("vicidial_api_urls", "remote_ip").size]
    assert len(ip[-1]) in (15, 50)


def test_admin_log_notes_fit_their_declared_size(mariadb_url):
    """A database whose event_notes is a plain TEXT gets a noted cut, not a refused copy."""
    engine = strict(mariadb_url)
    init_db(engine)
    demo.load(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE vicidial_admin_log MODIFY event_notes TEXT"))
    sizes.forget(engine)
    pipeline = Pipeline(engine, POLICIES["simple"])
    new = ",".join(f"1800{i:07d}" for i in range(3_000))  # about 100 KB of copy log
    query = [("function", "copy_did"), ("user", "6666"), ("pass", "1234"), ("source", "test")]
    reply = pipeline.handle(Incoming([*query, ("did_pattern", "18001234567"), ("new_dids", new)]))
    assert reply.outcomes[-1].counts, reply.outcomes[-1]
    assert reply.outcomes[-1].counts.added == 3_000
    with engine.connect() as conn:
        notes = conn.execute(
            sa.text("SELECT event_notes FROM vicidial_admin_log WHERE event_type='COPY'")
        ).scalar_one()
    assert len(notes.encode()) <= 65_535 and notes.endswith(" more bytes)\n")
    engine.dispose()
