"""The stages of a plan, as one table: what each creates, how it is found, what it leaves.

`STAGES` lists, in order, one `StageSpec` per `Stage`. The runner (`_pipeline.Pipeline`)
walks it for each plan and owns everything common: skipping what the plan does not ask for,
the journal (begun/done, ids), events, timings, and `create_once` around every stage that
creates. A stage is therefore only its functions:

- ``skip(plan)``: why the plan does not need it (None: it does).
- ``find(p, recheck)``: whether what the stage would create or wait for is already on the
  server; if so it adopts it (``await p.set("batch_id", ...)``) and returns a message for the
  finished event, else None. It is asked before the first create and again after every
  unsure answer (``recheck=True``: read the server afresh, not the run's shared lists).
  It should cost nothing when nothing can exist (the parent is in ``p.fresh``: made by this
  run a moment ago).
- ``do(p)``: create (or wait), record what it made with ``p.set(key, value,
  created=True)``, return an optional message. Never retry a create in here: `create_once`
  does, after looking.
- ``still_done(p)``: for a stage whose output can go stale (a file, a count): whether what
  the journal says it did still holds; if not, the stage runs again and so does every stage
  after it, their ``outputs`` (journal keys) forgotten first.
- ``creates``: what it creates or changes on the server, in words ("" for a stage that only
  reads or waits: never journaled as begun). ``leaves``: what a crash or a lost answer can
  leave behind, and why (shown in the docs, and the reason the stage is safe to rerun).

What a stage function may use of ``p`` is the `Runner` protocol below (the runner in
`_pipeline` implements it): the client, the plan, its ids, what the server showed, what this
run did, and ``set``/``forget`` (ids, in the journal by the plan's next begun mark),
``watch``/``wait`` (follow a watch, reporting its transitions), ``transition`` (report one).

Adding a stage: add its `Stage` member (in `_events`, in run order), write its functions
here (or in a module of its own, as the money stages in `_review`), and put one
`StageSpec` in `STAGES` at the same place. For example, the approve stage::

    StageSpec(
        stage=Stage.APPROVE, skip=_review.no_review, do=_review.approve,
        creates="approvals (participants are paid their reward) and rejections",
        leaves="nothing twice: only submissions the server still shows AWAITING REVIEW ...")

Rules of thumb for the stages to come:

- Money (publish, approve, bonus) is found by reading the server's state, never trusted to
  the journal alone; a payment the server cannot list (a bonus) must record its intent with
  ``p.set`` *before* the request, and ``find`` must read what the server paid.
- A wait uses ``p.wait(lambda poll: client.<resource>.watch(..., poll=poll),
  just_started=...)`` so the run's pacing and rate cap apply; a wait that may never end (a
  feed-driven dataset that keeps growing) needs a ``still_done`` so a rerun goes on.
- The dry run (`_dry`) reports a new stage as "would create <creates>" until it learns to
  read what exists for it; the runner needs no change.
- The runner talks to the journal only through ``enter``, ``begin``, ``finish``,
  ``set_id`` and ``forget`` (`_journal.Journal`); a journal with leases (PostgreSQL) takes
  the plan's lease around `Pipeline.run`, in `_run._drive`.

What the current stages can leave behind is in each entry's ``leaves``: in short, only a
dataset whose batch was never created (datasets cannot be listed, so a dataset made before a
kill or a lost answer cannot be found again), at most one extra export job, and an unpaid
bonus set-up (set-ups cannot be listed either; only the journaled one is paid). The money
stages (review, approve, bonus set-up, bonus pay) are in `_review`.
"""

from __future__ import annotations

import csv
import json
import os
import re
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

import anyio
import attrs

from . import _review
from . import _sdk as pa
from ._events import Stage
from ._feeding import Feed
from ._pacing import Pacer
from ._plan import BatchPlan, ExistingDataset
from ._reconcile import create_once
from ._survey import Survey

__all__ = ["STAGES", "Runner", "StageSpec", "upload_name"]


