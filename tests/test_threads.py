"""The request threads: a call's result or exception comes back to the coroutine that asked."""

from __future__ import annotations

import asyncio
import threading

import pytest

from vicidid.web.threads import Threads


def test_results_and_exceptions_come_back_from_the_threads():
    threads = Threads(3, "test-request")

    def where(n: int) -> tuple[int, str]:
        if n == 5:
            raise KeyError(n)
        return n * n, threading.current_thread().name

    async def main() -> list[object]:
        calls = [threads.run(where, n) for n in range(8)]
        return await asyncio.gather(*calls, return_exceptions=True)

    try:
        found = asyncio.run(main())
    finally:
        threads.shutdown()
    assert [f[0] if isinstance(f, tuple) else f for f in found][:5] == [0, 1, 4, 9, 16]
    assert isinstance(found[5], KeyError)
    names = {f[1] for f in found if isinstance(f, tuple)}
    assert names <= {"test-request_0", "test-request_1", "test-request_2"}
    assert threading.main_thread().name not in names


def test_shutdown_finishes_what_was_queued_then_refuses():
    threads = Threads(1, "test-request")
    gate = threading.Event()
    done: list[int] = []

    async def main() -> None:
        first = asyncio.ensure_future(threads.run(gate.wait))
        second = asyncio.ensure_future(threads.run(done.append, 2))
        await asyncio.sleep(0)
        gate.set()
        await asyncio.gather(first, second)

    asyncio.run(main())
    threads.shutdown()
    assert done == [2]
    with pytest.raises(RuntimeError, match="shut down"):
        asyncio.run(threads.run(done.append, 3))
    assert done == [2]
