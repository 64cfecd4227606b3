"""The hashing threads: a returning user's login goes before a backlog of guesses."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field

from vicidid.auth.hash_slots import HashSlots, Lane, Ticket
from vicidid.web.hashers import Hashers


@dataclass
class FakePending:
    """Stands for core.pipeline.Pending: `check` runs on a hashing thread, `done` after."""

    name: str
    ticket: Ticket
    slots: HashSlots
    order: list[str]
    gate: threading.Event | None = None
    done_called: list[str] = field(default_factory=list)

    def check(self) -> str:
        if self.gate is not None:
            self.gate.wait(5)
        self.order.append(self.name)
        return self.name

    def done(self) -> None:
        self.slots.release(self.ticket)
        self.done_called.append(self.name)


def test_returning_users_are_checked_before_the_backlog_and_every_place_comes_back():
    slots = HashSlots(per_address=100, per_account=100, in_all=100)
    order: list[str] = []
    busy = threading.Event()

    def pending(name: str, returning: bool, gate: threading.Event | None = None) -> FakePending:
        ticket = slots.reserve(name, name, Lane.RETURNING if returning else Lane.OTHERS)
        assert isinstance(ticket, Ticket)
        return FakePending(name, ticket, slots, order, gate)

    async def run() -> list[str]:
        hashers = Hashers(1)
        first = asyncio.ensure_future(hashers.check(pending("blocker", False, busy)))  # type: ignore[arg-type]
        await asyncio.sleep(0.05)  # the one thread is now busy with it
        flood = [pending(f"guess{n}", False) for n in range(5)]
        waits = [asyncio.ensure_future(hashers.check(p)) for p in flood]  # type: ignore[arg-type]
        rightful = asyncio.ensure_future(hashers.check(pending("rightful", True)))  # type: ignore[arg-type]
        await asyncio.sleep(0.05)
        busy.set()
        results = await asyncio.gather(first, *waits, rightful)
        hashers.shutdown()
        return results

    results = asyncio.run(run())
    assert results[0] == "blocker" and results[-1] == "rightful"
    assert order[:2] == ["blocker", "rightful"]  # ahead of the five queued before it
    assert order[2:] == [f"guess{n}" for n in range(5)]  # the rest first come, first served
    assert slots.waiting == 0


def test_a_check_that_fails_still_gives_its_place_back():
    slots = HashSlots()
    ticket = slots.reserve("10.0.0.1", "6666", Lane.RETURNING)
    assert isinstance(ticket, Ticket)

    class Broken(FakePending):
        def check(self) -> str:
            raise ValueError("broken")

    async def run() -> str:
        hashers = Hashers(1)
        try:
            return await hashers.check(Broken("x", ticket, slots, []))  # type: ignore[arg-type]
        finally:
            hashers.shutdown()

    try:
        asyncio.run(run())
    except ValueError as error:
        assert str(error) == "broken"
    else:
        raise AssertionError("the check's error should reach the caller")
    assert slots.waiting == 0
