"""Prometheus metrics at /metrics: requests by function and outcome, latency, DIDs changed.

Who may read them: with a token (`--metrics-token`), whoever sends it as a bearer token;
without one, only clients on the loopback address that did not come through a proxy. With
`--metrics-host`, /metrics is served on a listener of its own (in the parent process, so
one listener adds up every worker) and the API port answers 404 for it.

With several workers (`serve --workers N`) each process writes its samples to the
directory in PROMETHEUS_MULTIPROC_DIR, which `vicidid.web.server` creates, and /metrics adds
them up, whichever worker answers.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import socket
import threading
from collections.abc import Mapping
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from vicidid.core.functions import FUNCTIONS
from vicidid.core.pipeline import Reply
from vicidid.web.settings import Settings

KNOWN = set(FUNCTIONS)
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

REQUESTS = Counter(
    "vicidid_requests", "API requests by function and outcome", ["function", "result"]
)
SECONDS = Histogram(
    "vicidid_request_seconds", "Time to answer an API request", ["function"], buckets=BUCKETS
)
DIDS_CHANGED = Counter(
    "vicidid_dids_changed", "DIDs updated, added, copied or deleted", ["function"]
)
READS = Counter(
    "vicidid_reads",
    "did_info and did_list reads with --read-url, by where they were read: replica, or "
    "primary when the replica was down or too far behind",
    ["read_from"],
)
ACCESS_LOG_DROPPED = Counter(
    "vicidid_access_log_dropped", "Access-log lines dropped: too many were waiting to be written"
)


def function_label(name: str) -> str:
    """A bounded label: a caller's made-up function names must not become label values."""
    if not name:
        return "none"
    return name if name in KNOWN else "unknown"


# Each (function, result)'s samples, looked up once: `labels()` validates and locks on
# every call. Both labels are bounded (function_label, Kind), and so is this.
_samples: dict[tuple[str, str], tuple[Any, Any]] = {}
_changed: dict[str, Any] = {}


def observe(reply: Reply, seconds: float) -> None:
    function = function_label(reply.function)
    result = reply.outcomes[-1].kind.value
    samples = _samples.get((function, result))
    if samples is None:
        samples = _samples[function, result] = (
            REQUESTS.labels(function, result),
            SECONDS.labels(function),
        )
    samples[0].inc()
    samples[1].observe(seconds)
    if reply.read_from:
        READS.labels(reply.read_from).inc()
    if reply.dids:  # a function has a DIDs-changed sample once it changed a DID
        changed = _changed.get(function)
        if changed is None:
            changed = _changed[function] = DIDS_CHANGED.labels(function)
        changed.inc(len(reply.dids))


def exposition() -> bytes:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]  # unannotated upstream
        return generate_latest(registry)
    return generate_latest()


FORWARDING_HEADERS = ("x-forwarded-for", "forwarded", "x-real-ip")
NEEDS_TOKEN = "UNAUTHORIZED: /metrics needs its bearer token\n"
LOCAL_ONLY = (
    "FORBIDDEN: /metrics answers local clients only; "
    "start vicidid with --metrics-token to read it from elsewhere\n"
)


def is_loopback(peer: str | None) -> bool:
    try:
        address = ipaddress.ip_address(peer or "")
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return (mapped or address).is_loopback


def refusal(peer: str | None, headers: Mapping[str, str], token: str) -> tuple[int, str] | None:
    """Why this client may not read /metrics (status, line), or None when it may.

    `headers` are the request's, with lower-case names.
    """
    if token:
        scheme, _, given = headers.get("authorization", "").partition(" ")
        # compared in constant time: the answer's timing tells nothing about the token
        if scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode(), token.encode()
        ):
            return None
        return 401, NEEDS_TOKEN
    # a request a proxy passed on comes from the proxy's loopback address, not the client's
    if not is_loopback(peer) or any(h in headers for h in FORWARDING_HEADERS):
        return 403, LOCAL_ONLY
    return None


def _challenge(status: int) -> dict[str, str]:
    return {"www-authenticate": 'Bearer realm="metrics"'} if status == 401 else {}


def routes(settings: Settings) -> list[Route]:
    if settings.metrics_host:
        return []  # served on a listener of its own: 404 here

    async def metrics(request: Request) -> Response:
        peer = request.client.host if request.client else None
        refused = refusal(peer, request.headers, settings.metrics_token)
        if refused:
            status, line = refused
            return PlainTextResponse(line, status_code=status, headers=_challenge(status))
        return Response(exposition(), media_type=CONTENT_TYPE_LATEST)

    return [Route("/metrics", metrics, methods=["GET"])]


# The listener of its own --------------------------------------------------------------


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # no line per scrape on stderr
        pass


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Server6(_Server):
    address_family = socket.AF_INET6


def wsgi_app(token: str) -> WSGIApplication:
    def app(environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        headers = {
            k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")
        }
        if environ.get("PATH_INFO") != "/metrics" or environ.get("REQUEST_METHOD") != "GET":
            status, body, extra = 404, b"Not Found", []
        elif refused := refusal(environ.get("REMOTE_ADDR"), headers, token):
            status, body = refused[0], refused[1].encode()
            extra = list(_challenge(status).items())
        else:
            body = exposition()
            start_response("200 OK", [("Content-Type", CONTENT_TYPE_LATEST)])
            return [body]
        reason = {401: "Unauthorized", 403: "Forbidden", 404: "Not Found"}[status]
        start_response(
            f"{status} {reason}", [("Content-Type", "text/plain; charset=utf-8"), *extra]
        )
        return [body]

    return app


def listen(host: str, port: int, token: str) -> WSGIServer:
    """Serve /metrics on host:port from a thread of this process (an OSError if it cannot)."""
    server_class = _Server6 if ":" in host else _Server
    server = make_server(host, port, wsgi_app(token), server_class, handler_class=_Quiet)
    threading.Thread(target=server.serve_forever, name="vicidid-metrics", daemon=True).start()
    return server
