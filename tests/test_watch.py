"""Watchers against the fake server, driven by its clock, never by sleeping."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest

import prolific_async as pa
from prolific_async.testing import FakeClock, FakeProlific

from .helpers import CSV, DETAILS, new_batch, ready_batch, ready_dataset

pytestmark = pytest.mark.anyio

FAST = pa.PollPolicy(initial=0.005, multiplier=1.5, ceiling=0.02, deadline=5)


def sdk_tasks() -> list[asyncio.Task[object]]:
    """Running tasks the SDK started (anyio names a task after its function's module and
    qualified name); the fake server's connection handlers may legitimately outlive a block."""
    return [t for t in asyncio.all_tasks() if t.get_name().startswith("prolific_async.")
            and not t.get_name().startswith("prolific_async.testing")]


async def history(watch: pa.Watch[object]) -> list[tuple[str | None, str]]:
    return [(t.previous, t.current) async for t in watch]


@pytest.fixture
async def stepping() -> AsyncIterator[tuple[pa.Prolific, FakeProlific]]:
    """A fake whose clock moves 0.25 s on every request: jobs advance as they are polled."""
    async with FakeProlific(clock=FakeClock(speed=0), seed=5) as fake:
        async with pa.Prolific(fake.token, base_url=fake.url, poll=FAST, seed=5) as client:
            yield client, fake


async def test_dataset_sequence(stepping: tuple[pa.Prolific, FakeProlific]) -> None:
    client, fake = stepping
    ds = await client.datasets.create(name="d", workspace_id=fake.workspace_id)
    await client.datasets.upload(ds.id, CSV)
    fake.clock.per_request = 0.25
    transitions = [t async for t in client.datasets.watch(ds.id)]
    assert [(t.previous, t.current) for t in transitions] == [
        (None, "PROCESSING"), ("PROCESSING", "READY")]
    assert [t.category for t in transitions] == [pa.Category.PENDING, pa.Category.DONE]


async def test_batch_sequence(stepping: tuple[pa.Prolific, FakeProlific]) -> None:
    client, fake = stepping
    ds = await ready_dataset(client, fake)
    batch = await new_batch(client, fake, ds)
    seen = []
    async for t in client.batches.watch(batch.id):
        seen.append((t.previous, t.current))
        if t.current == "UNINITIALISED":
            await client.batches.setup(batch.id)
            fake.clock.per_request = 0.25
    assert seen == [(None, "UNINITIALISED"), ("UNINITIALISED", "PROCESSING"),
                    ("PROCESSING", "READY")]


async def test_import_sequence(stepping: tuple[pa.Prolific, FakeProlific],
                               tmp_path: Path) -> None:
    client, fake = stepping
    ds = await client.datasets.create(name="v4", workspace_id=fake.workspace_id, schema=(
        pa.DatasetSchema(fields={"prompt": pa.SchemaField(type="text")})))
    data = tmp_path / "rows.jsonl"
    data.write_text('{"prompt": "a"}\n')
    target = await client.datasets.upload(ds.id, data)
    assert target.import_id is not None
    fake.clock.per_request = 0.25
    transitions = [t async for t in client.datasets.watch_import(ds.id, target.import_id)]
    assert [(t.previous, t.current) for t in transitions] == [
        (None, "queued"), ("queued", "processing"), ("processing", "complete")]
    assert transitions[-1].snapshot.accepted_count == 1
    assert [t.elapsed for t in transitions] == sorted(t.elapsed for t in transitions)
    assert all(t.kind == "dataset_import" and t.resource_id == target.import_id
               for t in transitions)


async def test_export_and_sync_sequences(stepping: tuple[pa.Prolific, FakeProlific]) -> None:
    client, fake = stepping
    batch = await ready_batch(client, fake)
    job = await client.batches.request_export(batch.id)
    assert job.export_id is not None
    fake.clock.per_request = 0.25
    assert await history(client.batches.watch_export(batch.id, job.export_id)) == [
        (None, "generating"), ("generating", "complete")]
    fake.clock.per_request = 0
    sync = await client.batches.sync(batch.id)
    fake.clock.per_request = 0.25
    assert sync.sync_id is not None
    assert await history(client.batches.watch_sync(batch.id, sync.sync_id)) == [
        (None, "queued"), ("queued", "processing"), ("processing", "complete")]


async def test_collection_export_sequence(stepping: tuple[pa.Prolific, FakeProlific]) -> None:
    client, fake = stepping
    col = await client.collections.create(
        name="c", workspace_id=fake.workspace_id, task_details=DETAILS,
        collection_items=[pa.CollectionPage(order=0, page_items=[pa.FreeText(description="?")])])
    job = await client.collections.request_export(col.id)
    assert job.export_id is not None
    fake.clock.per_request = 0.25
    assert await history(client.collections.watch_export(col.id, job.export_id)) == [
        (None, "generating"), ("generating", "complete")]


