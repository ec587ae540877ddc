"""V4 datasets taking records as they come: append results, feed results, schema migrations."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from .common import OpenEnum
from .datasets import ImportRecordError

__all__ = [
    "AppendAnswer",
    "AppendResult",
    "FeedResult",
    "MigrationStatus",
    "Rejection",
    "SchemaMigration",
]


@attrs.frozen(kw_only=True)
class Rejection:
    """One record the server refused, with its place in the caller's input.

    ``index`` counts from 0 over every record given (`Datasets.append`) or taken by a feed
    (`BatchFeed`, in the order it took them), whatever request carried it (None if the
    server did not say); ``record`` is the record itself, so a feed sent to from many tasks
    still says which one it was.

    Example::

        for r in result.rejections:
            print(f"record {r.index}: {r.field}: {r.reason}")
    """

    index: int | None
    field: str | None = None
    reason: str | None = None
    record: Mapping[str, Any] | None = None


@attrs.frozen(kw_only=True)
class AppendResult:
    """What the server did with appended records.

    ``accepted`` records are new, ``duplicates`` were already in the dataset (appending an
    identical record again changes nothing), ``rejected`` were refused; ``rejections`` says
    why, for the first ``keep_rejections`` of them (the counts cover every one).
    ``requests`` counts the append requests that were answered.

    Example::

        result = await client.datasets.append(ds.id, records)
        print(result.accepted, result.duplicates, result.rejected)
    """

    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    rejections: list[Rejection] = attrs.Factory(list)
    requests: int = 0

    @property
    def total(self) -> int:
        """Records the server answered for: accepted, duplicates and rejected."""
        return self.accepted + self.duplicates + self.rejected


@attrs.frozen(kw_only=True)
class FeedResult(AppendResult):
    """What a `BatchFeed` did: the append counts, plus ``syncs`` (batch syncs completed),
    ``tasks_created`` (the tasks those syncs made) and ``skipped`` (records a resumed feed
    did not send again because its journal says the server had them).

    Example::

        async with client.batches.feed(batch.id) as feed:
            ...
        print(feed.result.accepted, feed.result.tasks_created)
    """

    syncs: int = 0
    tasks_created: int = 0
    skipped: int = 0


@attrs.frozen(kw_only=True)
class AppendAnswer:
    """The answer to one append request (``record_index`` counts within that request)."""

    accepted_count: int = 0
    duplicate_count: int = 0
    rejected_count: int = 0
    errors: list[ImportRecordError] | None = None


class MigrationStatus(OpenEnum):
    """The status of a V4 schema migration job; ``complete``, ``partial`` and ``failed`` are
    final.

    Example::

        if job.status is pa.MigrationStatus.PARTIAL:
            print(job.failed_count, "records no longer fit the schema")
    """

    QUEUED = "queued"
    PROCESSING = "processing"
    COMPLETE = "complete"
    PARTIAL = "partial"
    FAILED = "failed"


@attrs.frozen(kw_only=True)
class SchemaMigration:
    """A schema migration job: the dataset's records checked again after a schema change.

    ``complete`` gives ``reprocessed_count``; ``partial`` also ``failed_count`` and the
    ``errors`` of the records that no longer fit; ``failed`` a ``reason``.

    Example::

        updated = await client.datasets.update(ds.id, schema=new_schema)
        if updated.migration_job_id:
            job = await client.datasets.wait_migration(ds.id, updated.migration_job_id)
    """

    status: MigrationStatus
    job_id: str | None = None
    dataset_id: str | None = None
    reprocessed_count: int | None = None
    failed_count: int | None = None
    errors: list[ImportRecordError] | None = None
    reason: str | None = None
