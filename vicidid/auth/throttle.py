"""A limit on failing logins per client address, so that password guessing cannot burn CPU.

After `limit` failed logins from one address within a window of `seconds` (counted from
its first failure), every further login attempt from that address is refused until the
window ends, before its password is checked. An attempt whose password cannot be known
right at once is claimed — counted as a failure — before it is checked, and given back
when it turns out right: guesses that arrive together count as if they came one by one.

The counts live in the database (store/statements/throttle.py), shared by every worker and server on
it; `LoginThrottle` here keeps them in the process instead, for a database that does not
have the table yet. IPv6 addresses count by their /64, which one client usually holds whole.
"""

from __future__ import annotations

import functools
import ipaddress
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

ADDRESS_LENGTH = 45  # the widest key: an IPv6 address's text


@dataclass(frozen=True)
class Limit:
    failures: int
    seconds: int

    def __str__(self) -> str:
        return f"{self.failures}/{self.seconds}"

    def live(self, window_start: float | None, now: float) -> bool:
        """Whether a window that started then still runs."""
        return window_start is not None and now - window_start < self.seconds

    def reached(self, failures: int | None, window_start: float | None, now: float) -> bool:
        """Whether an address with this window is refused without a check."""
        return self.live(window_start, now) and (failures or 0) >= self.failures


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


@functools.lru_cache(maxsize=4096)  # a pure function of its text, asked on every login
def address_key(ip: str) -> str:
    """What the throttle counts by: an IPv4 address, or an IPv6 address's /64.

    An IPv4 address mapped into IPv6 counts as itself; text that is no address (a peer
    behind a Unix socket) counts as it is, cut to the column's size.
    """
    try:
        address = ipaddress.ip_address(ip.strip())
    except ValueError:
        return ip[:ADDRESS_LENGTH]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


class LoginThrottle:
    """Failed logins per address in fixed windows, in this process only; thread-safe.

    Used where the database has no throttle table: each worker then counts on its own.
    At most `max_addresses` windows are kept; past that, the oldest are forgotten.
    """

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

    def refused(self, key: str) -> bool:
        """Whether a login attempt from this address is refused without a check."""
        now = self._clock()
        with self._lock:
            window = self._windows.get(key)
            return window is not None and self.limit.reached(int(window[1]), window[0], now)

    def claim(self, key: str) -> float | None:
        """Count an attempt as a failure before it is checked; None when over the limit.

        Returns the claim's window start, which `release` takes back."""
        now = self._clock()
        with self._lock:
            window = self._windows.get(key)
            if window is not None and self.limit.live(window[0], now):
                if window[1] >= self.limit.failures:
                    return None
                window[1] += 1
                return window[0]
            self._windows[key] = [now, 1]
            self._windows.move_to_end(key)
            self._forget_expired(now)
            return now

    def release(self, key: str, window_start: float) -> None:
        """An attempt claimed in this window turned out right: it is no failure."""
        with self._lock:
            window = self._windows.get(key)
            if window is not None and window[0] == window_start and window[1] > 0:
                window[1] -= 1

    def _forget_expired(self, now: float) -> None:
        windows = self._windows
        while windows:
            start = next(iter(windows.values()))[0]
            if now - start < self.limit.seconds and len(windows) <= self._max:
                break
            windows.popitem(last=False)  # expired, or the oldest of too many addresses
