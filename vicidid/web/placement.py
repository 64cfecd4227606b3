"""Where a request's pipeline runs: on the worker's event loop, or on a request thread.

A call to the pipeline is short on MariaDB/MySQL (two or three round trips and a fraction
of a millisecond of Python), so it runs inline on the event loop: no hand-over to a thread
and back, no contention for the interpreter lock, and the worker processes (several per
core, each with a socket of its own) are what serves requests side by side. What may hold
a worker for long goes to the worker's request threads instead, where it stalls nobody:

- every request on SQLite, whose writers take turns across threads and processes (a
  writer may wait there for another's transaction, a bulk copy's included);
- a copy or an add of more than `INLINE_DIDS` new DIDs, which may take seconds.

Password hashes run on threads of their own whatever the placement (web/hashers.py).
"""

from __future__ import annotations

from collections.abc import Iterable

from vicidid.core.fields import NEW_DIDS

INLINE_DIDS = 16  # new DIDs a request may name and still run on the event loop

_NAMES = frozenset(NEW_DIDS.names)


def inline(sqlite: bool, *pairs: Iterable[tuple[str, str]]) -> bool:
    """Whether a request with these (name, value) pairs runs on the event loop."""
    if sqlite:
        return False
    for given in pairs:
        for name, value in given:
            if name in _NAMES and value.count(",") >= INLINE_DIDS:
                return False
    return True
