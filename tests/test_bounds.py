"""The edge's bounds, tried with raw sockets on loopback as a hostile client would: the size
and number of a request's header lines, the time to send them, idle keep-alive connections
and the connections open at once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
import time

import pytest
from click.testing import CliRunner

from tests.conftest import serve
from tests.test_ops import start, stop
from vicidid.cli import demo, main
from vicidid.store.db import make_engine
from vicidid.store.schema import init_db
from vicidid.web import server
from vicidid.web.settings import Settings

HEALTHZ = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
WAIT = 10  # seconds a socket waits for an answer before the test fails


@pytest.fixture
def engine(sqlite_url):
    engine = make_engine(sqlite_url)
    init_db(engine)
    demo.load(engine)
    yield engine
    engine.dispose()


def address(url: str) -> tuple[str, int]:
    host, port = url.removeprefix("http://").split(":")
    return host, int(port)


def connect(url: str) -> socket.socket:
    sock = socket.create_connection(address(url), timeout=WAIT)
    sock.settimeout(WAIT)
    return sock


def read_all(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes (a reset after its answer counts as a
    close); a socket timeout fails the test."""
    got = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return got
        if not chunk:
            return got
        got += chunk


def read_response(sock: socket.socket) -> bytes:
    """One response with a content-length, read whole; the connection left open."""
    got = b""
    while b"\r\n\r\n" not in got:
        chunk = sock.recv(65536)
        assert chunk, got
        got += chunk
    head, _, body = got.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def status(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


def with_headers(lines: int, size: int = 10) -> bytes:
    """A request to /healthz with `lines` header lines (Host among them) of `size` bytes."""
    headers = [b"Host: x"] + [b"X-%04d: %s" % (n, b"v" * (size - 10)) for n in range(lines - 1)]
    return b"GET /healthz HTTP/1.1\r\n" + b"\r\n".join(headers) + b"\r\n\r\n"


def test_the_bounds_default_to_safe_values():
    s = Settings()
    assert (s.max_header_bytes, s.max_header_lines, s.header_timeout) == (16384, 100, 10.0)
    assert (s.keep_alive_timeout, s.max_connections) == (5, 1000)
    limits = s.limits()
    assert (limits.head_bytes, limits.header_lines, limits.head_seconds, limits.connections) == (
        16384,
        100,
        10.0,
        1000,
    )


def test_a_head_within_16_kib_and_100_lines_is_answered(engine):
    with serve(engine) as live:
        request = with_headers(100, 150)
        assert 14_000 < len(request) <= 16384
        with connect(live.url) as sock:
            sock.sendall(request)
            assert status(read_response(sock)) == 200
            sock.sendall(HEALTHZ)  # and the connection stays open for the next
            assert status(read_response(sock)) == 200


@pytest.mark.parametrize(
    "request_bytes",
    [
        with_headers(101),
        with_headers(60, 300),
        b"GET /healthz?" + b"q" * 17000 + b" HTTP/1.1\r\n\r\n",
    ],
    ids=["101 lines", "18 KB of headers", "a 17 KB request line"],
)
def test_a_head_past_a_bound_is_431_then_closed(engine, request_bytes):
    with serve(engine) as live, connect(live.url) as sock:
        sock.sendall(request_bytes)
        answer = read_all(sock)
    assert status(answer) == 431
    assert answer.count(b"HTTP/1.1") == 1
    assert b"\r\nconnection: close\r\n" in answer


def test_one_endless_header_line_is_refused_before_it_ends(engine):
    """A header line is refused within its first 16 KiB: the server never holds it whole."""
    with serve(engine) as live, connect(live.url) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ")
        sent, answer = 0, b""
        sock.settimeout(0.05)
        while sent < 4 * 1024 * 1024 and not answer:  # no line end is ever sent
            sock.sendall(b"a" * 4096)
            sent += 4096
            with contextlib.suppress(TimeoutError):
                answer = sock.recv(65536)
        sock.settimeout(WAIT)
        answer += read_all(sock)
    assert status(answer) == 431
    assert sent < 1024 * 1024  # answered long before the line (or 4 MiB) was sent


def test_an_oversized_head_sent_after_a_request_in_the_same_write_is_not_served(engine):
    """Two requests in one write: the second's head, past the bound, is never answered."""
    with serve(engine) as live, connect(live.url) as sock:
        sock.sendall(
            HEALTHZ + b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n"
        )
        answer = read_all(sock)
    assert answer.count(b"HTTP/1.1 200") <= 1
    assert answer.count(b"HTTP/1.1 ") == answer.count(b"HTTP/1.1 200") + answer.count(
        b"HTTP/1.1 431"
    )


async def _half_sent(url: str, count: int, partial: bytes) -> list[bytes]:
    """`count` connections at once, each sending `partial` and nothing more; what each
    receives until the server closes it."""
    host, port = address(url)

    async def one() -> bytes:
        reader, writer = await asyncio.open_connection(host, port)
        if partial:
            writer.write(partial)
            await writer.drain()
        try:
            return await asyncio.wait_for(reader.read(), WAIT)
        finally:
            writer.close()

    return await asyncio.gather(*(one() for _ in range(count)))


def test_heads_not_complete_in_time_are_408_and_closed(engine):
    with serve(engine, header_timeout=0.5) as live:
        answers = asyncio.run(_half_sent(live.url, 200, b"GET /healthz HTTP/1.1\r\nHost: x\r\n"))
        assert len(answers) == 200
        assert {status(a) for a in answers} == {408}
        # a connection that sends nothing at all is closed without a word
        assert asyncio.run(_half_sent(live.url, 20, b"")) == [b""] * 20
        # a slow but whole request within the time is answered
        with connect(live.url) as sock:
            for line in HEALTHZ.split(b"\r\n")[:-1]:
                sock.sendall(line + b"\r\n")
                time.sleep(0.05)
            assert status(read_response(sock)) == 200


def test_a_connection_idle_past_the_keep_alive_timeout_is_closed(engine):
    with serve(engine, keep_alive_timeout=2) as live, connect(live.url) as sock:
        sock.sendall(HEALTHZ)
        assert status(read_response(sock)) == 200
        time.sleep(0.5)
        sock.sendall(HEALTHZ)  # within the timeout: still open
        assert status(read_response(sock)) == 200
        sock.settimeout(4)  # less than uvicorn's own default of 5 seconds
        assert read_all(sock) == b""  # closed by the server


async def _connections_past_the_cap(url: str, cap: int, extra: int) -> tuple[list[bytes], bytes]:
    host, port = address(url)
    held = []
    for _ in range(cap):  # each answered, so open and counted by the server
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(HEALTHZ)
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), WAIT)
        assert head.startswith(b"HTTP/1.1 200")
        await reader.readexactly(3)  # OK\n
        held.append(writer)

    async def refused() -> bytes:
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(HEALTHZ)
        try:
            return await asyncio.wait_for(reader.read(), WAIT)
        finally:
            writer.close()

    answers = await asyncio.gather(*(refused() for _ in range(extra)))
    for writer in held:
        writer.close()
    await asyncio.sleep(0.2)  # the server sees them close
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(HEALTHZ)
    after = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), WAIT)
    writer.close()
    return answers, after


