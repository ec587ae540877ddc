"""Spending is never a surprise: dry runs, the cost calculator, the export-too-soon warning."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import prolific_async as pa
from prolific_async.testing import FakeClock, FakeProlific

from .orchestration import PLACES, client_for, plan

pytestmark = pytest.mark.anyio


@pytest.fixture
async def fake() -> AsyncIterator[FakeProlific]:
    async with FakeProlific(clock=FakeClock(speed=0, per_request=0.25), seed=23) as server:
        yield server


async def dry(client: pa.Prolific, plans: list[pa.BatchPlan]
              ) -> tuple[list[pa.PlanResult], list[pa.PipelineEvent]]:
    events: list[pa.PipelineEvent] = []
    async with pa.orchestrate(client, plans, dry_run=True) as run:
        async for event in run:
            events.append(event)
    return run.results, events


async def test_the_cost_calculator_prices_a_study(fake: FakeProlific) -> None:
    async with client_for(fake) as client:
        cost = await client.studies.cost(reward=100, total_available_places=5)
        with pytest.raises(ValueError, match="reward must be an integer >= 1"):
            await client.studies.cost(reward=0, total_available_places=5)
    # The fake's account: 500 to participants, a third of it in fees, VAT on the fees.
    assert cost.total_cost == pytest.approx(500 + 500 / 3 * 1.2)
    [sent] = fake.requests_to("POST", "/api/v1/study-cost-calculator/")
    assert sent.json == {"reward": 100, "total_available_places": 5}


async def test_a_dry_run_sends_only_reads_and_the_cost_calculator(
        fake: FakeProlific, tmp_path: Path) -> None:
    async with client_for(fake) as client:
        # One plan done already (its study published), one new, one without a study.
        async with pa.orchestrate(client, [plan("done", fake.workspace_id)]) as first:
            await first.wait()
        before = len(fake.requests)
        results, events = await dry(client, [
            plan("done", fake.workspace_id), plan("new", fake.workspace_id, tmp_path),
            plan("bare", fake.workspace_id, study=None)])
    sent = fake.requests[before:]
    assert {(r.method, r.path) for r in sent if r.method != "GET"} == {
        ("POST", "/api/v1/study-cost-calculator/")}
    assert fake.world.batches_named("new") == [] and fake.world.datasets_named("new") == []
    done, new, bare = results
    assert all(r.error is None for r in results), [r.error for r in results]
    assert done.publish_cost is None and bare.publish_cost is None
    assert new.publish_cost == pytest.approx(100 * PLACES * (1 + 1.2 / 3))
    planned = {(e.plan, e.stage): e.message for e in events if e.kind is pa.EventKind.PLANNED}
    assert planned[("done", pa.Stage.BATCH_CREATE)].startswith("exists: batch ")
    assert planned[("done", pa.Stage.STUDY_PUBLISH)] == "exists: published (AWAITING REVIEW)"
    assert planned[("new", pa.Stage.BATCH_CREATE)] == "would create a batch named after the plan"
    assert planned[("new", pa.Stage.STUDY_PUBLISH)] == "would publish: 2.80 with fees and VAT"
    assert planned[("bare", pa.Stage.STUDY_CREATE)] == "not in the plan: no study in the plan"
    assert len(planned) == 3 * len(pa.Stage)


async def test_a_dry_run_refuses_what_the_run_would_refuse(fake: FakeProlific,
                                                           tmp_path: Path) -> None:
    async with client_for(fake) as client:
        for _ in range(2):
            await client.batches.create(name="twice", workspace_id=fake.workspace_id,
                                        task_details=plan("x", "w").task_details)
        empty = tmp_path / "empty.csv"
        empty.write_text("")
        results, _ = await dry(client, [plan("twice", fake.workspace_id),
                                        plan("empty", fake.workspace_id, dataset=empty)])
    twice, bad_file = results
    assert isinstance(twice.error, pa.DuplicateBatchesError)
    assert bad_file.error is not None and "empty.csv" in str(bad_file.error)


async def test_publishing_and_exporting_without_wait_for_warns_first(
        fake: FakeProlific, tmp_path: Path) -> None:
    async with client_for(fake) as client:
        _, events = await dry(client, [
            plan("soon", fake.workspace_id, tmp_path, wait=False),
            plan("waits", fake.workspace_id, tmp_path)])
    warnings = [e for e in events if e.kind is pa.EventKind.WARNING]
    assert [(e.plan, e.stage) for e in warnings] == [("soon", pa.Stage.EXPORT)]
    assert "holds only the responses that have arrived" in warnings[0].message
    assert events.index(warnings[0]) < min(i for i, e in enumerate(events) if e.plan == "soon"
                                           and e.kind is pa.EventKind.PLANNED)
