"""No value a caller gives reaches a statement's text: every one travels as a parameter, to
the driver's escaping, on every path that writes (the server's multi-statement messages,
the management commands' connections, a bulk copy on VICIdial's MyISAM schema).

Each request and command below carries a mark in every value it may store; every statement
any engine sends is recorded as the driver receives it (its text, and its parameters apart).
A mark inside a statement's text would be a value pasted into SQL; a mark in no parameter
would mean the request never reached the database, and the test proves nothing.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from vicidid.cli import demo, main
from vicidid.core.call import POLICIES
from vicidid.core.pipeline import Incoming, Pipeline
from vicidid.store import db as store_db
from vicidid.store.db import make_engine
from vicidid.store.schema import init_db

MARK = "Qz7mark"  # letters every field's character set allows, found nowhere else
NEW = [f"1999{n:07d}" for n in range(40)]  # new DIDs: more than a request sends inline


@pytest.fixture
def sent() -> Iterator[list[tuple[str, object]]]:
    """(statement text, parameters) of everything every engine sends."""
    found: list[tuple[str, object]] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        found.append((statement, parameters))

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", record)
    yield found
    sa.event.remove(sa.engine.Engine, "before_cursor_execute", record)


def request(**form: str) -> Incoming:
    base = {"user": "admin", "pass": "1234", "source": f"{MARK}src"}
    return Incoming(form=list({**base, **form}.items()))


def requests() -> list[Incoming]:
    return [
        request(
            function="update_did",
            did_pattern="18001234567",
            did_description=f"{MARK} it-s a, test",
            extension="1001",
        ),
        request(function="add_did", did_pattern="19990000999", did_description=f"{MARK}add"),
        request(function="copy_did", did_pattern="18001234567", new_dids=NEW[0]),
        request(function="copy_did", did_pattern="18001234567", new_dids=",".join(NEW[1:])),
        request(function="did_info", did_pattern="18001234567"),
        request(function="did_list", prefix="1999", did_description=f"{MARK}"),
        request(function="update_did", did_pattern="19990000999", delete_did="Y"),
    ]


def check(sent: list[tuple[str, object]], marks: list[str]) -> None:
    assert sent, "nothing was sent"
    for statement, _ in sent:
        for mark in marks:
            assert mark not in statement, f"a value in the SQL text: {statement[:300]}"
    carried = " ".join(repr(parameters) for _, parameters in sent)
    for mark in marks:
        assert mark in carried, f"{mark} never reached the database"


@pytest.mark.mariadb
@pytest.mark.parametrize("driver", ["mysqldb", "pymysql"])
@pytest.mark.parametrize("multi", [True, False], ids=["server", "commands"])
def test_a_requests_values_travel_as_parameters(mariadb_url, sent, multi, driver):
    pytest.importorskip({"mysqldb": "MySQLdb", "pymysql": "pymysql"}[driver])
    url = sa.make_url(mariadb_url).set(drivername=f"mysql+{driver}")
    engine = make_engine(url.render_as_string(hide_password=False), multi_statements=multi)
    init_db(engine)
    demo.load(engine)
    sent.clear()
    pipeline = Pipeline(engine, POLICIES["simple"])
    kinds = [pipeline.handle(incoming).outcomes[-1].kind.value for incoming in requests()]
    assert kinds == [
        "updated", "added", "copy_summary", "copy_summary", "did_info", "did_list", "deleted"
    ]  # fmt: skip
    with engine.connect() as conn:
        assert store_db.multi_statements(conn) is multi
        if not multi:  # a connection without the mode refuses a message of two statements
            with pytest.raises(sa.exc.ProgrammingError):
                conn.exec_driver_sql("SELECT 1; SELECT 2")
    engine.dispose()
    check(sent, [MARK, *NEW])


@pytest.mark.mariadb
def test_the_commands_values_travel_as_parameters(mariadb_url, sent, tmp_path):
    runner = CliRunner()
    assert runner.invoke(main, ["--db", mariadb_url, "init-db", "--demo"]).exit_code == 0
    sent.clear()
    added = runner.invoke(
        main,
        ["--db", mariadb_url, "user", "add", f"{MARK}u", "--password", f"{MARK}pw'\\"],
    )
    assert added.exit_code == 0, added.output
    listed = tmp_path / "dids.csv"
    listed.write_text("\n".join(NEW[:20]) + "\n")
    imported = runner.invoke(
        main,
        [
            *("--db", mariadb_url, "did", "import", str(listed), "--like", "18001234567"),
            *("--user", "admin", "--password", "1234", "--description", f"{MARK}d"),
        ],
    )
    assert imported.exit_code == 0, imported.output
    # the password itself is stored hashed; the name and the DIDs as given
    check(sent, [f"{MARK}u", f"{MARK}d", *NEW[:20]])
    engine = make_engine(mariadb_url)
    with engine.connect() as conn:
        copied = conn.execute(
            sa.text("SELECT COUNT(*) FROM vicidial_inbound_dids WHERE did_description = :d"),
            {"d": f"{MARK}d"},
        ).scalar_one()
    engine.dispose()
    assert copied == 20
