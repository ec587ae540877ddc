"""The runner of one plan: walks the table of `_stages`, owning the journal, events, timings.

What each stage does, how it is found on the server and what it can leave behind is in the
table (`prolific_async.orchestration._stages`); this module only drives it:

- A stage the plan does not ask for is *skipped* with its reason.
- A stage the journal records as done is *skipped*, unless its outputs no longer hold (its
  ``still_done`` says so: an export file deleted, ``export_to`` or ``wait_for`` changed) or
  an earlier stage ran in this run (then what follows is redone on its new input).
- Otherwise it runs: a stage that creates is marked *begun* in the journal before its
  first request, goes through `create_once` (look, create, look again after an unsure
  answer), and is marked *done* after; a stage that waits only looks, then waits.

Before the first stage the plan's batch is looked up on the server (one shared
``batches.list`` per workspace, see `Survey`): two batches of the plan's name stop the plan
before anything is created, and a batch the journal recorded that the server no longer
lists is a `NotFoundError`.

With ``orchestrate(on_stage=...)`` the plan and each of its stages run inside the hook's
context manager (`prolific_async.orchestration._stage_hook`), told by the stage's events how
it ended.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import attrs

from .._backend import loop_time
from . import _sdk as pa
from ._events import EventKind, PipelineEvent, PlanResult, Stage
from ._journal import PlanRecord, StageState
from ._journal_api import JournalStore
from ._pacing import Pacer
from ._plan import BatchPlan, ExistingDataset, FileDigests
from ._reconcile import create_once
from ._stage_hook import StageHook, StageObserver
from ._stages import STAGES, StageSpec, upload_name
from ._survey import Survey

__all__ = ["Pipeline", "PipelineState", "PlanCancelled"]

_ID_KEYS = ("dataset_id", "import_id", "batch_id", "study_id", "export_id", "wait_for",
            "bonus_id")


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
    publish_cost: float | None = None
    #: Whether a failed event was emitted for ``error``.
    reported: bool = False

    def result(self) -> PlanResult:
        return PlanResult(
            plan=self.plan, stage=self.stage, dataset_id=self.ids.get("dataset_id"),
            batch_id=self.ids.get("batch_id"), study_id=self.ids.get("study_id"),
            export_path=self.export_path, responses=self.responses, error=self.error,
            timings=dict(self.timings), publish_cost=self.publish_cost)


class Pipeline:
    """Drives one `BatchPlan` through `STAGES`; what a stage function may use of it is
    public here (``client``, ``plan``, ``ids``, ``survey``, ``set`` ...)."""

    def __init__(
        self, client: pa.Prolific, plan: BatchPlan, state: PipelineState, *,
        emit: Callable[[PipelineEvent], None], journal: JournalStore | None,
        record: PlanRecord, scratch: Path, pacer: Pacer, survey: Survey,
        hooks: pa.HookReceiver | None = None, on_stage: StageHook | None = None,
        files: FileDigests | None = None,
    ) -> None:
        self.client = client
        #: The run's checks of data files (one per file, not one per plan).
        self.files = files or FileDigests()
        self.plan = plan
        self.state = state
        self.scratch = scratch
        self.pacer = pacer
        self.survey = survey
        #: Webhooks that wake the study waits (``orchestrate(..., events=)``), or None.
        self.hooks = hooks
        self._emit_event = emit
        self._journal = journal
        self._record = record
        self._started = loop_time()
        #: Whether the running stage was begun by an earlier run that did not record its end.
        self.resuming = False
        #: The plan's batch as the server listed it (None: not there, or not looked yet).
        self.server_batch: pa.Batch | None = None
        #: Id keys of what this run created (so known not to be there before, nor changed).
        self.fresh: set[str] = set()
        #: Stages that ran (were not skipped) in this run; those of them done earlier.
        self.ran: set[Stage] = set()
        self.redone: set[Stage] = set()
        #: The export job as the export stage last saw it (its URL saves a request).
        self.export_job: pa.ExportJob | None = None
        #: Whether this run saw responses still arriving (an older export is then stale).
        self.collecting = False
        #: What a stage's ``find`` leaves for its ``do`` (say, the dataset it left behind).
        self.notes: dict[str, str] = {}
        #: Transitions the last `watch` reported.
        self.changes = 0
        self.ids = state.ids
        self.ids.update({k: v for k, v in record.ids.items() if k in _ID_KEYS})
        #: Everything the journal holds for the plan (the money stages keep per-submission
        #: review decisions and bonus amounts there), kept up to date by `set`.
        self.journaled: dict[str, str] = dict(record.ids)
        if "export_path" in record.ids:
            state.export_path = Path(record.ids["export_path"])
        if "responses" in record.ids:
            state.responses = int(record.ids["responses"])
        if isinstance(plan.dataset, ExistingDataset):
            self.ids["dataset_id"] = plan.dataset.id
        #: ``orchestrate(on_stage=...)``'s hook around the plan and each stage, or None.
        self._observer = None if on_stage is None else StageObserver(
            on_stage, plan.name, self.ids, self.fresh)

    # -- what stages use ----------------------------------------------------------------------

    def transition(self, transition: pa.Transition[Any], message: str = "") -> None:
        """Report a status change of what the running stage waits on."""
        assert self.state.stage is not None
        self._emit(self.state.stage, EventKind.TRANSITION, transition=transition,
                   message=message)

    async def watch(self, watch: pa.Watch[Any]) -> Any:
        """Follow a watch to its end, reporting each transition; returns the last snapshot."""
        last = None
        self.changes = 0
        async with watch:
            async for transition in watch:
                self.transition(transition)
                self.changes += 1
                last = transition.snapshot
        return last

    async def wait(
        self, start: Callable[[pa.PollPolicy], pa.Watch[Any]], *, just_started: bool,
        deadline: float | None = None,
    ) -> Any:
        """Watch a job on the run's paced policy (see `Pacer`); returns the last snapshot."""
        with self.pacer.waiting():
            poll = self.pacer.policy()
            if deadline is not None:
                poll = attrs.evolve(poll, deadline=deadline)
            if not just_started:
                return await self.watch(start(poll))
            # The watch counts from the job's start: its first poll is spread over the paced
            # spacing, and goes no earlier than the quickest such job took (before one ended:
            # than a quarter past the oldest such job asked about); it looks again around
            # that age.
            with pa.job_started_at(loop_time()):
                return await self.watch(start(poll))

    async def set(self, key: str, value: str, *, created: bool = False) -> None:
        """Keep an id (or an output) of the plan: in the journal by its next begun mark."""
        self.state.ids[key] = value
        self.journaled[key] = value
        if created:
            self.fresh.add(key)
        if self._observer is not None:
            self._observer.kept(key)
        if self._journal is not None:
            await self._journal.set_id(self.plan.name, key, value)

    async def forget(self, key: str) -> None:
        self.state.ids.pop(key, None)
        self.journaled.pop(key, None)
        if self._journal is not None:
            await self._journal.forget(self.plan.name, key)

    # -- the runner ---------------------------------------------------------------------------

    def _emit(self, stage: Stage, kind: EventKind, **fields: Any) -> None:
        if self._observer is None and not getattr(self._emit_event, "wanted", True):
            return  # nobody would see it (`Run.wait`)
        event = PipelineEvent(plan=self.plan.name, stage=stage, kind=kind,
                              elapsed=loop_time() - self._started, **fields)
        if self._observer is not None:
            self._observer.saw(event)
        self._emit_event(event)

    def _observed(self, stage: Stage | None) -> AbstractContextManager[None]:
        """The ``on_stage`` hook around the plan (``stage`` None) or a stage, if any."""
        return contextlib.nullcontext() if self._observer is None \
            else self._observer.observe(stage)

    async def run(self) -> None:
        with self._observed(None):
            if isinstance(self.plan.dataset, Path):
                # A file the upload would refuse is refused before anything is sent.
                self.state.stage = STAGES[0].stage
                await self.files.check(self.client, self.plan.dataset,
                                       upload_name(self.plan.dataset))
            await self._look_up_batch()
            for spec in STAGES:
                with self._observed(spec.stage):
                    await self._stage(spec)

    async def _look_up_batch(self) -> None:
        plan = self.plan
        self.server_batch = await self.survey.batch(plan.name, workspace_id=plan.workspace_id)
        recorded = self.ids.get("batch_id")
        if recorded is not None and (self.server_batch is None
                                     or self.server_batch.id != recorded):
            url = f"{self.client.base_url}/api/v1/data-collection/batches"
            raise pa.NotFoundError(
                f"plan {plan.name!r}: batch {recorded}, recorded in the journal, is no longer "
                f"in workspace {plan.workspace_id} under the plan's name (deleted or renamed)",
                status_code=404, body=None, detail="batch not listed",
                request=pa.RequestInfo("GET", url))

    async def _stage(self, spec: StageSpec) -> None:
        stage = spec.stage
        self.state.stage = stage
        reason = spec.skip(self.plan)
        if reason is not None:
            self._emit(stage, EventKind.SKIPPED, message=reason)
            return
        # After a stage ran here, what follows is redone on its new input.
        recorded = None if self.ran else self._record.stages.get(stage.value)
        if recorded is StageState.DONE and (
                spec.still_done is None or await spec.still_done(self)):
            if stage.value in self._record.seconds:
                self.state.timings.setdefault(stage, self._record.seconds[stage.value])
            self._emit(stage, EventKind.SKIPPED, message="done in an earlier run")
            return
        if recorded is StageState.DONE or (self.ran and stage.value in self._record.stages):
            self.redone.add(stage)
            for key in spec.outputs:
                await self.forget(key)
        self.ran.add(stage)
        self.resuming = recorded is StageState.BEGUN
        self._emit(stage, EventKind.STARTED)
        began = loop_time()
        try:
            if self._journal is not None and spec.creates:
                await self._journal.begin(self.plan.name, stage.value)
            message = await self._run(spec)
            seconds = loop_time() - began
            if self._journal is not None:
                await self._journal.finish(self.plan.name, stage.value, seconds)
        except Exception as exc:
            self.state.timings[stage] = loop_time() - began
            self._emit(stage, EventKind.FAILED, error=exc)
            self.state.reported = True
            raise
        self.state.timings[stage] = seconds
        self._emit(stage, EventKind.FINISHED, message=message or "")

    async def _run(self, spec: StageSpec) -> str | None:
        find = spec.find

        async def act() -> str | None:
            if spec.creates and self._journal is not None:
                # A worker stopped past its lease's timeout has a successor, which acts
                # instead: this one checks it still holds the plan before each request.
                await self._journal.confirm(self.plan.name)
            return await spec.do(self)

        if find is None:
            return await act()

        async def look(recheck: bool) -> str | None:
            return await find(self, recheck)

        if spec.creates:
            return await create_once(look, act)
        return await look(False) or await act()
