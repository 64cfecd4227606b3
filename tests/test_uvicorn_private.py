"""web/protocol.py subclasses uvicorn's HttpToolsProtocol, and web/drain.py its Server's
undocumented hooks, neither uvicorn's public API: pyproject.toml pins uvicorn to the tested
minor release, and these tests fail loudly, naming what moved, when a release changes what
they rely on."""

from __future__ import annotations

import asyncio
import inspect
import socket

import pytest
import uvicorn
from uvicorn.protocols.http import httptools_impl
from uvicorn.server import ServerState

from vicidid.web.protocol import Config, OneWriteProtocol

CHANGED = "uvicorn's private HttpToolsProtocol changed ({}): web/protocol.py needs a look"

# each method the subclass overrides or calls, with the parameters it passes
METHODS = {
    "__init__": ["self", "config", "server_state", "app_state", "_loop"],
    "connection_made": ["self", "transport"],
    "connection_lost": ["self", "exc"],
    "data_received": ["self", "data"],
    "send_400_response": ["self", "msg"],
    "on_message_begin": ["self"],
    "on_url": ["self", "url"],
    "on_header": ["self", "name", "value"],
    "on_headers_complete": ["self"],
    "on_message_complete": ["self"],
}


def test_the_methods_the_protocol_overrides_are_there_as_it_calls_them():
    base = getattr(httptools_impl, "HttpToolsProtocol", None)
    assert base is not None, CHANGED.format("the class is gone")
    for name, expected in METHODS.items():
        method = getattr(base, name, None)
        assert callable(method), CHANGED.format(f"{name} is gone")
        found = list(inspect.signature(method).parameters)
        assert found == expected, CHANGED.format(f"{name}{tuple(found)}")


def test_the_pinned_release_is_the_one_installed():
    major, minor = (int(part) for part in uvicorn.__version__.split(".")[:2])
    assert (major, minor) == (0, 55), CHANGED.format(f"uvicorn {uvicorn.__version__} is not 0.55")


class App:
    async def __call__(self, scope, receive, send):
        headers = [(b"content-length", b"2")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"ok"})


@pytest.mark.parametrize("split", [False, True])
def test_the_attributes_the_protocol_reads_are_kept(split):
    """A request served on a socket pair: the protocol's state is where the subclass reads it
    (the set of open connections, the loop, the transport, the cycle and its completion)."""

    async def serve() -> bytes:
        config = Config(App(), http=OneWriteProtocol, log_level="warning")
        config.load()
        state = ServerState()
        ours, theirs = socket.socketpair()
        loop = asyncio.get_running_loop()
        protocol = OneWriteProtocol(config, state, {}, loop)
        transport, _ = await loop.connect_accepted_socket(lambda: protocol, ours)
        assert protocol in state.connections, CHANGED.format("connections")
        assert protocol.connections is state.connections, CHANGED.format("connections")
        assert protocol.loop is loop, CHANGED.format("loop")
        assert protocol.transport is not None, CHANGED.format("transport")
        head = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
        theirs.setblocking(False)
        for part in (head[:10], head[10:]) if split else (head,):
            await loop.sock_sendall(theirs, part)
            await asyncio.sleep(0.05)
        answer = b""
        while not answer.endswith(b"ok"):
            part = await asyncio.wait_for(loop.sock_recv(theirs, 4096), 5)
            assert part, f"the connection closed after {answer!r}"
            answer += part
        assert protocol.cycle is not None, CHANGED.format("cycle")
        assert protocol.cycle.response_complete is True, CHANGED.format("response_complete")
        assert protocol.head == 0 and protocol.lines == 1  # the parser's callbacks ran
        transport.close()
        theirs.close()
        return answer

    answer = asyncio.run(serve())
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n")


def test_what_the_draining_server_relies_on_is_there():
    """web/drain.py's DrainingServer overrides uvicorn.Server's handle_exit and on_tick,
    appends to its `_captured_signals` (so uvicorn re-raises the signal on exit, as for a
    signal it handled itself) and reads its server_state; DrainingProcess (where a socket
    per worker is not possible) replaces uvicorn's worker Process, whose `server` property
    makes the server once into `_server`."""
    from uvicorn.supervisors import multiprocess

    assert list(inspect.signature(uvicorn.Server.handle_exit).parameters) == [
        "self",
        "sig",
        "frame",
    ], CHANGED.format("Server.handle_exit")
    assert list(inspect.signature(uvicorn.Server.on_tick).parameters) == ["self", "counter"], (
        CHANGED.format("Server.on_tick")
    )
    assert inspect.iscoroutinefunction(uvicorn.Server.on_tick), CHANGED.format("on_tick")
    server = uvicorn.Server(uvicorn.Config(App()))
    assert isinstance(server._captured_signals, list), CHANGED.format("_captured_signals")
    state = server.server_state
    assert isinstance(state.total_requests, int), CHANGED.format("total_requests")
    assert isinstance(state.tasks, set), CHANGED.format("server_state.tasks")
    assert isinstance(getattr(multiprocess.Process, "server", None), property), CHANGED.format(
        "multiprocess.Process.server"
    )
    assert "self._server" in inspect.getsource(multiprocess.Process), CHANGED.format(
        "multiprocess.Process._server"
    )
