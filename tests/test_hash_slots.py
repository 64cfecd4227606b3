"""Places for waiting password hashes: a few per address and per account, a bound in all."""

from __future__ import annotations

import threading

from vicidid.auth.hash_slots import Follow, Full, HashSlots, Lane, Ticket


def test_an_address_or_an_account_waits_for_at_most_a_few():
    slots = HashSlots(per_address=2, per_account=2, in_all=100)
    first = slots.reserve("10.0.0.1", "6666", Lane.RETURNING)
    assert isinstance(first, Ticket)
    assert isinstance(slots.reserve("10.0.0.1", "admin", Lane.RETURNING), Ticket)
    assert slots.reserve("10.0.0.1", "1001", Lane.RETURNING) is Full.ADDRESS
    assert isinstance(slots.reserve("10.0.0.2", "6666", Lane.OTHERS), Ticket)
    assert slots.reserve("10.0.0.3", "6666", Lane.OTHERS) is Full.ACCOUNT
    slots.release(first)
    assert isinstance(slots.reserve("10.0.0.1", "1001", Lane.RETURNING), Ticket)
    assert slots.waiting == 3


def test_each_lane_as_a_whole_is_bounded_and_a_flood_leaves_returning_users_room():
    slots = HashSlots(per_address=1, per_account=1, in_all=3)
    tickets = [slots.reserve(f"10.0.0.{n}", f"u{n}", Lane.OTHERS) for n in range(3)]
    assert all(isinstance(t, Ticket) for t in tickets)
    assert slots.reserve("10.0.0.8", "u8", Lane.OTHERS) is Full.IN_ALL
    returning = slots.reserve("10.0.0.9", "u9", Lane.RETURNING)  # its own places
    assert isinstance(returning, Ticket)
    for ticket in [*tickets, returning]:
        assert isinstance(ticket, Ticket)
        slots.release(ticket)
    assert slots.waiting == 0
    assert isinstance(slots.reserve("10.0.0.8", "u8", Lane.OTHERS), Ticket)


def test_the_same_check_is_waited_for_not_queued_again():
    slots = HashSlots(per_address=1, per_account=1, in_all=1)
    first = slots.reserve("10.0.0.1", "6666", Lane.OTHERS, same="k")
    assert isinstance(first, Ticket)
    follow = slots.reserve("10.0.0.2", "6666", Lane.OTHERS, same="k")
    assert isinstance(follow, Follow) and not follow.done.done()
    slots.release(first)
    assert follow.done.done()  # whoever waited looks again
    assert isinstance(slots.reserve("10.0.0.2", "6666", Lane.OTHERS, same="k"), Ticket)


def test_reservations_released_together_never_pass_the_bounds():
    slots = HashSlots(per_address=4, per_account=1000, in_all=1000)
    barrier = threading.Barrier(50)
    got: list[object] = []

    def reserve() -> None:
        barrier.wait()
        got.append(slots.reserve("10.0.0.1", "6666", Lane.OTHERS))

    threads = [threading.Thread(target=reserve) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(isinstance(g, Ticket) for g in got) == 4
    assert got.count(Full.ADDRESS) == 46
