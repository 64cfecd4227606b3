"""Running the app under uvicorn, in one process or several."""

from __future__ import annotations

import atexit
import errno
import inspect
import os
import shutil
import socket
import sys
import tempfile
from collections.abc import Callable
from typing import Any

import uvicorn
from starlette.applications import Starlette
from uvicorn.supervisors import Multiprocess

from vicidid.errors import PortTaken
from vicidid.web import access_log, drain, metrics
from vicidid.web import workers as worker_sockets
from vicidid.web.app import create_app
from vicidid.web.protocol import Config, OneWriteProtocol
from vicidid.web.settings import HANDED_OVER, Settings


def app_from_env() -> Starlette:
    """The factory each uvicorn worker calls: the settings `run` handed over whole, else
    those of the environment's variables."""
    handed = os.environ.get(HANDED_OVER)
    settings = Settings.loads(handed) if handed else Settings.from_env()
    access_log.configure(settings.log_format, settings.access_log_queue)
    return create_app(settings)


def bind(host: str, port: int, count: int = 1) -> list[socket.socket]:
    """`count` listening sockets on host:port, or PortTaken.

    vicidid binds before it starts uvicorn, so that "serving" is printed only once the
    port is really ours, and a taken port is one clear line rather than a log record. With
    several workers and `SO_REUSEPORT`, each worker gets a socket of its own on the same
    address (web/workers.py); the address is first bound without it, so that a port
    another server listens on is refused even if that server allows sharing it.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        if count == 1:
            sock.listen(2048)
            sock.set_inheritable(True)
            return [sock]
        port = sock.getsockname()[1]
        sock.close()
        sockets: list[socket.socket] = []
        try:
            for _ in range(count):
                sockets.append(worker_sockets.listening(family, (host, port)))
        except OSError:
            for each in sockets:
                each.close()
            raise
        return sockets
    except OSError as error:
        sock.close()
        reason = (
            "is in use" if error.errno == errno.EADDRINUSE else f"cannot be used ({error.strerror})"
        )
        raise PortTaken(
            f"port {port} on {host} {reason}: stop what listens there, or pick another "
            "port with --port"
        ) from error


def run(
    settings: Settings,
    host: str,
    port: int,
    workers: int,
    ssl_certfile: str | None = None,
    ssl_keyfile: str | None = None,
    on_bound: Callable[[], None] = lambda: None,
) -> None:
    # bound first: a taken port changes nothing in this process
    own_sockets = workers > 1 and worker_sockets.reuse_port()
    sockets = bind(host, port, workers if own_sockets else 1)
    os.environ[HANDED_OVER] = settings.dumps()  # to the workers, whole
    if workers > 1:
        # each worker writes its metrics here; /metrics adds them up
        metrics_dir = tempfile.mkdtemp(prefix="vicidid-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
        atexit.register(shutil.rmtree, metrics_dir, True)
    if settings.metrics_host:
        # one listener, in this process: with several workers it adds up all of them
        try:
            metrics.listen(settings.metrics_host, settings.metrics_port, settings.metrics_token)
        except OSError as error:
            for sock in sockets:
                sock.close()
            where = f"{settings.metrics_host}:{settings.metrics_port}"
            raise SystemExit(f"Error: cannot serve /metrics at {where}: {error.strerror}") from None
    on_bound()
    config = uvicorn_config(
        "vicidid.web.server:app_from_env",
        settings,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        ssl_certfile=ssl_certfile,
        ssl_keyfile=ssl_keyfile,
    )
    server = drain.DrainingServer(config, settings.drain_grace)
    try:
        if own_sockets:
            code = worker_sockets.Supervisor(config, sockets, settings.drain_grace).run()
            if code:
                sys.exit(code)  # a worker's app could not start; uvicorn has logged why
            return
        if workers > 1:
            _supervise(config, server, sockets[0])
        else:
            server.run(sockets=sockets)
    except KeyboardInterrupt:
        pass
    if workers == 1 and not server.started:
        sys.exit(worker_sockets.STARTUP_FAILED)  # the app could not start; uvicorn logged why


def uvicorn_config(app: Any, settings: Settings, **kwargs: Any) -> Config:
    """uvicorn's Config as vicidid serves: its protocol, within the settings' bounds."""
    return Config(
        app,
        limits=settings.limits(),
        timeout_keep_alive=settings.keep_alive_timeout,
        http=OneWriteProtocol,  # a response's head and body in one write; the bounds
        access_log=False,  # uvicorn's would print the query string, password included
        server_header=False,
        # X-Forwarded-For is believed only from --trusted-proxy, which the app checks itself;
        # uvicorn's own handling would trust any local peer.
        proxy_headers=False,
        **kwargs,
    )


def raise_file_limit(connections: int) -> str:
    """Let this process (and the workers it starts) open `connections` sockets and its own
    files: its soft limit on open files raised as far as the hard one allows. A warning to
    print when even that is too few, else ""."""
    try:
        import resource
    except ImportError:  # Windows: no such limit
        return ""
    needed = connections + FILES_BESIDES_CONNECTIONS
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return ""
    reachable = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    if reachable > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (reachable, hard))
    if reachable < needed:
        return (
            f"each worker may open {reachable} files, fewer than the {needed} that "
            f"--max-connections {connections} needs: raise the limit (LimitNOFILE= in the "
            "systemd unit, ulimit -n) or lower --max-connections"
        )
    return ""


# database connections (the pool and its overflow), the fallback's, the listening socket,
# the event loop's, logs and libraries
FILES_BESIDES_CONNECTIONS = 128


def _supervise(config: uvicorn.Config, server: uvicorn.Server, sock: socket.socket) -> None:
    """Worker processes sharing one socket, where a socket per worker is not possible
    (uvicorn's supervisor; its signature changed)."""
    if "target" in inspect.signature(Multiprocess).parameters:
        Multiprocess(config, target=server.run, sockets=[sock]).run()  # type: ignore[call-arg]
    else:
        with drain.draining_workers():
            Multiprocess(config, sockets=[sock]).run()
