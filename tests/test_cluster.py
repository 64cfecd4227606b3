"""Three vicidid servers behind HAProxy (docs/haproxy.cfg) on a MariaDB primary and its
replica, all started here (bench/cluster.py; HAProxy installed from Debian's packages
when missing), on VICIdial's MyISAM schema and on vicidid's InnoDB schema.

The loads are shorter than a soak (LOAD_SECONDS) to keep within CI's time; each still
holds 32 clients and a kill or a rolling restart in the middle.
"""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import sqlalchemy as sa

from bench import cluster
from tests.cluster_load import SOURCE_DID, reconcile, run_load
from vicidid import API_PATH
from vicidid.cli import admin, demo
from vicidid.store.db import make_engine

LOAD_SECONDS = 8.0


@pytest.fixture(scope="module")
def databases(tmp_path_factory) -> Iterator[cluster.Databases]:
    missing = [c for c in ("mariadb-install-db", "mariadb") if not shutil.which(c)]
    if missing or not os.path.exists("/usr/sbin/mariadbd"):
        reason = f"MariaDB's server package is not installed ({missing or 'mariadbd'})"
        if os.environ.get("VICIDID_REQUIRE_MARIADB") == "1":
            pytest.fail(reason + " and VICIDID_REQUIRE_MARIADB=1")
        pytest.skip(reason)
    dbs = cluster.Databases.at(tmp_path_factory.mktemp("cluster"))
    try:
        dbs.up()
        yield dbs
    finally:
        dbs.down()


@pytest.fixture(scope="module", params=cluster.SCHEMAS)
def web(request, databases, tmp_path_factory) -> Iterator[cluster.Web]:
    url = databases.create(request.param, f"vicidid_{request.param}")
    servers = cluster.Web(tmp_path_factory.mktemp(request.param), url, args=["--drain-grace", "20"])
    try:
        servers.up()
        yield servers
    finally:
        servers.down()


@pytest.fixture
def engine(web) -> Iterator[sa.engine.Engine]:
    created = make_engine(web.db_url)
    yield created
    created.dispose()


def test_a_kill_mid_load_loses_nothing_and_runs_nothing_twice(web, engine):
    victim = web.servers[1]
    killer = threading.Timer(LOAD_SECONDS / 3, victim.signal, args=(signal.SIGKILL,))
    reviver = threading.Timer(LOAD_SECONDS * 2 / 3, victim.start, kwargs={"wait": False})
    killer.start()
    reviver.start()
    sent = run_load(web.url, 1, LOAD_SECONDS)
    reviver.join()
    victim.wait_healthy()
    assert victim.proc is not None and victim.proc.poll() is None
    acknowledged = [s for s in sent if s.acknowledged]
    failed = [s for s in sent if not s.acknowledged]
    assert len(acknowledged) > 100, f"too little load: {len(acknowledged)} of {len(sent)}"
    # only requests that were in flight on the killed server may fail, and only as the
    # balancer's 502: never an answer from vicidid, never a connection closed unanswered
    assert all(s.status == 502 for s in failed), {(s.status, s.body[:80]) for s in failed}
    assert len(failed) <= 32
    assert reconcile(engine, sent, 1) == []


def test_a_rolling_restart_under_load_fails_no_request(web, engine):
    def roll() -> None:
        time.sleep(0.5)
        for server in web.servers:
            server.signal(signal.SIGTERM)
            server.wait(30)  # it exits on its own, drained (TimeoutExpired if not)
            server.start()

    roller = threading.Thread(target=roll)
    started = time.monotonic()
    roller.start()
    sent = run_load(web.url, 2, LOAD_SECONDS * 2)
    roller.join()
    assert time.monotonic() - started < 60
    failed = [(s.source, s.status, s.body[:80]) for s in sent if not s.acknowledged]
    assert failed == []
    assert len(sent) > 100
    assert reconcile(engine, sent, 2) == []
    # every server was restarted during the load and serves again
    assert all(s.healthy() for s in web.servers)


def test_draining_answers_healthz_draining_then_exits_when_quiet(web):
    server = web.servers[0]
    server.signal(signal.SIGTERM)
    time.sleep(0.3)
    health = httpx.get(f"{server.url}/healthz", timeout=5)
    assert (health.status_code, health.text) == (503, "DRAINING\n")
    # still answers what it is sent while the balancer takes it out
    version = httpx.get(f"{server.url}{API_PATH}?function=version", timeout=5)
    assert version.status_code == 200
    started = time.monotonic()
    server.wait(30)
    assert time.monotonic() - started < 10  # quiet for 2 s, far before the 20 s grace
    server.start()


def test_one_idempotency_key_at_two_servers_acts_once(web, engine):
    for attempt in range(5):
        key = f"key-{attempt}-{time.monotonic_ns()}"
        did = f"7{attempt}{time.monotonic_ns() % 10**8:08d}"
        query = (
            f"{API_PATH}?function=copy_did&user=admin&pass=1234&source=idem"
            f"&did_pattern={SOURCE_DID}&new_did_pattern={did}"
        )
        answers = _at_once(web.servers[:2], query, {"Idempotency-Key": key})
        assert [a.status_code for a in answers] == [200, 200]
        assert answers[0].text == answers[1].text
        assert answers[0].text.startswith("SUCCESS")
        with engine.connect() as conn:
            copies = conn.execute(
                sa.text("SELECT COUNT(*) FROM vicidial_inbound_dids WHERE did_pattern = :d"),
                {"d": did},
            ).scalar_one()
            stored = conn.execute(
                sa.text("SELECT COUNT(*) FROM vicidid_idempotency WHERE idem_key = :k"), {"k": key}
            ).scalar_one()
        assert (copies, stored) == (1, 1)


def _at_once(
    servers: list[cluster.Server], query: str, headers: dict[str, str]
) -> list[httpx.Response]:
    """The same request sent to each server at the same moment."""
    barrier = threading.Barrier(len(servers))
    answers: list[httpx.Response] = []

    def send(server: cluster.Server) -> None:
        barrier.wait()
        answers.append(httpx.get(server.url + query, headers=headers))

    threads = [threading.Thread(target=send, args=(s,)) for s in servers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def _login(server: cluster.Server, user: str, password: str, address: str) -> str:
    answer = httpx.get(
        f"{server.url}{API_PATH}?function=did_info&user={user}&pass={password}"
        f"&source=limits&did_pattern={SOURCE_DID}",
        headers={"X-Forwarded-For": address},
    )
    return answer.text


def test_lockout_holds_across_servers(web, engine):
    with engine.begin() as conn:
        admin.add_user(conn, "7001", "4321", demo.ADMIN_FLAGS)
    assert _login(web.servers[0], "7001", "4321", "198.51.100.1").startswith("did_id")
    for i in range(10):  # ten failures spread over the three servers, from ten addresses
        answer = _login(web.servers[i % 3], "7001", "wrong", f"198.51.100.{10 + i}")
        assert answer.startswith("ERROR")
    for server in web.servers:  # now the right password is refused by every server
        assert _login(server, "7001", "4321", "198.51.100.99").startswith("ERROR")


def test_login_throttle_holds_across_servers(web):
    address = "203.0.113.7"
    answers = [_login(web.servers[i % 3], "nobody", "wrong", address) for i in range(30)]
    assert all(a.startswith("ERROR") for a in answers)
    refused = {_login(s, "admin", "1234", address) for s in web.servers}
    assert len(refused) == 1 and next(iter(refused)).startswith("ERROR")
    # another address is not held back
    assert _login(web.servers[0], "admin", "1234", "203.0.113.8").startswith("did_id")
