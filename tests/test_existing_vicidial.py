"""vicidid on a database created by VICIdial itself, which it must never alter.

tests/fixtures/vicidial_schema.sql holds VICIdial's own definitions of the tables
vicidid uses (MyISAM, latin1, VICIdial's types and defaults, and many columns vicidid does
not know) with VICIdial's default rows; tests/data/vicidial_sample_data.sql is the data
the recorded answers were made on. Every test here runs on the real MariaDB.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from bench.run import run_sql_file as run_statements
from tests.conftest import serve
from tests.test_vicidial_sample import replay
from vicidid.auth.throttle import DEFAULT
from vicidid.cli import main
from vicidid.core.call import POLICIES
from vicidid.core.pipeline import Incoming, Pipeline
from vicidid.store.db import make_engine
from vicidid.store.statements import throttle as windows

HERE = Path(__file__).parent
DDL = re.compile(r"^\s*(CREATE|ALTER|DROP|RENAME|TRUNCATE)\b", re.I)
pytestmark = pytest.mark.mariadb


def run_sql_file(url: str, path: Path) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        run_statements(conn, path)
    engine.dispose()


def load_vicidial(url: str) -> None:
    """Make an empty database as VICIdial's installer leaves it, with the sample data."""
    name = sa.engine.make_url(url).database
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"ALTER DATABASE `{name}` CHARACTER SET latin1")
    engine.dispose()
    run_sql_file(url, HERE / "fixtures" / "vicidial_schema.sql")
    run_sql_file(url, HERE / "data" / "vicidial_sample_data.sql")


@pytest.fixture
def vicidial_url(mariadb_url) -> str:
    """A database as VICIdial's installer leaves it: latin1 by default, MyISAM tables."""
    load_vicidial(mariadb_url)
    return mariadb_url


def watched_engine(url: str) -> tuple[sa.engine.Engine, list[str]]:
    """An engine that records every statement it sends."""
    engine = make_engine(url)
    sent: list[str] = []
    sa.event.listen(
        engine, "before_cursor_execute", lambda conn, cursor, statement, *a: sent.append(statement)
    )
    return engine, sent


def table_definitions(url: str) -> dict[str, str]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        names = conn.execute(sa.text("SHOW TABLES")).scalars().all()
        found = {n: conn.execute(sa.text(f"SHOW CREATE TABLE `{n}`")).all()[0][1] for n in names}
    engine.dispose()
    # the next auto-increment value is data, not structure
    return {n: re.sub(r" AUTO_INCREMENT=\d+", "", ddl) for n, ddl in found.items()}


def cli(url: str, *args: str):
    return CliRunner().invoke(main, ["--db", url, *args])


def test_check_db_accepts_it_and_warns_about_myisam(vicidial_url):
    r = cli(vicidial_url, "check-db")
    assert r.exit_code == 0, r.output
    assert "ok: vicidid can serve" in r.output
    assert "use MyISAM" in r.output


def test_recorded_answers_replay_on_vicidials_own_schema_without_ddl(vicidial_url):
    before = table_definitions(vicidial_url)
    engine, sent = watched_engine(vicidial_url)
    with serve(engine, dialect="vicidial") as server:
        replay(server)
    engine.dispose()
    assert sent and not [s for s in sent if DDL.match(s)]
    assert table_definitions(vicidial_url) == before


def test_simple_dialect_and_tutorial_copy_on_it(vicidial_url):
    engine = make_engine(vicidial_url)
    with serve(engine) as server:
        r = server.get(
            "function=copy_did&user=6666&pass=1234&source=DIDCopy"
            "&did_pattern=18001234567&new_did_pattern=18002223333&did_active=Y"
        )
        assert r.text == "SUCCESS: 18001234567 -> 18002223333 | DID Copied Successfully\n"
        source, new = server.did("18001234567"), server.did("18002223333")
    engine.dispose()
    for column in source:
        if column not in ("did_id", "did_pattern", "did_active"):
            assert new[column] == source[column], column


