"""One poll shared by every watcher of the same resource.

Two watchers of one batch cost one request per tick: whichever is due first polls, the others
take its answer. A channel is keyed by what is fetched, so watches of many batches that read
one ``batches.list`` answer share that one request too.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from typing import Any

import anyio
import attrs

from ._backoff import MIN_DELAY

__all__ = ["Channel", "Channels", "Failure", "RateGate"]


class RateGate:
    """At most ``rate`` polls a second across every channel of a client, spaced evenly.

    Each poll takes the next free slot (``1 / rate`` after the previous one) and waits for
    it, so however many jobs are watched, the polls they send together stay flat.
    """

    def __init__(self, rate: float) -> None:
        if not rate > 0:
            raise ValueError(f"max_poll_rate must be > 0, got {rate!r}")
        self.rate = rate
        self._next = 0.0

    async def wait(self) -> None:
        now = anyio.current_time()
        slot = max(now, self._next)
        self._next = slot + 1 / self.rate
        if slot > now:
            await anyio.sleep(slot - now)


@attrs.define
class Failure:
    """A fetch that raised: handed to every watcher, which decides what it means."""

    error: Exception


class Channel:
    """The shared poll schedule and latest answer for one key."""

    def __init__(self, gate: Callable[[], RateGate | None]) -> None:
        self._gate = gate
        self.version = 0
        self.outcome: Any = None
        self.next_at = 0.0
        self.busy = False
        self.changed = anyio.Event()
        self.subscribers = 0
        #: A webhook said the job changed while a fetch was in flight (see `wake`).
        self.woken = False

    async def poll(
        self,
        seen: int,
        fetch: Callable[[], Awaitable[Any]],
        delay_after: Callable[[Any], float],
        deadline_at: float,
    ) -> tuple[int, Any] | None:
        """The first answer newer than version ``seen``; None when ``deadline_at`` came first."""
        while True:
            if self.version > seen:
                return self.version, self.outcome
            now = anyio.current_time()
            if not self.busy and now >= self.next_at:
                await self._fetch(fetch, delay_after, deadline_at)
                continue
            if now >= deadline_at:
                return None
            wait_until = deadline_at if self.busy else min(self.next_at, deadline_at)
            with anyio.move_on_after(wait_until - now):
                await self.changed.wait()

    def wake(self) -> None:
        """A webhook event says the job changed: poll now. A fetch in flight may have been
        answered before the change, so it is followed by another at once."""
        self.woken = True
        if not self.busy:
            self.next_at = 0.0
        self.changed.set()
        self.changed = anyio.Event()

    async def _fetch(
        self, fetch: Callable[[], Awaitable[Any]], delay_after: Callable[[Any], float],
        deadline_at: float,
    ) -> None:
        self.busy = True
        self.woken = False
        outcome: Any
        try:
            gate = self._gate()
            if gate is not None:
                await gate.wait()
            started = anyio.current_time()
            try:
                outcome = await fetch()
            except Exception as exc:  # handed to every watcher, which decides what it means
                outcome = Failure(exc)
            self.version += 1
            self.outcome = outcome
            # Polls are spaced start to start, so a slow answer does not stretch the cadence
            # (and the gap between two looks at the job never exceeds the delay); a request
            # slower than the delay is followed at once, so the rate never exceeds 1/delay.
            # A final poll lands on the deadline rather than after it.
            finished = anyio.current_time()
            due = max(started + delay_after(outcome), finished + MIN_DELAY)
            self.next_at = min(due, max(deadline_at, finished + MIN_DELAY))
            if self.woken:
                self.next_at = finished + MIN_DELAY
        finally:
            # Also on cancellation: waiters wake and one of them takes over the polling.
            self.busy = False
            self.changed.set()
            self.changed = anyio.Event()


class Channels:
    """The channels of one client, by key; a channel lives while someone watches it."""

    def __init__(self) -> None:
        self._channels: dict[Hashable, Channel] = {}
        #: Spaces the polls of every channel (``Prolific(max_poll_rate=...)``), or None.
        self.gate: RateGate | None = None

    def join(self, key: Hashable) -> Channel:
        channel = self._channels.get(key)
        if channel is None:
            channel = self._channels[key] = Channel(lambda: self.gate)
        channel.subscribers += 1
        return channel

    def leave(self, key: Hashable, channel: Channel) -> None:
        channel.subscribers -= 1
        if channel.subscribers == 0 and self._channels.get(key) is channel:
            del self._channels[key]
