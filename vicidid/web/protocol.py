"""uvicorn's HTTP protocol (httptools), with each response leaving in one write, and the
edge's bounds on what one connection may send and how many may be open.

uvicorn writes a response's status line and headers when the app sends
`http.response.start`, and the body when it sends `http.response.body`: two writes, so
two system calls and two TCP segments for every small answer. Here the connection's
transport holds what is written until the event loop's next turn, then writes it at once;
the app sends its two messages in the same turn, so head and body go out together. Nothing
waits longer than that turn, and closing the connection writes what is held first.

The bounds (`Limits`, carried to the protocol by `Config`): a request's line and headers
within `head_bytes` and `header_lines` (else 431), sent within `head_seconds` (else 408,
or a quiet close when nothing came), and at most `connections` open in one worker (past
them 503 at once). httptools gathers a header line whole before it reports it, so its size
is counted here, on the bytes received, before the parser holds them; the parser's own
callbacks count the lines, and count the bytes again for a head that came in the same read
as the request before it. A refused connection is answered, its side of the connection
ended, and what it goes on sending read and dropped for `LINGER` seconds before it is
closed, so the client reads the answer rather than a reset.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

LINGER = 1.0  # seconds a refused connection is read and dropped before it closes


@dataclass(frozen=True)
class Limits:
    """What one connection may send before its request is read, and how many may be open."""

    head_bytes: int = 16 * 1024  # the request line and the headers, their line ends included
    header_lines: int = 100
    head_seconds: float = 10.0  # from a request's first byte (or the connection's start)
    connections: int = 1000  # open at once in one worker process

    def __post_init__(self) -> None:
        if min(self.head_bytes, self.header_lines, self.connections) < 1:
            raise ValueError("the header size, header lines and connections must be 1 or more")
        if not self.head_seconds > 0:
            raise ValueError("the header timeout must be a number of seconds above 0")


class Config(uvicorn.Config):
    """uvicorn's Config, with the edge's limits for the protocol below."""

    def __init__(self, app: Any, limits: Limits | None = None, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.limits = limits or Limits()


def _answer(status: int, reason: str, extra: str = "") -> bytes:
    """A whole answer that closes the connection."""
    return (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: text/plain; charset=utf-8\r\n"
        f"content-length: {len(reason)}\r\n{extra}connection: close\r\n\r\n{reason}"
    ).encode("ascii")


HEAD_TOO_LARGE = _answer(431, "Request Header Fields Too Large")
HEAD_TIMEOUT = _answer(408, "Request Timeout")
TOO_MANY_CONNECTIONS = _answer(503, "Service Unavailable", "retry-after: 1\r\n")


class HeadTooLarge(Exception):
    """Raised in a parser callback to stop parsing a head already refused."""


class _OneWrite:
    """A transport whose writes within one turn of the event loop become one write."""

    __slots__ = ("_ended", "_held", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: list[bytes] | None = None
        self._ended = False  # write_eof was called: nothing more may be written

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        if self._held is None:
            self._held = [bytes(data)]
            self._loop.call_soon(self._flush)
        else:
            self._held.append(bytes(data))

    def writelines(self, lines: Any) -> None:
        for data in lines:
            self.write(data)

    def _flush(self) -> None:
        held, self._held = self._held, None
        if held and not self._transport.is_closing() and not self._ended:
            if len(held) == 1:
                self._transport.write(held[0])
            else:
                self._transport.writelines(held)

    def get_write_buffer_size(self) -> int:
        held = sum(len(data) for data in self._held) if self._held else 0
        return self._transport.get_write_buffer_size() + held

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def write_eof(self) -> None:
        self._flush()
        self._ended = True
        self._transport.write_eof()

    def abort(self) -> None:
        self._held = None
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:  # everything else is the transport's own
        return getattr(self._transport, name)


class OneWriteProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol on a transport that writes once per turn, within bounds."""

    def __init__(
        self,
        config: uvicorn.Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.limits = config.limits if isinstance(config, Config) else Limits()
        self.head = 0  # bytes of the request head received so far; -1 once it is complete
        self.parsed = 0  # of them, the bytes the parser has reported (URL and headers)
        self.lines = 0  # header lines the parser has reported
        self.head_timer: asyncio.TimerHandle | None = None
        self.refused = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        full = len(self.connections) >= self.limits.connections
        super().connection_made(_OneWrite(transport, self.loop))  # type: ignore[arg-type]
        if full:
            self.connections.discard(self)
            self.refuse(TOO_MANY_CONNECTIONS)
        else:
            self.head_timer = self.loop.call_later(self.limits.head_seconds, self.head_timed_out)

    def connection_lost(self, exc: Exception | None) -> None:
        self.stop_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        while not self.refused:
            if self.head < 0 or len(data) <= self.limits.head_bytes - self.head:
                if self.head >= 0:
                    self.head += len(data)
                    if self.head_timer is None:
                        self.head_timer = self.loop.call_later(
                            self.limits.head_seconds, self.head_timed_out
                        )
                super().data_received(data)
                return
            # the head must end within the bytes left for it: read those, then look
            room = self.limits.head_bytes - self.head
            self.head = self.limits.head_bytes
            super().data_received(data[:room])
            if self.refused or self.transport.is_closing():
                return
            if self.head == self.limits.head_bytes:  # not complete within head_bytes
                self.refuse(HEAD_TOO_LARGE)
                return
            data = data[room:]  # past the head: its body, or a request after it

    def refuse(self, answer: bytes) -> None:
        """Answer and end the connection; what the client goes on sending is dropped."""
        self.refused = True
        self.stop_head_timer()
        if self.cycle is not None and not self.cycle.response_complete:
            self.transport.close()  # a request before it is being answered: just close
            return
        self.transport.write(answer)
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(LINGER, self.transport.close)

    def send_400_response(self, msg: str) -> None:
        if not self.refused:  # a refused head stopped the parser: answered already
            super().send_400_response(msg)

    def head_timed_out(self) -> None:
        self.head_timer = None
        if self.transport.is_closing() or self.refused:
            return
        if self.head > 0:
            self.refuse(HEAD_TIMEOUT)
        else:  # nothing came: no request to answer
            self.refused = True
            self.transport.close()

    def stop_head_timer(self) -> None:
        if self.head_timer is not None:
            self.head_timer.cancel()
            self.head_timer = None

    # parser callbacks
    def on_message_begin(self) -> None:
        self.parsed = self.lines = 0
        super().on_message_begin()

    def on_url(self, url: bytes) -> None:
        self.parsed += len(url)
        self.check_head()
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self.parsed += len(name) + len(value) + 4  # ": " and the line end
        self.lines += 1
        self.check_head()
        super().on_header(name, value)

    def check_head(self) -> None:
        if self.parsed > self.limits.head_bytes or self.lines > self.limits.header_lines:
            self.refuse(HEAD_TOO_LARGE)
            raise HeadTooLarge

    def on_headers_complete(self) -> None:
        self.head = -1
        self.stop_head_timer()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self.head = 0  # what comes next is the next request's head
        super().on_message_complete()
