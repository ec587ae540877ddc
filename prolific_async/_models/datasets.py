"""Datasets: the data tasks are made from (V3: CSV, READY when processed; V4: schema + imports)."""

from __future__ import annotations

from datetime import datetime

import attrs

from .common import OpenEnum

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
    UNINITIALISED = "UNINITIALISED"
    PROCESSING = "PROCESSING"
    READY = "READY"
    ERROR = "ERROR"


class ImportStatus(OpenEnum):
    UNINITIALISED = "uninitialised"
    QUEUED = "queued"
    PROCESSING = "processing"
    COMPLETE = "complete"
    PARTIAL = "partial"
    FAILED = "failed"
    PENDING_SCHEMA = "pending_schema"


@attrs.frozen(kw_only=True)
class SchemaField:
    """``type`` is one of text, image_url, audio_url, video_url, metadata, task_group_id."""

    type: str
    label: str | None = None


@attrs.frozen(kw_only=True)
class DatasetSchema:
    """Giving a schema at creation makes a V4 dataset."""

    fields: dict[str, SchemaField]
    strict: bool | None = None


@attrs.frozen(kw_only=True)
class ImportRecordError:
    record_index: int | None = None
    field: str | None = None
    reason: str | None = None


@attrs.frozen(kw_only=True)
class DatasetImport:
    """A V4 import job: one uploaded file being ingested."""

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


@attrs.frozen(kw_only=True)
class UploadURL:
    """Where to PUT a dataset file. The URL is presigned: it must get no Prolific token."""

    upload_url: str
    http_method: str = "PUT"
    expires_at: datetime | None = None
    dataset_id: str | None = None
    import_id: str | None = None
    content_type: str | None = None
    file_key: str | None = None
