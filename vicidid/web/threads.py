"""Blocking calls run on a fixed set of threads, their results handed back to the event loop.

The pipeline blocks on the database, so each request's call runs on one of these threads.
`asyncio`'s `run_in_executor` does the same through a `concurrent.futures` future chained
to an asyncio one (two futures, their locks and callbacks, per call); here a call is one
item on a queue and one `call_soon_threadsafe` back, which is all the hand-over needs.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar, TypeVarTuple

T = TypeVar("T")
Ts = TypeVarTuple("Ts")

_Job = tuple[asyncio.AbstractEventLoop, "asyncio.Future[Any]", Callable[..., Any], tuple[Any, ...]]


def settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.cancelled():
        return
    if error is None:
        future.set_result(result)
    else:
        future.set_exception(error)


class Threads:
    """`size` threads, started on first use, that run calls for coroutines."""

    def __init__(self, size: int, name: str) -> None:
        self.size, self.name = size, name
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._closed = False

    async def run(self, fn: Callable[[*Ts], T], *args: *Ts) -> T:
        """fn(*args) on one of the threads; its result, or its exception raised here."""
        if not self._threads:
            self._start()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put((loop, future, fn, args))
        return await future

    def waiting(self) -> int:
        """Calls queued that no thread has taken yet."""
        return self._jobs.qsize()

    def _start(self) -> None:
        with self._lock:
            if self._closed:
                raise RuntimeError("the threads are shut down")
            while len(self._threads) < self.size:
                thread = threading.Thread(
                    target=self._work, name=f"{self.name}_{len(self._threads)}", daemon=True
                )
                thread.start()
                self._threads.append(thread)

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            loop, future, fn, args = job
            try:
                result, error = fn(*args), None
            except BaseException as exc:  # handed to the caller, as an executor would
                result, error = None, exc
            del job, fn, args
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody is waiting
                loop.call_soon_threadsafe(settle, future, result, error)
            del future, result, error

    def shutdown(self) -> None:
        """Let the calls queued so far finish, then stop the threads."""
        with self._lock:
            self._closed = True
            threads, self._threads = self._threads, []
        for _ in threads:
            self._jobs.put(None)
        for thread in threads:
            thread.join()
