"""Draining (web/drain.py): when a draining server may stop, decided without a server; and
`vicidid serve` draining on SIGTERM, with one worker and with several."""

from __future__ import annotations

import contextlib
import signal
import threading
import time

import httpx
import pytest

from bench.cluster import Server, free_port
from vicidid import API_PATH
from vicidid.store.db import make_engine
from vicidid.store.schema import init_db
from vicidid.web.drain import LAST_SECONDS, QUIET, done
from vicidid.web.settings import Settings


def test_it_goes_on_while_requests_arrive_or_run():
    assert done(now=10.0, since=9.0, last_request=9.5, in_flight=0, grace=30) is None
    assert done(now=20.0, since=9.0, last_request=10.0, in_flight=1, grace=30) is None


def test_it_stops_when_quiet_with_what_is_left_of_the_grace_period():
    assert done(now=10.0 + QUIET, since=9.0, last_request=10.0, in_flight=0, grace=30) == (
        pytest.approx(30 - 1 - QUIET)
    )


def test_the_grace_period_bounds_it_even_under_load():
    assert done(now=40.0, since=9.0, last_request=39.9, in_flight=5, grace=30) == LAST_SECONDS


def test_a_negative_grace_period_is_refused():
    with pytest.raises(ValueError, match="drain grace"):
        Settings(drain_grace=-1)
    assert Settings.from_env({"VICIDID_DRAIN_GRACE": "5"}).drain_grace == 5.0


@pytest.mark.parametrize("workers", [1, 2])
def test_a_server_drains_on_sigterm_then_exits(tmp_path, workers):
    url = f"sqlite:///{tmp_path / 'drain.db'}"
    args = ["--workers", str(workers), "--drain-grace", "20"]
    served = Server("drain", free_port(), url, tmp_path / "serve.log", args)
    engine = make_engine(url)
    init_db(engine)
    engine.dispose()
    served.start()
    try:
        served.signal(signal.SIGTERM)
        time.sleep(0.5)
        health = httpx.get(f"{served.url}/healthz", timeout=5)
        assert (health.status_code, health.text) == (503, "DRAINING\n")
        version = httpx.get(f"{served.url}{API_PATH}?function=version", timeout=5)
        assert version.text.startswith("VERSION")  # still answered while draining
        started = time.monotonic()
        served.wait(20)
        assert time.monotonic() - started < 2 * QUIET + 3  # quiet, long before the grace
    finally:
        served.stop()


@pytest.mark.parametrize("workers", [1, 2])
def test_a_second_sigterm_skips_the_drain(tmp_path, workers):
    """Requests keep arriving, so the drain alone would last the whole grace period (60 s);
    a second SIGTERM (passed on to each worker by the supervising process) ends it."""
    url = f"sqlite:///{tmp_path / 'drain.db'}"
    args = ["--workers", str(workers), "--drain-grace", "60"]
    served = Server("drain", free_port(), url, tmp_path / "serve.log", args)
    engine = make_engine(url)
    init_db(engine)
    engine.dispose()
    served.start()
    stop = threading.Event()

    def keep_asking() -> None:
        with httpx.Client(timeout=2) as client:
            while not stop.is_set():
                with contextlib.suppress(httpx.HTTPError):
                    client.get(f"{served.url}{API_PATH}?function=version")
                time.sleep(0.2)

    asking = threading.Thread(target=keep_asking)
    asking.start()
    try:
        served.signal(signal.SIGTERM)
        time.sleep(QUIET + 1)  # longer than a quiet drain would take
        health = httpx.get(f"{served.url}/healthz", timeout=5)
        assert (health.status_code, health.text) == (503, "DRAINING\n")
        served.signal(signal.SIGTERM)
        served.wait(20)  # well before the 60 s grace period
    finally:
        stop.set()
        asking.join()
        served.stop()
