"""`Slots`: at most N holders at once, the others waiting in line (first come, first served).

It does what ``asyncio.Semaphore`` does for the transport's connection slots, at half the cost
when a slot is free (every API call takes one): ``asyncio.Semaphore.acquire`` asks
``locked()``, which walks its waiters with a generator even when there are none.

A slot freed while someone waits goes to the first of them directly, so a newcomer cannot
overtake the line; a waiter cancelled after being handed a slot passes it on.
"""

from __future__ import annotations

import asyncio
from collections import deque
from types import TracebackType

__all__ = ["Slots"]


class Slots:
    """``async with slots:`` holds one of ``count`` slots for the block.

    Example::

        slots = Slots(2)
        async with slots:
            ...   # at most two tasks run this at once
    """

    __slots__ = ("_free", "_waiters")

    def __init__(self, count: int) -> None:
        if count < 1:
            raise ValueError(f"count must be at least 1, got {count}")
        self._free = count
        self._waiters: deque[asyncio.Future[None]] = deque()

    def take_free(self) -> bool:
        """Take a slot if one is free and nobody waits for one (no await); else False.

        ``take_free() or await take()``, then ``release()``, is ``async with`` without
        the two coroutines of ``__aenter__``/``__aexit__``: the transport's way, once per call.
        """
        if self._free and not self._waiters:
            self._free -= 1
            return True
        return False

    async def take(self) -> None:
        """Wait in line for a slot (held when this returns; give it back with `release`)."""
        if self.take_free():
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except BaseException:
            if waiter.cancelled():
                if waiter in self._waiters:  # `release` may have dropped it already
                    self._waiters.remove(waiter)
            else:
                self.release()  # handed a slot, then cancelled before using it
            raise

    async def __aenter__(self) -> None:
        await self.take()

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        tb: TracebackType | None) -> None:
        self.release()

    def release(self) -> None:
        """Give back a slot taken by `take_free` or `take`: to the first in line, if any."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the slot goes to the first in line, still held
                return
        self._free += 1
