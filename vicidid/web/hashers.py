"""The threads that check passwords needing a bcrypt hash, off the request threads.

Two lanes: checks for accounts with no failed login counted go first, so a rightful
user's first login does not wait behind a flood of guesses; within a lane, first come,
first served. How many may wait at all is bounded before a check gets here
(auth/hash_slots.py); each check gives its place back when it is done.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import deque
from typing import TYPE_CHECKING, Any

from vicidid.web.threads import settle

if TYPE_CHECKING:
    from vicidid.core.login import Verdict
    from vicidid.core.pipeline import Pending

_Job = tuple[asyncio.AbstractEventLoop, "asyncio.Future[Any]", "Pending"]


class Hashers:
    def __init__(self, size: int, name: str = "vicidid-hash") -> None:
        self.size, self.name = size, name
        self._clean: deque[_Job] = deque()
        self._others: deque[_Job] = deque()
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
            lane = self._clean if pending.ticket.clean else self._others
            lane.append((loop, future, pending))
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
            while not (self._clean or self._others or self._closed):
                self._ready.wait()
            if self._clean:
                return self._clean.popleft()
            if self._others:
                return self._others.popleft()
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
