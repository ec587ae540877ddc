"""Datasets: the data tasks are made from (V3: CSV, READY when processed; V4: schema + imports)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs

from .common import OpenEnum, extra_field, mask_url

__all__ = [
    "Dataset",
    "DatasetImport",
    "DatasetSchema",
    "DatasetStatus",
    "ImportRecordError",
    "ImportStatus",
    "SchemaField",
    "UploadURL",
]


class DatasetStatus(OpenEnum):
    """Where a dataset (and a batch: `BatchStatus` is this same enum) is in its processing.

    ``UNINITIALISED`` (no data uploaded / batch not set up) → ``PROCESSING`` → ``READY``, or
    ``ERROR``. Unknown values are kept (see `OpenEnum`).

    Example::

        if dataset.status is pa.DatasetStatus.READY: ...
    """

    UNINITIALISED = "UNINITIALISED"
    PROCESSING = "PROCESSING"
    READY = "READY"
    ERROR = "ERROR"


class ImportStatus(OpenEnum):
    """The status of a V4 import job; ``complete``, ``partial``, ``failed`` and
    ``pending_schema`` are final."""

    UNINITIALISED = "uninitialised"
    QUEUED = "queued"
    PROCESSING = "processing"
    COMPLETE = "complete"
    PARTIAL = "partial"
    FAILED = "failed"
    PENDING_SCHEMA = "pending_schema"


@attrs.frozen(kw_only=True)
class SchemaField:
    """One field of a V4 dataset schema.

    ``type`` is one of ``text``, ``image_url``, ``audio_url``, ``video_url``, ``metadata``,
    ``task_group_id``.

    Example::

        pa.SchemaField(type="text", label="Prompt")
    """

    type: str
    label: str | None = None
    extra: Mapping[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class DatasetSchema:
    """Giving a schema at creation makes a V4 dataset (CSV or JSONL imports).

    Example::

        pa.DatasetSchema(fields={
            "prompt": pa.SchemaField(type="text"),
            "image": pa.SchemaField(type="image_url", label="Picture"),
        }, strict=True)
    """

    fields: dict[str, SchemaField]
    strict: bool | None = None
    extra: Mapping[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class ImportRecordError:
    """Why one record of a V4 import was rejected."""

    record_index: int | None = None
    field: str | None = None
    reason: str | None = None


@attrs.frozen(kw_only=True)
class DatasetImport:
    """A V4 import job: one uploaded file being ingested, with its counts and record errors."""

    status: ImportStatus
    import_id: str | None = None
    dataset_id: str | None = None
    accepted_count: int | None = None
    duplicate_count: int | None = None
    rejected_count: int | None = None
    errors: list[ImportRecordError] | None = None
    reason: str | None = None


@attrs.frozen(kw_only=True)
class Dataset:
    """A dataset as the API returns it.

    Example::

        dataset = await client.datasets.create(name="reviews", workspace_id=WS)
        await client.datasets.upload(dataset.id, "reviews.csv")
        dataset = await client.datasets.wait_ready(dataset.id)   # status READY
    """

    id: str
    name: str | None = None
    status: DatasetStatus | None = None
    created_at: datetime | None = None
    created_by: str | None = None
    workspace_id: str | None = None
    total_datapoint_count: int | None = None
    schema_version: int | None = None
    filename: str | None = None
    has_predetermined_grouping_id: bool | None = None
    schema: DatasetSchema | None = None
    imports: list[DatasetImport] | None = None
    #: Set by ``datasets.update`` when a schema change started a migration job.
    migration_job_id: str | None = None


@attrs.frozen(kw_only=True)
class UploadURL:
    """Where to PUT a dataset file.

    ``upload_url`` is presigned: its query string is a credential for the object, so the
    ``repr`` masks it, and it must get no Prolific token (``datasets.upload`` sends none).
    """

    upload_url: str = attrs.field(repr=mask_url)
    http_method: str = "PUT"
    expires_at: datetime | None = None
    dataset_id: str | None = None
    import_id: str | None = None
    content_type: str | None = None
    file_key: str | None = None
