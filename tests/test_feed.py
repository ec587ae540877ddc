"""``client.batches.feed``: records sent from many tasks into a live batch, coalesced syncs,
backpressure, and a journal that resumes a crashed feed without sending a record twice."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest

import prolific_async as pa
from prolific_async.testing import FakeProlific

from .helpers import DETAILS

pytestmark = pytest.mark.anyio

SCHEMA = pa.DatasetSchema(fields={"prompt": pa.SchemaField(type="text"),
                                  "response": pa.SchemaField(type="text")})


def record(i: int) -> dict[str, Any]:
    return {"prompt": f"prompt {i}", "response": f"response {i}"}


async def live_batch(client: pa.Prolific, fake: FakeProlific, first: int = 10,
                     ready: bool = True, **options: Any) -> pa.Batch:
    """A batch made from a V4 dataset holding records 0 .. first-1, set up and (unless
    ``ready`` is False) READY."""
    ds = await client.datasets.create(name="stream", workspace_id=fake.workspace_id,
                                      schema=SCHEMA)
    await client.datasets.append(ds.id, [record(i) for i in range(first)])
    batch = await client.batches.create(name="live", workspace_id=fake.workspace_id,
                                        dataset_id=ds.id, task_details=DETAILS,
                                        batch_items=pa.one_page([pa.FreeText(description="Ok?")]),
                                        **options)
    await client.batches.setup(batch.id, tasks_per_group=2)
    if ready:
        fake.clock.advance(fake.world.batch_setup)
    return await client.batches.get(batch.id)


async def test_three_tasks_feed_a_live_batch_every_record_once_syncs_never_overlap(
        prolific_client: pa.Prolific, fake_prolific: FakeProlific) -> None:
    client, fake = prolific_client, fake_prolific
    batch = await live_batch(client, fake)
    assert batch.total_task_count == 10
    fake.clock.per_request = fake.world.batch_setup / 4   # a sync takes a few polls

    async def producer(feed: pa.BatchFeed, worker: int) -> None:
        for i in range(400):
            await feed.send(record(1000 + worker * 400 + i))

    async with client.batches.feed(batch.id, buffer=50, linger=0) as feed:
        async with anyio.create_task_group() as group:
            for worker in range(3):
                group.start_soon(producer, feed, worker)

    result = feed.result
    assert (result.accepted, result.duplicates, result.rejected) == (1200, 0, 0)
    assert result.requests == len(fake.v4.append_sizes) - 1 >= 2   # 1: live_batch's append
    assert fake.v4.overlapping_syncs == 0
    assert 1 <= result.syncs == len(fake.v4.syncs_of(batch.id))
    assert result.tasks_created == 1200
    after = await client.batches.get(batch.id)
    assert after.total_task_count == 10 + 1200
    [dataset] = [fake.world.datasets[ds.id] for ds in after.datasets or []]
    assert len(dataset.rows) == 1210


async def test_send_waits_while_the_buffer_is_full(
        prolific_client: pa.Prolific, fake_prolific: FakeProlific) -> None:
    batch = await live_batch(prolific_client, fake_prolific)
    # Every append is held back, so nothing leaves the buffer.
    fake_prolific.inject(method="POST", path="*/datapoints", status=None, latency=60)
    with anyio.CancelScope() as scope:
        async with prolific_client.batches.feed(batch.id, sync=False, buffer=5,
                                                linger=0) as feed:
            sent = 0
            with anyio.move_on_after(0.5) as waited:
                for i in range(1000):
                    await feed.send(record(100 + i))
                    sent += 1
            # The sender took one request's worth and hangs on it; 5 more filled the buffer;
            # the next send had to wait.
            assert waited.cancelled_caught and sent <= 1 + 5 + 5
            scope.cancel()                        # give up on the held request
    assert feed.result.requests == 0


async def test_leaving_the_block_flushes_and_runs_one_last_sync(
        prolific_client: pa.Prolific, fake_prolific: FakeProlific) -> None:
    batch = await live_batch(prolific_client, fake_prolific)
    fake_prolific.clock.per_request = fake_prolific.world.batch_setup / 2
    async with prolific_client.batches.feed(batch.id, linger=5) as feed:
        await feed.send_many(record(100 + i) for i in range(7))
        assert fake_prolific.v4.syncs_of(batch.id) == []
    # The 7 records lingered in the buffer until the block ended: one request, one sync.
    assert feed.result.requests == 1 and feed.result.syncs == 1
    assert (await prolific_client.batches.get(batch.id)).total_task_count == 17


async def test_a_batch_still_processing_is_waited_for_before_the_first_sync(
        prolific_client: pa.Prolific, fake_prolific: FakeProlific) -> None:
    batch = await live_batch(prolific_client, fake_prolific, ready=False)
    assert batch.status is pa.BatchStatus.PROCESSING
    fake_prolific.clock.per_request = fake_prolific.world.batch_setup / 4
    async with prolific_client.batches.feed(batch.id) as feed:
        await feed.send(record(100))
    assert feed.result.syncs == 1
    # The fake refuses (400) a sync of a batch that is not READY: this one waited.
    assert len(fake_prolific.v4.syncs_of(batch.id)) == 1
    assert (await prolific_client.batches.get(batch.id)).total_task_count == 11


async def test_rejections_carry_their_index_and_record(
        prolific_client: pa.Prolific, fake_prolific: FakeProlific) -> None:
    batch = await live_batch(prolific_client, fake_prolific)
    records = [record(100), {"prompt": "no response"}, record(101), record(100)]
    async with prolific_client.batches.feed(batch.id, sync=False) as feed:
        await feed.send_many(records)
    result = feed.result
    assert (result.accepted, result.duplicates, result.rejected) == (2, 1, 1)
    assert [(r.index, r.field, r.record) for r in result.rejections] == [
        (1, "response", {"prompt": "no response"})]


async def test_a_journal_resumes_a_crashed_feed_and_every_record_lands_once(
        prolific_client: pa.Prolific, fake_prolific: FakeProlific, tmp_path: Path) -> None:
    client, fake = prolific_client, fake_prolific
    batch = await live_batch(client, fake)
    fake.clock.per_request = fake.world.batch_setup / 2
    journal = tmp_path / "feed.db"
    records = [record(100 + i) for i in range(2500)]

    class Crash(Exception):
        pass

    with pytest.raises(Crash):
        async with client.batches.feed(batch.id, journal=journal, buffer=100,
                                       linger=0) as feed:
            for i, one in enumerate(records):
                if i == 1800:
                    raise Crash   # the process dies: buffered records are never sent
                await feed.send(one)
    first = feed.result
    assert 0 < first.total <= 1800

    async with client.batches.feed(batch.id, journal=journal, linger=0) as again:
        await again.send_many(records)
    second = again.result
    # What the server acknowledged was skipped; the request in flight when the process died
    # (the server may have kept it) went again and came back as duplicates: every record is
    # in the dataset once.
    assert second.skipped == first.total > 0
    assert second.duplicates <= 1000
    assert first.accepted + second.accepted + second.duplicates == 2500
    assert (await client.batches.get(batch.id)).total_task_count == 10 + 2500

    async with client.batches.feed(batch.id, journal=journal) as done:
        await done.send_many(records)
    assert (done.result.skipped, done.result.requests, done.result.syncs) == (2500, 0, 0)


async def test_a_journal_of_another_batch_is_refused(
        prolific_client: pa.Prolific, fake_prolific: FakeProlific, tmp_path: Path) -> None:
    batch = await live_batch(prolific_client, fake_prolific)
    journal = tmp_path / "feed.db"
    async with prolific_client.batches.feed(batch.id, journal=journal, sync=False) as feed:
        await feed.send(record(100))
    other = await prolific_client.batches.duplicate(batch.id, name="other")
    with pytest.raises(ValueError, match="belongs to the feed of batch"):
        async with prolific_client.batches.feed(other.id, journal=journal, sync=False):
            pass
    garbage = tmp_path / "notes.txt"
    garbage.write_text("not a database, but long enough to be read as one: " * 40)
    with pytest.raises(ValueError, match="is not a feed journal"):
        async with prolific_client.batches.feed(batch.id, journal=garbage, sync=False):
            pass


async def test_a_batch_that_syncs_itself_gets_no_sync_from_the_feed(
        prolific_client: pa.Prolific, fake_prolific: FakeProlific) -> None:
    batch = await live_batch(prolific_client, fake_prolific, auto_sync_enabled=True)
    async with prolific_client.batches.feed(batch.id) as feed:
        await feed.send_many([record(100), record(101)])
    assert feed.result.syncs == 0
    [auto] = fake_prolific.v4.syncs_of(batch.id)   # the server's own sync after the append
    assert auto.last - auto.first == 2


async def test_a_batch_not_set_up_is_refused_before_anything_is_sent(
        prolific_client: pa.Prolific, fake_prolific: FakeProlific) -> None:
    ds = await prolific_client.datasets.create(name="s", workspace_id=fake_prolific.workspace_id,
                                               schema=SCHEMA)
    batch = await prolific_client.batches.create(name="b", workspace_id=fake_prolific.workspace_id,
                                                 dataset_id=ds.id, task_details=DETAILS)
    with pytest.raises(pa.JobNotStarted, match="not set up"):
        async with prolific_client.batches.feed(batch.id):
            pass
    # Without syncs a batch not set up yet can be fed: setup makes tasks of every record.
    async with prolific_client.batches.feed(batch.id, sync=False) as feed:
        await feed.send(record(1))
    assert feed.result.accepted == 1


async def test_bad_records_and_closed_feeds_fail_in_the_callers_task(
        prolific_client: pa.Prolific, fake_prolific: FakeProlific) -> None:
    batch = await live_batch(prolific_client, fake_prolific)
    async with prolific_client.batches.feed(batch.id, sync=False) as feed:
        with pytest.raises(TypeError, match="record must be a mapping"):
            await feed.send(["not", "a", "mapping"])  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="the feed is closed"):
        await feed.send(record(1))
    with pytest.raises(ValueError, match="sync must be"):
        prolific_client.batches.feed(batch.id, sync="sometimes")  # type: ignore[arg-type]


async def test_an_append_that_fails_stops_the_feed_with_that_error(
        prolific_client: pa.Prolific, fake_prolific: FakeProlific) -> None:
    batch = await live_batch(prolific_client, fake_prolific)
    fake_prolific.inject(method="POST", path="*/datapoints", status=403,
                         body={"detail": "no access"})
    with pytest.raises(pa.PermissionDeniedError, match="no access"):
        async with prolific_client.batches.feed(batch.id, linger=0) as feed:
            for i in range(5000):
                await feed.send(record(i))
