"""Testing your own code against the fake Prolific, with the SDK's pytest fixtures.

Installing prolific-async registers ``fake_prolific`` (a started fake whose clock stands
still) and ``prolific_client`` (an open client on it, polling fast). Run this file with
``pytest examples/test_with_the_fake.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import prolific_async as pa
from prolific_async.testing import FakeProlific

DETAILS = pa.TaskDetails(task_name="Rate", task_introduction="<p>Hi</p>",
                         task_steps="<ol><li>Rate</li></ol>")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # aiohttp runs on asyncio only


async def create_rating_batch(client: pa.Prolific, workspace_id: str, dataset_id: str) -> str:
    """The code under test: yours would live in your package."""
    batch = await client.batches.create(
        name="ratings", workspace_id=workspace_id, dataset_id=dataset_id, task_details=DETAILS,
        batch_items=pa.one_page([pa.FreeText(description="Rate it")]))
    await client.batches.setup(batch.id, tasks_per_group=2)
    ready = await client.batches.wait_ready(batch.id)
    return ready.id


@pytest.fixture
def rows_csv(tmp_path: Path) -> Path:
    path = tmp_path / "rows.csv"
    path.write_text("text\none\ntwo\nthree\nfour\n")
    return path


@pytest.mark.anyio
async def test_the_batch_is_ready_with_a_task_per_row(
        prolific_client: pa.Prolific, fake_prolific: FakeProlific, rows_csv: Path) -> None:
    ds = await prolific_client.datasets.create(name="d", workspace_id=fake_prolific.workspace_id)
    await prolific_client.datasets.upload(ds.id, rows_csv)
    fake_prolific.clock.per_request = 1.0          # each request moves the fake's clock on
    await prolific_client.datasets.wait_ready(ds.id)

    batch_id = await create_rating_batch(prolific_client, fake_prolific.workspace_id, ds.id)

    batch = await prolific_client.batches.get(batch_id)
    assert batch.status == pa.BatchStatus.READY
    assert batch.total_task_count == 4
    [setup] = fake_prolific.requests_to("POST", "*/setup")   # what the server received
    assert setup.json == {"tasks_per_group": 2}


@pytest.mark.anyio
async def test_a_rate_limited_create_is_retried(
        prolific_client: pa.Prolific, fake_prolific: FakeProlific) -> None:
    fake_prolific.inject(method="POST", path="*/datasets", status=429, retry_after="0",
                         times=1)
    ds = await prolific_client.datasets.create(name="d", workspace_id=fake_prolific.workspace_id)
    assert ds.name == "d"
    assert prolific_client.stats.rate_limited == 1
    assert len(fake_prolific.world.datasets_named("d")) == 1  # created once, not twice
