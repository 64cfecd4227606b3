"""Every statement is built in vicidid/store/, and the DID table is read once per engine."""

from __future__ import annotations

import re
from pathlib import Path

import sqlalchemy as sa

from vicidid.cli import bulk
from vicidid.core.call import POLICIES
from vicidid.core.pipeline import Pipeline
from vicidid.store import reflect
from vicidid.store.schema import init_db

PACKAGE = Path(__file__).resolve().parent.parent / "vicidid"
STATEMENT = re.compile(
    r"sa\.(select|text|inspect|insert|update|delete)\(|\.(insert|update|delete)\(\)"
    r"|exec_driver_sql|conn\.execute\("
)


def test_no_statement_is_built_outside_the_store():
    found = [
        f"{path.relative_to(PACKAGE)}:{n}: {line.strip()}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if "store" not in path.relative_to(PACKAGE).parts
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if STATEMENT.search(line)
    ]
    assert found == []


def test_the_did_table_is_read_once_per_engine_and_again_after_init_db(demo_engine):
    first = reflect.did_table(demo_engine)
    assert "did_pattern" in first.c
    with demo_engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE vicidial_inbound_dids ADD COLUMN site_rack VARCHAR(20)")
    assert reflect.did_table(demo_engine) is first  # remembered: no new read
    assert Pipeline(demo_engine, POLICIES["simple"]).did_table() is first
    init_db(demo_engine)  # init-db may change tables: the next use reads them again
    again = reflect.did_table(demo_engine)
    assert again is not first and "site_rack" in again.c
    columns, rows = bulk.export_local(demo_engine)
    assert columns == [c.name for c in again.columns] and "site_rack" in rows[0]


def test_another_engine_reads_its_own_table(demo_engine, db_url):
    other = sa.create_engine(db_url)
    try:
        assert reflect.did_table(other) is not reflect.did_table(demo_engine)
        assert reflect.did_columns(other) == reflect.did_columns(demo_engine)
    finally:
        other.dispose()
