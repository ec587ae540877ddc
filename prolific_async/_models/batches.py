"""Batches: a dataset turned into tasks with instructions, ready to attach to a study."""

from __future__ import annotations

from datetime import datetime

import attrs

from .common import OpenEnum, TaskDetails
from .datasets import DatasetStatus
from .instructions import Item

__all__ = [
    "Batch",
    "BatchColumn",
    "BatchDatasetRef",
    "BatchPage",
    "BatchRow",
    "BatchStatus",
    "BatchSync",
    "ReportLink",
    "SyncStatus",
]


class BatchStatus(OpenEnum):
    UNINITIALISED = "UNINITIALISED"
    PROCESSING = "PROCESSING"
    READY = "READY"
    ERROR = "ERROR"


class SyncStatus(OpenEnum):
    QUEUED = "queued"
    PROCESSING = "processing"
    COMPLETE = "complete"
    FAILED = "failed"


@attrs.frozen(kw_only=True)
class BatchColumn:
    items: list[Item]
    id: str | None = None


@attrs.frozen(kw_only=True)
class BatchRow:
    columns: list[BatchColumn]
    id: str | None = None


@attrs.frozen(kw_only=True)
class BatchPage:
    """One page of a batch layout; ``display_position`` is ``"intro"``, ``"outro"`` or None."""

    rows: list[BatchRow]
    display_position: str | None = None
    id: str | None = None


@attrs.frozen(kw_only=True)
class BatchDatasetRef:
    id: str
    name: str | None = None
    status: DatasetStatus | None = None
    created_at: datetime | None = None
    created_by: str | None = None
    total_datapoint_count: int | None = None
    workspace_id: str | None = None


@attrs.frozen(kw_only=True)
class Batch:
    id: str
    name: str | None = None
    status: BatchStatus | None = None
    created_at: datetime | None = None
    created_by: str | None = None
    workspace_id: str | None = None
    datasets: list[BatchDatasetRef] | None = None
    total_task_count: int | None = None
    total_instruction_count: int | None = None
    total_task_groups: int | None = None
    tasks_per_group: int | None = None
    schema_version: int | None = None
    task_details: TaskDetails | None = None
    batch_items: list[BatchPage] | None = None
    auto_sync_enabled: bool | None = None


@attrs.frozen(kw_only=True)
class ReportLink:
    """A presigned CSV: the dataset plus response columns. ``url`` is None until available."""

    url: str | None = None
    expires_at: datetime | None = None
    http_method: str | None = None


@attrs.frozen(kw_only=True)
class BatchSync:
    """A sync job that turns datapoints appended to a V4 dataset into tasks."""

    status: SyncStatus
    sync_id: str | None = None
    batch_id: str | None = None
    dataset_id: str | None = None
    created_at: datetime | None = None
    tasks_created: int | None = None
    datapoints_processed: int | None = None
    groups_created: int | None = None
    groups_expanded: int | None = None
    reason: str | None = None