class Runner(Protocol):
    """What a stage function may use of the runner (`_pipeline.Pipeline` is one)."""

    client: pa.Prolific
    plan: BatchPlan
    #: The plan's ids so far (and its outputs: ``responses``, ``export_path`` ...).
    ids: dict[str, str]
    #: The plan's result so far (``responses``, ``export_path``).
    state: Any
    survey: Survey
    scratch: Path
    pacer: Pacer
    #: Webhooks that wake study waits (None: they are polled).
    hooks: pa.HookReceiver | None
    #: The plan's batch as the run's shared list showed it (None: not there).
    server_batch: pa.Batch | None
    #: Id keys of what this run created (so nothing could be there before).
    fresh: set[str]
    #: Whether an earlier run began the running stage and did not record its end.
    resuming: bool
    #: Stages that ran in this run; those of them done earlier whose outputs went stale.
    ran: set[Stage]
    redone: set[Stage]
    #: What a stage's ``find`` leaves for its ``do``.
    notes: dict[str, str]
    #: Everything the journal holds for the plan (review decisions, bonus amounts).
    journaled: dict[str, str]
    #: Transitions the last `watch` reported.
    changes: int
    #: Whether this run saw responses still arriving.
    collecting: bool
    export_job: pa.ExportJob | None

    def transition(self, transition: pa.Transition[Any], message: str = "") -> None: ...

    async def watch(self, watch: pa.Watch[Any]) -> Any: ...

    async def wait(self, start: Callable[[pa.PollPolicy], pa.Watch[Any]], *,
                   just_started: bool, deadline: float | None = None) -> Any: ...

    async def set(self, key: str, value: str, *, created: bool = False) -> None: ...

    async def forget(self, key: str) -> None: ...

_BAD_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")
#: Study statuses past data collection: its responses are final.
_COLLECTED = (pa.StudyStatus.AWAITING_REVIEW, pa.StudyStatus.COMPLETED)


def _needed(plan: BatchPlan) -> str | None:
    return None


@attrs.frozen(kw_only=True)
class StageSpec:
    """One stage of the table; see the module docstring for each field's contract."""

    stage: Stage
    do: Callable[[Runner], Awaitable[str | None]]
    creates: str = ""
    find: Callable[[Runner, bool], Awaitable[str | None]] | None = None
    skip: Callable[[BatchPlan], str | None] = _needed
    still_done: Callable[[Runner], Awaitable[bool]] | None = None
    outputs: tuple[str, ...] = ()
    leaves: str = "nothing"


# -- dataset ----------------------------------------------------------------------------------

def _existing(plan: BatchPlan) -> str | None:
    return "an existing dataset" if isinstance(plan.dataset, ExistingDataset) else None


def upload_name(path: Path) -> str:
    """The name a dataset file is uploaded as: the API takes a plain file name."""
    return _BAD_FILENAME.sub("_", path.name).lstrip(".") or "data.csv"


async def _find_dataset(p: Runner, recheck: bool) -> str | None:
    batch = p.server_batch
    refs = [ref.id for ref in batch.datasets or []] if batch is not None else []
    if batch is not None and refs:
        await p.set("dataset_id", refs[0])
        return f"dataset {refs[0]} of batch {batch.id}, found on the server"
    if p.resuming and "dataset_id" in p.ids:
        return "recorded by an earlier run"
    return None  # datasets cannot be listed: a lost one is left behind


async def _create_dataset(p: Runner) -> str | None:
    plan = p.plan
    dataset = await p.client.datasets.create(name=plan.name, workspace_id=plan.workspace_id,
                                             schema=plan.new_dataset_schema)
    await p.set("dataset_id", dataset.id, created=True)
    return None


async def _upload_landed(p: Runner) -> bool:
    """Whether the dataset holds data (V3: past UNINITIALISED; V4: it has an import)."""
    dataset = await p.client.datasets.get(p.ids["dataset_id"])
    if p.plan.is_v4:
        imports = [job for job in dataset.imports or [] if job.import_id]
        if imports:
            await p.set("import_id", str(imports[-1].import_id))
        return bool(imports)
    return dataset.status not in (None, pa.DatasetStatus.UNINITIALISED)


