"""Several vicidid servers on one replicated database, on this machine.

A MariaDB primary and its replica (two `mariadbd` with their own data directories and
ports, GTID replication), three vicidid servers (processes with their own ports) and
HAProxy (Debian's package, installed when missing) in front, configured by
docs/haproxy.cfg. scripts/cluster runs it from the command line; tests/test_cluster.py
and bench/capacity.py use it as a library. The database is VICIdial's own MyISAM schema
with its sample data ("myisam") or vicidid's InnoDB schema ("innodb"), each with the demo
users (admin / 1234).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.apt import apt_install
from bench.run import run_sql_file
from vicidid.cli import admin, demo
from vicidid.store.db import make_engine
from vicidid.store.schema import init_db

REPO = Path(__file__).resolve().parent.parent
HAPROXY_CFG = REPO / "docs" / "haproxy.cfg"
SCHEMAS = ("myisam", "innodb")
DATABASE = "vicidid"


class ClusterError(Exception):
    """A part of the cluster could not be started; the message says which and why."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(what: str, ready, seconds: float = 30.0, proc: subprocess.Popen | None = None):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = ready()
        if found:
            return found
        if proc is not None and proc.poll() is not None:
            raise ClusterError(f"{what} exited with {proc.returncode}")
        time.sleep(0.1)
    raise ClusterError(f"{what} not ready after {seconds:.0f} s")


