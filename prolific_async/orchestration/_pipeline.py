"""The pipeline of one plan: its stages, and how each is made safe to run again.

Stages run in order: dataset_create → dataset_upload → dataset_ready → batch_create →
batch_setup → batch_ready → study_create → study_publish → responses → export → download.
With a journal, a stage that creates something is marked *begun* before its request and
*done* (with the new id) once it is known; a rerun skips done stages and reuses their ids.

Between "the server acted" and "the journal recorded it" there is always a gap: a SIGKILL
between the two, or an answer lost after the server acted (`pa.OutcomeUnknownError`), or a
5xx from a gateway that may have passed the request on. So a stage that was begun but not
done, or whose answer was lost or a 5xx, first asks the server what happened. A plan's
dataset file is checked (``datasets.check_upload``) before its dataset is created, so a bad
file leaves nothing behind. What each stage can leave behind, and why:

- **dataset_create**: an orphan, empty dataset. Datasets cannot be listed in the API, so a
  lost answer (or a kill before the id is journaled) cannot be reconciled; the dataset is
  created again. An orphan dataset costs nothing.
- **dataset_upload**: an orphan dataset holding data. Upload is "get a URL, PUT the file",
  and a second PUT to the same dataset might add the rows twice. A rerun that finds the
  upload begun, or an upload whose answer was lost (the SDK never repeats such a PUT), asks
  the dataset: if it moved past UNINITIALISED (V3) or has an import (V4), the upload landed
  and is kept; otherwise the data goes to a *new* dataset, so rows are never doubled even if
  the first PUT lands late.
- **dataset_ready**: nothing (it only polls).
- **batch_create**: nothing. A begun create, or a lost answer, is reconciled by finding the
  batch by the plan's name in its workspace (``batches.find``) before creating again; a batch
  of that name on another dataset is an error rather than a guess. This is why plan names
  must be unique in their workspace.
- **batch_setup**: nothing. A begun setup is sent again only if the batch is still
  UNINITIALISED (setup is idempotent on the server anyway).
- **batch_ready**: nothing (it polls, sharing one ``batches.list`` per workspace per tick).
- **study_create**: nothing. A begun create, or a lost answer, is reconciled by listing the
  studies of the batch (``studies.list(data_collection_id=...)``) before creating again.
- **study_publish**: nothing, and never a second publish: a study this run did not just
  create is re-read before publishing, and publishing is skipped when it is already past
  UNPUBLISHED; a lost answer is settled the same way.
- **responses**: nothing (it polls the study).
- **export**: at most one extra export job. A begun export reuses a journaled job, or the
  newest job of the batch that is generating or complete (``list_exports``), before asking
  for a new one; the server itself joins a request to a job still generating.
- **download**: nothing: ``batches.download_export`` writes the ZIP to a temporary file and
  renames it when complete (resuming a cut download, refreshing an expired URL).
"""

from __future__ import annotations

import csv
import json
import re
import tempfile
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import anyio
import attrs

import prolific_async as pa

from ._events import EventKind, PipelineEvent, PlanResult, Stage
from ._journal import Journal, PlanRecord
from ._pacing import Pacer
from ._plan import BatchPlan, ExistingDataset

__all__ = ["Pipeline", "PipelineState"]

#: How often a create whose answer was lost is tried again (after reconciling).
CREATE_ATTEMPTS = 6
#: A create that failed so: it may or may not have happened (a 5xx may come from a gateway
#: after the server acted); look, then try again.
_UNSURE = (pa.OutcomeUnknownError, pa.InternalServerError)
#: Stages that create or change something on the server: journaled as begun before the call.
_CREATING = frozenset({Stage.DATASET_CREATE, Stage.DATASET_UPLOAD, Stage.BATCH_CREATE,
                       Stage.BATCH_SETUP, Stage.STUDY_CREATE, Stage.STUDY_PUBLISH,
                       Stage.EXPORT})
_ID_KEYS = ("dataset_id", "import_id", "batch_id", "study_id", "export_id")
_BAD_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")


class PlanCancelled(pa.ProlificError):
    """The run was cancelled before this plan finished (its journal entry resumes it)."""


