"""Code a user would write with V4 datasets and feeds: it must type-check under mypy --strict."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anyio

import prolific_async as pa


async def outputs() -> AsyncIterator[dict[str, Any]]:
    yield {"prompt": "2+2?", "response": "4"}


async def stream(client: pa.Prolific, dataset_id: str, batch_id: str) -> int:
    appended: pa.AppendResult = await client.datasets.append(
        dataset_id, [{"prompt": "p", "response": "r"}], progress=lambda n: print(n))
    for rejection in appended.rejections:
        index: int | None = rejection.index
        print(index, rejection.field, rejection.reason, rejection.record)
    updated: pa.Dataset = await client.datasets.update(
        dataset_id, schema=pa.DatasetSchema(fields={"prompt": pa.SchemaField(type="text")}))
    if updated.migration_job_id is not None:
        async for t in client.datasets.watch_migration(dataset_id, updated.migration_job_id):
            job: pa.SchemaMigration = t.snapshot
            print(job.status is pa.MigrationStatus.PARTIAL, job.errors)
    async with client.batches.feed(batch_id, journal="feed.db", sync="auto") as feed:
        async with anyio.create_task_group() as group:
            group.start_soon(feed.send_many, outputs())
            await feed.send({"prompt": "p", "response": "r"})
    result: pa.FeedResult = feed.result
    return result.accepted + result.tasks_created + result.syncs + result.skipped