def test_columns_vicidid_does_not_know_are_copied(vicidial_url):
    engine = sa.create_engine(vicidial_url)
    with engine.begin() as conn:  # a site's own column, added by hand before vicidid started
        conn.execute(
            sa.text(
                "ALTER TABLE vicidial_inbound_dids ADD COLUMN site_rack VARCHAR(20) DEFAULT 'none'"
            )
        )
        conn.execute(
            sa.text(
                "UPDATE vicidial_inbound_dids SET site_rack='R7' WHERE did_pattern='18001234567'"
            )
        )
    engine.dispose()
    served = make_engine(vicidial_url)
    reply = Pipeline(served, POLICIES["vicidial"]).handle(
        Incoming(
            query=[
                ("function", "copy_did"),
                ("user", "6666"),
                ("pass", "1234"),
                ("source", "test"),
                ("source_did_pattern", "18001234567"),
                ("new_dids", "18002220001,18002220002"),
            ]
        )
    )
    assert reply.outcomes[-1].counts.added == 2
    with served.connect() as conn:
        racks = (
            conn.execute(
                sa.text(
                    "SELECT site_rack FROM vicidial_inbound_dids WHERE "
                    "did_pattern LIKE '1800222000%'"
                )
            )
            .scalars()
            .all()
        )
    served.dispose()
    assert racks == ["R7", "R7"]


def test_missing_column_is_named_and_nothing_is_created(vicidial_url):
    engine = sa.create_engine(vicidial_url)
    with engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE vicidial_users DROP COLUMN api_allowed_functions"))
    engine.dispose()
    before = table_definitions(vicidial_url)
    r = cli(vicidial_url, "check-db")
    assert r.exit_code != 0
    assert "missing: vicidial_users.api_allowed_functions" in r.output
    r = cli(vicidial_url, "serve", "--port", "1")
    assert r.exit_code != 0 and "vicidial_users.api_allowed_functions" in r.output
    assert table_definitions(vicidial_url) == before


def test_init_db_refuses_then_adds_only_its_own_tables(vicidial_url):
    before = table_definitions(vicidial_url)
    r = cli(vicidial_url, "init-db")
    assert r.exit_code != 0 and "VICIdial tables that vicidid did not create" in r.output
    assert table_definitions(vicidial_url) == before
    r = cli(vicidial_url, "init-db", "--demo")
    assert r.exit_code != 0
    r = cli(vicidial_url, "check-db")
    assert "warning: vicidid_login_throttle is missing: the login throttle counts" in r.output
    assert "warning: vicidid_idempotency is missing: Idempotency-Key is off" in r.output
    r = cli(vicidial_url, "init-db", "--add-missing")
    assert r.exit_code == 0, r.output
    after = table_definitions(vicidial_url)
    assert {k: v for k, v in after.items() if not k.startswith("vicidid_")} == before
    assert set(after) - set(before) == {"vicidid_idempotency", "vicidid_login_throttle"}
    assert "is missing" not in cli(vicidial_url, "check-db").output
    # the throttle's table works there: an address counted, listed, cleared
    engine = make_engine(vicidial_url)
    with engine.begin() as conn:
        windows.claim(conn, "203.0.113.9", int(time.time()), DEFAULT, None)
    engine.dispose()
    assert "203.0.113.9" in cli(vicidial_url, "throttle", "list").output
    assert cli(vicidial_url, "throttle", "clear", "203.0.113.9").exit_code == 0
    assert table_definitions(vicidial_url) == after


def test_hashed_passwords_as_vicidial_stores_them(vicidial_url):
    engine = sa.create_engine(vicidial_url)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE system_settings SET pass_hash_enabled='1', "
                "pass_key='0123456789abcdef', pass_cost=2"
            )
        )
        conn.execute(
            sa.text(
                "UPDATE vicidial_users SET pass='', "
                "pass_hash='ZTpQ8cNrtrbzVhQroLyPsmOEb8xk4LO' WHERE user='6666'"
            )
        )
    engine.dispose()
    served = make_engine(vicidial_url)
    with serve(served, dialect="vicidial") as server:
        r = server.get(
            "function=update_did&user=6666&pass=1234&source=test&did_pattern=18001234567&active=N"
        )
        assert r.text == "SUCCESS: update_did DID HAS BEEN UPDATED - 6666|18001234567\n"
    served.dispose()


def test_serve_demo_refuses_it(vicidial_url):
    before = table_definitions(vicidial_url)
    r = cli(vicidial_url, "serve", "--demo", "--port", "1")
    assert r.exit_code != 0 and "--demo fills only an empty database" in r.output
    assert table_definitions(vicidial_url) == before
