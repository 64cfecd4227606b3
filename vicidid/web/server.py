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

import uvicorn
from starlette.applications import Starlette
from uvicorn.supervisors import Multiprocess

from vicidid.errors import VicididError
from vicidid.web import access_log, metrics
from vicidid.web.app import create_app
from vicidid.web.protocol import OneWriteProtocol
from vicidid.web.settings import Settings


def app_from_env() -> Starlette:
    """The factory each uvicorn worker calls; settings travel in the environment."""
    access_log.configure(os.environ.get("VICIDID_LOG_FORMAT", "text"))
    return create_app(Settings.from_env())


class PortTaken(VicididError):
    """The address cannot be listened on; the message says why, in one line."""


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port, or PortTaken.

    vicidid binds before it starts uvicorn, so that "serving" is printed only once the
    port is really ours, and a taken port is one clear line rather than a log record.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as error:
        sock.close()
        reason = (
            "is in use" if error.errno == errno.EADDRINUSE else f"cannot be used ({error.strerror})"
        )
        raise PortTaken(
            f"port {port} on {host} {reason}: stop what listens there, or pick another "
            "port with --port"
        ) from error
    sock.set_inheritable(True)  # the worker processes serve on it too
    return sock


def run(
    settings: Settings,
    host: str,
    port: int,
    workers: int,
    ssl_certfile: str | None = None,
    ssl_keyfile: str | None = None,
    log_format: str = "text",
    on_bound: Callable[[], None] = lambda: None,
) -> None:
    os.environ["VICIDID_LOG_FORMAT"] = log_format
    if workers > 1:
        # each worker writes its metrics here; /metrics adds them up
        metrics_dir = tempfile.mkdtemp(prefix="vicidid-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
        atexit.register(shutil.rmtree, metrics_dir, True)
    os.environ["VICIDID_DB"] = settings.db_url
    os.environ["VICIDID_DIALECT"] = settings.dialect
    os.environ["VICIDID_TRUSTED_PROXY"] = " ".join(settings.trusted_proxies)
    os.environ["VICIDID_METRICS_TOKEN"] = settings.metrics_token
    os.environ["VICIDID_METRICS_HOST"] = settings.metrics_host
    if settings.metrics_host:
        # one listener, in this process: with several workers it adds up all of them
        try:
            metrics.listen(settings.metrics_host, settings.metrics_port, settings.metrics_token)
        except OSError as error:
            where = f"{settings.metrics_host}:{settings.metrics_port}"
            raise SystemExit(f"Error: cannot serve /metrics at {where}: {error.strerror}") from None
    os.environ["VICIDID_FALLBACK_URL"] = settings.fallback_url
    os.environ["VICIDID_FALLBACK_TIMEOUT"] = str(settings.fallback_timeout)
    os.environ["VICIDID_LOGIN_THROTTLE"] = str(settings.login_throttle or "off")
    sock = bind(host, port)
    on_bound()
    config = uvicorn.Config(
        "vicidid.web.server:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,  # uvicorn's would print the query string, password included
        log_level="info",
        ssl_certfile=ssl_certfile,
        ssl_keyfile=ssl_keyfile,
        server_header=False,
        http=OneWriteProtocol,  # a response's head and body in one write
        # X-Forwarded-For is believed only from --trusted-proxy, which the app checks itself;
        # uvicorn's own handling would trust any local peer.
        proxy_headers=False,
    )
    server = uvicorn.Server(config)
    try:
        if workers > 1:
            _supervise(config, server, sock)
        else:
            server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    if workers == 1 and not server.started:
        sys.exit(3)  # the app could not start; uvicorn has logged why (its own exit code)


def _supervise(config: uvicorn.Config, server: uvicorn.Server, sock: socket.socket) -> None:
    """Worker processes sharing the socket (uvicorn's supervisor; its signature changed)."""
    if "target" in inspect.signature(Multiprocess).parameters:
        Multiprocess(config, target=server.run, sockets=[sock]).run()  # type: ignore[call-arg]
    else:
        Multiprocess(config, sockets=[sock]).run()
