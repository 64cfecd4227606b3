"""docs/haproxy.cfg never sends a request on once it reached a server.

HAProxy (Debian's, installed when missing) runs from the shipped file in front of three
stand-in servers on loopback, which pass every health check: one that reads a request and
then dies without answering (its connection reset), or hangs past HAProxy's `timeout
server`, and two that answer. Each request carries a mark; each mark must arrive once.
"""

from __future__ import annotations

import socket
import socketserver
import threading
import time
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest

from bench import cluster
from vicidid import API_PATH


class StandIn(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, behaviour: str, seen: Counter[str], lock: threading.Lock) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.behaviour, self.seen, self.lock = behaviour, seen, lock

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server_address[1]}"


class Handler(socketserver.StreamRequestHandler):
    server: StandIn

    def handle(self) -> None:
        line = self.rfile.readline().decode()
        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
            pass  # the headers
        path = line.split(" ")[1] if " " in line else ""
        if not path.startswith(API_PATH):  # the health checks: always well
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nOK\n")
            return
        with self.server.lock:
            self.server.seen[path] += 1
        if self.server.behaviour == "answers":
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nSUCCESS\n")
            return
        if self.server.behaviour == "hangs":
            time.sleep(1.5)  # past the 1 s timeout server this test gives HAProxy
        # dies: the connection reset, nothing answered
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00" * 2)
        self.connection.close()


@pytest.fixture(params=["dies", "hangs"])
def balanced(request, tmp_path) -> Iterator[tuple[str, Counter[str], list[StandIn]]]:
    seen: Counter[str] = Counter()
    lock = threading.Lock()
    servers = [StandIn(b, seen, lock) for b in (request.param, "answers", "answers")]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    balancer = cluster.HAProxy(cluster.free_port(), tmp_path / "haproxy.cfg")
    try:
        balancer.start([s.address for s in servers], timeout_server="1s")
        time.sleep(1.5)  # two health checks: every server up
        yield balancer.url, seen, servers
    finally:
        balancer.stop()
        for server in servers:
            server.shutdown()
            server.server_close()


def test_a_request_that_reached_a_server_is_never_sent_again(balanced):
    url, seen, _ = balanced
    statuses: Counter[int] = Counter()
    marks = [f"{API_PATH}?function=update_did&source=m{i}" for i in range(24)]
    with httpx.Client(timeout=10) as client:
        for mark in marks:
            statuses[client.get(url + mark).status_code] += 1
    assert set(seen) == set(marks)
    assert all(count == 1 for count in seen.values()), seen
    # the stand-in that failed got its share (leastconn turns around the three), and each
    # of those was answered 502 (reset) or 504 (timeout), never by another server
    failed = statuses[502] + statuses[504]
    assert failed >= 4, statuses
    assert statuses[200] + failed == len(marks)


def test_the_shipped_configuration_retries_only_connections_never_made():
    lines = [line.split("#")[0].split() for line in cluster.HAPROXY_CFG.read_text().splitlines()]
    words = [line for line in lines if line]
    assert [w for w in words if w[0] == "retry-on"] == [["retry-on", "conn-failure"]]
    assert ["option", "httpclose"] in words
    assert ["option", "httpchk", "GET", "/healthz"] in words
    assert not [w for w in words if w[:2] == ["option", "abortonclose"]]
