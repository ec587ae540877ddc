"""``client.batches``: create, set up, watch, collect responses, export."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from .._config import PollPolicy
from .._converter import converter
from .._download import ProgressCallback, download
from .._errors import NotDownloadableError, NotFoundError, RequestInfo
from .._feed import DEFAULT_BUFFER, DEFAULT_LINGER, BatchFeed, SyncMode
from .._jobs import JobKind
from .._models.batches import (
    Batch,
    BatchColumn,
    BatchPage,
    BatchRow,
    BatchStatus,
    BatchSync,
    ReportLink,
    SyncStatus,
)
from .._models.common import StatusSnapshot, TaskDetails
from .._models.instructions import Item
from .._models.responses import TaskResponse
from .._types import UNSET
from .._watch import Watch, WatchSpec
from ._appending import KEEP_REJECTIONS, MAX_RECORDS, MAX_REQUEST_BYTES
from ._base import (
    DC,
    ITEM_MODEL,
    models,
    required,
    segment,
    task_details_body,
    watches,
    with_extra,
)
from ._exports import Exports, export_job

__all__ = ["BATCH", "BATCH_SYNC", "Batches"]


@attrs.frozen
class _Listed:
    """What a watch reads of each row of ``batches.list``: its id and status."""

    id: str
    status: BatchStatus | None = None


BATCH = JobKind(
    "batch", pending={BatchStatus.UNINITIALISED, BatchStatus.PROCESSING},
    done={BatchStatus.READY}, failed={BatchStatus.ERROR},
    remedy="check the batch's dataset and instructions",
    not_started={BatchStatus.UNINITIALISED},
    missing_step="set it up first with client.batches.setup(batch_id)",
)
BATCH_SYNC = JobKind(
    "batch_sync", pending={SyncStatus.QUEUED, SyncStatus.PROCESSING},
    done={SyncStatus.COMPLETE}, failed={SyncStatus.FAILED}, remedy="see the sync's reason",
)


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

    _export_job = export_job("batch_export")

    def _root(self, batch_id: str) -> str:
        return f"{DC}/batches/{segment('batch_id', batch_id)}"

    async def list(self, *, workspace_id: str) -> list[Batch]:
        """Every batch of a workspace, each with its current ``status``."""
        batches: list[Batch] = await self._call(
            "GET", f"{DC}/batches", Batch, rows=True,
            params={"workspace_id": required("workspace_id", workspace_id)},
        )
        return batches

    async def find(self, name: str, *, workspace_id: str) -> Batch | None:
        """The batch of this workspace named exactly ``name``, or None.

        The way to look before creating again after `OutcomeUnknownError`; if several
        batches share the name, the oldest is returned.
        """
        required("name", name)
        found = [b for b in await self.list(workspace_id=workspace_id) if b.name == name]
        return min(found, key=_created) if found else None

    async def create(
        self, *, name: str, workspace_id: str, task_details: TaskDetails,
        dataset_id: str | None = None, batch_items: Sequence[BatchPage] | None = None,
        auto_sync_enabled: bool | None = None, extra: Mapping[str, Any] | None = None,
    ) -> Batch:
        """Create a batch. The dataset need not be READY yet.

        ``batch_items`` lays out what participants see (pages of rows of columns of items);
        `prolific_async.one_page` builds the common one-page layout. ``extra`` adds body
        fields this SDK does not know yet. Not repeated after a lost answer
        (`OutcomeUnknownError`): look with `find` first.

        Example::

            batch = await client.batches.create(
                name="reviews-1", workspace_id=WS, dataset_id=ds.id, task_details=DETAILS,
                batch_items=pa.one_page([
                    pa.MultipleChoice(description="Which is better?", answer_limit=1,
                                      options=[pa.Option(label="A", value="a"),
                                               pa.Option(label="B", value="b")]),
                    pa.FreeText(description="Why?"),
                ]))
        """
        body: dict[str, Any] = {
            "name": required("name", name),
            "workspace_id": required("workspace_id", workspace_id),
            "task_details": task_details_body(task_details),
        }
        if dataset_id is not None:
            body["dataset_id"] = required("dataset_id", dataset_id)
        if batch_items is not None:
            body["batch_items"] = _layout_body(batch_items)
        if auto_sync_enabled is not None:
            body["auto_sync_enabled"] = auto_sync_enabled
        batch: Batch = await self._call("POST", f"{DC}/batches", Batch,
                                        json_body=with_extra(body, extra), idempotent=False)
        return batch

    async def get(self, batch_id: str) -> Batch:
        """A batch, with its ``status`` and layout.

        Example::

            batch = await client.batches.get(batch_id)
            print(batch.name, batch.status)
        """
        batch: Batch = await self._call("GET", self._root(batch_id), Batch)
        return batch

    async def update(
        self, batch_id: str, *, name: str = UNSET, task_details: TaskDetails = UNSET,
        dataset_id: str = UNSET, batch_items: Sequence[BatchPage] | None = UNSET,
        auto_sync_enabled: bool = UNSET, extra: Mapping[str, Any] | None = None,
    ) -> Batch:
        """Change only the fields given; ``batch_items=None`` clears the layout; ``extra``
        adds fields this SDK does not know yet."""
        body: dict[str, Any] = {}
        if name is not UNSET:
            body["name"] = required("name", name)
        if task_details is not UNSET:
            body["task_details"] = task_details_body(task_details)
        if dataset_id is not UNSET:
            body["dataset_id"] = required("dataset_id", dataset_id)
        if batch_items is not UNSET:
            body["batch_items"] = None if batch_items is None else _layout_body(batch_items)
        if auto_sync_enabled is not UNSET:
            body["auto_sync_enabled"] = auto_sync_enabled
        with_extra(body, extra)
        if not body:
            raise ValueError("update needs at least one field to change")
        batch: Batch = await self._call("PATCH", self._root(batch_id), Batch,
                                        json_body=body)
        return batch

    async def status(self, batch_id: str) -> BatchStatus:
        """The batch's status alone (UNINITIALISED, PROCESSING, READY or ERROR): one cheap
        call; to wait for a change use `watch` or `wait_ready`."""
        snapshot: StatusSnapshot = await self._call(
            "GET", f"{self._root(batch_id)}/status", StatusSnapshot
        )
        return BatchStatus(snapshot.status)

    async def setup(
        self, batch_id: str, *, tasks_per_group: int = 1, dataset_id: str | None = None
    ) -> None:
        """Start turning the dataset into tasks (202); watch or `wait_ready` for READY.

        Not repeated after a lost answer (`OutcomeUnknownError`): on some servers a second
        setup restarts processing, so read `status` first and send it again only while the
        batch is UNINITIALISED.
        """
        if isinstance(tasks_per_group, bool) or not isinstance(tasks_per_group, int) \
                or tasks_per_group < 1:
            raise ValueError(f"tasks_per_group must be an integer >= 1, got {tasks_per_group!r}")
        body: dict[str, Any] = {"tasks_per_group": tasks_per_group}
        if dataset_id is not None:
            body["dataset_id"] = required("dataset_id", dataset_id)
        await self._call("POST", f"{self._root(batch_id)}/setup", json_body=body,
                         idempotent=False)

    def watch(
        self, batch_id: str, *, workspace_id: str | None = None,
        poll: PollPolicy | None = None,
    ) -> Watch[StatusSnapshot]:
        """Stream the batch's status changes until READY (`ResourceFailed` on ERROR).

        With ``workspace_id``, every such watch of the workspace shares
        one ``batches.list`` request per tick instead of one request per batch: watching
        a thousand batches costs the same requests as watching one.

        Example::

            await client.batches.setup(batch.id)
            async for t in client.batches.watch(batch.id):
                print(t.previous, "->", t.current)
        """
        spec = (self._status_spec(batch_id) if workspace_id is None
                else self._listed_spec(batch_id, workspace_id))
        return self._watch(spec, poll)

    @watches(BATCH)
    def _status_spec(self, batch_id: str) -> WatchSpec[StatusSnapshot]:
        return self._spec(BATCH, (batch_id,), f"{self._root(batch_id)}/status", StatusSnapshot)

    def _listed_spec(self, batch_id: str, workspace_id: str) -> WatchSpec[StatusSnapshot]:
        segment("batch_id", batch_id)
        required("workspace_id", workspace_id)

        async def fetch() -> dict[str, BatchStatus | None]:
            response = await self._request("GET", f"{DC}/batches", retry=False,
                                           params={"workspace_id": workspace_id})
            # One answer a tick serves every watch of the workspace, and each reads only its
            # batch's status: a thousand batches' layouts are not built into models each tick.
            listed: list[_Listed] = self._parse(response, _Listed, rows=True)
            return {batch.id: batch.status for batch in listed}

        seen = False

        def status(answer: dict[str, BatchStatus | None]) -> str | None:
            # Not listed yet is waited for; gone from the list once seen is deleted.
            nonlocal seen
            if batch_id not in answer and seen:
                url = f"{self._transport.base_url}{DC}/batches?workspace_id={workspace_id}"
                raise NotFoundError(
                    f"batch {batch_id} is no longer listed in workspace {workspace_id}: it "
                    "was deleted", status_code=404, body=None, detail="batch not listed",
                    request=RequestInfo("GET", url))
            seen = seen or batch_id in answer
            value = answer.get(batch_id)
            return None if value is None else str(value)

        return WatchSpec(job=BATCH, ids=(batch_id,), fetch=fetch, status_of=status,
                         snapshot_of=lambda answer: StatusSnapshot(status(answer) or ""),
                         channel_key=("batch-list", workspace_id))

    async def wait_ready(
        self, batch_id: str, *, workspace_id: str | None = None,
        poll: PollPolicy | None = None,
    ) -> Batch:
        """Wait until the batch is READY and return it (see `watch` for ``workspace_id``).

        A batch never set up is a `JobNotStarted` at the first poll, not a 15-minute wait.
        """
        spec = (self._status_spec(batch_id) if workspace_id is None
                else self._listed_spec(batch_id, workspace_id))
        await self._watch(spec, poll, expect_started=True).wait()
        return await self.get(batch_id)

    async def duplicate(
        self, batch_id: str, *, name: str | None = None, upload_new_dataset: bool = False
    ) -> Batch:
        """Copy a batch; the dataset is shared unless ``upload_new_dataset``."""
        body: dict[str, Any] = {"upload_new_dataset": upload_new_dataset}
        if name is not None:
            body["name"] = required("name", name)
        batch: Batch = await self._call(
            "POST", f"{self._root(batch_id)}/duplicate", Batch, json_body=body,
            idempotent=False,
        )
        return batch

    def responses(self, batch_id: str) -> AsyncIterator[TaskResponse]:
        """Every response so far: one `TaskResponse` per answered instruction (a task with
        two questions gives two), with its ``task_id``; group by it for one row per task.

        The API documents no paging here; if it answers with a next-page link, as older
        Prolific lists do, the pages are read one at a time. Responses marked
        ``no_submission`` are yielded too, flagged (exports leave them out)::

            async for r in client.batches.responses(batch_id):
                if not r.no_submission:
                    print(r.submission_id, r.response.instruction_id, r.value)
        """
        return self._pages(f"{self._root(batch_id)}/responses", TaskResponse)

    async def report(self, batch_id: str) -> ReportLink:
        """A presigned link to a CSV of the dataset with response columns."""
        link: ReportLink = await self._call(
            "GET", f"{self._root(batch_id)}/report/", ReportLink
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
                raise NotDownloadableError(f"batch {batch_id} has no report available yet")
            return link.url

        return await download(self._transport, report_url, dest, stem=f"{batch_id}-report",
                              suffix=".csv", progress=progress)

    async def sync(self, batch_id: str) -> BatchSync:
        """Turn datapoints appended to a V4 dataset into tasks (the batch must be READY)."""
        # Each POST queues a sync job: not repeated unless the server provably did not act.
        job: BatchSync = await self._call("POST", f"{self._root(batch_id)}/sync",
                                          BatchSync, idempotent=False)
        return job

    def feed(
        self, batch_id: str, *, dataset_id: str | None = None, sync: SyncMode = "auto",
        journal: str | os.PathLike[str] | None = None, buffer: int = DEFAULT_BUFFER,
        linger: float = DEFAULT_LINGER, max_request_records: int = MAX_RECORDS,
        max_request_bytes: int = MAX_REQUEST_BYTES, keep_rejections: int = KEEP_REJECTIONS,
        poll: PollPolicy | None = None,
    ) -> BatchFeed:
        """A continuous feed of records into this live batch (an async context manager).

        Records sent to it from any number of tasks are appended to the batch's V4 dataset
        (``dataset_id``, by default the batch's own) and turned into tasks by coalesced
        syncs; leaving the block flushes, syncs and waits. See `BatchFeed` for ``sync``,
        ``journal`` (resume after a crash without a record landing twice), ``buffer`` and
        ``linger``; the request limits and ``keep_rejections`` are `Datasets.append`'s.

        Example::

            async with client.batches.feed(batch.id) as feed:
                async for output in model.generate():
                    await feed.send({"prompt": output.prompt, "response": output.text})
            print(feed.result.accepted, feed.result.rejections)
        """
        segment("batch_id", batch_id)  # a bad id is refused here, not at `async with`
        if dataset_id is not None:
            segment("dataset_id", dataset_id)
        return BatchFeed(context=self._context, batches=self, batch_id=batch_id,
                         dataset_id=dataset_id, sync=sync, journal=journal, buffer=buffer,
                         linger=linger, max_request_records=max_request_records,
                         max_request_bytes=max_request_bytes, keep_rejections=keep_rejections,
                         poll=poll)

    def _sync_path(self, batch_id: str, sync_id: str) -> str:
        return f"{self._root(batch_id)}/syncs/{segment('sync_id', sync_id)}"

    async def sync_status(self, batch_id: str, sync_id: str) -> BatchSync:
        """A batch sync job's status (use `watch_sync` to wait for it)."""
        job: BatchSync = await self._call("GET", self._sync_path(batch_id, sync_id), BatchSync)
        return job

    def watch_sync(
        self, batch_id: str, sync_id: str, *, poll: PollPolicy | None = None,
    ) -> Watch[BatchSync]:
        """Stream a batch sync's status changes until complete."""
        return self._watch(self._sync_spec(batch_id, sync_id), poll)

    @watches(BATCH_SYNC)
    def _sync_spec(self, batch_id: str, sync_id: str) -> WatchSpec[BatchSync]:
        return self._spec(BATCH_SYNC, (batch_id, sync_id), self._sync_path(batch_id, sync_id),
                          BatchSync)


def _layout_body(pages: Sequence[BatchPage]) -> list[Any]:
    """The JSON of a layout, each level checked to be the SDK's model first."""
    for p, page in enumerate(models("batch_items", pages, BatchPage, "a pa.BatchPage")):
        for r, row in enumerate(models(f"batch_items[{p}].rows", page.rows, BatchRow,
                                       "a pa.BatchRow")):
            for c, column in enumerate(models(f"batch_items[{p}].rows[{r}].columns",
                                              row.columns, BatchColumn, "a pa.BatchColumn")):
                models(f"batch_items[{p}].rows[{r}].columns[{c}].items", column.items, Item,
                       ITEM_MODEL)
    body: list[Any] = converter.unstructure(list(pages), list[BatchPage])
    return body


def _created(batch: Batch) -> str:
    return batch.created_at.isoformat() if batch.created_at else ""