def _stop(proc: subprocess.Popen | None, sig: int = signal.SIGTERM, seconds: float = 30) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(seconds)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@dataclass
class MariaDB:
    """One mariadbd of the cluster, with a data directory of its own."""

    name: str
    port: int
    datadir: Path
    server_id: int
    proc: subprocess.Popen | None = None

    @property
    def socket(self) -> Path:
        return self.datadir / "mysqld.sock"

    def url(self, database: str = DATABASE, driver: str = "mysql") -> str:
        return f"{driver}://root@127.0.0.1:{self.port}/{database}"

    def install(self) -> subprocess.Popen:
        self.datadir.mkdir(parents=True, exist_ok=True)
        return subprocess.Popen(
            [
                "mariadb-install-db",
                "--no-defaults",
                f"--datadir={self.datadir}",
                *_as_user(),
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def start(self, replica: bool, extra: Sequence[str] = (), binlog: bool = True) -> None:
        d = self.datadir
        args = [
            "/usr/sbin/mariadbd",
            "--no-defaults",
            f"--datadir={d}",
            f"--socket={self.socket}",
            f"--tmpdir={d}",
            f"--port={self.port}",
            "--bind-address=127.0.0.1",
            f"--pid-file={d / 'mysqld.pid'}",
            f"--log-error={d / 'error.log'}",
            f"--server-id={self.server_id}",
            "--userstat=1",  # information_schema.USER_STATISTICS, for bench/capacity.py
            "--innodb-buffer-pool-size=64M",
            "--max-connections=400",
            "--character-set-server=utf8mb4",
            *_as_user(),
            *extra,
        ]
        if binlog:  # GTID replication (a Galera node needs none)
            args += [
                f"--log-bin={d / 'binlog'}",
                f"--relay-log={d / 'relay'}",
                "--gtid-strict-mode=1",
                "--log-slave-updates=1",
            ]
        if replica:
            args.append("--read-only=1")
        with open(d / "stdout.log", "ab") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=log, start_new_session=True)
        wait_for(
            f"mariadbd {self.name}", lambda: self.socket.exists() and self._answers(), 60, self.proc
        )

    def _answers(self) -> bool:
        return self.sql("SELECT 1", check=False) == "1"

    def sql(self, statements: str, check: bool = True) -> str:
        done = subprocess.run(
            [
                "mariadb",
                "--no-defaults",
                f"--socket={self.socket}",
                "-uroot",
                "-N",
                "-B",
                "-e",
                statements,
            ],
            capture_output=True,
            text=True,
        )
        if check and done.returncode != 0:
            raise ClusterError(f"{self.name}: {done.stderr.strip()}")
        return done.stdout.strip()

    def stop(self) -> None:
        _stop(self.proc, seconds=60)


def _as_user() -> list[str]:
    return ["--user=root"] if os.geteuid() == 0 else []


@dataclass
class Databases:
    """The primary and its replica, GTID replication from the first to the second."""

    base: Path
    primary: MariaDB
    replica: MariaDB

    @classmethod
    def at(cls, base: Path, ports: tuple[int, int] | None = None) -> Databases:
        first, second = ports or (free_port(), free_port())
        return cls(
            base,
            MariaDB("primary", first, base / "primary", 1),
            MariaDB("replica", second, base / "replica", 2),
        )

    def up(self) -> None:
        for db in (self.primary, self.replica):  # one at a time: they share temporary names
            proc = db.install()
            _, err = proc.communicate()
            if proc.returncode != 0:
                raise ClusterError(f"mariadb-install-db for {db.name}: {err.decode()[-300:]}")
        for db in (self.primary, self.replica):
            db.start(replica=db is self.replica)
            # root from 127.0.0.1 without a password, on each node alone (not replicated)
            db.sql(
                "SET sql_log_bin=0; CREATE USER IF NOT EXISTS root@'127.0.0.1';"
                "GRANT ALL ON *.* TO root@'127.0.0.1' WITH GRANT OPTION;"
            )
        self.primary.sql(
            "SET sql_log_bin=0; CREATE USER IF NOT EXISTS repl@'127.0.0.1' IDENTIFIED BY 'repl';"
            "GRANT REPLICATION SLAVE ON *.* TO repl@'127.0.0.1';"
        )
        self.start_replication()

    def start_replication(self) -> None:
        self.replica.sql(
            "STOP SLAVE; CHANGE MASTER TO MASTER_HOST='127.0.0.1', "
            f"MASTER_PORT={self.primary.port}, "
            "MASTER_USER='repl', MASTER_PASSWORD='repl', MASTER_USE_GTID=slave_pos, "
            "MASTER_CONNECT_RETRY=1; START SLAVE;"
        )

    def caught_up(self, seconds: float = 30.0) -> None:
        """Wait until the replica has applied everything the primary has written."""
        position = self.primary.sql("SELECT @@gtid_binlog_pos")
        self.replica.sql(f"SELECT MASTER_GTID_WAIT('{position}', {seconds})")
        if self.replica.sql(f"SELECT MASTER_GTID_WAIT('{position}', 0)") != "0":
            raise ClusterError(f"the replica did not reach {position} in {seconds:.0f} s")

    def create(self, schema: str, database: str = DATABASE) -> str:
        """A fresh database of `schema` on the primary (replicated); its URL there."""
        if schema not in SCHEMAS:
            raise ClusterError(f"unknown schema {schema!r}: {' or '.join(SCHEMAS)}")
        charset = "latin1" if schema == "myisam" else "utf8mb4"
        self.primary.sql(
            f"DROP DATABASE IF EXISTS `{database}`; "
            f"CREATE DATABASE `{database}` CHARACTER SET {charset}"
        )
        url = self.primary.url(database)
        engine = make_engine(url)
        try:
            if schema == "myisam":
                with engine.begin() as conn:
                    for name in ("fixtures/vicidial_schema.sql", "data/vicidial_sample_data.sql"):
                        run_sql_file(conn, REPO / "tests" / name)
                init_db(engine, add_missing=True)  # vicidid's own tables beside VICIdial's
            else:
                init_db(engine)
            demo.load(engine)
            with engine.begin() as conn:
                admin.set_user(conn, "6666", "1234", demo.ADMIN_FLAGS)
        finally:
            engine.dispose()
        return url

    def down(self) -> None:
        for db in (self.replica, self.primary):
            db.stop()


@dataclass
class Server:
    """One vicidid server: `vicidid serve` in a process of its own."""

    name: str
    port: int
    db_url: str
    log: Path
    args: Sequence[str] = ()
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, wait: bool = True) -> None:
        if self.proc is not None:
            self.proc.wait(30)  # the process this replaces, reaped
        command = [sys.executable, "-m", "vicidid", "--db", self.db_url, "serve"]
        command += ["--port", str(self.port), "--trusted-proxy", "127.0.0.1", *self.args]
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(command, stdout=out, stderr=out, start_new_session=True)
        if wait:
            self.wait_healthy()

    def healthy(self) -> bool:
        try:
            return httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def wait_healthy(self, seconds: float = 30.0) -> None:
        wait_for(f"vicidid {self.name} ({self.log})", self.healthy, seconds, self.proc)

    def signal(self, sig: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)

    def wait(self, seconds: float = 60.0) -> int:
        assert self.proc is not None
        return self.proc.wait(seconds)

    def stop(self) -> None:
        _stop(self.proc)