def test_connections_past_the_cap_are_refused_with_503_at_once(engine):
    with serve(engine, max_connections=20, keep_alive_timeout=30) as live:
        answers, after = asyncio.run(_connections_past_the_cap(live.url, 20, 40))
    assert len(answers) == 40
    for answer in answers:
        assert status(answer) == 503
        assert b"\r\nretry-after: 1\r\n" in answer and b"\r\nconnection: close\r\n" in answer
    assert after.startswith(b"HTTP/1.1 200")  # once they closed, a new one is served


def test_serve_takes_the_bounds_to_every_worker(tmp_path):
    url = f"sqlite:///{tmp_path / 'bounds.db'}"
    assert CliRunner().invoke(main, ["--db", url, "init-db", "--demo"]).exit_code == 0
    served = start(
        url,
        tmp_path,
        "--workers",
        "2",
        "--max-header-lines",
        "5",
        "--header-timeout",
        "0.5",
        "--keep-alive-timeout",
        "1",
    )
    try:
        for _ in range(4):  # whichever worker takes each connection
            with connect(served.url) as sock:
                sock.sendall(with_headers(5))
                assert status(read_response(sock)) == 200
                sock.settimeout(4)
                assert read_all(sock) == b""  # idle past 1 second: closed
            with connect(served.url) as sock:
                sock.sendall(with_headers(6))
                assert status(read_all(sock)) == 431
        answers = asyncio.run(_half_sent(served.url, 16, b"GET /healthz HTTP/1.1\r\n"))
        assert {status(a) for a in answers} == {408}
    finally:
        stop(served)


def test_the_file_limit_is_raised_for_the_connections(monkeypatch):
    resource = pytest.importorskip("resource")
    set_to = []
    monkeypatch.setattr(resource, "setrlimit", lambda which, limits: set_to.append(limits))
    monkeypatch.setattr(resource, "getrlimit", lambda which: (1024, 4096))
    assert server.raise_file_limit(1000) == ""
    assert set_to == [(1000 + server.FILES_BESIDES_CONNECTIONS, 4096)]
    set_to.clear()
    warning = server.raise_file_limit(5000)
    assert set_to == [(4096, 4096)]
    assert "each worker may open 4096 files" in warning and "--max-connections 5000" in warning
    set_to.clear()
    monkeypatch.setattr(resource, "getrlimit", lambda which: (65536, 65536))
    assert server.raise_file_limit(5000) == "" and set_to == []


