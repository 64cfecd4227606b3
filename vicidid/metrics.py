"""Prometheus metrics at /metrics: requests by function and outcome, latency, DIDs changed.

With several workers (`serve --workers N`) each process writes its samples to the
directory in PROMETHEUS_MULTIPROC_DIR, which `vicidid.server` creates, and /metrics adds
them up, whichever worker answers.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from vicidid.functions import FUNCTIONS
from vicidid.pipeline import Reply

KNOWN = set(FUNCTIONS) | {"version"}
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


def function_label(name: str) -> str:
    """A bounded label: a caller's made-up function names must not become label values."""
    if not name:
        return "none"
    return name if name in KNOWN else "unknown"


def observe(reply: Reply, seconds: float) -> None:
    function = function_label(reply.function)
    REQUESTS.labels(function, reply.outcomes[-1].kind.value).inc()
    SECONDS.labels(function).observe(seconds)
    if reply.dids:
        DIDS_CHANGED.labels(function).inc(len(reply.dids))


def exposition() -> bytes:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest()


async def metrics(request: Request) -> Response:
    return Response(exposition(), media_type=CONTENT_TYPE_LATEST)


def routes() -> list[Route]:
    return [Route("/metrics", metrics, methods=["GET"])]
