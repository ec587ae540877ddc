"""`Pacer`: the status polls of a whole run, spread so their total rate stays flat.

Batches of one workspace are watched through one shared ``batches.list`` per tick, whatever
their number. Datasets, studies and export jobs have no such list: each is polled on its
own, so a thousand plans waiting at once would poll a thousand times as often as one. A plan
waits on at most one such job at a time, so if each wait polls every ``n / rate`` seconds,
where ``n`` is the number of such waits under way, the run polls at most about ``rate``
times a second: a run of 100 plans and one of 1,000 put the same load on the API, and each
wait is only stretched when that many wait at once. Plans that are creating, uploading or
watching their batch do not count: counting every running plan stretched each wait by the
plans that were not polling at all. The rate is the client's adaptive one by default
(`Prolific.poll_rate`: high, halved on each 429, grown back while none come), or the run's
fixed ``poll_rate``.

A wait for a job just started sends its first poll no earlier than the quickest such wait of
the run took (a job that takes a second is not asked about after a tenth of one), and
spreads the polls of plans started together over a random part of their spacing.

The pacer only spreads the polls, so few are wasted on jobs still pending; the bound itself
is the client's rate gate, which every watch passes.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import attrs

from . import _sdk as pa

__all__ = ["Pacer"]


class Pacer:
    """Hands out the poll policy of a run's waits, stretched to keep its polls near the rate.

    ``rate`` is a fixed polls a second, or a function giving the current one (the client's
    adaptive `Prolific.poll_rate`).

    Example::

        pacer = Pacer(client.poll, rate=lambda: client.poll_rate)
        with pacer.waiting():                     # around each wait
            poll = pacer.policy()
            await anyio.sleep(pacer.first_delay(poll, "dataset"))
            started = anyio.current_time()
            await client.datasets.watch(dataset_id, poll=poll).wait()
            pacer.took("dataset", anyio.current_time() - started)
    """

    def __init__(self, base: pa.PollPolicy, rate: float | Callable[[], float]) -> None:
        if not callable(rate) and rate <= 0:
            raise ValueError(f"poll_rate must be > 0, got {rate!r}")
        self.base = base
        self.rate = rate
        #: The waits under way that poll on their own.
        self.waits = 0
        #: The quickest wait for a just-started job of each kind, from start to done.
        self.shortest: dict[str, float] = {}
        self._rng = random.Random()

    @contextmanager
    def waiting(self) -> Iterator[None]:
        """One more wait polls on its own while the block runs."""
        self.waits += 1
        try:
            yield
        finally:
            self.waits -= 1

    def current_rate(self) -> float:
        return self.rate() if callable(self.rate) else self.rate

    def policy(self) -> pa.PollPolicy:
        """The policy of a wait starting now; the client's own while that is slower anyway."""
        spacing = self.waits / self.current_rate()
        if spacing <= self.base.initial:
            return self.base
        return attrs.evolve(self.base, initial=spacing, ceiling=max(self.base.ceiling, spacing))

    def first_delay(self, policy: pa.PollPolicy, kind: str) -> float:
        """How long a wait for a job of ``kind`` just started sleeps before its first poll: a
        random share of its spacing (at least a fifth: a poll at once would only see it
        pending), and no less than the quickest such wait took."""
        spread = policy.initial * self._rng.uniform(0.2, 1.0)
        return max(spread, self.shortest.get(kind, 0.0))

    def took(self, kind: str, seconds: float) -> None:
        """A wait for a just-started job of ``kind`` ended done after ``seconds``."""
        self.shortest[kind] = min(seconds, self.shortest.get(kind, seconds))
