"""Connecting: one engine per process, tuned for SQLite files and for MariaDB/MySQL."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Dialect, Engine, make_url
from sqlalchemy.pool import ConnectionPoolEntry

from vicidid.errors import DriverMissing

try:
    from fcntl import LOCK_EX as _LOCK_EX
    from fcntl import LOCK_UN as _LOCK_UN
    from fcntl import flock as _flock
except ImportError:  # Windows: threads take turns, processes meet in SQLite's busy handler
    _flock = None  # type: ignore[assignment]  # checked before each use

DEFAULT_URL = "sqlite:///vicidid.db"


def make_engine(url: str, *, pool_size: int = 8, multi_statements: bool = True) -> Engine:
    """An engine for the URL. `multi_statements`: on MariaDB/MySQL, whether its connections
    may carry several statements in one message (store/wire.py's round trips); the
    management commands' engine goes without, and wire.py then sends one at a time."""
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        return _sqlite_engine(url, pool_size)
    if u.get_backend_name() in ("mysql", "mariadb"):
        return _mysql_engine(u, pool_size, multi_statements)
    raise ValueError(
        f"unsupported database URL {u.render_as_string(hide_password=True)}: "
        "use sqlite:///FILE or mysql://USER:PASS@HOST/DB"
    )


# MariaDB/MySQL drivers, fastest first: mysqlclient (C, `pip install 'vicidid[fast]'`)
# spends about a quarter less CPU per request than PyMySQL (pure Python, always installed
# with `vicidid[mysql]`).
MYSQL_DRIVERS = {"mysqldb": "MySQLdb", "pymysql": "pymysql"}


def mysql_url(url: str | URL) -> URL:
    """A MariaDB/MySQL URL with its driver: the one it names, else the fastest installed.

    `mysql://…` and `mariadb://…` pick the driver; `mysql+pymysql://…` keeps PyMySQL.
    """
    u = make_url(url)
    driver = u.get_driver_name() if "+" in u.drivername else None
    if driver is None:
        driver = next((d for d, m in MYSQL_DRIVERS.items() if _installed(m)), "pymysql")
        u = u.set(drivername=f"{u.get_backend_name()}+{driver}")
    if driver in MYSQL_DRIVERS and not _installed(MYSQL_DRIVERS[driver]):
        raise DriverMissing(
            f"{u.drivername} needs the {driver} driver: pip install 'vicidid[mysql]' "
            "(PyMySQL) or 'vicidid[fast]' (mysqlclient)"
        )
    if "charset" not in u.query:
        u = u.update_query_dict({"charset": "utf8mb4"})
    return u


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _sqlite_engine(url: str, pool_size: int) -> Engine:
    connect_args = {"timeout": 30, "check_same_thread": False}
    engine = sa.create_engine(url, connect_args=connect_args)
    if isinstance(engine.pool, sa.pool.QueuePool):
        # a file: as many pooled connections as request threads, so that none is opened
        # and closed again per request (each opening sets its pragmas and reads the schema)
        engine = sa.create_engine(
            url, connect_args=connect_args, pool_size=pool_size, max_overflow=pool_size * 2
        )

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record: object) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide where transactions begin.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")  # several workers read while one writes
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Take the write lock up front: a reader that later writes would otherwise be
        # refused (SQLITE_BUSY) instead of waiting its turn. Only a read marked as such
        # (reading_first) begins without it.
        deferred = conn.get_execution_options().get(READ_FIRST, False)
        conn.exec_driver_sql("BEGIN" if deferred else "BEGIN IMMEDIATE")

    return engine


def _mysql_engine(u: URL, pool_size: int, multi_statements: bool) -> Engine:
    engine = sa.create_engine(
        mysql_url(u),
        pool_size=pool_size,
        max_overflow=pool_size * 2,
        # No ping per checkout and no ROLLBACK per checkin: two round trips of about ten a
        # request. A connection the server dropped fails its first statement instead, the
        # pool is invalidated, and the pipeline runs the transaction again (pipeline.py).
        # Every transaction ends in COMMIT or ROLLBACK before its connection goes back.
        pool_pre_ping=False,
        pool_reset_on_return=None,
        pool_recycle=3600,
        isolation_level="READ COMMITTED",
        # positional %s for both drivers (PyMySQL's default is %(name)s): statements sent
        # together (wire.py) join their values in one sequence
        paramstyle="format",
    )
    _multi_statements(engine, multi_statements)
    return engine


# CLIENT.MULTI_STATEMENTS, the same bit in mysqlclient and PyMySQL
MULTI_STATEMENTS = 1 << 16
MULTI = "vicidid_multi_statements"  # set in a pooled connection's info when it has the mode


