"""`SharedReads`: one read of a thing at a time, whose answer serves everyone who asked
meanwhile (the run's shared lists, each data file's digest)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable

import anyio

__all__ = ["SharedReads"]


class SharedReads:
    """One read of each key at a time, shared by every caller that asks while it runs.

    A thousand plans look up their batch at the start of a run: each waiting its turn at a
    lock was woken one per turn of the event loop, which spread the run's start over
    seconds. Here they all wake together when the one read ends.

    Example::

        reads = SharedReads()
        await reads.run("batches:ws-1", read_the_list, fresh=False)
    """

    def __init__(self) -> None:
        #: Set when the read of each key under way ends.
        self._reading: dict[Hashable, anyio.Event] = {}
        self._begun: dict[Hashable, int] = {}
        #: The number of the last read of each key that succeeded.
        self._latest: dict[Hashable, int] = {}

    async def run(self, key: Hashable, read: Callable[[], Awaitable[None]], *, fresh: bool) -> None:
        """Have ``read`` (which keeps its answer) done, or share a read of ``key`` under way;
        ``fresh``: only a read begun after this call will do. A read that fails is not
        shared: the next waiter reads for itself."""
        asked = self._begun.get(key, 0)
        while self._latest.get(key, -1) <= (asked if fresh else -1):
            under_way = self._reading.get(key)
            if under_way is None:
                await self._read(key, read)
                return
            await under_way.wait()

    async def _read(self, key: Hashable, read: Callable[[], Awaitable[None]]) -> None:
        number = self._begun[key] = self._begun.get(key, 0) + 1
        self._reading[key] = done = anyio.Event()
        try:
            await read()
            self._latest[key] = number
        finally:
            del self._reading[key]
            done.set()
