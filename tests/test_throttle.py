"""The failed-login limit per client address, on a clock the test moves."""

from __future__ import annotations

import threading

import pytest

from vicidid.auth.throttle import DEFAULT, Limit, LoginThrottle, address_key, parse_limit
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
        throttle.claim("10.0.0.1")
        clock.now += 1
    assert throttle.refused("10.0.0.1")
    assert not throttle.refused("10.0.0.2")  # other addresses are not affected
    clock.now = 1000.0 + 59.9
    assert throttle.refused("10.0.0.1")
    clock.now = 1000.0 + 60
    assert not throttle.refused("10.0.0.1")  # the window is over
    throttle.claim("10.0.0.1")
    assert not throttle.refused("10.0.0.1")  # a new window counts from one


def test_failures_spread_over_windows_are_never_refused():
    clock = Clock()
    throttle = LoginThrottle(Limit(3, 10), clock)
    for _ in range(20):
        throttle.claim("10.0.0.1")
        throttle.claim("10.0.0.1")
        assert not throttle.refused("10.0.0.1")
        clock.now += 10


def test_memory_is_bounded():
    clock = Clock()
    throttle = LoginThrottle(Limit(1, 60), clock, max_addresses=100)
    for n in range(1000):
        throttle.claim(f"10.0.{n // 256}.{n % 256}")
    assert len(throttle._windows) == 100
    assert throttle.refused("10.0.3.231")  # the newest are kept
    clock.now += 61
    throttle.claim("10.9.9.9")
    assert len(throttle._windows) == 1  # expired windows are dropped


def test_claims_under_threads_stop_exactly_at_the_limit():
    throttle = LoginThrottle(Limit(1000, 60))
    barrier = threading.Barrier(8)
    won: list[int] = []

    def claim() -> None:
        barrier.wait()
        won.append(sum(throttle.claim("10.0.0.1") is not None for _ in range(500)))

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(won) == 1000
    assert throttle.refused("10.0.0.1")


def test_a_claim_given_back_is_no_failure():
    clock = Clock()
    throttle = LoginThrottle(Limit(2, 60), clock)
    first = throttle.claim("10.0.0.1")
    assert first is not None and throttle.claim("10.0.0.1") is not None
    assert throttle.claim("10.0.0.1") is None  # two in flight: the third waits for them
    throttle.release("10.0.0.1", first)
    assert throttle.claim("10.0.0.1") is not None
    clock.now += 60
    throttle.release("10.0.0.1", first)  # its window is over: nothing to give back
    assert throttle.claim("10.0.0.1") is not None  # a new window


@pytest.mark.parametrize(
    ("ip", "key"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),
        ("2001:db8:1:3::1", "2001:db8:1:3::/64"),
        ("::ffff:198.51.100.9", "198.51.100.9"),
        ("not an address", "not an address"),
        ("x" * 80, "x" * 45),
    ],
)
def test_addresses_count_by_ipv4_address_or_ipv6_64(ip, key):
    assert address_key(ip) == key


@pytest.mark.parametrize("text", ["30", "30/", "/60", "a/b", "0/60", "30/0", "-1/60", "30/60/1"])
def test_bad_limits_are_refused_with_a_clear_message(text):
    with pytest.raises(ValueError, match="login throttle"):
        parse_limit(text)


def test_settings_from_the_environment():
    assert Settings.from_env({}).login_throttle == DEFAULT == Limit(30, 60)
    assert Settings.from_env({"VICIDID_LOGIN_THROTTLE": "5/10"}).login_throttle == Limit(5, 10)
    assert Settings.from_env({"VICIDID_LOGIN_THROTTLE": "off"}).login_throttle is None