def _multi_statements(engine: Engine, allowed: bool) -> None:
    """Whether this engine's connections may carry several statements in one message
    (wire.py). mysqlclient asks for the mode unless told not to; PyMySQL only when asked.

    Every statement vicidid sends is built by SQLAlchemy or by the store with bound
    parameters, so no value can end a statement and start another.
    """

    @sa.event.listens_for(engine, "do_connect")
    def _flags(
        dialect: Dialect, record: ConnectionPoolEntry, cargs: object, cparams: dict[str, object]
    ) -> None:
        flags = cparams.get("client_flag", 0)
        flags = flags if isinstance(flags, int) else 0
        if allowed:
            cparams["client_flag"] = flags | MULTI_STATEMENTS
            record.info[MULTI] = True
        else:
            cparams["client_flag"] = flags & ~MULTI_STATEMENTS
            if dialect.driver == "mysqldb":
                cparams["multi_statements"] = False


def multi_statements(conn: Connection) -> bool:
    """Whether this connection may carry several statements in one message."""
    return bool(conn.connection.info.get(MULTI))


READ_FIRST = "vicidid_read_first"


def reading_first(conn: Connection) -> Connection:
    """Mark a fresh connection's first transaction as a read: on SQLite it then takes no
    write lock (a login's password is checked before anyone waits for it). Elsewhere a
    transaction takes no lock by beginning, and the mark would change nothing."""
    if not is_sqlite(conn.engine):
        return conn
    return conn.execution_options(**{READ_FIRST: True})


@contextlib.contextmanager
def write_transaction(conn: Connection) -> Iterator[Connection]:
    """The request's write transaction, on a connection that may have read already.

    SQLite: the read ran in a deferred transaction of its own, which ends here; the write
    one begins with BEGIN IMMEDIATE. MariaDB/MySQL: the read began the transaction (a
    plain read takes no row locks), and it goes on, so no round trip is added. A MyISAM
    database's connections commit each statement as it runs (store/wire.py): there is
    nothing to begin or commit, unless SQLAlchemy began a transaction of its own.
    """
    if is_sqlite(conn.engine):
        if conn.in_transaction():
            conn.commit()
        conn.execution_options(**{READ_FIRST: False})
    if autocommitting(conn):
        try:
            yield conn
        except BaseException:
            if conn.in_transaction():
                conn.rollback()
            raise
        if conn.in_transaction():
            conn.commit()
        return
    transaction = conn.get_transaction() or conn.begin()
    try:
        yield conn
    except BaseException:
        if transaction.is_active:
            transaction.rollback()
        raise
    transaction.commit()


class Kept:
    """One connection per thread, kept by that thread from one request to the next.

    A request thread only ever uses one connection at a time, so taking it from the pool
    and giving it back for every request (about 80 Python calls in SQLAlchemy's pool and
    its events, a tenth of an update_did) buys nothing. A connection is never kept inside
    a transaction: what a block leaves open is rolled back when it ends. One that was
    lost (invalidated) or closed is let go, and the thread's next block opens another, as
    the pool would have given it. Every `hand_back` seconds it goes back to the pool and
    is taken again, so that the pool's own care still applies (it renews a connection
    older than its `pool_recycle`). Each thread keeps one, so a pool sized for the request
    threads has them all kept; anything else (a management command, a fresh connection
    for a rescue, a block opened within a block on the same thread) takes one from the
    pool's overflow.
    """

    def __init__(self, engine: Engine, hand_back: float = 60.0) -> None:
        self.engine = engine
        self.hand_back = hand_back
        self._local = threading.local()
        self._sqlite = is_sqlite(engine)

    @contextlib.contextmanager
    def connect(self) -> Iterator[Connection]:
        local = self._local
        if getattr(local, "busy", False):
            # a block within the thread's block: one of its own, which cannot end the
            # outer block's transaction
            with self.engine.connect() as own:
                yield own
            return
        conn: Connection | None = getattr(local, "conn", None)
        if conn is not None and time.monotonic() > local.until:
            self._let_go(conn)
            conn = None
        if conn is None or conn.closed or conn.invalidated:
            conn = local.conn = self.engine.connect()
            local.until = time.monotonic() + self.hand_back
        local.busy = True
        try:
            yield conn
        finally:
            local.busy = False
            self._settle(conn)

    @contextlib.contextmanager
    def begin(self) -> Iterator[Connection]:
        """A transaction on the thread's connection, committed unless the block raises."""
        with self.connect() as conn, conn.begin():
            yield conn

    def _settle(self, conn: Connection) -> None:
        """Leave the connection as the next block expects it, or let it go."""
        try:
            if not conn.invalidated and conn.in_transaction():
                conn.rollback()
            if self._sqlite and conn.get_execution_options().get(READ_FIRST):
                conn.execution_options(**{READ_FIRST: False})
        except sa.exc.SQLAlchemyError:
            pass  # lost while rolling back: let go below
        if conn.invalidated or conn.closed or conn.in_transaction():
            self._let_go(conn)

    def _let_go(self, conn: Connection) -> None:
        self._local.conn = None
        with contextlib.suppress(sa.exc.SQLAlchemyError):
            conn.close()