async def _find_upload(p: Runner, recheck: bool) -> str | None:
    if p.server_batch is not None:
        return "its batch exists on the server"
    if isinstance(p.plan.dataset, Feed):
        return None  # appending the first records again is harmless: they are duplicates
    if not (recheck or p.resuming):
        return None
    if await _upload_landed(p):
        return "an earlier upload had landed"
    # That PUT may still land: the rows go to a new dataset, never to the same one twice.
    orphan = p.ids["dataset_id"]
    await p.forget("import_id")
    # Datasets cannot be listed, so there is nothing to look for: a lost answer here leaves
    # an empty dataset behind (it costs nothing) and another is made.
    await create_once(_unlistable, lambda: _create_dataset(p), look_first=False)
    p.notes["orphan_dataset"] = orphan
    return None


async def _unlistable(recheck: bool) -> None:
    return None


async def _upload(p: Runner) -> str | None:
    source = p.plan.dataset
    if isinstance(source, Feed):
        return await _append_first(p, source)
    path = source if isinstance(source, Path) else await anyio.to_thread.run_sync(
        _write_rows, p.plan, p.scratch)
    target = await p.client.datasets.upload(p.ids["dataset_id"], path,
                                            filename=upload_name(path))
    if target.import_id is not None:
        await p.set("import_id", target.import_id, created=True)
    orphan = p.notes.pop("orphan_dataset", None)
    return f"earlier upload unconfirmed: new dataset, {orphan} left behind" if orphan else None


async def _append_first(p: Runner, feed: Feed) -> str:
    """A feed's first records, appended so that setup has tasks to make."""
    first = await feed.take_first()
    if not first:
        raise ValueError(f"plan {p.plan.name!r}: its feed gave no records; the batch's setup "
                         "needs at least one")
    result = await p.client.datasets.append(p.ids["dataset_id"], first)
    return f"first {result.total} records: {result.accepted} new, {result.rejected} rejected"


def _appended(plan: BatchPlan) -> str | None:
    return "a feed's records are in as soon as appended" if isinstance(plan.dataset, Feed) \
        else None


def _not_fed(plan: BatchPlan) -> str | None:
    return None if isinstance(plan.dataset, Feed) else "not a feed"


async def _feed(p: Runner) -> str | None:
    """The rest of the feed, into the live batch: the block ends once the records do, with
    the last sync done."""
    feed = p.plan.dataset
    assert isinstance(feed, Feed)
    async with p.client.batches.feed(p.ids["batch_id"], dataset_id=p.ids["dataset_id"],
                                     poll=p.pacer.policy()) as live:
        await live.send_many(feed.rest())
    result = live.result
    return (f"{result.accepted} records fed ({result.duplicates} already in, "
            f"{result.rejected} rejected), {result.tasks_created} tasks made")


async def _never(p: Runner) -> bool:
    return False


def _write_rows(plan: BatchPlan, scratch: Path) -> Path:
    """Rows given in Python, written for upload: JSONL for a V4 dataset, else CSV."""
    rows = plan.dataset
    assert isinstance(rows, tuple)
    folder = Path(tempfile.mkdtemp(dir=scratch))
    if plan.is_v4:
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


async def _find_dataset_ready(p: Runner, recheck: bool) -> str | None:
    batch = p.server_batch
    if batch is not None and batch.status not in (None, pa.BatchStatus.UNINITIALISED):
        return f"its batch is {batch.status}"
    if isinstance(p.plan.dataset, ExistingDataset):
        dataset = await p.client.datasets.get(p.ids["dataset_id"])
        if dataset.status == pa.DatasetStatus.READY or dataset.schema_version == 4:
            return f"existing dataset is {dataset.status}"
    return None


async def _dataset_ready(p: Runner) -> str | None:
    datasets = p.client.datasets
    dataset_id = p.ids["dataset_id"]
    just_started = Stage.DATASET_UPLOAD in p.ran
    if p.plan.is_v4:
        if "import_id" not in p.ids:
            await _upload_landed(p)  # adopted from the server: find its import
        import_id = p.ids["import_id"]
        await p.wait(lambda poll: datasets.watch_import(dataset_id, import_id, poll=poll),
                     just_started=just_started)
    else:
        await p.wait(lambda poll: datasets.watch(dataset_id, poll=poll),
                     just_started=just_started)
    return None


