"""pytest fixtures: ``fake_prolific`` (a started fake on a manual clock) and
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
    async with FakeProlific(clock=FakeClock(speed=0), seed=1234) as fake:
        yield fake


@pytest.fixture
async def prolific_client(fake_prolific: FakeProlific) -> AsyncIterator[Prolific]:
    client = Prolific(
        fake_prolific.token, base_url=fake_prolific.url, seed=1234,
        poll=PollPolicy(initial=0.01, multiplier=1.5, ceiling=0.05, deadline=5),
        retry=RetryPolicy(wait_initial=0.01, wait_max=0.05),
    )
    async with client:
        yield client