AUTOCOMMIT = "vicidid_autocommit"  # set in a pooled connection's info (wire.use_autocommit)


def autocommitting(conn: Connection) -> bool:
    return bool(not is_sqlite(conn.engine) and conn.connection.info.get(AUTOCOMMIT))


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def safe_url(url: str) -> str:
    """The URL without its password, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<invalid database URL>"


class WriterTurns:
    """Writers to one SQLite file take turns: threads on a lock, processes on a file lock.

    SQLite lets one writer in at a time, and vicidid takes the write lock at BEGIN. Left to
    itself, a writer that finds the file locked sleeps in SQLite's busy handler, up to
    100 ms a nap, and may lose the race again: that made a long tail of slow answers.
    Waiting here instead, everyone is woken as soon as the writer before them is done.
    """

    def __init__(self, lock_path: str | None) -> None:
        self._threads = threading.Lock()
        self._fd: int | None = None
        if lock_path is not None and _flock is not None:
            with contextlib.suppress(OSError):  # no lock file: threads still take turns
                self._fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
                weakref.finalize(self, os.close, self._fd)

    def __enter__(self) -> None:
        self._threads.acquire()
        if self._fd is not None:
            _flock(self._fd, _LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            _flock(self._fd, _LOCK_UN)
        self._threads.release()


def writer_turns(engine: Engine) -> contextlib.AbstractContextManager[None]:
    """What a write transaction holds around it: turns for SQLite, nothing for MariaDB."""
    if not is_sqlite(engine):
        return contextlib.nullcontext()
    path = engine.url.database
    in_memory = not path or path == ":memory:" or path.startswith("file:")
    return WriterTurns(None if in_memory else f"{path}-vicidid-lock")


# The tables a request writes: a request is all or nothing only when every one of them is.
WRITTEN_TABLES = (
    "vicidial_inbound_dids",
    "vicidial_admin_log",
    "vicidial_api_log",
    "vicidial_api_urls",
    "vicidial_users",
)


def table_engines(conn: sa.Connection) -> dict[str, str]:
    """Each table's storage engine (upper case), for MariaDB/MySQL; {} elsewhere."""
    if conn.dialect.name not in ("mysql", "mariadb"):
        return {}
    rows = conn.execute(
        sa.text(
            "SELECT table_name, engine FROM information_schema.tables "
            "WHERE table_schema = DATABASE()"
        )
    ).all()
    return {name: (eng or "").upper() for name, eng in rows}


def all_transactional(dialect: str, engines: dict[str, str]) -> bool:
    """Whether a request's writes commit or roll back together on this database.

    SQLite always; MariaDB/MySQL only when every table a request writes is InnoDB (MyISAM,
    VICIdial's default, writes each statement for good as it runs).
    """
    if dialect == "sqlite":
        return True
    return all(engines.get(name) == "INNODB" for name in WRITTEN_TABLES)


def transactional(conn: sa.Connection) -> bool:
    return all_transactional(conn.dialect.name, table_engines(conn))


def row_locks(conn: sa.Connection) -> bool:
    """Whether a request's writes lock only the rows they change: MariaDB/MySQL with every
    table a request writes InnoDB (MyISAM locks the whole table, SQLite the whole file)."""
    return conn.dialect.name in ("mysql", "mariadb") and transactional(conn)


T = TypeVar("T")


class PerEngine(Generic[T]):
    """A fact about a database, worked out once per engine on first use (thread-safe)."""

    def __init__(self, compute: Callable[[Connection], T]) -> None:
        self._compute = compute
        self._values: weakref.WeakKeyDictionary[Engine, T] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def get(self, bind: Engine | Connection) -> T:
        """The fact, worked out on `bind` (an engine: on a connection of its own) if unknown."""
        engine = bind if isinstance(bind, Engine) else bind.engine
        known = self._values.get(engine)
        if known is not None:
            return known
        with self._lock:
            if engine not in self._values:
                if isinstance(bind, Engine):
                    with bind.connect() as conn:
                        self._values[engine] = self._compute(conn)
                else:
                    self._values[engine] = self._compute(bind)
            return self._values[engine]

    def set(self, engine: Engine, value: T) -> T | None:
        """Settle the fact from now on; what it was before (None: not worked out yet)."""
        with self._lock:
            before = self._values.get(engine)
            self._values[engine] = value
            return before

    def forget(self, engine: Engine) -> None:
        """Work it out again on next use (after the tables changed)."""
        with self._lock:
            self._values.pop(engine, None)