# -- batch ------------------------------------------------------------------------------------

async def _find_batch(p: Runner, recheck: bool) -> str | None:
    plan = p.plan
    found = (await p.survey.batch(plan.name, workspace_id=plan.workspace_id, fresh=True)
             if recheck else p.server_batch)
    if found is None:
        return None
    datasets = {ref.id for ref in found.datasets or []}
    if datasets and p.ids["dataset_id"] not in datasets:
        raise pa.ProlificError(
            f"plan {plan.name!r}: workspace {plan.workspace_id} already has a batch of that "
            f"name ({found.id}) on another dataset; plan names must be unique in their "
            "workspace")
    p.server_batch = found
    await p.set("batch_id", found.id)
    return f"found batch {found.id} on the server"


async def _create_batch(p: Runner) -> str | None:
    plan = p.plan
    batch = await p.client.batches.create(
        name=plan.name, workspace_id=plan.workspace_id, task_details=plan.task_details,
        dataset_id=p.ids["dataset_id"], batch_items=plan.batch_items())
    await p.set("batch_id", batch.id, created=True)
    return None


async def _find_setup(p: Runner, recheck: bool) -> str | None:
    # Setup is sent again only on a batch still UNINITIALISED: on some servers a second
    # setup restarts processing, and a study then meets a batch no longer READY.
    batch_id = p.ids["batch_id"]
    if "batch_id" in p.fresh and not recheck:
        return None
    if recheck or p.server_batch is None:
        status = await p.client.batches.status(batch_id)
    else:
        status = p.server_batch.status or pa.BatchStatus.UNINITIALISED
    if status != pa.BatchStatus.UNINITIALISED:
        return f"already set up ({status})"
    return None


async def _setup(p: Runner) -> str | None:
    await p.client.batches.setup(p.ids["batch_id"], tasks_per_group=p.plan.tasks_per_group)
    return None


async def _find_batch_ready(p: Runner, recheck: bool) -> str | None:
    batch = p.server_batch
    if batch is not None and batch.status == pa.BatchStatus.READY:
        return "READY on the server"
    return None


async def _batch_ready(p: Runner) -> str | None:
    await p.watch(p.client.batches.watch(p.ids["batch_id"],
                                         workspace_id=p.plan.workspace_id))
    return None


# -- study ------------------------------------------------------------------------------------

def _no_study(plan: BatchPlan) -> str | None:
    return None if plan.study else "no study in the plan"


def _no_publish(plan: BatchPlan) -> str | None:
    return None if plan.study and plan.study.publish else "publish=False"


def _no_wait(plan: BatchPlan) -> str | None:
    return None if plan.study and plan.study.wait_for else "no wait_for"


async def _find_study(p: Runner, recheck: bool) -> str | None:
    if "batch_id" in p.fresh and not recheck:
        return None  # its batch was made a moment ago: no study can be there
    found = await p.survey.studies_of(p.ids["batch_id"], fresh=recheck)
    if not found:
        return None
    await p.set("study_id", found[0].id)
    return f"found study {found[0].id} on the server"


async def _create_study(p: Runner) -> str | None:
    assert p.plan.study is not None
    study = await p.client.studies.create(
        p.plan.study.create_body(p.plan.name, p.ids["batch_id"]))
    await p.set("study_id", study.id, created=True)
    return None


async def _find_published(p: Runner, recheck: bool) -> str | None:
    # Money: a study this run did not just create is read before publishing, always.
    if "study_id" in p.fresh and not recheck:
        return None
    study = await p.client.studies.get(p.ids["study_id"])
    if study.status != pa.StudyStatus.UNPUBLISHED:
        return f"already published ({study.status})"
    return None


async def _publish(p: Runner) -> str | None:
    await p.client.studies.publish(p.ids["study_id"])
    return None


