"""Every run is a resume: the server is the truth, the journal only saves requests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import prolific_async as pa
from prolific_async.testing import FakeClock, FakeProlific

from .orchestration import (
    PLACES,
    batches_named,
    client_for,
    plan,
    publishes_of,
    run_all,
    studies_of,
    submissions_in,
)

pytestmark = pytest.mark.anyio

#: The requests that create or change something (an export request is checked apart).
SPENDING = ("*/datasets", "*/batches", "*/setup", "/api/v1/studies/", "*/transition/")


@pytest.fixture
async def fake() -> AsyncIterator[FakeProlific]:
    async with FakeProlific(clock=FakeClock(speed=0, per_request=0.25), seed=17) as server:
        yield server



def creating_posts(fake: FakeProlific) -> int:
    return sum(len(fake.requests_to("POST", path)) for path in SPENDING)


def assert_once_each(fake: FakeProlific, results: list[pa.PlanResult]) -> None:
    for result in results:
        assert result.ok, (result.plan, result.error)
        assert batches_named(fake, result.plan) == [result.batch_id]
        assert len(fake.world.datasets_named(result.plan)) == 1
        assert studies_of(fake, result.batch_id or "") == [result.study_id]
        assert publishes_of(fake, result.study_id or "") == 1


@pytest.mark.parametrize("journal", ["none", "new", "zero-length"])
async def test_a_finished_run_rerun_without_its_journal_creates_nothing(
        fake: FakeProlific, tmp_path: Path, journal: str) -> None:
    plans = [plan(f"again-{n}", fake.workspace_id, tmp_path / "out") for n in range(3)]
    async with client_for(fake) as client:
        first, _ = await run_all(client, plans, tmp_path / "run.db")
        posts, exports = creating_posts(fake), len(fake.requests_to("POST", "*/export"))
        lists = len(fake.requests_to("GET", "*/data-collection/batches"))
        second_journal = {"none": None, "new": tmp_path / "new.db",
                          "zero-length": tmp_path / "empty.db"}[journal]
        if journal == "zero-length":
            (tmp_path / "empty.db").write_bytes(b"")
        second, events = await run_all(client, plans, second_journal)
    assert creating_posts(fake) == posts
    # The first run's export is complete, unfiltered and holds every response: reused.
    assert len(fake.requests_to("POST", "*/export")) == exports
    # One batch list for the workspace served every plan.
    assert len(fake.requests_to("GET", "*/data-collection/batches")) == lists + 1
    assert_once_each(fake, second)
    assert [(r.dataset_id, r.batch_id, r.study_id, r.responses) for r in second] == [
        (r.dataset_id, r.batch_id, r.study_id, r.responses) for r in first]
    for result in second:
        assert result.export_path is not None and submissions_in(result.export_path) == PLACES
    found = {e.message for e in events if e.stage is pa.Stage.BATCH_CREATE
             and e.kind is pa.EventKind.FINISHED}
    assert found == {f"found batch {r.batch_id} on the server" for r in second}


async def test_two_batches_of_the_plans_name_stop_it_before_anything_is_created(
        fake: FakeProlific, tmp_path: Path) -> None:
    async with client_for(fake) as client:
        twins = [await client.batches.create(name="twin", workspace_id=fake.workspace_id,
                                             task_details=plan("x", "w").task_details)
                 for _ in range(2)]
        posts = creating_posts(fake)
        results, _ = await run_all(client, [plan("twin", fake.workspace_id, tmp_path),
                                            plan("single", fake.workspace_id, tmp_path)])
    twin, single = results
    assert isinstance(twin.error, pa.DuplicateBatchesError)
    assert twin.error.batch_ids == [b.id for b in twins]
    for batch in twins:
        assert batch.id in str(twin.error)
    assert "rename the plan" in str(twin.error) and "delete the extra" in str(twin.error)
    assert twin.dataset_id is None and fake.world.datasets_named("twin") == []
    assert single.ok
    # Only the other plan created anything: dataset, upload-free create, batch, setup,
    # study and publish.
    assert creating_posts(fake) == posts + 5


async def test_a_filtered_export_of_the_batch_is_never_reused(
        fake: FakeProlific, tmp_path: Path) -> None:
    async with client_for(fake) as client:
        [done], _ = await run_all(client, [plan("filtered", fake.workspace_id)])
        batch_id = done.batch_id or ""
        # A teammate's export of one study only, complete and the newest job of the batch.
        theirs = await client.batches.request_export(batch_id, study_id=done.study_id)
        assert theirs.export_id is not None
        await client.batches.wait_export(batch_id, theirs.export_id)
        [result], events = await run_all(
            client, [plan("filtered", fake.workspace_id, tmp_path / "out")])
    assert result.ok, result.error
    jobs = fake.world.exports_for(batch_id)
    assert [job.filter for job in jobs] == [{"study_id": done.study_id}, None]
    assert not any(e.message.startswith("reused export") for e in events)
    assert result.export_path is not None and submissions_in(result.export_path) == PLACES


async def test_a_deleted_export_file_is_downloaded_again(
        fake: FakeProlific, tmp_path: Path) -> None:
    plans = [plan("deleted", fake.workspace_id, tmp_path / "out")]
    journal = tmp_path / "run.db"
    async with client_for(fake) as client:
        [first], _ = await run_all(client, plans, journal)
        assert first.export_path is not None
        first.export_path.unlink()
        posts = len(fake.requests_to("POST"))
        [again], events = await run_all(client, plans, journal)
    assert len(fake.requests_to("POST")) == posts
    assert again.ok and again.export_path is not None and again.export_path.is_file()
    assert submissions_in(again.export_path) == PLACES
    ran = [e.stage for e in events if e.kind is pa.EventKind.FINISHED]
    assert ran == [pa.Stage.DOWNLOAD]


async def test_a_changed_export_folder_is_honoured(fake: FakeProlific, tmp_path: Path) -> None:
    journal = tmp_path / "run.db"
    async with client_for(fake) as client:
        [first], _ = await run_all(client, [plan("moved", fake.workspace_id, tmp_path / "a")],
                                   journal)
        posts = len(fake.requests_to("POST"))
        [moved], _ = await run_all(client, [plan("moved", fake.workspace_id, tmp_path / "b")],
                                   journal)
    assert len(fake.requests_to("POST")) == posts
    assert first.export_path is not None and first.export_path.parent == tmp_path / "a"
    assert moved.export_path is not None and moved.export_path.parent == tmp_path / "b"
    assert submissions_in(moved.export_path) == PLACES


async def test_a_changed_wait_for_is_applied_and_exported_again(
        fake: FakeProlific, tmp_path: Path) -> None:
    journal = tmp_path / "run.db"
    study = pa.StudyPlan(description="d", reward=10, places=PLACES, estimated_minutes=1,
                         publish=True, wait_for=1)
    async with client_for(fake) as client:
        await run_all(client, [plan("waits", fake.workspace_id, tmp_path, study=study)], journal)
        exports = len(fake.requests_to("POST", "*/export"))
        complete = pa.StudyPlan(description="d", reward=10, places=PLACES,
                                estimated_minutes=1, publish=True, wait_for="complete")
        [result], events = await run_all(
            client, [plan("waits", fake.workspace_id, tmp_path, study=complete)], journal)
    assert result.ok, result.error
    ran = [e.stage for e in events if e.kind is pa.EventKind.FINISHED]
    assert ran == [pa.Stage.RESPONSES, pa.Stage.EXPORT, pa.Stage.DOWNLOAD]
    assert len(fake.requests_to("POST", "*/export")) == exports + 1
    assert result.export_path is not None and submissions_in(result.export_path) == PLACES


async def test_a_changed_plan_is_refused_with_advice_that_holds(
        fake: FakeProlific, tmp_path: Path) -> None:
    journal = tmp_path / "run.db"
    async with client_for(fake) as client:
        await run_all(client, [plan("changed", fake.workspace_id, study=None)], journal)
        [result], _ = await run_all(
            client, [plan("changed", fake.workspace_id, study=None, tasks_per_group=2)],
            journal)
    assert isinstance(result.error, pa.PlanChangedError)
    message = str(result.error)
    assert "rename the plan" in message and "new journal" not in message.replace(
        "a new one or none", "")


async def test_a_batch_deleted_mid_watch_ends_its_plan_at_the_next_poll(
        fake: FakeProlific) -> None:
    lists_then = 0
    async with client_for(fake) as client:
        async with pa.orchestrate(client, [plan("doomed", fake.workspace_id)]) as run:
            async for event in run:
                if event.stage is pa.Stage.BATCH_READY and event.kind is pa.EventKind.STARTED:
                    fake.clock.per_request = 0  # the batch stays PROCESSING from here
                if event.stage is pa.Stage.BATCH_READY and event.transition is not None:
                    fake.world.remove_batch(event.transition.resource_id)
                    lists_then = len(fake.requests_to("GET", "*/data-collection/batches"))
    [result] = run.results
    assert isinstance(result.error, pa.NotFoundError) and result.stage is pa.Stage.BATCH_READY
    assert f"batch {result.batch_id} is no longer listed" in str(result.error)
    # The poll after the deletion ended it (one more may have been in flight).
    assert len(fake.requests_to("GET", "*/data-collection/batches")) <= lists_then + 2
