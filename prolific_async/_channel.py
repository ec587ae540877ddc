"""One poll shared by every watcher of the same resource, through the client's rate gate.

Two watchers of one batch cost one request per tick: whichever is due first polls, the others
take its answer. A channel is keyed by what is fetched, so watches of many batches that read
one ``batches.list`` answer share that one request too. When to poll, and for how long a poll
may run, is the fetching watcher's `PollLoop`'s to say; how many polls a second the client
sends, its `AdaptiveRate`'s.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

import anyio

from ._polling import MIN_DELAY, AdaptiveRate, Failure, PollLoop

__all__: list[str] = []  # nothing public here


class RateGate:
    """At most ``rate.rate`` polls a second across every channel of a client; and, while a
    429 keeps the rate below its ceiling, every other API request of the client too.

    A GCRA (the cell-rate rule of ATM switches): each poll is due ``1 / rate`` after the
    previous one, and may go up to ``BURST`` seconds early, so a few watches poll at once
    while a thousand are spaced evenly and the polls they send together stay flat.
    """

    #: How far ahead of its slot a poll may go: bursts of ``rate * BURST`` (5 at 500/s).
    BURST = 0.01

    def __init__(self, rate: AdaptiveRate) -> None:
        self.rate = rate
        self._due = 0.0

    async def pace(self) -> None:
        """An API request other than a poll, while `slowed`: it takes a slot as a poll does,
        so the requests the client sends together stay under the rate the server allowed
        (creates and pages included, not only polls). Time without a 429 grows the rate back
        here too, so a client that has stopped polling is not held at its lowest rate."""
        self.rate.answered(anyio.current_time())
        await self.wait()

    async def wait(self) -> None:
        """Wait for this poll's slot."""
        now = anyio.current_time()
        due = max(self._due, now)
        self._due = due + 1 / self.rate.rate
        if due - now > self.BURST:
            await anyio.sleep(due - now - self.BURST)


class Channel:
    """The shared poll schedule and latest answer for one key."""

    def __init__(self, gate: RateGate) -> None:
        self._gate = gate
        self.version: int = 0
        self.outcome: Any = None
        self.next_at: float = 0.0
        self.busy: bool = False
        # asyncio's own event (the client runs on asyncio only): anyio's looks up the running
        # library on every creation, and a channel makes one per poll.
        self.changed: asyncio.Event = asyncio.Event()
        self.subscribers: int = 0
        #: A webhook said the job changed while a fetch was in flight (see `wake`).
        self.woken: bool = False

    async def poll(self, seen: int, fetch: Callable[[], Awaitable[Any]], loop: PollLoop,
                   draw: Callable[[], float]) -> tuple[int, Any] | None:
        """The first answer newer than version ``seen``; None when ``loop``'s deadline came
        first."""
        while True:
            if self.version > seen:
                return self.version, self.outcome
            now = anyio.current_time()
            if not self.busy and now >= self.next_at:
                if not await self._fetch(fetch, loop, draw):
                    return None  # cut at the deadline
                continue
            if now >= loop.deadline_at:
                return None
            wait_until = loop.deadline_at if self.busy else min(self.next_at, loop.deadline_at)
            with anyio.move_on_after(wait_until - now):
                await self.changed.wait()

    def wake(self) -> None:
        """A webhook event says the job changed: poll now. A fetch in flight may have been
        answered before the change, so it is followed by another at once."""
        self.woken = True
        if not self.busy:
            self.next_at = 0.0
        self.changed.set()
        self.changed = asyncio.Event()

    async def _fetch(self, fetch: Callable[[], Awaitable[Any]], loop: PollLoop,
                     draw: Callable[[], float]) -> bool:
        """One poll for every watcher; False when the fetching watch's deadline cut it."""
        self.busy = True
        self.woken = False
        try:
            await self._gate.wait()
            started = anyio.current_time()
            # The watch's deadline bounds the request in flight too (a trickling server).
            with anyio.move_on_after(loop.cutoff(started) - started):
                outcome: Any
                try:
                    outcome = await fetch()
                except Exception as exc:  # handed to every watcher, which decides
                    outcome = Failure(exc)
                finished = anyio.current_time()
                self.next_at = loop.next_poll_at(
                    started, finished, spread=draw(),
                    error=outcome.error if isinstance(outcome, Failure) else None)
                if self.woken:
                    self.next_at = finished + MIN_DELAY
                self.version += 1
                self.outcome = outcome
                if not isinstance(outcome, Failure):
                    self._gate.rate.answered(finished)
                return True
            return False
        finally:
            # Also on cancellation: waiters wake and one of them takes over the polling.
            self.busy = False
            self.changed.set()
            self.changed = asyncio.Event()


class Channels:
    """The channels of one client, by key, and the gate they all pass; a channel lives
    while someone watches it."""

    def __init__(self, rate: AdaptiveRate) -> None:
        self._channels: dict[Hashable, Channel] = {}
        self.gate: RateGate = RateGate(rate)

    def join(self, key: Hashable) -> Channel:
        channel = self._channels.get(key)
        if channel is None:
            channel = self._channels[key] = Channel(self.gate)
        channel.subscribers += 1
        return channel

    def leave(self, key: Hashable, channel: Channel) -> None:
        channel.subscribers -= 1
        if channel.subscribers == 0 and self._channels.get(key) is channel:
            del self._channels[key]
