"""A plan whose dataset is a `pa.Feed`: the pipeline makes a V4 dataset, sets the batch up
from the first records, puts the study out, then feeds it the rest."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

import prolific_async as pa
from prolific_async.testing import FakeClock, FakeProlific

from .orchestration import client_for, plan

pytestmark = pytest.mark.anyio

SCHEMA = pa.DatasetSchema(fields={"prompt": pa.SchemaField(type="text"),
                                  "response": pa.SchemaField(type="text")})


@pytest.fixture
async def fake() -> AsyncIterator[FakeProlific]:
    async with FakeProlific(clock=FakeClock(speed=0, per_request=0.25), seed=11) as server:
        yield server


async def outputs(count: int) -> AsyncIterator[dict[str, Any]]:
    for i in range(count):
        yield {"prompt": f"prompt {i}", "response": f"response {i}"}


async def run(client: pa.Prolific, plans: list[pa.BatchPlan], **options: Any
              ) -> tuple[list[pa.PlanResult], list[pa.PipelineEvent]]:
    events: list[pa.PipelineEvent] = []
    async with pa.orchestrate(client, plans, **options) as running:
        async for event in running:
            events.append(event)
    return running.results, events


async def test_a_fed_plan_is_set_up_from_its_first_records_then_fed_the_rest(
        fake: FakeProlific, tmp_path: Path) -> None:
    fed = plan("live-1", fake.workspace_id, wait=False,
               dataset=pa.Feed(outputs(2500), schema=SCHEMA, first=300))
    async with client_for(fake) as client:
        [result], events = await run(client, [fed])
    assert result.error is None, result.error
    batch = fake.world.owners[result.batch_id or ""]
    assert len(batch.tasks) == 2500                      # every record became a task
    dataset = fake.world.datasets[result.dataset_id or ""]
    assert dataset.schema is not None and len(dataset.rows) == 2500
    assert fake.v4.append_sizes[0] == 300                # setup was made from the first 300
    assert fake.v4.overlapping_syncs == 0
    # The study was out before the feed went on: participants see tasks as they come.
    order = [e.stage for e in events if e.kind is pa.EventKind.FINISHED]
    assert order.index(pa.Stage.STUDY_PUBLISH) < order.index(pa.Stage.FEED)
    [fed_event] = [e for e in events if e.stage is pa.Stage.FEED
                   and e.kind is pa.EventKind.FINISHED]
    assert fed_event.message.startswith("2200 records fed")
    skipped = {e.stage: e.message for e in events if e.kind is pa.EventKind.SKIPPED}
    assert pa.Stage.DATASET_READY in skipped


async def test_a_rerun_feeds_again_and_nothing_lands_twice(
        fake: FakeProlific, tmp_path: Path) -> None:
    journal = tmp_path / "run.db"

    def fed(count: int) -> pa.BatchPlan:
        return plan("live-2", fake.workspace_id, wait=False,
                    dataset=pa.Feed(outputs(count), schema=SCHEMA, first=10))

    async with client_for(fake) as client:
        [first], _ = await run(client, [fed(50)], journal=journal)
        [again], events = await run(client, [fed(60)], journal=journal)   # 10 more records
    assert again.error is None and again.batch_id == first.batch_id
    [fed] = [e for e in events if e.stage is pa.Stage.FEED and e.kind is pa.EventKind.FINISHED]
    assert fed.message.startswith("10 records fed (50 already in")
    assert len(fake.world.owners[first.batch_id or ""].tasks) == 60


def test_a_feed_is_checked_when_the_plan_is_built() -> None:
    with pytest.raises(ValueError, match="carries its own schema"):
        plan("p", "ws", dataset=pa.Feed(outputs(1), schema=SCHEMA), dataset_schema=SCHEMA)
    with pytest.raises(ValueError, match=r"Feed\.first"):
        pa.Feed([], schema=SCHEMA, first=1001)
    with pytest.raises(TypeError, match=r"Feed\.records"):
        pa.Feed({"prompt": "one record"}, schema=SCHEMA)
