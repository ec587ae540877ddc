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

A wait for a job just started is counted from the job's start (``pa.job_started_at``): its
first poll is spread over a random part of the spacing, so plans started together do not
poll together, and goes no earlier than the quickest such job of the client took (a job
that takes a second is not asked about after a tenth of one).

The pacer only spreads the polls, so few are wasted on jobs still pending; the bound itself
is the client's rate gate, which every watch passes.
"""

from __future__ import annotations

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
            with pa.job_started_at(anyio.current_time()):  # the upload just ended
                await client.datasets.watch(dataset_id, poll=poll).wait()
    """

    def __init__(self, base: pa.PollPolicy, rate: float | Callable[[], float]) -> None:
        if not callable(rate) and rate <= 0:
            raise ValueError(f"poll_rate must be > 0, got {rate!r}")
        self.base = base
        self.rate = rate
        #: The waits under way that poll on their own.
        self.waits = 0

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