async def test_study_sequence(stepping: tuple[pa.Prolific, FakeProlific]) -> None:
    from .helpers import published_study

    client, fake = stepping
    batch = await ready_batch(client, fake)
    study = await published_study(client, fake, batch, places=2)
    fake.clock.per_request = 0.25
    transitions = [t async for t in client.studies.watch(study.id)]
    assert [(t.previous, t.current) for t in transitions] == [
        (None, "ACTIVE"), ("ACTIVE", "AWAITING REVIEW")]
    assert transitions[-1].snapshot.places_taken == 2


async def test_error_raises_resource_failed_with_snapshot() -> None:
    async with FakeProlific(clock=FakeClock(speed=0, per_request=0.25),
                            fail_names={"doomed"}) as fake:
        async with pa.Prolific(fake.token, base_url=fake.url, poll=FAST) as client:
            ds = await ready_dataset(client, fake)
            batch = await new_batch(client, fake, ds, name="doomed")
            await client.batches.setup(batch.id)
            seen = []
            with pytest.raises(pa.ResourceFailed, match="ended ERROR") as caught:
                async for t in client.batches.watch(batch.id):
                    seen.append(t.current)
    assert seen == ["PROCESSING", "ERROR"]
    assert caught.value.snapshot == pa.StatusSnapshot(status="ERROR")
    assert caught.value.resource_id == batch.id


async def test_deadline_then_resume_in_another_client(
    stepping: tuple[pa.Prolific, FakeProlific],
) -> None:
    client, fake = stepping
    ds = await ready_dataset(client, fake)
    batch = await new_batch(client, fake, ds)
    await client.batches.setup(batch.id)
    short = pa.PollPolicy(initial=0.005, ceiling=0.01, deadline=0.05)
    with pytest.raises(pa.PollTimeout, match="still PROCESSING") as caught:
        await client.batches.wait_ready(batch.id, poll=short)
    assert caught.value.last_status == "PROCESSING"
    saved = json.dumps(caught.value.resume_token)
    assert len(saved) < 200

    fake.clock.per_request = 0.25
    async with pa.Prolific(fake.token, base_url=fake.url, poll=FAST) as other:
        resumed = [t async for t in other.resume(json.loads(saved))]
    assert [(t.previous, t.current) for t in resumed] == [("PROCESSING", "READY")]


async def test_bad_resume_token(prolific_client: pa.Prolific) -> None:
    with pytest.raises(ValueError, match="resume token"):
        prolific_client.resume({"v": 1, "kind": "nope", "ids": []})
    with pytest.raises(ValueError, match="ids"):
        prolific_client.resume({"v": 1, "kind": "batch", "ids": ["a", "b"]})


async def test_unknown_status_is_yielded_logged_once_and_not_hot_looped(
    prolific_client: pa.Prolific, fake_prolific: FakeProlific,
    caplog: pytest.LogCaptureFixture,
) -> None:
    batch = await ready_batch(prolific_client, fake_prolific)
    fake_prolific.inject(method="GET", path="*/status", status=200, body={"status": "ARCHIVING"})
    policy = pa.PollPolicy(initial=0.02, multiplier=2, ceiling=0.08, jitter=0, deadline=0.6)
    seen = []
    with caplog.at_level(logging.WARNING), pytest.raises(pa.PollTimeout):
        async for t in prolific_client.batches.watch(batch.id, poll=policy):
            seen.append(t.current)
    assert seen == ["ARCHIVING"]
    polls = len(fake_prolific.requests_to("GET", "*/status"))
    # 0.02 + 0.04 + 0.08 ... within 0.6 s: about nine polls, never a tight loop.
    assert 3 <= polls <= 12
    assert caplog.text.count("ARCHIVING") == 1


async def test_transient_errors_within_tolerance_are_survived(
    prolific_client: pa.Prolific, fake_prolific: FakeProlific,
) -> None:
    batch = await ready_batch(prolific_client, fake_prolific)
    fake_prolific.inject(method="GET", path="*/status", status=503, times=3)
    policy = pa.PollPolicy(initial=0.005, ceiling=0.01, max_poll_errors=3, deadline=5)
    assert await history(prolific_client.batches.watch(batch.id, poll=policy)) == [
        (None, "READY")]
    assert len(fake_prolific.requests_to("GET", "*/status")) == 4


