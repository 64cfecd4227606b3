"""Several workers, a listening socket each (web/workers.py): a real `vicidid serve --workers 2`
on loopback, and the supervisor itself."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from click.testing import CliRunner

from vicidid.cli import main
from vicidid.web import workers

pytestmark = pytest.mark.skipif(not workers.reuse_port(), reason="needs SO_REUSEPORT (Linux)")

API = "/vicidial/non_agent_api.php"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(sqlite_url) -> Iterator[tuple[subprocess.Popen, int]]:
    assert CliRunner().invoke(main, ["--db", sqlite_url, "init-db", "--demo"]).exit_code == 0
    port = free_port()
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "vicidid", "--db", sqlite_url, "serve", "--workers", "2"),
            *("--port", str(port), "--no-login-throttle"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert process.poll() is None and time.monotonic() < deadline, "did not start"
        time.sleep(0.2)
    try:
        yield process, port
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=60)
        assert process.stdout is not None
        process.stdout.close()


def worker_pids(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [
        int(c)
        for c in children
        if b"resource_tracker" not in Path(f"/proc/{c}/cmdline").read_bytes()
    ]


def listening_inodes(pid: int, port: int) -> set[int]:
    """The sockets of process `pid` that listen on `port`."""
    listening = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        parts = line.split()
        if parts[3] == "0A" and int(parts[1].rsplit(":", 1)[1], 16) == port:
            listening.add(int(parts[9]))
    held = set()
    try:
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except FileNotFoundError:  # the process has ended
        return held
    for fd in fds:
        try:
            target = os.readlink(fd)
        except FileNotFoundError:  # closed since it was listed: a starting worker opens and
            continue  # closes files as it imports
        if target.startswith("socket:[") and int(target[8:-1]) in listening:
            held.add(int(target[8:-1]))
    return held


def test_each_worker_listens_on_a_socket_of_its_own_and_both_serve(server):
    process, port = server
    pids = worker_pids(process.pid)
    assert len(pids) == 2
    sockets = [listening_inodes(pid, port) for pid in pids]
    assert all(len(s) >= 1 for s in sockets)
    assert not (sockets[0] & sockets[1])  # no socket shared between the two
    # a burst of 64 new connections, each asking which process answers it: both do
    request = f"GET {API}?function=version HTTP/1.1\r\nHost: x\r\n\r\n".encode()
    conns = [socket.create_connection(("127.0.0.1", port)) for _ in range(64)]
    for c in conns:
        c.sendall(request)
    answers = [c.recv(4096) for c in conns]
    for c in conns:
        c.close()
    assert all(a.startswith(b"HTTP/1.1 200") for a in answers)


def test_a_worker_that_dies_is_replaced_on_its_socket(server):
    process, port = server
    first, second = worker_pids(process.pid)
    held = listening_inodes(first, port)
    os.kill(first, signal.SIGKILL)
    deadline = time.monotonic() + 60
    while True:
        pids = worker_pids(process.pid)
        if first not in pids and len(pids) == 2:
            replacement = next(p for p in pids if p != second)
            if listening_inodes(replacement, port) == held:
                break
        assert time.monotonic() < deadline, "the worker was not replaced on its socket"
        time.sleep(0.2)
    for _ in range(20):  # every new connection is served, whichever socket it lands on
        answer = httpx.get(f"http://127.0.0.1:{port}{API}?function=version", timeout=30)
        assert answer.status_code == 200


def test_sigterm_stops_every_worker(server):
    process, _ = server
    pids = worker_pids(process.pid)
    process.terminate()
    assert process.wait(timeout=60) == 0
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text()


def test_a_taken_port_is_refused_with_several_workers_too(sqlite_url):
    assert CliRunner().invoke(main, ["--db", sqlite_url, "init-db"]).exit_code == 0
    with socket.socket() as taken:
        # even a server that lets others share its port (SO_REUSEPORT) is not joined
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(
            main, ["--db", sqlite_url, "serve", "--port", str(port), "--workers", "3"]
        )
    assert result.exit_code == 2
    assert f"port {port} on 127.0.0.1 is in use" in result.stderr


def fails_at_once(config, sock, grace) -> None:
    sys.exit(1)


def test_a_worker_that_fails_at_its_start_stops_the_server_at_once():
    """Not started again and again: the supervisor stops every worker and gives 3."""
    sockets = [workers.listening(socket.AF_INET, ("127.0.0.1", 0))]
    port = sockets[0].getsockname()[1]
    sockets.append(workers.listening(socket.AF_INET, ("127.0.0.1", port)))
    supervisor = workers.Supervisor(uvicorn.Config("x:y"), sockets, target=fails_at_once)
    deadline = threading.Timer(20, supervisor.stopping.set)  # were it to restart them
    deadline.start()
    assert supervisor.run() == workers.STARTUP_FAILED
    deadline.cancel()
    assert all(p is not None and not p.is_alive() for p in supervisor.processes)
    for s in sockets:
        s.close()
