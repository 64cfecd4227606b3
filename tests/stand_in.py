"""A real HTTP server on 127.0.0.1 standing in for VICIdial's PHP, for tests.

It records every request it gets (method, path, query, headers, the body's raw bytes) and
answers with what the test set: a fixed answer, a slow one, or a function of the request.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Seen:
    method: str
    path: str
    query: str
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        found = [v for k, v in self.headers if k.lower() == name.lower()]
        return found[-1] if found else None


@dataclass
class Answer:
    status: int = 200
    body: bytes = b"SUCCESS: add_lead LEAD HAS BEEN ADDED - 6666|1|\n"
    headers: list[tuple[str, str]] = field(
        default_factory=lambda: [("Content-Type", "text/html; charset=UTF-8")]
    )
    delay: float = 0.0


@dataclass
class StandIn:
    url: str
    seen: list[Seen] = field(default_factory=list)
    answer: Callable[[Seen], Answer] = lambda seen: Answer()


@contextlib.contextmanager
def stand_in(path: str = "/vicidial/non_agent_api.php") -> Iterator[StandIn]:
    state = StandIn("")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            route, _, query = self.path.partition("?")
            seen = Seen(self.command, route, query, list(self.headers.items()), body)
            state.seen.append(seen)
            answer = state.answer(seen)
            if answer.delay:
                time.sleep(answer.delay)
            self.send_response(answer.status)
            for name, value in answer.headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            with contextlib.suppress(OSError):  # the caller may have given up on a slow answer
                self.wfile.write(answer.body)

        do_GET = do_POST = do_PUT = _serve

        def log_message(self, format, *args) -> None:  # keep test output clean
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}{path}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
