"""The failed-login limit per client address, on a clock the test moves."""

from __future__ import annotations

import threading

import pytest

from vicidid.auth.throttle import DEFAULT, Limit, LoginThrottle, parse_limit
from vicidid.web.settings import Settings


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_refused_after_the_limit_for_the_rest_of_the_window():
    clock = Clock()
    throttle = LoginThrottle(Limit(30, 60), clock)
    for _ in range(30):
        assert not throttle.refused("10.0.0.1")
        throttle.failed("10.0.0.1")
        clock.now += 1
    assert throttle.refused("10.0.0.1")
    assert not throttle.refused("10.0.0.2")  # other addresses are not affected
    clock.now = 1000.0 + 59.9
    assert throttle.refused("10.0.0.1")
    clock.now = 1000.0 + 60
    assert not throttle.refused("10.0.0.1")  # the window is over
    throttle.failed("10.0.0.1")
    assert not throttle.refused("10.0.0.1")  # a new window counts from one


def test_failures_spread_over_windows_are_never_refused():
    clock = Clock()
    throttle = LoginThrottle(Limit(3, 10), clock)
    for _ in range(20):
        throttle.failed("10.0.0.1")
        throttle.failed("10.0.0.1")
        assert not throttle.refused("10.0.0.1")
        clock.now += 10


def test_memory_is_bounded():
    clock = Clock()
    throttle = LoginThrottle(Limit(1, 60), clock, max_addresses=100)
    for n in range(1000):
        throttle.failed(f"10.0.{n // 256}.{n % 256}")
    assert len(throttle._windows) == 100
    assert throttle.refused("10.0.3.231")  # the newest are kept
    clock.now += 61
    throttle.failed("10.9.9.9")
    assert len(throttle._windows) == 1  # expired windows are dropped


def test_counts_hold_under_threads():
    throttle = LoginThrottle(Limit(1000, 60))

    def fail() -> None:
        for _ in range(500):
            throttle.failed("10.0.0.1")

    threads = [threading.Thread(target=fail) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert throttle._windows["10.0.0.1"][1] == 4000


@pytest.mark.parametrize("text", ["30", "30/", "/60", "a/b", "0/60", "30/0", "-1/60", "30/60/1"])
def test_bad_limits_are_refused_with_a_clear_message(text):
    with pytest.raises(ValueError, match="login throttle"):
        parse_limit(text)


def test_settings_from_the_environment():
    assert Settings.from_env({}).login_throttle == DEFAULT == Limit(30, 60)
    assert Settings.from_env({"VICIDID_LOGIN_THROTTLE": "5/10"}).login_throttle == Limit(5, 10)
    assert Settings.from_env({"VICIDID_LOGIN_THROTTLE": "off"}).login_throttle is None
