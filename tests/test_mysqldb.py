"""store/mysqldb.py: mysqlclient's quicker path sends what its cursor would, byte for byte,
and reads the same rows back."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
import sqlalchemy as sa

from vicidid.store import mysqldb

MySQLdb = pytest.importorskip("MySQLdb")

VALUES = [
    "plain",
    "",
    "x'; DROP TABLE t; -- ",
    "%s %(a)s %%",
    "\\'; \\",
    '\x00;\n\r\x1a"',
    "caf\u00e9 \u20ac",
    "\U0001f600 beyond the BMP",
    # a backslash as the second byte of a character: gbk's \x81\\, sjis's \x83\\ and \x95\\
    "\u4e57'\u4fd3\u50dc\\",
    "\u30bd'\u8868\u4e88\\",
    0,
    -5,
    2**70,
    True,
    False,
    None,
    datetime(2026, 1, 2, 3, 4, 5),
    datetime(2026, 1, 2, 3, 4, 5, 7),
    datetime(999, 12, 31, 23, 59, 59, 999_999),
    datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=2))),
    date(2026, 1, 2),
    Decimal("12.50"),
    1.5,
    b"\x00'bytes",
]


def dbapi_connection(url: str, charset: str, mode: str = ""):
    """A mysqlclient connection in `charset`, with `mode` added to its session's sql_mode."""
    engine = sa.create_engine(sa.make_url(url).set(drivername="mysql+mysqldb"))
    params = engine.dialect.create_connect_args(engine.url)[1]
    engine.dispose()
    db = MySQLdb.connect(**{**params, "charset": charset})
    if mode:
        cursor = db.cursor()
        cursor.execute(f"SET SESSION sql_mode = CONCAT(@@sql_mode, ',{mode}')")
        cursor.execute("SELECT @@sql_mode")
        assert mode in cursor.fetchone()[0]
        cursor.close()
    return db


CHARSETS = ["utf8mb4", "latin1", "gbk", "sjis"]
SESSIONS = ["", "NO_BACKSLASH_ESCAPES"]


@pytest.mark.mariadb
@pytest.mark.parametrize("mode", SESSIONS)
@pytest.mark.parametrize("charset", CHARSETS)
def test_a_message_is_what_the_cursor_makes_of_it(mariadb_url, charset, mode):
    db = dbapi_connection(mariadb_url, charset, mode)
    cursor = db.cursor()
    assert mysqldb.drives(cursor)
    values = [v for v in VALUES if not isinstance(v, str) or _encodable(v, db.encoding)]
    assert sum(isinstance(v, str) for v in values) >= 7  # the multibyte texts are in
    sql = "SELECT " + ", ".join(["%s"] * len(values)) + " FROM DUAL WHERE 1 %% 2 = 1"
    assert mysqldb.message(cursor, sql, values) == cursor._mogrify(sql, values)
    # the session's mode is the one escaping follows: a quote doubled, or backslashed
    assert mysqldb.message(cursor, "%s", ["'"]) == (QUOTE_DOUBLED if mode else QUOTE_ESCAPED)
    db.close()


QUOTE_DOUBLED = b"'" * 4
QUOTE_ESCAPED = b"'" + b"\\" + b"''"


@pytest.mark.mariadb
@pytest.mark.parametrize("mode", SESSIONS)
@pytest.mark.parametrize("charset", CHARSETS)
def test_every_text_comes_back_as_it_was_sent(mariadb_url, charset, mode):
    """The message's texts, read back by the database: each the very text sent (a quote or
    a backslash, alone or inside a multibyte character, ends nothing)."""
    db = dbapi_connection(mariadb_url, charset, mode)
    cursor = db.cursor()
    texts = [v for v in VALUES if isinstance(v, str) and _encodable(v, db.encoding)]
    sql = "SELECT " + ", ".join(["%s"] * len(texts))
    mysqldb.execute(cursor, sql, texts)
    _, rows = mysqldb.rows(cursor)
    assert not mysqldb.next_statement(cursor)
    assert list(rows[0]) == texts
    db.close()


def _encodable(text: str, encoding: str) -> bool:
    try:
        text.encode(encoding)
    except UnicodeEncodeError:
        return False
    return True


@pytest.mark.mariadb
def test_only_the_plain_cursor_with_the_default_encoders_is_driven(mariadb_url):
    db = dbapi_connection(mariadb_url, "utf8mb4")
    assert not mysqldb.drives(db.cursor(MySQLdb.cursors.DictCursor))
    db.encoders[int] = lambda value, encoders: str(value + 1)
    assert not mysqldb.drives(db.cursor())
    db.close()


@pytest.mark.mariadb
def test_results_come_back_as_the_cursor_reads_them(mariadb_url):
    db = dbapi_connection(mariadb_url, "utf8mb4")
    sql = "SELECT %s AS a; SELECT 'x' AS b, NULL AS c UNION ALL SELECT %s, 2; DO 1; SELECT 3"
    values = ("one", "y")
    ours = db.cursor()
    mysqldb.execute(ours, sql, values)
    found = [mysqldb.rows(ours)]
    while mysqldb.next_statement(ours):
        found.append(mysqldb.rows(ours))
    theirs = db.cursor()
    theirs.execute(sql, values)
    expected = [([d[0] for d in theirs.description], theirs.fetchall())]
    while theirs.nextset():
        expected.append(([d[0] for d in theirs.description or ()], theirs.fetchall()))
    assert found == expected
    assert found[:3] == [(["a"], (("one",),)), (["b", "c"], (("x", None), ("y", 2))), ([], ())]
    # results dropped unread; the database's refusal raises at its statement
    mysqldb.execute(ours, "SELECT 1; DO 2; SELECT no_such_column; DO 4", ())
    mysqldb.skip(ours)
    assert mysqldb.next_statement(ours)
    mysqldb.skip(ours)
    with pytest.raises(MySQLdb.OperationalError):
        mysqldb.next_statement(ours)
    ours.execute("SELECT 5")  # nothing left behind on the connection
    assert ours.fetchall() == ((5,),)
    db.close()
