"""`Pacer`: the status polls of a whole run, spread so their total rate stays flat.

Batches of one workspace are watched through one shared ``batches.list`` per tick, whatever
their number. Datasets, studies and export jobs have no such list: each is polled on its
own, so a thousand plans waiting at once would poll a thousand times as often as one. A plan
waits on at most one such job at a time, so if each wait polls every ``n / rate`` seconds,
where ``n`` is the number of plans running, the run polls at most about ``rate`` times a
second: a run of 100 plans and one of 1,000 put the same load on the API, and each wait is
only stretched when the run is that large. Plans started together would still poll together,
in bursts; so each wait's first poll comes after a random part of its spacing, and the
waits' polls spread out over time.

The pacer only spreads the polls, so few are wasted on jobs still pending; the bound itself
is the client's ``max_poll_rate`` (one evenly spaced gate every watch passes), which
`orchestrate` sets to the same rate, so bursts the spreading misses still cannot exceed it.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager

import attrs

from . import _sdk as pa

__all__ = ["Pacer"]


class Pacer:
    """Hands out the poll policy of a run's waits, stretched to keep its polls near ``rate``/s.

    Example::

        pacer = Pacer(client.poll, rate=200)
        with pacer.running():                     # around each plan
            ...
            await client.datasets.watch(dataset_id, poll=pacer.policy()).wait()
    """

    def __init__(self, base: pa.PollPolicy, rate: float) -> None:
        if rate <= 0:
            raise ValueError(f"poll_rate must be > 0, got {rate!r}")
        self.base = base
        self.rate = rate
        self.running_plans = 0
        self._rng = random.Random()

    @contextmanager
    def running(self) -> Iterator[None]:
        """One more plan runs while the block does."""
        self.running_plans += 1
        try:
            yield
        finally:
            self.running_plans -= 1

    def policy(self) -> pa.PollPolicy:
        """The policy of a wait starting now; the client's own while that is slower anyway."""
        spacing = self.running_plans / self.rate
        if spacing <= self.base.initial:
            return self.base
        return attrs.evolve(self.base, initial=spacing, ceiling=max(self.base.ceiling, spacing))

    def first_delay(self, policy: pa.PollPolicy) -> float:
        """How long a wait for a job just started sleeps before its first poll: a random
        share of its spacing (at least a fifth: a poll at once would only see it pending)."""
        return policy.initial * self._rng.uniform(0.2, 1.0)