# -- responses and export ---------------------------------------------------------------------

async def _same_wait(p: Runner) -> bool:
    study = p.plan.study
    return study is not None and p.ids.get("wait_for") == str(study.wait_for)


async def _responses(p: Runner) -> str | None:
    study = p.plan.study
    assert study is not None and study.wait_for is not None
    studies, study_id, wanted = p.client.studies, p.ids["study_id"], study.wait_for
    hooks = p.hooks

    def start(poll: pa.PollPolicy) -> pa.Watch[pa.Study]:
        if hooks is not None:  # woken by its webhooks: polling is only the safety net
            poll = hooks.poll_policy(poll)
        if wanted == "complete":
            return studies.watch(study_id, poll=poll, events=hooks)
        return studies.watch_submissions(study_id, at_least=wanted, poll=poll, events=hooks)

    await p.wait(start, just_started=Stage.STUDY_PUBLISH in p.ran,
                 deadline=study.wait_deadline)
    # One transition only: the study had what was waited for before this run looked.
    p.collecting = p.collecting or p.changes > 1
    count = 0
    async for _ in p.client.batches.responses(p.ids["batch_id"]):
        count += 1
    p.state.responses = count
    await p.set("responses", str(count))
    await p.set("wait_for", str(wanted))
    return f"{count} responses"


def _no_export(plan: BatchPlan) -> str | None:
    return None if plan.export_to else "no export_to"


async def _find_export(p: Runner, recheck: bool) -> str | None:
    """This plan's own job (journaled), else the newest unfiltered job of the batch that is
    generating or complete: never someone's filtered export, never one older than the
    responses this run saw arrive."""
    batches = p.client.batches
    batch_id = p.ids["batch_id"]
    export_id = p.ids.get("export_id")
    if export_id is not None:
        try:
            job = await batches.export_status(batch_id, export_id)
        except pa.NotFoundError:
            job = None
        if job is not None and job.status != pa.ExportStatus.FAILED:
            await _follow_export(p, attrs.evolve(job, export_id=job.export_id or export_id),
                                 just_started=False)
            return f"reused export job {export_id}"
        await p.forget("export_id")
    # A job older than responses seen arriving, or than a changed wait_for, may lack some.
    if not recheck and ("batch_id" in p.fresh or p.collecting or Stage.RESPONSES in p.redone):
        return None
    for job in await batches.list_exports(batch_id):
        if job.export_id and not job.filter and job.status in (
                pa.ExportStatus.GENERATING, pa.ExportStatus.COMPLETE):
            await p.set("export_id", job.export_id)
            await _follow_export(p, job, just_started=False)
            return f"reused export job {job.export_id}"
    return None


async def _export(p: Runner) -> str | None:
    job = await p.client.batches.request_export(p.ids["batch_id"])
    if job.export_id is None:
        # The older contract: a recent export, complete, with no job id to poll.
        raise pa.NotDownloadableError(
            f"export of batch {p.ids['batch_id']} has no export_id to follow")
    await p.set("export_id", job.export_id, created=True)
    await _follow_export(p, job, just_started=True)
    return None


async def _follow_export(p: Runner, job: pa.ExportJob, *, just_started: bool) -> None:
    batch_id, export_id = p.ids["batch_id"], job.export_id
    assert export_id is not None
    if job.status != pa.ExportStatus.COMPLETE:
        job = await p.wait(
            lambda poll: p.client.batches.watch_export(batch_id, export_id, poll=poll),
            just_started=just_started)
    p.export_job = job


async def _file_in_place(p: Runner) -> bool:
    path, folder = p.state.export_path, p.plan.export_to
    if path is None or folder is None:
        return False
    if await anyio.Path(path).parent.resolve() != await anyio.Path(folder).resolve():
        return False  # export_to changed since
    return await anyio.Path(path).is_file()