def haproxy_config(bind: str, servers: Sequence[str], timeout_server: str | None = None) -> str:
    """docs/haproxy.cfg with its bind address and its servers' addresses replaced."""
    text = HAPROXY_CFG.read_text()
    text, binds = re.subn(r"(?m)^(\s*bind\s+)\S+", lambda m: m.group(1) + bind, text)
    lines = [line for line in text.splitlines() if re.match(r"\s*server\s", line)]
    if binds != 1 or len(lines) < len(servers):
        raise ClusterError(f"{HAPROXY_CFG.name} needs one bind and {len(servers)} server lines")
    for i, line in enumerate(lines):
        if i < len(servers):
            name, _ = line.split(None, 2)[1:]
            new = re.sub(r"\bserver\s+\S+\s+\S+", f"server {name} {servers[i]}", line, count=1)
            text = text.replace(line, new, 1)
        else:
            text = text.replace(line + "\n", "", 1)
    if timeout_server:
        text = re.sub(
            r"(?m)^(\s*timeout server\s+)\S+", lambda m: m.group(1) + timeout_server, text
        )
    return text


@dataclass
class HAProxy:
    port: int
    config: Path
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, servers: Sequence[str], timeout_server: str | None = None) -> None:
        binary = apt_install("haproxy", "haproxy")
        self.config.write_text(haproxy_config(f"127.0.0.1:{self.port}", servers, timeout_server))
        checked = subprocess.run([binary, "-c", "-f", str(self.config)], capture_output=True)
        if checked.returncode != 0:
            raise ClusterError(f"haproxy refuses {self.config}: {checked.stderr.decode()[-300:]}")
        with open(self.config.with_suffix(".log"), "ab") as log:
            self.proc = subprocess.Popen(
                [binary, "-db", "-f", str(self.config)],
                stdout=log,
                stderr=log,
                start_new_session=True,
            )

        def answers() -> bool:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return True
            except OSError:
                return False

        wait_for("haproxy", answers, 10, self.proc)

    def stop(self) -> None:
        _stop(self.proc)


@dataclass
class Web:
    """The vicidid servers on one database and HAProxy in front of them."""

    base: Path
    db_url: str
    count: int = 3
    args: Sequence[str] = ()
    servers: list[Server] = field(default_factory=list)
    balancer: HAProxy | None = None

    def up(self, ports: Sequence[int] = (), lb_port: int | None = None) -> None:
        self.base.mkdir(parents=True, exist_ok=True)
        ports = list(ports) or [free_port() for _ in range(self.count)]
        self.servers = [
            Server(f"web{i + 1}", port, self.db_url, self.base / f"web{i + 1}.log", self.args)
            for i, port in enumerate(ports)
        ]
        for server in self.servers:
            server.start(wait=False)
        for server in self.servers:
            server.wait_healthy()
        self.balancer = HAProxy(lb_port or free_port(), self.base / "haproxy.cfg")
        self.balancer.start([f"127.0.0.1:{s.port}" for s in self.servers])
        wait_for("haproxy's first health checks", self._all_up, 10)

    def _all_up(self) -> bool:
        try:
            return all(
                httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200 for _ in self.servers
            )
        except httpx.HTTPError:
            return False

    @property
    def url(self) -> str:
        assert self.balancer is not None
        return self.balancer.url

    def down(self) -> None:
        if self.balancer:
            self.balancer.stop()
        for server in self.servers:
            server.stop()
