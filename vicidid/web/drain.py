"""Draining on SIGTERM: keep serving until the load balancer has stopped sending, then exit.

uvicorn alone, on SIGTERM, closes its listening socket at once. A balancer that has just
picked this server may then have its connection accepted by the kernel and reset before
an answer: a request sent and never answered, which a balancer must not pass on (it may
have run). So a draining server instead answers `/healthz` with 503 "DRAINING" (the
balancer marks it down within one check), goes on answering whatever still arrives, and
only then shuts down as uvicorn does: once no request is in flight and none (health
checks aside) has arrived for QUIET seconds, or at the latest after the grace period
(`--drain-grace`); the requests still running then get what is left of it.

A second SIGTERM, or SIGINT, skips the drain: the server stops as uvicorn does (its port
closed, the requests running finished).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from types import FrameType

import uvicorn
from uvicorn.supervisors import multiprocess

from vicidid.web.settings import HANDED_OVER, Settings

# seconds without a new request before a draining server stops: longer than a balancer's
# health-check interval (docs/haproxy.cfg checks every 500 ms)
QUIET = 2.0
# seconds a request still running at the end of the grace period is given at least
LAST_SECONDS = 1.0


@dataclass
class Drain:
    """The drain of one worker process; /healthz reads `draining`."""

    draining: bool = False
    since: float = 0.0
    health_checks: int = 0  # /healthz requests, which do not keep a draining server up

    def begin(self, now: float) -> None:
        self.draining = True
        self.since = now


# one per worker process: the server sets it, /healthz reads it
STATE = Drain()


def done(
    now: float, since: float, last_request: float, in_flight: int, grace: float
) -> float | None:
    """Whether a draining server may stop now: None to go on, else the seconds its requests
    still in flight may take (what is left of the grace period, at least LAST_SECONDS)."""
    left = grace - (now - since)
    if left <= 0:
        return LAST_SECONDS
    if in_flight == 0 and now - last_request >= QUIET:
        return max(left, LAST_SECONDS)
    return None


class DrainingServer(uvicorn.Server):
    """uvicorn's server, which drains on its first SIGTERM (see the module's comment)."""

    def __init__(self, config: uvicorn.Config, grace: float) -> None:
        super().__init__(config)
        self.grace = grace
        self._requests = 0
        self._last_request = 0.0

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if sig == signal.SIGTERM and self.grace > 0 and not STATE.draining:
            self._captured_signals.append(sig)
            now = time.monotonic()
            STATE.begin(now)
            self._last_request = now
            self._requests = self._api_requests()
            return
        super().handle_exit(sig, frame)

    def _api_requests(self) -> int:
        return self.server_state.total_requests - STATE.health_checks

    async def on_tick(self, counter: int) -> bool:
        if STATE.draining and not self.should_exit:
            now = time.monotonic()
            requests = self._api_requests()
            if requests != self._requests:
                self._requests, self._last_request = requests, now
            in_flight = len(self.server_state.tasks)
            left = done(now, STATE.since, self._last_request, in_flight, self.grace)
            if left is not None:
                self.config.timeout_graceful_shutdown = max(1, round(left))
                self.should_exit = True
        return await super().on_tick(counter)


class DrainingProcess(multiprocess.Process):
    """A worker process of uvicorn's supervisor whose server drains (`--workers` above 1);
    its grace period comes from the settings web/server.py hands over."""

    @property
    def server(self) -> uvicorn.Server:
        if self._server is None:
            handed = os.environ.get(HANDED_OVER)
            settings = Settings.loads(handed) if handed else Settings.from_env()
            self._server = DrainingServer(self.config, settings.drain_grace)
        return self._server


@contextlib.contextmanager
def draining_workers() -> Iterator[None]:
    """While the supervisor runs, the worker processes it starts are DrainingProcess ones
    (uvicorn's supervisor makes each worker's server itself, from its Process class)."""
    plain = multiprocess.Process
    multiprocess.Process = DrainingProcess  # type: ignore[misc]
    try:
        yield
    finally:
        multiprocess.Process = plain  # type: ignore[misc]
