"""Shared fixtures: real SQLite files, a real MariaDB, and a real server on loopback.

MariaDB tests need the server at 127.0.0.1:3306 (root, no password; VICIDID_TEST_MYSQL
overrides the URL). When it cannot be reached they are skipped with the reason, unless
VICIDID_REQUIRE_MARIADB=1 (set by .ci/run), which turns the skip into a failure.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
import sqlalchemy as sa
import uvicorn
from starlette.applications import Starlette

from vicidid.cli import demo
from vicidid.core.call import POLICIES
from vicidid.core.pipeline import Pipeline
from vicidid.store.db import make_engine, mysql_url
from vicidid.store.schema import init_db
from vicidid.web.app import create_app
from vicidid.web.server import uvicorn_config
from vicidid.web.settings import Settings

# The driver is left to vicidid: mysqlclient when installed (scripts/test installs it),
# else PyMySQL. tests/test_drivers.py runs both by name.
MYSQL_ROOT = mysql_url(os.environ.get("VICIDID_TEST_MYSQL", "mysql://root@127.0.0.1:3306/"))
BACKENDS = ["sqlite", pytest.param("mariadb", marks=pytest.mark.mariadb)]


def mariadb_reason() -> str | None:
    """Why MariaDB cannot be used, or None when it can."""
    try:
        engine = sa.create_engine(MYSQL_ROOT, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as error:  # any failure to connect is a reason to skip
        where = MYSQL_ROOT.render_as_string(hide_password=True)
        return f"MariaDB at {where} unreachable ({type(error).__name__}: {error})"


_REASON: list[str | None] = []


def need_mariadb() -> None:
    if not _REASON:
        _REASON.append(mariadb_reason())
    if _REASON[0]:
        if os.environ.get("VICIDID_REQUIRE_MARIADB") == "1":
            pytest.fail(_REASON[0] + " and VICIDID_REQUIRE_MARIADB=1")
        pytest.skip(_REASON[0])


@pytest.fixture
def mariadb_url() -> Iterator[str]:
    """A fresh, empty MariaDB database, dropped afterwards."""
    need_mariadb()
    name = f"vicidid_test_{uuid.uuid4().hex[:12]}"
    root = sa.create_engine(MYSQL_ROOT)
    with root.begin() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name} CHARACTER SET utf8mb4"))
    try:
        yield MYSQL_ROOT.set(database=name).render_as_string(hide_password=False)
    finally:
        with root.begin() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name}"))
        root.dispose()


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'vicidid.db'}"


@pytest.fixture(params=BACKENDS)
def db_url(request, tmp_path) -> str:
    """An empty database of each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'vicidid.db'}"
    return request.getfixturevalue("mariadb_url")


@pytest.fixture
def demo_engine(db_url):
    engine = make_engine(db_url)
    init_db(engine)
    demo.load(engine)
    yield engine
    engine.dispose()


@dataclass
class LiveServer:
    url: str
    engine: sa.engine.Engine
    client: httpx.Client
    pipeline: Pipeline | None = None
    app: Starlette | None = None

    def get(self, query: str, **kw) -> httpx.Response:
        return self.client.get(f"{self.url}/vicidial/non_agent_api.php?{query}", **kw)

    def post(self, data, **kw) -> httpx.Response:
        return self.client.post(f"{self.url}/vicidial/non_agent_api.php", data=data, **kw)

    def did(self, pattern: str) -> dict | None:
        with self.engine.connect() as conn:
            row = (
                conn.execute(
                    sa.text("SELECT * FROM vicidial_inbound_dids WHERE did_pattern = :p"),
                    {"p": pattern},
                )
                .mappings()
                .first()
            )
        return dict(row) if row else None

    def count(self, table: str) -> int:
        with self.engine.connect() as conn:
            return conn.execute(sa.text(f"SELECT COUNT(*) FROM {table}")).scalar_one()


@contextlib.contextmanager
def serve(
    engine: sa.engine.Engine, dialect: str = "simple", throttle=None, **settings
) -> Iterator[LiveServer]:
    """The real app under a real uvicorn, as `vicidid serve` configures it (its protocol and
    bounds), on a free port of 127.0.0.1, in a thread.

    No login throttle unless one is given: tests fail logins on purpose."""
    pipeline = Pipeline(engine, POLICIES[dialect], throttle)
    configured = Settings(db_url="sqlite://", dialect=dialect, **settings)
    app = create_app(configured, pipeline)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn_config(app, configured, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    try:
        with httpx.Client(timeout=30) as client:
            yield LiveServer(f"http://127.0.0.1:{port}", engine, client, pipeline, app)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture
def live(demo_engine) -> Iterator[LiveServer]:
    """The demo data behind a real server, simple dialect."""
    with serve(demo_engine) as server:
        yield server
