"""How many password hashes may wait, per address, per account and in all.

A bcrypt check costs milliseconds of CPU. A flood of wrong passwords must neither queue
without end nor make a rightful user wait behind it: an address or an account with a few
checks waiting already is refused at once (nothing hashed, the throttle's answer), and
past the limit for its lane in the whole process every new check is refused as busy
(HTTP 503).

Two lanes, each with its own limit, the first served first (web/hashers.py): a returning
user — an account with no failed login counted, logging in from the address it last
logged in from — and everyone else. A flood from other addresses fills only the second
lane, and cannot tell user names apart by it: a name nobody has goes where a real
account logging in from elsewhere goes.

The same password for the same account, sent many times at once (a script's burst on its
first login), is hashed once: the others wait for that check (`Follow`) and then, its
answer remembered, need no hash of their own.
"""

from __future__ import annotations

import enum
import threading
from collections import Counter
from collections.abc import Hashable
from concurrent.futures import Future
from dataclasses import dataclass, field

PER_ADDRESS = 4
PER_ACCOUNT = 4
IN_ALL = 64


class Lane(enum.IntEnum):
    RETURNING = 0  # no failed login counted, from the account's last address: served first
    OTHERS = 1


class Full(enum.Enum):
    ADDRESS = "address"  # this address, or this account, has enough checks waiting
    ACCOUNT = "account"
    IN_ALL = "in_all"  # the lane is full


@dataclass(frozen=True)
class Ticket:
    """A reserved place in the queue; give it back when the hash is done."""

    address: str
    account: str
    lane: Lane
    same: Hashable = None  # what makes two checks the same check
    done: Future[None] = field(default_factory=Future, compare=False, repr=False)


@dataclass(frozen=True)
class Follow:
    """The same check is under way: wait for it, then look again."""

    done: Future[None] = field(compare=False, repr=False)


class HashSlots:
    """Places for waiting hashes; thread-safe."""

    def __init__(
        self, per_address: int = PER_ADDRESS, per_account: int = PER_ACCOUNT, in_all: int = IN_ALL
    ) -> None:
        self.per_address, self.per_account, self.in_all = per_address, per_account, in_all
        self._addresses: Counter[str] = Counter()
        self._accounts: Counter[str] = Counter()
        self._waiting = [0 for _ in Lane]
        self._checking: dict[Hashable, Ticket] = {}
        self._lock = threading.Lock()

    def reserve(
        self, address: str, account: str, lane: Lane, same: Hashable = None
    ) -> Ticket | Follow | Full:
        """A place in the lane, or the same check to wait for (`same`), or what is full."""
        with self._lock:
            if same is not None and same in self._checking:
                return Follow(self._checking[same].done)
            if self._waiting[lane] >= self.in_all:
                return Full.IN_ALL
            if self._addresses[address] >= self.per_address:
                return Full.ADDRESS
            if self._accounts[account] >= self.per_account:
                return Full.ACCOUNT
            self._addresses[address] += 1
            self._accounts[account] += 1
            self._waiting[lane] += 1
            ticket = Ticket(address, account, lane, same)
            if same is not None:
                self._checking[same] = ticket
        return ticket

    def release(self, ticket: Ticket) -> None:
        with self._lock:
            if ticket.same is not None and self._checking.get(ticket.same) is ticket:
                del self._checking[ticket.same]
            self._waiting[ticket.lane] -= 1
            for counts, key in (
                (self._addresses, ticket.address),
                (self._accounts, ticket.account),
            ):
                counts[key] -= 1
                if counts[key] <= 0:
                    del counts[key]
        ticket.done.set_result(None)  # whoever waits for the same check looks again

    @property
    def waiting(self) -> int:
        return sum(self._waiting)
