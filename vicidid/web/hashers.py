"""The threads that check passwords needing a bcrypt hash, off the request threads.

Two lanes (auth/hash_slots.py): a returning user's check goes first, so that it does not
wait behind a flood of guesses from elsewhere; within a lane, first come, first served.
How many may wait is bounded before a check gets here; each check gives its place back
when it is done.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import deque
from typing import TYPE_CHECKING, Any

from vicidid.auth.hash_slots import Lane
from vicidid.web.threads import settle

if TYPE_CHECKING:
    from vicidid.core.login import Verdict
    from vicidid.core.pipeline import Pending

_Job = tuple[asyncio.AbstractEventLoop, "asyncio.Future[Any]", "Pending"]


class Hashers:
    def __init__(self, size: int, name: str = "vicidid-hash") -> None:
        self.size, self.name = size, name
        self._lanes: list[deque[_Job]] = [deque() for _ in Lane]
        self._ready = threading.Condition()
        self._threads: list[threading.Thread] = []
        self._closed = False

    async def check(self, pending: Pending) -> Verdict:
        """The pending check's verdict, run on one of the threads in its lane's turn."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Verdict] = loop.create_future()
        with self._ready:
            if self._closed:
                pending.done()
                raise RuntimeError("the hashers are shut down")
            if not self._threads:
                self._start()
            self._lanes[pending.ticket.lane].append((loop, future, pending))
            self._ready.notify()
        return await future

    def _start(self) -> None:
        while len(self._threads) < self.size:
            thread = threading.Thread(
                target=self._work, name=f"{self.name}_{len(self._threads)}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def _next(self) -> _Job | None:
        with self._ready:
            while not (any(self._lanes) or self._closed):
                self._ready.wait()
            for lane in self._lanes:
                if lane:
                    return lane.popleft()
            return None  # closed, and nothing left to check

    def _work(self) -> None:
        while (job := self._next()) is not None:
            loop, future, pending = job
            try:
                result, error = pending.check(), None
            except BaseException as exc:  # handed to the caller, as an executor would
                result, error = None, exc
            finally:
                pending.done()
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody is waiting
                loop.call_soon_threadsafe(settle, future, result, error)
            del job, future, pending, result, error

    def shutdown(self) -> None:
        """Check what waits already, then stop the threads."""
        with self._ready:
            self._closed = True
            threads, self._threads = self._threads, []
            self._ready.notify_all()
        for thread in threads:
            thread.join()
