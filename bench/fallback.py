"""What passing a request on to the fallback costs: the same request sent straight to a
stand-in for PHP, and through `vicidid serve --fallback-url`, one after another.

    .venv/bin/python -m bench.fallback [--requests 500]

Prints a table of latencies (ms). Everything runs on 127.0.0.1 and stops by itself.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

ANSWER = b"SUCCESS: add_lead LEAD HAS BEEN ADDED - 6666|1|\n"
QUERY = "function=add_lead&user=6666&pass=1234&source=bench&phone_number=5551234&list_id=101"


class PHP(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # headers and body in one segment, sent at once: else the delayed ACK costs 40 ms
    wbufsize = -1
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=UTF-8")
        self.send_header("Content-Length", str(len(ANSWER)))
        self.end_headers()
        self.wfile.write(ANSWER)

    def log_message(self, format, *args) -> None:
        pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def timings(url: str, count: int) -> list[float]:
    out = []
    with httpx.Client(timeout=10) as client:
        for _ in range(20):  # warm up connections
            client.get(url)
        for _ in range(count):
            started = time.perf_counter()
            response = client.get(url)
            out.append((time.perf_counter() - started) * 1000)
            assert response.content == ANSWER
    return out


@contextlib.contextmanager
def vicidid(fallback: str, port: int, db: str):
    subprocess.run(
        [sys.executable, "-m", "vicidid", "--db", db, "init-db", "--demo"],
        check=True,
        capture_output=True,
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "vicidid", "--db", db, "serve", "--port", str(port),
         "--fallback-url", fallback],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:
        assert process.stdout is not None
        process.stdout.readline()  # the banner: the port is bound
        yield
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=500)
    count = parser.parse_args().requests
    php = ThreadingHTTPServer(("127.0.0.1", 0), PHP)
    threading.Thread(target=php.serve_forever, daemon=True).start()
    direct = f"http://127.0.0.1:{php.server_address[1]}/vicidial/non_agent_api.php"
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp, vicidid(direct, port, f"sqlite:///{tmp}/b.db"):
        via = f"http://127.0.0.1:{port}/vicidial/non_agent_api.php"
        rows = [("straight to PHP", timings(f"{direct}?{QUERY}", count))]
        rows.append(("through vicidid", timings(f"{via}?{QUERY}", count)))
    php.shutdown()
    print(f"{count} sequential GETs of add_lead, one connection, ms")
    print(f"{'':<18}{'median':>8}{'p90':>8}{'p99':>8}")
    for name, values in rows:
        q = statistics.quantiles(values, n=100)
        print(f"{name:<18}{statistics.median(values):>8.2f}{q[89]:>8.2f}{q[98]:>8.2f}")


if __name__ == "__main__":
    main()
