"""Batches: a dataset turned into tasks with a layout of questions, ready for a study.

A batch's layout (``batch_items``) nests page → rows → columns → items: `BatchPage`,
`BatchRow`, `BatchColumn`, and the `Item` union. `one_page` builds the common case.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import attrs

from .common import OpenEnum, TaskDetails, extra_field, mask_url
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
    "one_page",
]

#: A batch goes through the same four statuses as a dataset (UNINITIALISED, PROCESSING,
#: READY, ERROR): one enum, two names.
BatchStatus = DatasetStatus


class SyncStatus(OpenEnum):
    """A batch sync job's status: ``queued`` → ``processing`` → ``complete`` or ``failed``."""

    QUEUED = "queued"
    PROCESSING = "processing"
    COMPLETE = "complete"
    FAILED = "failed"


@attrs.frozen(kw_only=True)
class BatchColumn:
    """One column of a `BatchRow`: its items, shown top to bottom (see `BatchPage`)."""

    items: list[Item]
    id: str | None = None
    extra: Mapping[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class BatchRow:
    """One row of a `BatchPage`: its columns, shown side by side (see `BatchPage`)."""

    columns: list[BatchColumn]
    id: str | None = None
    extra: Mapping[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class BatchPage:
    """One page of a batch layout (``batch_items``): page → rows → columns → items.

    ``display_position`` is None for a page of the task, or ``"intro"`` / ``"outro"`` for a
    page shown before / after the tasks, which may hold only `RichText` and `Image` blocks.
    Keep the ``id`` s the server gave to keep those entities on ``batches.update``.

    Example: an intro page, then a task page showing the datapoint's ``response`` field beside
    a question, with a free-text reason below::

        layout = [
            pa.BatchPage(display_position="intro", rows=[pa.BatchRow(columns=[
                pa.BatchColumn(items=[pa.RichText(content="<p>Welcome!</p>")]),
            ])]),
            pa.BatchPage(rows=[
                pa.BatchRow(columns=[
                    pa.BatchColumn(items=[pa.DatasetField(field="response")]),
                    pa.BatchColumn(items=[pa.MultipleChoice(
                        description="Is this response accurate?", answer_limit=1,
                        options=[pa.Option(label="Yes", value="yes"),
                                 pa.Option(label="No", value="no")])]),
                ]),
                pa.BatchRow(columns=[pa.BatchColumn(items=[
                    pa.FreeText(description="Why?")])]),
            ]),
        ]
        await client.batches.create(name="eval", workspace_id=WS, dataset_id=ds.id,
                                    task_details=details, batch_items=layout)

    For the common case of a list of items on one page, see `one_page`.
    """

    rows: list[BatchRow]
    display_position: str | None = None
    id: str | None = None
    extra: Mapping[str, Any] = extra_field()


def one_page(items: Iterable[Item], *, display_position: str | None = None) -> list[BatchPage]:
    """A layout of one page holding ``items`` top to bottom (one row, one column).

    Example::

        layout = pa.one_page([
            pa.DatasetField(field="response"),
            pa.MultipleChoice(description="Is it accurate?", answer_limit=1,
                              options=[pa.Option(label="Yes", value="yes"),
                                       pa.Option(label="No", value="no")]),
            pa.FreeText(description="Why?"),
        ])
        await client.batches.create(..., batch_items=layout)
    """
    column = BatchColumn(items=list(items))
    if not column.items:
        raise ValueError("one_page needs at least one item")
    return [BatchPage(rows=[BatchRow(columns=[column])], display_position=display_position)]


@attrs.frozen(kw_only=True)
class BatchDatasetRef:
    """The dataset a batch was made from, as the batch lists it."""

    id: str
    name: str | None = None
    status: DatasetStatus | None = None
    created_at: datetime | None = None
    created_by: str | None = None
    total_datapoint_count: int | None = None
    workspace_id: str | None = None


@attrs.frozen(kw_only=True)
class Batch:
    """A batch as the API returns it: tasks made from a dataset, with their layout.

    ``status`` goes UNINITIALISED → (``batches.setup``) PROCESSING → READY or ERROR; a READY
    batch can be attached to a study.

    Example::

        batch = await client.batches.create(name="eval", workspace_id=WS, dataset_id=ds.id,
                                            task_details=details, batch_items=layout)
        await client.batches.setup(batch.id, tasks_per_group=5)
        batch = await client.batches.wait_ready(batch.id)
        batch.total_task_count
    """

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
    """A presigned CSV: the dataset plus response columns. ``url`` is None until available;
    the ``repr`` masks its query string (a credential for the file)."""

    url: str | None = attrs.field(default=None, repr=mask_url)
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
