"""`Slots`, the transport's connection slots: a bound on holders, a fair line, and no slot
lost or doubled when a waiter is cancelled."""

from __future__ import annotations

import asyncio

import anyio
import pytest

from prolific_async._slots import Slots

pytestmark = pytest.mark.anyio


async def settle() -> None:
    """Let every ready task run until it blocks (no clock involved)."""
    for _ in range(10):
        await asyncio.sleep(0)


def entering(slots: Slots, entered: list[str], name: str) -> asyncio.Task[None]:
    """A task that takes a slot and notes ``name`` in ``entered`` once it holds it."""
    async def user() -> None:
        async with slots:
            entered.append(name)

    return asyncio.create_task(user())


async def assert_free(slots: Slots) -> None:
    with anyio.fail_after(10):  # a lost slot would hang here
        async with slots:
            pass


async def test_no_more_holders_than_slots_and_waiters_are_served_in_arrival_order() -> None:
    slots = Slots(2)
    release = asyncio.Event()
    holding: list[int] = []
    served: list[int] = []

    async def user(number: int) -> None:
        async with slots:
            served.append(number)
            holding.append(number)
            assert len(holding) <= 2
            await release.wait()
            holding.remove(number)

    tasks = [asyncio.create_task(user(number)) for number in range(6)]
    await settle()
    assert served == [0, 1]
    release.set()
    with anyio.fail_after(10):  # a lost slot would hang here
        await asyncio.gather(*tasks)
    assert served == [0, 1, 2, 3, 4, 5]


async def test_a_freed_slot_goes_to_the_first_waiter_not_to_a_newcomer() -> None:
    slots = Slots(1)
    order: list[str] = []
    async with slots:
        waiter = entering(slots, order, "waiter")
        await settle()
    # The slot was just freed and the waiter has not run yet: coming straight back, this
    # task queues behind it.
    with anyio.fail_after(10):
        async with slots:
            order.append("newcomer")
        await waiter
    assert order == ["waiter", "newcomer"]


async def test_a_cancelled_waiter_takes_no_slot_and_loses_none() -> None:
    slots = Slots(1)
    entered: list[str] = []
    async with slots:
        doomed = entering(slots, entered, "doomed")
        later = entering(slots, entered, "later")
        await settle()
        doomed.cancel()
        await settle()
    with anyio.fail_after(10):  # a lost slot would hang here
        await asyncio.gather(doomed, later, return_exceptions=True)
    assert doomed.cancelled()
    assert entered == ["later"]
    await assert_free(slots)  # the one slot is free again


async def test_a_waiter_cancelled_after_being_handed_the_slot_passes_it_on() -> None:
    slots = Slots(1)
    entered: list[str] = []
    async with slots:
        handed = entering(slots, entered, "handed")
        next_in_line = entering(slots, entered, "next")
        await settle()
    # Leaving the block handed the slot to the first waiter, which has not run yet.
    handed.cancel()
    with anyio.fail_after(10):  # a lost slot would hang here
        await asyncio.gather(handed, next_in_line, return_exceptions=True)
    assert handed.cancelled()
    assert entered == ["next"]
    await assert_free(slots)


def test_zero_slots_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Slots(0)


async def test_take_free_takes_only_a_free_slot_nobody_waits_for() -> None:
    slots = Slots(1)
    assert slots.take_free()
    assert not slots.take_free()  # none free: nothing taken, nothing to give back
    entered: list[str] = []
    waiter = entering(slots, entered, "waiter")
    await settle()
    slots.release()  # goes to the one in line, not back to the pool
    assert not slots.take_free()
    await settle()
    assert entered == ["waiter"] and await waiter is None
    assert slots.take_free()  # the waiter gave it back
