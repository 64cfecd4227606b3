"""The replica that did_info, did_list and `did export` may read from (`--read-url`).

A read goes to the replica only while it is replicating and at most `max_lag` seconds
behind the primary, as its own `SHOW SLAVE STATUS` says (Seconds_Behind_Master), looked at
no more than once a second per process; otherwise, and for some seconds after a
connection to it failed, to the primary. A server that replicates from nothing (no
replication configured) counts as up to date.

`--read-url slave_db_server` reads VICIdial's own setting: system_settings.slave_db_server
names the replica's host (host:port allowed), reached with the primary's user, password
and database, as VICIdial's own reports do.
"""

from __future__ import annotations

import logging
import threading
import time

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection, Engine, make_url

from vicidid.store.db import make_engine, safe_url

log = logging.getLogger("vicidid")

FROM_SETTINGS = "slave_db_server"
CHECK_EVERY = 1.0  # seconds between two looks at the replica's lag
DOWN_FOR = 5.0  # seconds the primary is read after a connection to the replica failed
SLAVE_STATUS = "SHOW SLAVE STATUS"
# VICIdial's column, which vicidid's own schema lacks: read as text, missing means unset
SLAVE_DB_SERVER = sa.text("SELECT slave_db_server FROM system_settings LIMIT 1")


def check_read_url(url: str) -> None:
    """A ValueError, in one line, unless `url` names a MariaDB/MySQL database."""
    try:
        backend = make_url(url).get_backend_name()
    except sa_exc.ArgumentError:
        backend = ""
    if backend not in ("mysql", "mariadb"):
        raise ValueError(
            f"--read-url {safe_url(url)} is not a MariaDB/MySQL URL "
            "(mysql://USER:PASS@HOST/DB) nor slave_db_server"
        )


def url_from_settings(primary: Engine, primary_url: str) -> str:
    """The replica's URL from VICIdial's slave_db_server ("" when it is not set)."""
    try:
        with primary.connect() as conn:
            host = (conn.execute(SLAVE_DB_SERVER).scalar() or "").strip()
    except sa_exc.SQLAlchemyError:
        return ""
    if not host:
        return ""
    name, _, port = host.partition(":")
    url = make_url(primary_url).set(host=name, port=int(port) if port.isdigit() else None)
    return url.render_as_string(hide_password=False)


def lag_of(status: dict[str, object] | None) -> float | None:
    """Seconds the replica is behind, from a row of SHOW SLAVE STATUS; None: not replicating
    (a thread stopped, or the lag unknown). No row: no replication, so never behind."""
    if status is None:
        return 0.0
    running = status.get("Slave_IO_Running") == "Yes" and status.get("Slave_SQL_Running") == "Yes"
    behind = status.get("Seconds_Behind_Master")
    if not running or behind is None:
        return None
    return float(str(behind))


def of(
    read_url: str, primary: Engine, primary_url: str, max_lag: float, pool_size: int
) -> Replica | None:
    """The replica `read_url` names; `slave_db_server` takes VICIdial's own setting from the
    primary. None without one (no --read-url, or the setting empty)."""
    if read_url == FROM_SETTINGS:
        read_url = url_from_settings(primary, primary_url)
    return Replica(read_url, max_lag, pool_size) if read_url else None


class Replica:
    def __init__(self, url: str, max_lag: float, pool_size: int = 8) -> None:
        self.engine = make_engine(url, pool_size=pool_size)
        self.max_lag = max_lag
        self._lock = threading.Lock()
        self._checked = float("-inf")
        self._usable = False
        self._down_until = 0.0

    def usable(self) -> bool:
        """Whether a read may go to the replica now (looks again at most once a second)."""
        now = time.monotonic()
        if now < self._down_until:
            return False
        if now - self._checked >= CHECK_EVERY and self._lock.acquire(blocking=False):
            try:  # one thread looks; the others go by the last look
                self._usable = self._look()
                self._checked = time.monotonic()
            finally:
                self._lock.release()
        return self._usable

    def _look(self) -> bool:
        try:
            with self.engine.connect() as conn:
                row = conn.exec_driver_sql(SLAVE_STATUS).mappings().first()
        except sa_exc.SQLAlchemyError as error:
            self.failed(error)
            return False
        lag = lag_of(dict(row) if row is not None else None)
        return lag is not None and lag <= self.max_lag

    def failed(self, error: Exception) -> None:
        """A connection to the replica failed: read the primary for DOWN_FOR seconds."""
        if time.monotonic() >= self._down_until:
            log.warning("replica unusable, reading the primary: %s", type(error).__name__)
        self._down_until = time.monotonic() + DOWN_FOR
        self._usable = False

    def connect(self) -> Connection:
        return self.engine.connect()

    def dispose(self) -> None:
        self.engine.dispose()
