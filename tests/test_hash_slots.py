"""Places for waiting password hashes: a few per address and per account, a bound in all."""

from __future__ import annotations

import threading

from vicidid.auth.hash_slots import Full, HashSlots, Ticket


def test_an_address_or_an_account_waits_for_at_most_a_few():
    slots = HashSlots(per_address=2, per_account=2, in_all=100)
    first = slots.reserve("10.0.0.1", "6666", True)
    assert isinstance(first, Ticket)
    assert isinstance(slots.reserve("10.0.0.1", "admin", True), Ticket)
    assert slots.reserve("10.0.0.1", "1001", True) is Full.ADDRESS
    assert isinstance(slots.reserve("10.0.0.2", "6666", False), Ticket)
    assert slots.reserve("10.0.0.3", "6666", False) is Full.ACCOUNT
    slots.release(first)
    assert isinstance(slots.reserve("10.0.0.1", "1001", True), Ticket)
    assert slots.waiting == 3


def test_the_queue_as_a_whole_is_bounded():
    slots = HashSlots(per_address=1, per_account=1, in_all=3)
    tickets = [slots.reserve(f"10.0.0.{n}", f"u{n}", False) for n in range(3)]
    assert all(isinstance(t, Ticket) for t in tickets)
    assert slots.reserve("10.0.0.9", "u9", True) is Full.IN_ALL
    for ticket in tickets:
        assert isinstance(ticket, Ticket)
        slots.release(ticket)
    assert slots.waiting == 0
    assert isinstance(slots.reserve("10.0.0.9", "u9", True), Ticket)


def test_reservations_released_together_never_pass_the_bounds():
    slots = HashSlots(per_address=4, per_account=1000, in_all=1000)
    barrier = threading.Barrier(50)
    got: list[object] = []

    def reserve() -> None:
        barrier.wait()
        got.append(slots.reserve("10.0.0.1", "6666", False))

    threads = [threading.Thread(target=reserve) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(isinstance(g, Ticket) for g in got) == 4
    assert got.count(Full.ADDRESS) == 46
