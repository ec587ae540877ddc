"""A fed plan whose first append fails outright (5xx past the retries) and is tried again by
the stage: it sends the same first records, never skipping to the next ones."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

import prolific_async as pa
from prolific_async.testing import FakeClock, FakeProlific

from .orchestration import client_for, plan
from .test_orchestrate_feed import SCHEMA, outputs, run

pytestmark = pytest.mark.anyio


@pytest.fixture
async def fake() -> AsyncIterator[FakeProlific]:
    async with FakeProlific(clock=FakeClock(speed=0, per_request=0.25), seed=11) as server:
        yield server


async def test_a_first_append_tried_again_sends_the_same_records(fake: FakeProlific) -> None:
    fed = plan("live-retry", fake.workspace_id, wait=False,
               dataset=pa.Feed(outputs(500), schema=SCHEMA, first=300))
    # Two attempts a request: the first append fails twice, so the stage tries it again.
    fake.inject(method="POST", path="*/datapoints", status=503, times=2)
    retry: Any = pa.RetryPolicy(attempts=2, wait_initial=0.001, wait_max=0.01)
    async with client_for(fake, retry=retry) as client:
        [result], _ = await run(client, [fed])

    assert result.error is None, result.error
    dataset = fake.world.datasets[result.dataset_id or ""]
    assert len(dataset.rows) == 500  # the first 300 too, not only the 200 after them
    assert fake.v4.append_sizes[0] == 300
