"""pytest fixtures: ``fake_prolific`` (a started fake on a stopped clock) and
``prolific_client`` (an open client on it, with fast polling). Both need anyio's plugin,
which pytest loads when anyio is installed; mark tests ``@pytest.mark.anyio``."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from .._client import Prolific
from .._config import PollPolicy, RetryPolicy
from ._clock import FakeClock
from ._fake import FakeProlific


@pytest.fixture
async def fake_prolific() -> AsyncIterator[FakeProlific]:
    """A started `FakeProlific` (seed 1234) whose clock stands still.

    Nothing finishes on its own: a dataset stays PROCESSING, a batch stays PROCESSING, an
    export stays ``generating`` and no participant submits until the test moves the fake
    clock with ``fake_prolific.clock.advance(seconds)``. The durations to move by are on
    ``fake_prolific.world`` (``dataset_processing``, ``batch_setup``, ``export_generating``,
    ``submission_interval``). To let a poller make progress by itself, set
    ``fake_prolific.clock.per_request = seconds``: every API request then moves the clock.

    Example::

        @pytest.mark.anyio
        async def test_setup(prolific_client, fake_prolific):
            ...
            await prolific_client.batches.setup(batch.id, tasks_per_group=1)
            assert (await prolific_client.batches.status(batch.id)) == pa.BatchStatus.PROCESSING
            fake_prolific.clock.advance(fake_prolific.world.batch_setup)
            assert (await prolific_client.batches.status(batch.id)) == pa.BatchStatus.READY
            [record] = fake_prolific.world.batches_named("reviews-1")   # what the server holds
    """
    async with FakeProlific(clock=FakeClock(speed=0), seed=1234) as fake:
        yield fake


@pytest.fixture
async def prolific_client(fake_prolific: FakeProlific) -> AsyncIterator[Prolific]:
    """An open `Prolific` client talking to ``fake_prolific`` over loopback, with fast
    polling (10 to 50 ms, 5 s deadline) and fast retries.

    The fake's clock is stopped (see ``fake_prolific``): a ``wait_ready`` or ``export`` only
    finishes if the test advances ``fake_prolific.clock`` first or sets
    ``fake_prolific.clock.per_request``; otherwise it ends in `PollTimeout` after 5 s, whose
    message then says so.

    Example::

        @pytest.mark.anyio
        async def test_export(prolific_client, fake_prolific, tmp_path):
            ...
            fake_prolific.clock.per_request = 0.25   # each poll moves the fake clock
            path = await prolific_client.batches.export(batch.id, tmp_path)
    """
    client = Prolific(
        fake_prolific.token, base_url=fake_prolific.url, seed=1234,
        poll=PollPolicy(initial=0.01, multiplier=1.5, ceiling=0.05, deadline=5),
        retry=RetryPolicy(wait_initial=0.01, wait_max=0.05),
    )
    if fake_prolific.clock.speed == 0:
        client._context.watch_env.timeout_hint = (
            " (the fake_prolific clock is stopped: call fake_prolific.clock.advance(seconds) "
            "or set fake_prolific.clock.per_request so jobs move on)")
    async with client:
        yield client
