"""One poll shared by every watcher of the same resource, through the client's rate gate.

Two watchers of one batch cost one request per tick: whichever is due first polls, the others
take its answer. A channel is keyed by what is fetched, so watches of many batches that read
one ``batches.list`` answer share that one request too. When each watcher wants its next
poll, and for how long a poll may run, is its `PollLoop`'s to say (the channel polls when the
first of them is due); how many polls a second the client sends, its `AdaptiveRate`'s.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

import anyio

from ._backend import loop_time
from ._polling import AdaptiveRate, Failure, PollLoop

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
        self.rate.answered(loop_time())
        await self.wait()

    async def wait(self) -> None:
        """Wait for this poll's slot."""
        now = loop_time()
        due = max(self._due, now)
        self._due = due + 1 / self.rate.rate
        if due - now > self.BURST:
            await anyio.sleep(due - now - self.BURST)


class Channel:
    """The shared poll schedule and latest answer for one key.

    Each watcher keeps its own cadence (its `PollLoop`'s backoff, counted from the channel's
    last fetch), and the channel polls when the most eager of them is due: a watch that has
    just joined a shared ``batches.list`` is not held to the slow cadence of one that has
    been waiting for minutes.
    """

    def __init__(self, gate: RateGate) -> None:
        self._gate = gate
        self.version: int = 0
        self.outcome: Any = None
        #: When the last fetch started and ended: each watcher's next poll counts from them.
        self.started: float = 0.0
        self.finished: float = 0.0
        self.busy: bool = False
        # asyncio's own event (the client runs on asyncio only): anyio's looks up the running
        # library on every creation, and a channel makes one per poll.
        self.changed: asyncio.Event = asyncio.Event()
        self.subscribers: int = 0
        #: A webhook said the job changed: the next look goes at once (see `wake`).
        self.woken: bool = False

    async def poll(self, seen: int, fetch: Callable[[], Awaitable[Any]], loop: PollLoop,
                   draw: Callable[[], float]) -> tuple[int, Any] | None:
        """The first answer newer than version ``seen``; None when ``loop``'s deadline came
        first."""
        if self.version > seen:
            return self.version, self.outcome
        # This watcher's next poll: at once before any answer (unless the wait knows its job
        # is too young to be done), else after its own backoff.
        due = loop.first_poll_at(draw()) if self.version == 0 else loop.next_poll_at(
            self.started, self.finished, spread=draw(),
            error=self.outcome.error if isinstance(self.outcome, Failure) else None,
            look_again=not self._gate.rate.slowed)
        while True:
            if self.version > seen:
                return self.version, self.outcome
            now = loop_time()
            if now >= due and not self.woken:
                # What the waits learned meanwhile may make it too early still.
                due = max(due, min(loop.floor_at, loop.deadline_at))
            if not self.busy and (now >= due or self.woken):
                if not await self._fetch(fetch, loop):
                    return None  # cut at the deadline
                continue
            if now >= loop.deadline_at:
                return None
            wait_until = loop.deadline_at if self.busy else min(due, loop.deadline_at)
            with anyio.move_on_after(wait_until - now):
                await self.changed.wait()

    def wake(self) -> None:
        """A webhook event says the job changed: poll now. A fetch in flight may have been
        answered before the change, so it is followed by another at once."""
        self.woken = True
        self._changed()

    def _changed(self) -> None:
        self.changed.set()
        self.changed = asyncio.Event()

    async def _fetch(self, fetch: Callable[[], Awaitable[Any]], loop: PollLoop) -> bool:
        """One poll for every watcher; False when the fetching watch's deadline cut it."""
        self.busy = True
        self.woken = False
        # Decided now: until it is answered, younger jobs of its kind are not asked about.
        loop.sending(loop_time())
        try:
            await self._gate.wait()
            started = loop_time()
            # The watch's deadline bounds the request in flight too (a trickling server).
            with anyio.move_on_after(loop.cutoff(started) - started):
                outcome: Any
                try:
                    outcome = await fetch()
                except Exception as exc:  # handed to every watcher, which decides
                    outcome = Failure(exc)
                self.started, self.finished = started, loop_time()
                self.version += 1
                self.outcome = outcome
                if not isinstance(outcome, Failure):
                    self._gate.rate.answered(self.finished)
                return True
            return False
        finally:
            # Also on cancellation: waiters wake and one of them takes over the polling.
            self.busy = False
            self._changed()


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
