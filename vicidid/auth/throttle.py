"""A limit on failing logins per client address, so that password guessing cannot burn CPU.

After `limit` failed logins from one address within a window of `seconds` (counted from
its first failure), every further login attempt from that address is refused until the
window ends, before anything is read from the database or hashed. The counts live in
the process: each worker keeps its own.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Limit:
    failures: int
    seconds: int

    def __str__(self) -> str:
        return f"{self.failures}/{self.seconds}"


DEFAULT = Limit(30, 60)


def parse_limit(text: str) -> Limit:
    """`FAILURES/SECONDS`, e.g. `30/60`; a ValueError that says what is wrong otherwise."""
    failures, sep, seconds = text.strip().partition("/")
    if not (sep and failures.isdigit() and seconds.isdigit()):
        raise ValueError(f"login throttle {text!r} must look like 30/60 (failures/seconds)")
    limit = Limit(int(failures), int(seconds))
    if not (1 <= limit.failures <= 1_000_000 and 1 <= limit.seconds <= 86_400):
        raise ValueError(
            f"login throttle {text!r}: failures must be 1 to 1000000, seconds 1 to 86400"
        )
    return limit


class LoginThrottle:
    """Failed logins per address in fixed windows; thread-safe."""

    def __init__(
        self,
        limit: Limit,
        clock: Callable[[], float] = time.monotonic,
        max_addresses: int = 100_000,
    ) -> None:
        self.limit = limit
        self._clock = clock
        self._max = max_addresses
        # address -> [window start, failures]; kept in order of window start, so that
        # expired windows are always at the front
        self._windows: OrderedDict[str, list[float]] = OrderedDict()
        self._lock = threading.Lock()

    def refused(self, ip: str) -> bool:
        """Whether a login attempt from this address is refused without a check."""
        now = self._clock()
        with self._lock:
            window = self._windows.get(ip)
            return (
                window is not None
                and now - window[0] < self.limit.seconds
                and window[1] >= self.limit.failures
            )

    def failed(self, ip: str) -> None:
        """Count a failed login from this address."""
        now = self._clock()
        with self._lock:
            window = self._windows.get(ip)
            if window is not None and now - window[0] < self.limit.seconds:
                window[1] += 1
                return
            self._windows[ip] = [now, 1]
            self._windows.move_to_end(ip)
            self._forget_expired(now)

    def _forget_expired(self, now: float) -> None:
        windows = self._windows
        while windows:
            start = next(iter(windows.values()))[0]
            if now - start < self.limit.seconds and len(windows) <= self._max:
                break
            windows.popitem(last=False)  # expired, or the oldest of too many addresses