UPDATE = (
    b"GET /vicidial/non_agent_api.php?function=update_did&user=admin&pass=1234&source=edge"
    b"&did_pattern=18001234567&did_description=Queued HTTP/1.1\r\nHost: x\r\n\r\n"
)


async def _flood(url: str, api, entered, held: int, queued: int, extra: int):
    """`held` requests on the (blocked) request threads, `queued` waiting for them, then
    `extra` more at once; what each of them is answered."""
    host, port = address(url)
    loop = asyncio.get_running_loop()

    async def one() -> bytes:
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(UPDATE)
        try:
            return await asyncio.wait_for(_one_response(reader), WAIT)
        finally:
            writer.close()

    first = [asyncio.create_task(one()) for _ in range(held)]
    for _ in range(held):  # every request thread is taken, and waits
        await loop.run_in_executor(None, entered.acquire, True, WAIT)
    waiting = [asyncio.create_task(one()) for _ in range(queued)]
    deadline = loop.time() + WAIT
    while api.threads.waiting() < queued and loop.time() < deadline:
        await asyncio.sleep(0.01)
    refused = await asyncio.gather(*(one() for _ in range(extra)))
    return first, waiting, refused


async def _one_response(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    return head + await reader.readexactly(length)


def test_requests_past_the_waiting_bound_are_503_in_vicidials_words(engine):
    gate, entered = threading.Event(), threading.Semaphore(0)
    with serve(engine, dialect="vicidial", pool_size=2, max_waiting=4) as live:
        assert live.pipeline is not None and live.app is not None
        start = live.pipeline.start

        def blocked(incoming):
            entered.release()
            gate.wait(WAIT)
            return start(incoming)

        live.pipeline.start = blocked  # type: ignore[method-assign]

        async def run():
            first, waiting, refused = await _flood(live.url, live.app.api, entered, 2, 4, 12)
            assert live.app.api.threads.waiting() == 4
            gate.set()
            return await asyncio.gather(*first, *waiting), refused

        served, refused = asyncio.run(run())
    assert len(refused) == 12
    for answer in refused:
        assert status(answer) == 503
        assert b"\r\nretry-after: 1\r\n" in answer
        assert answer.endswith(b"\r\n\r\nERROR: update_did SERVER BUSY, TRY AGAIN: |admin|\n")
    assert len(served) == 6
    for answer in served:  # those admitted are all answered once the threads are free
        assert status(answer) == 200
        assert answer.endswith(b"SUCCESS: update_did DID HAS BEEN UPDATED - admin|18001234567\n")


def test_access_log_lines_past_its_queue_are_dropped_and_counted(engine, monkeypatch, caplog):
    from prometheus_client import REGISTRY

    from vicidid.web import access_log

    caplog.set_level(logging.INFO, logger="vicidid.access")
    monkeypatch.setattr(access_log._writer, "limit", 10)

    def dropped() -> float:
        return REGISTRY.get_sample_value("vicidid_access_log_dropped_total") or 0.0

    access_log._writer.start()  # (it takes the lock the first time)
    access_log.flush()
    with serve(engine) as live:
        before = dropped()
        host, port = address(live.url)

        async def one(n: int) -> bytes:
            reader, writer = await asyncio.open_connection(host, port)
            writer.write(UPDATE.replace(b"Queued", b"Logged%02d" % n))
            try:
                return await asyncio.wait_for(_one_response(reader), WAIT)
            finally:
                writer.close()

        async def flood() -> list[bytes]:
            return await asyncio.gather(*(one(n) for n in range(30)))

        with access_log._writer.lock:  # the writer thread cannot take any line meanwhile
            answers = asyncio.run(flood())
            waiting = [entry for _, entry in access_log._writer.pending]
        access_log.flush()
    assert [status(a) for a in answers] == [200] * 30
    assert len(waiting) == 10
    assert dropped() - before == 20
    for entry in waiting:  # only the line's own values wait, the password never among them
        assert all(isinstance(v, str | int | float) for v in entry)
        assert entry.path.startswith("/vicidial/non_agent_api.php?function=update_did&user=admin")
        assert "pass" not in entry.path
    lines = [r for r in caplog.records if r.name == "vicidid.access"]
    assert len(lines) == 10
