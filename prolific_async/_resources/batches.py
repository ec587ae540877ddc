"""``client.batches``: create, set up, watch, collect responses, export."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from .._config import PollPolicy
from .._converter import converter
from .._download import ProgressCallback, download
from .._errors import StorageError
from .._models.batches import Batch, BatchPage, BatchStatus, BatchSync, ReportLink
from .._models.common import StatusSnapshot, TaskDetails
from .._models.responses import TaskResponse
from .._polling import Watch, WatchSpec
from .._types import UNSET
from ._base import DC, required, segment
from ._exports import Exports

__all__ = ["Batches"]


class Batches(Exports):
    """Batches turn a dataset into tasks.

    Example::

        batch = await client.batches.create(
            name="reviews-1", workspace_id=WS, dataset_id=ds.id,
            task_details=pa.TaskDetails(task_name="Rate", task_introduction="<p>…</p>",
                                        task_steps="<ol>…</ol>"))
        await client.batches.setup(batch.id, tasks_per_group=5)
        batch = await client.batches.wait_ready(batch.id)
    """

    _export_kind = "batch_export"

    def _exports_root(self, owner_id: str) -> str:
        return f"{DC}/batches/{segment('batch_id', owner_id)}"

    async def list(self, *, workspace_id: str) -> list[Batch]:
        return await self._list(
            f"{DC}/batches", Batch, params={"workspace_id": required("workspace_id", workspace_id)}
        )

    async def create(
        self, *, name: str, workspace_id: str, task_details: TaskDetails,
        dataset_id: str | None = None, batch_items: Sequence[BatchPage] | None = None,
        auto_sync_enabled: bool | None = None,
    ) -> Batch:
        """Create a batch. The dataset need not be READY yet; ``batch_items`` lays out pages."""
        body: dict[str, Any] = {
            "name": required("name", name),
            "workspace_id": required("workspace_id", workspace_id),
            "task_details": converter.unstructure(_task_details(task_details)),
        }
        if dataset_id is not None:
            body["dataset_id"] = required("dataset_id", dataset_id)
        if batch_items is not None:
            body["batch_items"] = converter.unstructure(list(batch_items), list[BatchPage])
        if auto_sync_enabled is not None:
            body["auto_sync_enabled"] = auto_sync_enabled
        batch: Batch = await self._call(
            "POST", f"{DC}/batches", Batch, json_body=body, retry="unsent"
        )
        return batch

    async def get(self, batch_id: str) -> Batch:
        batch: Batch = await self._call("GET", self._exports_root(batch_id), Batch)
        return batch

    async def update(
        self, batch_id: str, *, name: str = UNSET, task_details: TaskDetails = UNSET,
        dataset_id: str = UNSET, batch_items: Sequence[BatchPage] | None = UNSET,
        auto_sync_enabled: bool = UNSET,
    ) -> Batch:
        """Change only the fields given; ``batch_items=None`` clears the layout."""
        body: dict[str, Any] = {}
        if name is not UNSET:
            body["name"] = required("name", name)
        if task_details is not UNSET:
            body["task_details"] = converter.unstructure(_task_details(task_details))
        if dataset_id is not UNSET:
            body["dataset_id"] = required("dataset_id", dataset_id)
        if batch_items is not UNSET:
            body["batch_items"] = (None if batch_items is None else
                                   converter.unstructure(list(batch_items), list[BatchPage]))
        if auto_sync_enabled is not UNSET:
            body["auto_sync_enabled"] = auto_sync_enabled
        if not body:
            raise ValueError("update needs at least one field to change")
        batch: Batch = await self._call("PATCH", self._exports_root(batch_id), Batch,
                                        json_body=body)
        return batch

    async def status(self, batch_id: str) -> BatchStatus:
        snapshot: StatusSnapshot = await self._call(
            "GET", f"{self._exports_root(batch_id)}/status", StatusSnapshot
        )
        return BatchStatus(snapshot.status)

    async def setup(
        self, batch_id: str, *, tasks_per_group: int = 1, dataset_id: str | None = None
    ) -> None:
        """Start turning the dataset into tasks (202); watch or `wait_ready` for READY."""
        if isinstance(tasks_per_group, bool) or not isinstance(tasks_per_group, int) \
                or tasks_per_group < 1:
            raise ValueError(f"tasks_per_group must be an integer >= 1, got {tasks_per_group!r}")
        body: dict[str, Any] = {"tasks_per_group": tasks_per_group}
        if dataset_id is not None:
            body["dataset_id"] = required("dataset_id", dataset_id)
        await self._call("POST", f"{self._exports_root(batch_id)}/setup", json_body=body)

    def watch(
        self, batch_id: str, *, policy: PollPolicy | None = None
    ) -> Watch[StatusSnapshot]:
        """Stream the batch's status changes until READY (or `ResourceFailed` on ERROR)."""
        return self._client._watch(self._status_spec(batch_id), policy)

    def _status_spec(self, batch_id: str) -> WatchSpec[StatusSnapshot]:
        return self._spec("batch", (batch_id,), f"{self._exports_root(batch_id)}/status",
                          StatusSnapshot, _status)

    async def wait_ready(self, batch_id: str, *, policy: PollPolicy | None = None) -> Batch:
        """Wait until the batch is READY and return it."""
        await self.watch(batch_id, policy=policy).wait()
        return await self.get(batch_id)

    async def duplicate(
        self, batch_id: str, *, name: str | None = None, upload_new_dataset: bool = False
    ) -> Batch:
        """Copy a batch; the dataset is shared unless ``upload_new_dataset``."""
        body: dict[str, Any] = {"upload_new_dataset": upload_new_dataset}
        if name is not None:
            body["name"] = required("name", name)
        batch: Batch = await self._call(
            "POST", f"{self._exports_root(batch_id)}/duplicate", Batch, json_body=body,
            retry="unsent",
        )
        return batch

    def responses(self, batch_id: str) -> AsyncIterator[TaskResponse]:
        """Every task response so far, typed, page by page.

        The API documents no paging for this endpoint; if it answers with a next-page link, as
        older Prolific lists do, the pages are followed. Responses marked ``no_submission`` are
        yielded too, flagged (exports leave them out)::

            async for r in client.batches.responses(batch_id):
                if not r.no_submission:
                    print(r.submission_id, r.response.instruction_id, r.value)
        """
        return self._pages(f"{self._exports_root(batch_id)}/responses", TaskResponse)

    async def report(self, batch_id: str) -> ReportLink:
        """A presigned link to a CSV of the dataset with response columns."""
        link: ReportLink = await self._call(
            "GET", f"{self._exports_root(batch_id)}/report/", ReportLink
        )
        return link

    async def download_report(
        self, batch_id: str, dest: str | os.PathLike[str] = ".", *,
        progress: ProgressCallback | None = None,
    ) -> Path:
        """Stream the report CSV to ``dest`` (a folder or a file path), atomically.

        In a folder the file is named ``<batch_id>-report-<timestamp>.csv``;
        ``progress(bytes_done, total_or_None)`` is called as it grows.
        """

        async def report_url(refresh: bool) -> str:
            # Each call asks for the report again, which gives a freshly signed link.
            link = await self.report(batch_id)
            if link.url is None:
                raise StorageError(f"batch {batch_id} has no report available yet")
            return link.url

        return await download(self._transport, report_url, dest, stem=f"{batch_id}-report",
                              suffix=".csv", progress=progress)

    async def sync(self, batch_id: str) -> BatchSync:
        """Turn datapoints appended to a V4 dataset into tasks (the batch must be READY)."""
        # Each POST queues a sync job: not repeated unless the server provably did not act.
        job: BatchSync = await self._call("POST", f"{self._exports_root(batch_id)}/sync",
                                          BatchSync, retry="unsent")
        return job

    def _sync_path(self, batch_id: str, sync_id: str) -> str:
        return f"{self._exports_root(batch_id)}/syncs/{segment('sync_id', sync_id)}"

    async def sync_status(self, batch_id: str, sync_id: str) -> BatchSync:
        job: BatchSync = await self._call("GET", self._sync_path(batch_id, sync_id), BatchSync)
        return job

    def watch_sync(
        self, batch_id: str, sync_id: str, *, policy: PollPolicy | None = None
    ) -> Watch[BatchSync]:
        """Stream a batch sync's status changes until complete."""
        return self._client._watch(self._sync_spec(batch_id, sync_id), policy)

    def _sync_spec(self, batch_id: str, sync_id: str) -> WatchSpec[BatchSync]:
        return self._spec("batch_sync", (batch_id, sync_id), self._sync_path(batch_id, sync_id),
                          BatchSync, _status)


def _task_details(value: TaskDetails) -> TaskDetails:
    if not isinstance(value, TaskDetails):
        raise TypeError(f"task_details must be a TaskDetails, got {type(value).__name__}")
    return value


def _status(snapshot: StatusSnapshot | BatchSync) -> str:
    return str(snapshot.status)