async def _download(p: Runner) -> str | None:
    assert p.plan.export_to is not None
    batch_id, export_id = p.ids["batch_id"], p.ids["export_id"]
    job = p.export_job
    # A folder (a trailing separator): the download makes it if need be.
    folder = os.path.join(p.plan.export_to, "")
    path = await p.client.batches.download_export(
        batch_id, job if job is not None and job.url is not None else export_id, folder)
    p.state.export_path = path
    await p.set("export_path", str(path))
    return str(path)


#: The stages, in the order they run.
STAGES: tuple[StageSpec, ...] = (
    StageSpec(
        stage=Stage.DATASET_CREATE, creates="a dataset named after the plan",
        skip=_existing, find=_find_dataset, do=_create_dataset,
        leaves="an empty dataset: datasets cannot be listed, so one created before a kill "
               "or a lost answer, and before its batch, is created again (it costs nothing)"),
    StageSpec(
        stage=Stage.DATASET_UPLOAD, creates="the dataset's rows", skip=_existing,
        find=_find_upload, do=_upload,
        leaves="a dataset holding rows: an unconfirmed upload (a second PUT could double the "
               "rows) sends the data to a new dataset instead"),
    StageSpec(stage=Stage.DATASET_READY, skip=_appended, find=_find_dataset_ready,
              do=_dataset_ready),
    StageSpec(
        stage=Stage.BATCH_CREATE, creates="a batch named after the plan",
        find=_find_batch, do=_create_batch,
        leaves="nothing: found by its name in the workspace"),
    StageSpec(
        stage=Stage.BATCH_SETUP, creates="the batch's tasks (setup)",
        find=_find_setup, do=_setup,
        leaves="nothing: sent again only to a batch still UNINITIALISED"),
    StageSpec(stage=Stage.BATCH_READY, find=_find_batch_ready, do=_batch_ready),
    StageSpec(
        stage=Stage.STUDY_CREATE, creates="a study of the batch", skip=_no_study,
        find=_find_study, do=_create_study,
        leaves="nothing: found by its batch in the studies list"),
    StageSpec(
        stage=Stage.STUDY_PUBLISH, creates="the study published (money is spent)",
        skip=_no_publish, find=_find_published, do=_publish,
        leaves="nothing, and never a second publish: the study is read before publishing"),
    StageSpec(
        # A feed may bring new records on every run: never "done in an earlier run".
        stage=Stage.FEED, creates="records appended to the dataset, synced into tasks",
        skip=_not_fed, do=_feed, still_done=_never,
        leaves="nothing twice: records fed again are duplicates on the server"),
    StageSpec(
        stage=Stage.RESPONSES, skip=_no_wait, do=_responses, still_done=_same_wait,
        outputs=("responses", "wait_for")),
    StageSpec(stage=Stage.REVIEW, skip=_review.no_review, do=_review.review),
    StageSpec(
        stage=Stage.APPROVE, skip=_review.no_review, do=_review.approve,
        creates="approvals (participants are paid their reward) and rejections",
        leaves="nothing twice: only submissions the server still shows AWAITING REVIEW are "
               "approved or rejected, and approving is idempotent"),
    StageSpec(
        stage=Stage.BONUS_SETUP, skip=_review.no_bonus, find=_review.find_bonus_setup,
        do=_review.bonus_setup, creates="a bonus set-up (costs nothing until paid)",
        leaves="an unpaid bonus set-up: set-ups cannot be listed, so one made before a kill "
               "or a lost answer is made again; only the journaled one is ever paid"),
    StageSpec(
        stage=Stage.BONUS_PAY, skip=_review.no_bonus, find=_review.find_bonus_paid,
        do=_review.bonus_pay, creates="the bonuses paid (money is spent)",
        leaves="nothing, and never a second pay: the submissions are read before paying, and "
               "a pay that may have happened stops the plan with OutcomeUnknownError"),
    StageSpec(
        stage=Stage.EXPORT, creates="an export job of the batch", skip=_no_export,
        find=_find_export, do=_export, outputs=("export_id",),
        leaves="at most one extra export job (free; the server keeps ten)"),
    StageSpec(
        stage=Stage.DOWNLOAD, skip=_no_export, do=_download, still_done=_file_in_place,
        outputs=("export_path",)),
)
