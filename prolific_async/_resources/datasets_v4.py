"""What only V4 datasets (created with a schema) do: take records as they come, change
their schema, and follow the migration a schema change starts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._config import PollPolicy
from .._converter import converter
from .._jobs import JobKind
from .._models.appends import AppendResult, MigrationStatus, SchemaMigration
from .._models.datasets import Dataset, DatasetSchema
from .._watch import Watch, WatchSpec
from ._appending import (
    KEEP_REJECTIONS,
    MAX_RECORDS,
    MAX_REQUEST_BYTES,
    Appender,
    Batcher,
    Progress,
    Records,
    Tally,
    append_all,
)
from ._base import DC, Resource, required, segment, watches, with_extra

__all__ = ["SCHEMA_MIGRATION", "V4Datasets"]

SCHEMA_MIGRATION = JobKind(
    "schema_migration",
    pending={MigrationStatus.QUEUED, MigrationStatus.PROCESSING},
    # "partial": some records no longer fit the new schema; the rest were migrated.
    done={MigrationStatus.COMPLETE, MigrationStatus.PARTIAL},
    failed={MigrationStatus.FAILED},
    remedy="see the migration's reason; the dataset keeps its records",
)


class V4Datasets(Resource):
    """The V4 half of ``client.datasets``: append, update, and schema migrations."""

    async def append(
        self, dataset_id: str, records: Records, *, max_request_records: int = MAX_RECORDS,
        max_request_bytes: int = MAX_REQUEST_BYTES, keep_rejections: int = KEEP_REJECTIONS,
        progress: Progress | None = None, poll: PollPolicy | None = None,
    ) -> AppendResult:
        """Append records to a V4 dataset, from any iterable or async iterable of mappings.

        Records go in requests of at most ``max_request_records`` (1,000, the API's limit)
        and ``max_request_bytes``, one request at a time, so memory stays bounded whatever
        the input's size. While an import or a schema migration runs, the API answers
        ``409``: that is waited out on the ``poll`` policy's cadence (the client's by
        default) up to its deadline, then the `ConflictError` is raised. A request whose
        answer was lost is sent again: identical records are idempotent on the server, so
        they come back as ``duplicates``, never twice.

        Each record is checked as it is read: one that is not a mapping of JSON values is a
        clear error naming its index, raised before the request that would carry it
        (earlier requests were sent; appending them again is harmless). A synchronous
        iterable is read on the event loop: give an async iterable for slow sources.
        ``progress(n)`` is called after each request with the records answered so far.

        Returns the counts and every rejection (up to ``keep_rejections``), each with the
        record's index in ``records``, the field and the reason.

        Example::

            result = await client.datasets.append(ds.id, [
                {"prompt": "2+2?", "response": "4"},
                {"prompt": "Capital of France?", "response": "Paris"},
            ])
            for r in result.rejections:
                print(r.index, r.field, r.reason)
        """
        batcher = Batcher(max_request_records, max_request_bytes)
        tally = Tally(keep_rejections)
        appender = Appender(self._context, dataset_id, poll)
        return await append_all(appender, records, batcher, tally, progress)

    async def update(
        self, dataset_id: str, *, schema: DatasetSchema | None = None, name: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> Dataset:
        """Change a dataset's name or (V4 only) its schema.

        A new schema on a dataset that already had one starts a migration job that checks
        every record again: its id is ``migration_job_id`` on the answer, and
        `watch_migration` / `wait_migration` follow it. Appends wait while it runs.

        Example::

            updated = await client.datasets.update(ds.id, schema=pa.DatasetSchema(fields={
                "prompt": pa.SchemaField(type="text"),
                "answer": pa.SchemaField(type="text"),
                "source": pa.SchemaField(type="metadata"),
            }))
            if updated.migration_job_id:
                await client.datasets.wait_migration(ds.id, updated.migration_job_id)
        """
        body: dict[str, Any] = {}
        if name is not None:
            body["name"] = required("name", name)
        if schema is not None:
            if not isinstance(schema, DatasetSchema):
                raise TypeError(f"schema must be a pa.DatasetSchema, got "
                                f"{type(schema).__name__}")
            if not schema.fields:
                raise ValueError("schema.fields must name at least one field")
            body["schema"] = converter.unstructure(schema)
        with_extra(body, extra)
        if not body:
            raise ValueError("update needs at least one field to change (schema or name)")
        dataset: Dataset = await self._call(
            "PATCH", f"{DC}/datasets/{segment('dataset_id', dataset_id)}", Dataset,
            json_body=body)
        return dataset

    def _migration_path(self, dataset_id: str, job_id: str) -> str:
        return (f"{DC}/datasets/{segment('dataset_id', dataset_id)}"
                f"/schema-migrations/{segment('job_id', job_id)}")

    async def migration_status(self, dataset_id: str, job_id: str) -> SchemaMigration:
        """A schema migration job's status and counts (`watch_migration` waits for it)."""
        job: SchemaMigration = await self._call(
            "GET", self._migration_path(dataset_id, job_id), SchemaMigration)
        return job

    def watch_migration(
        self, dataset_id: str, job_id: str, *, poll: PollPolicy | None = None,
    ) -> Watch[SchemaMigration]:
        """Stream a schema migration's status changes: processing, then complete, partial
        (its ``errors`` name the records that no longer fit) or failed (`ResourceFailed`).

        Example::

            async for t in client.datasets.watch_migration(ds.id, job_id):
                print(t.current, t.snapshot.reprocessed_count)
        """
        return self._watch(self._migration_spec(dataset_id, job_id), poll)

    @watches(SCHEMA_MIGRATION)
    def _migration_spec(self, dataset_id: str, job_id: str) -> WatchSpec[SchemaMigration]:
        return self._spec(SCHEMA_MIGRATION, (dataset_id, job_id),
                          self._migration_path(dataset_id, job_id), SchemaMigration)

    async def wait_migration(
        self, dataset_id: str, job_id: str, *, poll: PollPolicy | None = None,
    ) -> SchemaMigration:
        """Wait until a schema migration is complete (or partial) and return it."""
        return await self.watch_migration(dataset_id, job_id, poll=poll).wait()