async def test_transient_errors_beyond_tolerance_raise_with_the_cause(
    prolific_client: pa.Prolific, fake_prolific: FakeProlific,
) -> None:
    batch = await ready_batch(prolific_client, fake_prolific)
    fake_prolific.inject(method="GET", path="*/status", status=503, times=4)
    policy = pa.PollPolicy(initial=0.005, ceiling=0.01, max_poll_errors=3, deadline=5)
    with pytest.raises(pa.PollError, match="4 poll errors in a row") as caught:
        await prolific_client.batches.wait_ready(batch.id, poll=policy)
    assert isinstance(caught.value.__cause__, pa.InternalServerError)
    assert caught.value.__cause__.status_code == 503
    # One request per poll: the poller, not the transport, retries polls.
    assert len(fake_prolific.requests_to("GET", "*/status")) == 4


async def test_404_on_a_watched_resource_is_not_retried(
    prolific_client: pa.Prolific, fake_prolific: FakeProlific,
) -> None:
    with pytest.raises(pa.NotFoundError):
        await prolific_client.batches.wait_ready("01954894-65b3-779e-aaf6-348698e23634")
    assert len(fake_prolific.requests) == 1


async def test_poller_obeys_retry_after(prolific_client: pa.Prolific,
                                        fake_prolific: FakeProlific) -> None:
    batch = await ready_batch(prolific_client, fake_prolific)
    fake_prolific.inject(method="GET", path="*/status", status=429, retry_after="0.15", times=1)
    policy = pa.PollPolicy(initial=0.005, ceiling=0.05, deadline=5)
    await prolific_client.batches.wait_ready(batch.id, poll=policy)
    first, second = fake_prolific.requests_to("GET", "*/status")
    assert second.at - first.at >= 0.15


async def test_two_watchers_of_one_batch_share_each_poll(
    stepping: tuple[pa.Prolific, FakeProlific],
) -> None:
    client, fake = stepping
    ds = await ready_dataset(client, fake)
    alone = await new_batch(client, fake, ds, "alone")
    shared = await new_batch(client, fake, ds, "shared")

    async def polls_to_ready(batch: pa.Batch, watches: int) -> tuple[int, list[pa.Transition]]:
        fake.clock.per_request = 0
        await client.batches.setup(batch.id)
        fake.clock.per_request = 0.125  # exact in binary: no rounding decides a tick
        start = len(fake.requests)
        async with pa.watch_many([client.batches.watch(batch.id) for _ in range(watches)]) as s:
            events = [e async for e in s if isinstance(e, pa.Transition)]
        return len(fake.requests) - start, events

    solo_polls, solo = await polls_to_ready(alone, 1)
    both_polls, events = await polls_to_ready(shared, 2)
    assert [(e.previous, e.current) for e in solo] == [(None, "PROCESSING"),
                                                       ("PROCESSING", "READY")]
    assert [(e.previous, e.current) for e in events] == [
        (None, "PROCESSING"), (None, "PROCESSING"), ("PROCESSING", "READY"),
        ("PROCESSING", "READY")]
    assert both_polls == solo_polls


async def test_cancelling_a_watch_stops_polling(
    prolific_client: pa.Prolific, fake_prolific: FakeProlific,
) -> None:
    ds = await ready_dataset(prolific_client, fake_prolific)
    batch = await new_batch(prolific_client, fake_prolific, ds)
    await prolific_client.batches.setup(batch.id)  # stays PROCESSING: the clock is stopped
    watch = prolific_client.batches.watch(batch.id)
    seen = []
    with anyio.move_on_after(0.1) as scope:
        async for t in watch:
            seen.append(t.current)
    assert scope.cancelled_caught
    assert seen == ["PROCESSING"]
    assert watch._generator.ag_frame is None  # finished: its finally ran
    assert sdk_tasks() == []
    polls = len(fake_prolific.requests_to("GET", "*/status"))
    fake_prolific.clock.advance(10)
    assert await prolific_client.batches.status(batch.id) is pa.BatchStatus.READY
    assert len(fake_prolific.requests_to("GET", "*/status")) == polls + 1
    # Nothing was cancelled on the server.
    assert fake_prolific.requests_to("DELETE") == []


async def test_breaking_out_with_async_with_closes_at_once(
    prolific_client: pa.Prolific, fake_prolific: FakeProlific,
) -> None:
    ds = await ready_dataset(prolific_client, fake_prolific)
    batch = await new_batch(prolific_client, fake_prolific, ds)
    await prolific_client.batches.setup(batch.id)
    async with prolific_client.batches.watch(batch.id) as watch:
        async for _ in watch:
            break
    assert watch._generator.ag_frame is None
    assert prolific_client._context.watch_env.channels._channels == {}