@attrs.define
class PipelineState:
    """What one plan has got so far; frozen into a `PlanResult` at any time."""

    plan: str
    stage: Stage | None = None
    ids: dict[str, str] = attrs.Factory(dict)
    export_path: Path | None = None
    responses: int | None = None
    error: Exception | None = None
    timings: dict[Stage, float] = attrs.Factory(dict)
    #: Whether a failed event was emitted for ``error``.
    reported: bool = False

    def result(self) -> PlanResult:
        return PlanResult(
            plan=self.plan, stage=self.stage, dataset_id=self.ids.get("dataset_id"),
            batch_id=self.ids.get("batch_id"), study_id=self.ids.get("study_id"),
            export_path=self.export_path, responses=self.responses, error=self.error,
            timings=dict(self.timings))


class Pipeline:
    """Drives one `BatchPlan` through its stages, emitting a `PipelineEvent` for each step."""

    def __init__(
        self, client: pa.Prolific, plan: BatchPlan, state: PipelineState, *,
        emit: Callable[[PipelineEvent], None], journal: Journal | None,
        record: PlanRecord, scratch: Path, pacer: Pacer,
    ) -> None:
        self.client = client
        self.plan = plan
        self.state = state
        self._emit_event = emit
        self._journal = journal
        self._record = record
        self._scratch = scratch
        self._pacer = pacer
        self._started = anyio.current_time()
        #: The study this run created (so it is known to be unpublished).
        self._fresh_study: str | None = None
        #: The export job as the export stage last saw it (its URL saves a request).
        self._export_job: pa.ExportJob | None = None
        state.ids.update({k: v for k, v in record.ids.items() if k in _ID_KEYS})
        if "export_path" in record.ids:
            state.export_path = Path(record.ids["export_path"])
        if "responses" in record.ids:
            state.responses = int(record.ids["responses"])

    # -- plumbing -----------------------------------------------------------------------------

    def _emit(self, stage: Stage, kind: EventKind, **fields: Any) -> None:
        self._emit_event(PipelineEvent(plan=self.plan.name, stage=stage, kind=kind,
                                       elapsed=anyio.current_time() - self._started, **fields))

    async def _watch(self, stage: Stage, watch: pa.Watch[Any]) -> Any:
        """Follow a watch to its end, emitting each transition; returns the last snapshot."""
        last = None
        async with watch:
            async for transition in watch:
                self._emit(stage, EventKind.TRANSITION, transition=transition)
                last = transition.snapshot
        return last

    async def _wait(
        self, stage: Stage, start: Callable[[pa.PollPolicy], pa.Watch[Any]], *,
        just_started: bool, deadline: float | None = None,
    ) -> Any:
        """Watch a job on the run's paced policy; see `Pacer`."""
        poll = self._pacer.policy()
        if deadline is not None:
            poll = attrs.evolve(poll, deadline=deadline)
        if just_started:
            await anyio.sleep(self._pacer.first_delay(poll))
        return await self._watch(stage, start(poll))

    async def _set(self, key: str, value: str) -> None:
        self.state.ids[key] = value
        if self._journal is not None:
            await self._journal.set_id(self.plan.name, key, value)

    async def _forget(self, key: str) -> None:
        self.state.ids.pop(key, None)
        if self._journal is not None:
            await self._journal.forget(self.plan.name, key)

    async def _stage(
        self, stage: Stage, body: Callable[[bool], Awaitable[str | None]],
        *, skip: str | None = None,
    ) -> None:
        """Run one stage: skipped when not wanted or done earlier, else started → finished.

        ``body(resuming)`` gets True when an earlier run began this stage and did not record
        its end; it may return a message for the finished event.
        """
        self.state.stage = stage
        if skip is not None:
            self._emit(stage, EventKind.SKIPPED, message=skip)
            return
        recorded = self._record.stages.get(stage.value)
        if recorded == "done":
            if stage in self._record.seconds:
                self.state.timings.setdefault(stage, self._record.seconds[stage])
            self._emit(stage, EventKind.SKIPPED, message="done in an earlier run")
            return
        self._emit(stage, EventKind.STARTED)
        began = anyio.current_time()
        try:
            if self._journal is not None and stage in _CREATING:
                await self._journal.begin(self.plan.name, stage.value)
            message = await body(recorded == "begun")
            seconds = anyio.current_time() - began
            if self._journal is not None:
                await self._journal.finish(self.plan.name, stage.value, seconds)
        except Exception as exc:
            self.state.timings[stage] = anyio.current_time() - began
            self._emit(stage, EventKind.FAILED, error=exc)
            self.state.reported = True
            raise
        self.state.timings[stage] = seconds
        self._emit(stage, EventKind.FINISHED, message=message or "")

    # -- the stages ---------------------------------------------------------------------------

    async def run(self) -> None:
        plan = self.plan
        existing = isinstance(plan.dataset, ExistingDataset)
        study = plan.study
        if isinstance(plan.dataset, ExistingDataset):
            self.state.ids["dataset_id"] = plan.dataset.id
        await self._stage(Stage.DATASET_CREATE, self._create_dataset,
                          skip="an existing dataset" if existing else None)
        await self._stage(Stage.DATASET_UPLOAD, self._upload,
                          skip="an existing dataset" if existing else None)
        await self._stage(Stage.DATASET_READY, self._dataset_ready)
        await self._stage(Stage.BATCH_CREATE, self._create_batch)
        await self._stage(Stage.BATCH_SETUP, self._setup)
        await self._stage(Stage.BATCH_READY, self._batch_ready)
        await self._stage(Stage.STUDY_CREATE, self._create_study,
                          skip=None if study else "no study in the plan")
        await self._stage(Stage.STUDY_PUBLISH, self._publish,
                          skip=None if study and study.publish else "publish=False")
        await self._stage(Stage.RESPONSES, self._responses,
                          skip=None if study and study.wait_for else "no wait_for")
        no_export = None if plan.export_to else "no export_to"
        await self._stage(Stage.EXPORT, self._export, skip=no_export)
        await self._stage(Stage.DOWNLOAD, self._download, skip=no_export)

    async def _create_dataset(self, resuming: bool) -> str | None:
        if resuming and "dataset_id" in self.state.ids:
            return "recorded by an earlier run"
        if isinstance(self.plan.dataset, Path):
            # A file the upload would refuse is refused now, before any dataset exists.
            await self.client.datasets.check_upload(self.plan.dataset,
                                                    filename=_upload_name(self.plan.dataset))
        # Datasets cannot be listed: a create whose answer was lost is simply made again
        # (an orphan dataset is harmless; see the module docstring).
        for attempt in range(1, CREATE_ATTEMPTS + 1):
            try:
                dataset = await self.client.datasets.create(
                    name=self.plan.name, workspace_id=self.plan.workspace_id,
                    schema=self.plan.dataset_schema)
            except _UNSURE:
                if attempt == CREATE_ATTEMPTS:
                    raise
                continue
            await self._set("dataset_id", dataset.id)
            break
        return None

    async def _upload(self, resuming: bool) -> str | None:
        message = None
        source = self.plan.dataset
        path = source if isinstance(source, Path) else await anyio.to_thread.run_sync(
            self._write_rows)
        filename = _upload_name(path)
        # An earlier run's upload, or one whose answer was lost, may have landed.
        unsure = resuming
        for attempt in range(1, CREATE_ATTEMPTS + 1):
            if unsure:
                if await self._upload_landed():
                    return "an earlier upload had landed"
                # Maybe that PUT lands later: never send the rows to the same dataset twice.
                orphan = self.state.ids["dataset_id"]
                await self._forget("import_id")
                await self._create_dataset(False)
                message = f"earlier upload unconfirmed: new dataset, {orphan} left behind"
            try:
                target = await self.client.datasets.upload(self.state.ids["dataset_id"], path,
                                                           filename=filename)
            except _UNSURE:
                if attempt == CREATE_ATTEMPTS:
                    raise
                unsure = True
                continue
            if target.import_id is not None:
                await self._set("import_id", target.import_id)
            break
        return message

    async def _upload_landed(self) -> bool:
        dataset = await self.client.datasets.get(self.state.ids["dataset_id"])
        if self.plan.is_v4:
            imports = [job for job in dataset.imports or [] if job.import_id]
            if imports:
                await self._set("import_id", str(imports[-1].import_id))
            return bool(imports)
        return dataset.status not in (None, pa.DatasetStatus.UNINITIALISED)

    def _write_rows(self) -> Path:
        """Rows given in Python, written for upload: JSONL for a V4 dataset, else CSV."""
        rows = self.plan.dataset
        assert isinstance(rows, tuple)
        folder = Path(tempfile.mkdtemp(dir=self._scratch))
        if self.plan.is_v4:
            path = folder / "data.jsonl"
            with path.open("w", encoding="utf-8") as out:
                out.writelines(json.dumps(row, default=str) + "\n" for row in rows)
            return path
        path = folder / "data.csv"
        columns = list(dict.fromkeys(key for row in rows for key in row))
        with path.open("w", encoding="utf-8", newline="") as out:
            writer = csv.DictWriter(out, columns, restval="")
            writer.writeheader()
            writer.writerows(rows)
        return path

    async def _dataset_ready(self, resuming: bool) -> str | None:
        datasets = self.client.datasets
        dataset_id = self.state.ids["dataset_id"]
        if isinstance(self.plan.dataset, ExistingDataset):
            dataset = await datasets.get(dataset_id)
            if dataset.status == pa.DatasetStatus.READY or dataset.schema_version == 4:
                return f"existing dataset is {dataset.status}"
        just_started = self._record.stages.get(Stage.DATASET_UPLOAD.value) != "done" and not (
            isinstance(self.plan.dataset, ExistingDataset))
        if self.plan.is_v4:
            import_id = self.state.ids["import_id"]
            await self._wait(Stage.DATASET_READY,
                             lambda poll: datasets.watch_import(dataset_id, import_id, poll=poll),
                             just_started=just_started)
        else:
            await self._wait(Stage.DATASET_READY,
                             lambda poll: datasets.watch(dataset_id, poll=poll),
                             just_started=just_started)
        return None

    async def _create_batch(self, resuming: bool) -> str | None:
        plan = self.plan
        if resuming and "batch_id" in self.state.ids:
            return "recorded by an earlier run"
        for attempt in range(1, CREATE_ATTEMPTS + 1):
            if resuming or attempt > 1:
                found = await self._find_batch()
                if found is not None:
                    await self._set("batch_id", found.id)
                    return f"found batch {found.id} created earlier"
            try:
                batch = await self.client.batches.create(
                    name=plan.name, workspace_id=plan.workspace_id,
                    task_details=plan.task_details, dataset_id=self.state.ids["dataset_id"],
                    batch_items=plan.batch_items())
            except _UNSURE:
                if attempt == CREATE_ATTEMPTS:
                    raise
                continue
            await self._set("batch_id", batch.id)
            break
        return None

    async def _find_batch(self) -> pa.Batch | None:
        found = await self.client.batches.find(self.plan.name,
                                               workspace_id=self.plan.workspace_id)
        if found is None:
            return None
        datasets = {ref.id for ref in found.datasets or []}
        if datasets and self.state.ids["dataset_id"] not in datasets:
            raise pa.ProlificError(
                f"plan {self.plan.name!r}: workspace {self.plan.workspace_id} already has a "
                f"batch of that name ({found.id}) on another dataset; plan names must be unique "
                "in their workspace")
        return found

    async def _setup(self, resuming: bool) -> str | None:
        batch_id = self.state.ids["batch_id"]
        if resuming:
            status = await self.client.batches.status(batch_id)
            if status != pa.BatchStatus.UNINITIALISED:
                return f"set up by an earlier run ({status})"
        await self.client.batches.setup(batch_id, tasks_per_group=self.plan.tasks_per_group)
        return None

    async def _batch_ready(self, resuming: bool) -> str | None:
        await self._watch(Stage.BATCH_READY, self.client.batches.watch(
            self.state.ids["batch_id"], workspace_id=self.plan.workspace_id))
        return None

    async def _create_study(self, resuming: bool) -> str | None:
        assert self.plan.study is not None
        batch_id = self.state.ids["batch_id"]
        if resuming and "study_id" in self.state.ids:
            return "recorded by an earlier run"
        body = self.plan.study.create_body(self.plan.name, batch_id)
        for attempt in range(1, CREATE_ATTEMPTS + 1):
            if resuming or attempt > 1:
                found = await self.client.studies.list(data_collection_id=batch_id)
                if found:
                    await self._set("study_id", found[0].id)
                    return f"found study {found[0].id} created earlier"
            try:
                study = await self.client.studies.create(body)
            except _UNSURE:
                if attempt == CREATE_ATTEMPTS:
                    raise
                continue
            self._fresh_study = study.id
            await self._set("study_id", study.id)
            break
        return None

    async def _publish(self, resuming: bool) -> str | None:
        study_id = self.state.ids["study_id"]
        # A study this run did not just create may have been published by an earlier one.
        check = resuming or self._fresh_study != study_id
        for attempt in range(1, CREATE_ATTEMPTS + 1):
            if check or attempt > 1:
                study = await self.client.studies.get(study_id)
                if study.status != pa.StudyStatus.UNPUBLISHED:
                    return f"already published ({study.status})"
            try:
                await self.client.studies.publish(study_id)
            except _UNSURE:
                if attempt == CREATE_ATTEMPTS:
                    raise
                continue
            break
        return None

    async def _responses(self, resuming: bool) -> str | None:
        study = self.plan.study
        assert study is not None and study.wait_for is not None
        studies = self.client.studies
        study_id = self.state.ids["study_id"]
        if study.wait_for == "complete":
            await self._wait(Stage.RESPONSES, lambda poll: studies.watch(study_id, poll=poll),
                             just_started=not resuming, deadline=study.wait_deadline)
        else:
            await self._wait_for_submissions(study_id, study.wait_for, study.wait_deadline)
        count = 0
        async for _ in self.client.batches.responses(self.state.ids["batch_id"]):
            count += 1
        self.state.responses = count
        if self._journal is not None:
            await self._journal.set_id(self.plan.name, "responses", str(count))
        return f"{count} responses"

    async def _wait_for_submissions(self, study_id: str, wanted: int, deadline: float) -> None:
        """Poll the study until ``wanted`` participants have submitted (``places_taken``).

        A status watch cannot do this (it reports status changes only), so this polls on the
        client's policy, emitting a transition (with the progress as its message) whenever
        the study's status or its count of submissions changes.
        """
        seen: tuple[str, int | float] | None = None
        started = anyio.current_time()
        poll = self._pacer.policy()
        delay = poll.initial
        with anyio.move_on_after(deadline):
            while True:
                study = await self.client.studies.get(study_id)
                status, taken = str(study.status), study.places_taken or 0
                if (status, taken) != seen:
                    self._emit(Stage.RESPONSES, EventKind.TRANSITION,
                               message=f"{taken} of {wanted} submissions",
                               transition=pa.Transition(
                                   kind="study", resource_id=study_id,
                                   previous=seen[0] if seen else None, current=status,
                                   at=datetime.now(timezone.utc),
                                   elapsed=anyio.current_time() - started, snapshot=study))
                    seen = (status, taken)
                if taken >= wanted or status in ("AWAITING REVIEW", "COMPLETED"):
                    return
                await anyio.sleep(delay)
                delay = min(delay * poll.multiplier, poll.ceiling)
        last = f"{seen[1]} of {wanted} submissions" if seen else "no answer"
        raise pa.PollTimeout(
            f"study {study_id} had {last} after {deadline:g} s (StudyPlan.wait_deadline); "
            "rerun with the journal to keep waiting",
            kind="study", resource_id=study_id, last_status=seen[0] if seen else None,
            resume_token={"v": 1, "kind": "study", "ids": [study_id],
                          "status": seen[0] if seen else None, "attempt": 0})

    async def _export(self, resuming: bool) -> str | None:
        batches = self.client.batches
        batch_id = self.state.ids["batch_id"]
        job = await self._reusable_export(batch_id, resuming)
        message = "reused an export job" if job is not None else None
        if job is None:
            job = await batches.request_export(batch_id)
        if job.export_id is None:
            # The older contract: a recent export, complete, with no job id to poll.
            raise pa.StorageError(f"export of batch {batch_id} has no export_id to follow")
        await self._set("export_id", job.export_id)
        if job.status != pa.ExportStatus.COMPLETE:
            export_id = job.export_id
            job = await self._wait(Stage.EXPORT,
                             lambda poll: batches.watch_export(batch_id, export_id, poll=poll),
                             just_started=message is None)
        self._export_job = job
        return message

    async def _reusable_export(self, batch_id: str, resuming: bool) -> pa.ExportJob | None:
        """A journaled job, or (after a begun export) the newest usable job of the batch."""
        batches = self.client.batches
        export_id = self.state.ids.get("export_id")
        if export_id is not None:
            try:
                job = await batches.export_status(batch_id, export_id)
            except pa.NotFoundError:
                job = None
            if job is not None and job.status != pa.ExportStatus.FAILED:
                return attrs.evolve(job, export_id=job.export_id or export_id)
        if resuming:
            for job in await batches.list_exports(batch_id):
                if job.export_id and job.status != pa.ExportStatus.FAILED:
                    return job
        return None

    async def _download(self, resuming: bool) -> str | None:
        assert self.plan.export_to is not None
        batch_id, export_id = self.state.ids["batch_id"], self.state.ids["export_id"]
        job = self._export_job
        folder = anyio.Path(self.plan.export_to)
        await folder.mkdir(parents=True, exist_ok=True)
        path = await self.client.batches.download_export(
            batch_id, job if job is not None and job.url is not None else export_id, folder)
        self.state.export_path = path
        if self._journal is not None:
            await self._journal.set_id(self.plan.name, "export_path", str(path))
        return str(path)


def _upload_name(path: Path) -> str:
    """The name a dataset file is uploaded as: the API takes a plain file name."""
    return _BAD_FILENAME.sub("_", path.name).lstrip(".") or "data.csv"
