"""V4 datasets taking records as they come: ``datasets.append``, ``datasets.update`` and the
schema migration a change starts, against the fake over loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

import prolific_async as pa
from prolific_async.testing import FakeProlific

pytestmark = pytest.mark.anyio

SCHEMA = pa.DatasetSchema(fields={"prompt": pa.SchemaField(type="text"),
                                  "response": pa.SchemaField(type="text")}, strict=True)


async def v4_dataset(client: pa.Prolific, fake: FakeProlific,
                     schema: pa.DatasetSchema = SCHEMA) -> pa.Dataset:
    return await client.datasets.create(name="stream", workspace_id=fake.workspace_id,
                                        schema=schema)


def record(i: int) -> dict[str, Any]:
    return {"prompt": f"prompt {i}", "response": f"response {i}"}


async def test_2500_records_with_duplicates_and_3_invalid_during_an_import(
        prolific_client: pa.Prolific, fake_prolific: FakeProlific, tmp_path: Path) -> None:
    client, fake = prolific_client, fake_prolific
    ds = await v4_dataset(client, fake)
    upload = tmp_path / "first.jsonl"
    upload.write_text("".join(f'{{"prompt": "imported {i}", "response": "r"}}\n'
                              for i in range(5)))
    await client.datasets.upload(ds.id, upload)   # an import now runs: appends get 409
    # Each request moves the fake clock, so the import finishes while the append waits.
    fake.clock.per_request = fake.world.dataset_processing / 8
    records: list[dict[str, Any]] = []
    for i in range(2400):
        records.append(record(i))
        if i % 25 == 0 or i == 2399:
            records.append(record(i // 2))                       # an exact duplicate
    bad = {7: {"prompt": "no response"},                          # a missing field
           1234: {"prompt": "p", "response": 42},                 # not text
           2499: {"prompt": "p", "response": "r", "extra": "x"}}  # not in the schema
    for index in sorted(bad):
        records.insert(index, bad[index])
    assert len(records) == 2500 and records[2499] == bad[2499]

    result = await client.datasets.append(ds.id, records)

    assert (result.accepted, result.duplicates, result.rejected) == (2400, 97, 3)
    assert [(r.index, r.field) for r in result.rejections] == [
        (7, "response"), (1234, "response"), (2499, "extra")]
    assert [r.record for r in result.rejections] == [bad[7], bad[1234], bad[2499]]
    assert fake.v4.conflicts >= 1                                # the 409 was waited out
    assert max(fake.v4.append_sizes) <= 1000 and sum(fake.v4.append_sizes) == 2500
    assert result.requests == len(fake.v4.append_sizes) == 3
    assert (await client.datasets.get(ds.id)).total_datapoint_count == 5 + 2400


async def test_records_from_an_async_iterable_in_small_requests(
        prolific_client: pa.Prolific, fake_prolific: FakeProlific) -> None:
    ds = await v4_dataset(prolific_client, fake_prolific)

    async def produce() -> AsyncIterator[dict[str, Any]]:
        for i in range(50):
            yield record(i)

    done: list[int] = []
    result = await prolific_client.datasets.append(
        ds.id, produce(), max_request_records=20, max_request_bytes=700, progress=done.append)
    assert result.accepted == 50 and result.rejections == []
    assert all(size <= 20 for size in fake_prolific.v4.append_sizes)
    assert all(r.body_size <= 700 for r in fake_prolific.requests_to("POST", "*/datapoints"))
    assert done[-1] == 50 and done == sorted(done)


async def test_a_lost_answer_is_sent_again_and_counts_as_duplicates(
        prolific_client: pa.Prolific, fake_prolific: FakeProlific) -> None:
    ds = await v4_dataset(prolific_client, fake_prolific)
    fake_prolific.inject(method="POST", path="*/datapoints", lose_answer=True, times=1)
    result = await prolific_client.datasets.append(ds.id, [record(i) for i in range(10)])
    # The server kept the first request; the retry found every record already there.
    assert (result.accepted, result.duplicates) == (0, 10)
    assert (await prolific_client.datasets.get(ds.id)).total_datapoint_count == 10


@pytest.mark.parametrize(("records", "error", "message"), [
    ([{"prompt": "a", "response": "b"}, "text"], TypeError,
     "record 1 must be a mapping"),
    ([{"prompt": {1, 2}}], ValueError, "record 0 is not JSON"),
    ([{1: "x"}], TypeError, "record 0 has a field name that is not a string"),
    ({"prompt": "a"}, TypeError, "got a single dict"),
])
async def test_bad_records_are_refused_before_their_request_is_sent(
        prolific_client: pa.Prolific, fake_prolific: FakeProlific, records: Any,
        error: type[Exception], message: str) -> None:
    ds = await v4_dataset(prolific_client, fake_prolific)
    with pytest.raises(error, match=message):
        await prolific_client.datasets.append(ds.id, records)
    assert fake_prolific.requests_to("POST", "*/datapoints") == []


async def test_appending_to_a_v3_dataset_is_a_bad_request(
        prolific_client: pa.Prolific, fake_prolific: FakeProlific) -> None:
    ds = await prolific_client.datasets.create(name="v3", workspace_id=fake_prolific.workspace_id)
    with pytest.raises(pa.BadRequestError, match="V4 dataset"):
        await prolific_client.datasets.append(ds.id, [record(0)])


async def test_a_schema_change_is_followed_to_partial_with_its_errors(
        prolific_client: pa.Prolific, fake_prolific: FakeProlific) -> None:
    client, fake = prolific_client, fake_prolific
    loose = pa.DatasetSchema(fields={"prompt": pa.SchemaField(type="text"),
                                     "image": pa.SchemaField(type="metadata")})
    ds = await v4_dataset(client, fake, loose)
    await client.datasets.append(ds.id, [{"prompt": "a", "image": "https://x/1.png"},
                                         {"prompt": "b"},
                                         {"prompt": "c", "image": "https://x/3.png"}])
    stricter = pa.DatasetSchema(fields={"prompt": pa.SchemaField(type="text"),
                                        "image": pa.SchemaField(type="image_url")})
    updated = await client.datasets.update(ds.id, schema=stricter, name="stream-v2")
    assert updated.name == "stream-v2" and updated.migration_job_id
    assert updated.schema is not None and updated.schema.fields["image"].type == "image_url"

    # Appends wait while the migration runs; each request moves the clock until it ends.
    fake.clock.per_request = fake.world.dataset_processing / 4
    seen = [t async for t in client.datasets.watch_migration(ds.id, updated.migration_job_id)]
    assert [t.current for t in seen] == ["processing", "partial"]
    final = seen[-1].snapshot
    assert (final.reprocessed_count, final.failed_count) == (2, 1)
    assert final.errors is not None and [(e.record_index, e.field) for e in final.errors] == [
        (1, "image")]


async def test_a_schema_change_every_record_fits_completes(
        prolific_client: pa.Prolific, fake_prolific: FakeProlific) -> None:
    ds = await v4_dataset(prolific_client, fake_prolific)
    await prolific_client.datasets.append(ds.id, [record(i) for i in range(3)])
    wider = pa.DatasetSchema(fields={**SCHEMA.fields, "source": pa.SchemaField(type="metadata")})
    updated = await prolific_client.datasets.update(ds.id, schema=wider)
    assert updated.migration_job_id is not None
    with pytest.raises(pa.ConflictError):   # an append during the migration, with no time to wait
        await prolific_client.datasets.append(ds.id, [record(9)],
                                              poll=pa.PollPolicy(initial=0.01, deadline=0.05))
    with pytest.raises(pa.PollTimeout) as timed_out:
        await prolific_client.datasets.wait_migration(
            ds.id, updated.migration_job_id, poll=pa.PollPolicy(initial=0.01, deadline=0.05))
    fake_prolific.clock.advance(fake_prolific.world.dataset_processing)
    job = await prolific_client.resume(timed_out.value.resume_token).wait()
    assert job.status is pa.MigrationStatus.COMPLETE and job.reprocessed_count == 3


async def test_a_migration_no_record_survives_fails_with_its_reason(
        prolific_client: pa.Prolific, fake_prolific: FakeProlific) -> None:
    ds = await v4_dataset(prolific_client, fake_prolific)
    await prolific_client.datasets.append(ds.id, [record(0)])
    updated = await prolific_client.datasets.update(ds.id, schema=pa.DatasetSchema(
        fields={"clip": pa.SchemaField(type="audio_url")}))
    assert updated.migration_job_id is not None
    fake_prolific.clock.advance(fake_prolific.world.dataset_processing)
    with pytest.raises(pa.ResourceFailed) as failed:
        await prolific_client.datasets.wait_migration(ds.id, updated.migration_job_id)
    assert failed.value.snapshot.reason == "no record fits the new schema"


async def test_update_refuses_nothing_to_change_and_a_schema_on_v3(
        prolific_client: pa.Prolific, fake_prolific: FakeProlific) -> None:
    with pytest.raises(ValueError, match="at least one field"):
        await prolific_client.datasets.update("ds-1")
    with pytest.raises(TypeError, match=r"pa\.DatasetSchema"):
        await prolific_client.datasets.update("ds-1", schema={"fields": {}})  # type: ignore[arg-type]
    ds = await prolific_client.datasets.create(name="v3", workspace_id=fake_prolific.workspace_id)
    with pytest.raises(pa.BadRequestError, match="V3 dataset has no schema"):
        await prolific_client.datasets.update(ds.id, schema=SCHEMA)
    assert fake_prolific.requests_to("PATCH") != []