async def test_fail_after_raises_timeout(prolific_client: pa.Prolific,
                                         fake_prolific: FakeProlific) -> None:
    ds = await ready_dataset(prolific_client, fake_prolific)
    batch = await new_batch(prolific_client, fake_prolific, ds)
    await prolific_client.batches.setup(batch.id)
    with pytest.raises(TimeoutError):
        with anyio.fail_after(0.05):
            await prolific_client.batches.wait_ready(batch.id)
    assert prolific_client._context.watch_env.channels._channels == {}


async def test_watch_many_200_batches_reach_ready(
    stepping: tuple[pa.Prolific, FakeProlific],
) -> None:
    client, fake = stepping
    ds = await ready_dataset(client, fake)
    batches = []
    for i in range(200):
        batch = await client.batches.create(name=f"b{i}", workspace_id=fake.workspace_id,
                                            dataset_id=ds.id, task_details=DETAILS)
        await client.batches.setup(batch.id)
        batches.append(batch)
    fake.clock.per_request = 0.01
    ready = set()
    async with pa.watch_many(client.batches.watch(b.id) for b in batches) as stream:
        async for event in stream:
            assert isinstance(event, pa.Transition), event
            if event.current == "READY":
                ready.add(event.resource_id)
    assert ready == {b.id for b in batches}


async def test_watch_many_isolates_a_failure(prolific_client: pa.Prolific,
                                             fake_prolific: FakeProlific) -> None:
    good = await ready_batch(prolific_client, fake_prolific)
    async with pa.watch_many([prolific_client.batches.watch("0000-missing"),
                              prolific_client.batches.watch(good.id)]) as stream:
        events = [e async for e in stream]
    [failure] = [e for e in events if isinstance(e, pa.WatchFailure)]
    assert failure.resource_id == "0000-missing"
    assert isinstance(failure.error, pa.NotFoundError)
    assert [(e.resource_id, e.current) for e in events if isinstance(e, pa.Transition)] == [
        (good.id, "READY")]


async def test_wait_returns_the_terminal_snapshot(
    stepping: tuple[pa.Prolific, FakeProlific],
) -> None:
    client, fake = stepping
    batch = await ready_batch(client, fake)
    sync = await client.batches.sync(batch.id)
    assert sync.sync_id is not None
    fake.clock.per_request = 0.25
    done = await client.batches.watch_sync(batch.id, sync.sync_id).wait()
    assert done.status is pa.SyncStatus.COMPLETE and done.groups_created == 0
    assert client._context.watch_env.channels._channels == {}


async def test_leaving_watch_many_early_stops_every_watch(
    prolific_client: pa.Prolific, fake_prolific: FakeProlific,
) -> None:
    ds = await ready_dataset(prolific_client, fake_prolific)
    batches = [await new_batch(prolific_client, fake_prolific, ds, f"b{i}") for i in range(3)]
    for batch in batches:
        await prolific_client.batches.setup(batch.id)  # stays PROCESSING: the clock is stopped
    async with pa.watch_many(prolific_client.batches.watch(b.id) for b in batches) as stream:
        async for event in stream:
            assert isinstance(event, pa.Transition) and event.current == "PROCESSING"
            break
    assert sdk_tasks() == []
    assert prolific_client._context.watch_env.channels._channels == {}
    polls = len(fake_prolific.requests_to("GET", "*/status"))
    await prolific_client.batches.list(workspace_id=fake_prolific.workspace_id)
    assert len(fake_prolific.requests_to("GET", "*/status")) == polls


async def test_a_watch_joining_a_shared_list_keeps_its_own_cadence() -> None:
    # One batches.list answer serves every watch of a workspace. A watch that joins is not
    # held to the slow cadence an older watch has backed off to: the channel polls when its
    # most eager watcher is due.
    async with FakeProlific(clock=FakeClock(speed=0), seed=5) as fake, \
            pa.Prolific(fake.token, base_url=fake.url, seed=5) as client:
        dataset = await ready_dataset(client, fake)
        old, new = [await new_batch(client, fake, dataset, name) for name in ("old", "new")]
        for batch in (old, new):
            await client.batches.setup(batch.id, tasks_per_group=1)
        patient = pa.PollPolicy(initial=600, ceiling=600, deadline=3600)
        eager = pa.PollPolicy(initial=0.01, ceiling=0.01, deadline=3600)
        async with client.batches.watch(old.id, workspace_id=fake.workspace_id,
                                        poll=patient) as slow, \
                client.batches.watch(new.id, workspace_id=fake.workspace_id,
                                     poll=eager) as quick:
            assert (await slow.__anext__()).current == "PROCESSING"  # next poll in 600 s
            assert (await quick.__anext__()).current == "PROCESSING"  # the same answer
            fake.clock.advance(fake.world.batch_setup)
            with anyio.fail_after(30):  # the old schedule would wait 600 s
                assert (await quick.__anext__()).current == "READY"
