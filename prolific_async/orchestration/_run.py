"""`orchestrate`: many plans at once, one event stream, one result per plan."""

from __future__ import annotations

import collections
import contextlib
import math
import os
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from .._scratch import Scratch
from . import _sdk as pa
from ._collector import fewer_collections
from ._dry import dry_run as plan_dry_run
from ._events import EventKind, PipelineEvent, PlanResult, Stage
from ._journal import PlanRecord
from ._journal_api import JournalStore, open_journal
from ._leases import LeaseLostError, PlanLeasedError
from ._pacing import Pacer
from ._pipeline import Pipeline, PipelineState, PlanCancelled
from ._plan import BatchPlan, FileDigests, fingerprint
from ._stage_hook import StageHook
from ._survey import Survey

__all__ = ["Run", "orchestrate"]


class Run:
    """A running `orchestrate`: an async iterator of `PipelineEvent`, and the results.

    The iteration ends when every plan has finished or failed. ``results`` holds one
    `PlanResult` per plan, in plan order; read during the run, it shows each plan so far.

    Example::

        async with pa.orchestrate(client, plans, journal="run.db") as run:
            async for event in run:
                print(event)
        failed = [r for r in run.results if r.error]
    """

    def __init__(self, states: list[PipelineState],
                 events: MemoryObjectReceiveStream[PipelineEvent]) -> None:
        self._states = states
        self._events = events
        #: Whether anyone reads the events (`wait` does not): the plans' `Emitter` s ask.
        self._listening = True
        self._ready: collections.deque[PipelineEvent] = collections.deque()

    def __aiter__(self) -> Run:
        return self

    async def __anext__(self) -> PipelineEvent:
        if not self._ready:
            try:
                self._ready.append(await self._events.receive())
            except (anyio.EndOfStream, anyio.ClosedResourceError):
                raise StopAsyncIteration from None
            # What else was sent comes with it: one turn of the event loop a batch, not an
            # event. A thousand plans send events faster than a busy loop comes round to its
            # reader, which then showed progress seconds late.
            with contextlib.suppress(anyio.WouldBlock, anyio.EndOfStream,
                                     anyio.ClosedResourceError):
                while True:
                    self._ready.append(self._events.receive_nowait())
        return self._ready.popleft()

    @property
    def results(self) -> list[PlanResult]:
        return [state.result() for state in self._states]

    async def wait(self) -> list[PlanResult]:
        """Run every plan to its end, discarding the events; returns `results`."""
        # Nobody reads the events from now on: the plans stop making them (a thousand plans
        # made ~32,000 that were only thrown away). The iteration still ends with the plans.
        self._listening = False
        self._ready.clear()
        async for _ in self:
            pass
        return self.results


class Emitter:
    """A plan's way to the run's events: sends each while someone listens.

    ``wanted`` tells a plan whether an event is worth making at all.
    """

    __slots__ = ("_events", "_run")

    def __init__(self, events: MemoryObjectSendStream[PipelineEvent], run: Run) -> None:
        self._events = events
        self._run = run

    @property
    def wanted(self) -> bool:
        return self._run._listening

    def __enter__(self) -> Emitter:
        return self

    def __exit__(self, *exc: object) -> None:
        self._events.close()  # the run's iteration ends once every plan's is closed

    def __call__(self, event: PipelineEvent) -> None:
        if not self._run._listening:
            return
        # Nobody listens any more when the run is being left: the event is dropped.
        with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
            self._events.send_nowait(event)


@asynccontextmanager
async def orchestrate(
    client: pa.Prolific,
    plans: Iterable[BatchPlan],
    *,
    concurrency: int = 50,
    journal: str | os.PathLike[str] | None = None,
    poll_rate: float | None = None,
    dry_run: bool = False,
    events: pa.HookReceiver | None = None,
    on_stage: StageHook | None = None,
    tune_gc: bool = True,
) -> AsyncIterator[Run]:
    """Run many `BatchPlan` s at once, each through its whole pipeline.

    At most ``concurrency`` plans run at a time. A plan mostly waits on the server, so a few
    hundred at once are cheap: watches of batches in one workspace share one ``batches.list``
    per tick, the other waits (datasets, studies, exports) are paced so that all of them
    together poll about the client's `Prolific.poll_rate` times a second however many plans
    run. That rate adapts: it starts high, halves on each 429 (every wait slows together)
    and grows back while none come, so the run finds the server's limit on its own. A wait
    for a job just started first polls no earlier than the quickest such job took; before
    one has ended, the oldest jobs of a kind are probed while the others wait, so each job
    is polled about once (see `pa.job_started_at`). A fixed ``poll_rate`` (polls a second)
    replaces the adaptive rate for the run and caps the client (unless
    ``client.max_poll_rate`` is set already).

    One plan's failure never stops another: its error is kept in its result. With ``journal`` (a
    SQLite file), a rerun with the same plans resumes: done stages are skipped and created
    resources reused, and nothing that may already exist is created twice (see
    `prolific_async.orchestration._stages`). Without a journal (or with a new one) a rerun
    still finds on the server what an earlier run made, by the plan's name in its workspace:
    the journal only saves requests. Leaving the block early, or cancelling it, stops every
    pipeline at once; the journal stays consistent. A ``postgresql://`` URL as ``journal``
    keeps it in PostgreSQL (the ``postgres`` extra), where several workers may share the run:
    each plan is leased to one worker at a time, and a fixed ``poll_rate`` is the whole run's,
    divided between its live workers (the adaptive rate needs no sharing: each worker's
    client slows on the 429s it meets) (see `prolific_async.orchestration._journal_pg`).

    With ``dry_run=True`` nothing is created or changed: each plan is checked, the server
    read, and a ``PLANNED`` event per stage says what exists and what would be done; each
    result's ``publish_cost`` is what publishing its study would cost (Prolific's cost
    calculator). The journal is not opened.

    With ``events`` (a `HookReceiver` subscribed to ``study.status.change`` and, for a
    ``wait_for`` count, ``study.progress.change``) every wait on a study is woken by its
    webhooks and polls only as the receiver's safety net; batches, datasets and exports have
    no events and stay polled.

    With ``on_stage`` (a `StageHook`) each plan, and each of its stages, runs inside the
    context manager the hook returns for its `StageRun`: ``on_stage=otel.stage_spans()``
    makes them OpenTelemetry spans (see `prolific_async.otel`). A dry run calls no hook.

    A plan that publishes and exports without ``wait_for`` gets a ``WARNING`` event first:
    its export holds only the responses that arrived by then.

    While the run is open, CPython's garbage collector looks at young objects after 50,000
    new ones rather than 700: with many requests in flight it otherwise took about a fifth
    of the client's CPU. The threshold it had comes back when the last run ends (see
    `prolific_async.orchestration._collector`); ``tune_gc=False`` leaves it alone.

    Example::

        async with pa.orchestrate(client, plans, concurrency=50, journal="run.db") as run:
            async for event in run:
                print(event)
        for result in run.results:
            print(result.plan, result.batch_id, result.error)
    """
    plans = list(plans)
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ValueError(f"concurrency must be an integer >= 1, got {concurrency!r}")
    if on_stage is not None and not callable(on_stage):
        raise TypeError(f"on_stage must be a callable (a StageHook), got {on_stage!r}")
    names: set[str] = set()
    for plan in plans:
        if not isinstance(plan, BatchPlan):
            raise TypeError(f"plans must be pa.BatchPlan, got {type(plan).__name__}")
        if plan.name in names:
            raise ValueError(f"two plans are named {plan.name!r}: the name identifies a plan's "
                             "batch, study and journal entry, so it must be unique")
        names.add(plan.name)

    if poll_rate is not None and (isinstance(poll_rate, bool) or not isinstance(
            poll_rate, (int, float)) or not poll_rate > 0):
        raise ValueError(f"poll_rate must be a number > 0 or None, got {poll_rate!r}")
    pacer = Pacer(client.poll, (lambda: client.poll_rate) if poll_rate is None else poll_rate)
    survey = Survey(client)
    digests = FileDigests()
    states = [PipelineState(plan=plan.name) for plan in plans]
    stack = contextlib.AsyncExitStack()
    opened = None if journal is None or dry_run else await stack.enter_async_context(
        open_journal(journal))
    # The rows of file-less plans are written here; a killed run's folder is removed next time.
    scratch_dir = await Scratch.open()
    scratch = scratch_dir.path
    send, receive = anyio.create_memory_object_stream[PipelineEvent](math.inf)
    limiter = anyio.CapacityLimiter(concurrency)
    # The pacer spaces each wait's polls; the client's rate gate keeps their sum flat even
    # when many plans reach the same stage together. A fixed ``poll_rate`` caps the client
    # for the run (a cap the caller set is left alone), shared between a run's workers.
    capped = poll_rate is not None and client.max_poll_rate is None

    def share(rate: float) -> None:  # this worker's part of the run's poll budget
        pacer.rate = rate
        if capped:
            client.max_poll_rate = rate

    if tune_gc:  # left in the finally below, with the journal
        stack.enter_context(fewer_collections())
    try:
        if poll_rate is None:
            pass  # adaptive: each worker's client finds the server's limit on its own
        elif opened is None:
            share(poll_rate)
        else:
            await opened.share_polls(poll_rate, share)
        run = Run(states, receive)
        async with receive, anyio.create_task_group() as group:
            with send:
                for plan, state in zip(plans, states, strict=True):
                    group.start_soon(_drive, client, plan, state,
                                     Emitter(send.clone(), run), opened,
                                     limiter, scratch, pacer, survey, dry_run, events,
                                     on_stage, digests)
            yield run
            # Left early (or every plan is done): stop what still runs.
            group.cancel_scope.cancel()
    finally:
        await scratch_dir.aclose()
        # Not in the shielded scope: a journal may own a task group (its heartbeat), which must
        # be left where it was entered. It shields its own closing.
        await stack.aclose()
        if capped:  # after the heartbeat stopped sharing out the budget
            client.max_poll_rate = None


async def _drive(
    client: pa.Prolific, plan: BatchPlan, state: PipelineState,
    emit: Emitter, journal: JournalStore | None,
    limiter: anyio.CapacityLimiter, scratch: Path, pacer: Pacer, survey: Survey,
    dry_run: bool, hooks: pa.HookReceiver | None, on_stage: StageHook | None,
    digests: FileDigests,
) -> None:
    """One plan: wait for a slot, check its journal entry, run its pipeline, keep the end."""

    study = plan.study
    if study is not None and study.publish and plan.export_to and not study.wait_for:
        emit(PipelineEvent(
            plan=plan.name, stage=Stage.EXPORT, kind=EventKind.WARNING, elapsed=0.0,
            message="publishes and exports without wait_for: the export holds only the "
                    "responses that have arrived by then (set StudyPlan.wait_for)"))
    with emit:
        try:
            async with limiter:
                if dry_run:
                    def started(stage: Stage) -> None:
                        state.stage = stage

                    state.publish_cost = await plan_dry_run(client, plan, survey, emit=emit,
                                                            started=started)
                    return
                if journal is None:
                    await Pipeline(client, plan, state, emit=emit, journal=None,
                                   record=PlanRecord(), scratch=scratch, pacer=pacer,
                                   survey=survey, hooks=hooks, on_stage=on_stage,
                                   files=digests).run()
                    return
            source = plan.dataset
            parts = fingerprint(plan, await digests.of(source)
                                if isinstance(source, Path) else None)
            await _share(client, plan, state, parts, emit=emit, journal=journal,
                         limiter=limiter, scratch=scratch, pacer=pacer, survey=survey,
                         hooks=hooks, on_stage=on_stage, files=digests)
        except anyio.get_cancelled_exc_class():
            where = f"during {state.stage}" if state.stage else "before it started"
            state.error = PlanCancelled(f"plan {plan.name!r} was cancelled {where}; rerun "
                                        "with the same journal to resume it")
            raise
        except Exception as exc:
            # Kept in the plan's result: the others go on. A stage reports its own failure;
            # one before the first stage (a changed plan, say) is reported here.
            state.error = exc
            if not state.reported:
                state.stage = state.stage or Stage.DATASET_CREATE
                emit(PipelineEvent(plan=plan.name, stage=state.stage, kind=EventKind.FAILED,
                                   elapsed=0.0, error=exc))


async def _share(
    client: pa.Prolific, plan: BatchPlan, state: PipelineState, parts: dict[str, str], *,
    emit: Callable[[PipelineEvent], None], journal: JournalStore, limiter: anyio.CapacityLimiter,
    scratch: Path, pacer: Pacer, survey: Survey, hooks: pa.HookReceiver | None,
    on_stage: StageHook | None, files: FileDigests,
) -> None:
    """Drive ``plan`` under its lease, or follow it while another worker of a shared journal
    drives it: take it over once that worker goes silent, report it once it is finished.

    A plan whose lease is lost meanwhile (this worker was stopped or cut off past its timeout)
    is stopped at once and followed from then on: it is never driven by two workers.
    """
    if journal.shared:
        await journal.add(plan.name, parts)  # a changed plan fails, even if finished
    while True:
        async with limiter:
            try:
                # A plan another worker finished is not driven again (only reported).
                finished = journal.shared and (await journal.peek(plan.name))[1]
                record = None if finished else await journal.enter(plan.name, parts)
            except PlanLeasedError:
                record = None
            if record is not None:
                # What another worker recorded may be newer than this run's look at the
                # server: such a plan looks again, for itself.
                own = Survey(client) if journal.shared and (record.ids or record.stages) \
                    else survey
                with anyio.CancelScope() as scope:
                    journal.on_lost(plan.name, scope.cancel)  # told by the heartbeat
                    try:
                        await Pipeline(client, plan, state, emit=emit, journal=journal,
                                       record=record, scratch=scratch, pacer=pacer,
                                       survey=own, hooks=hooks, on_stage=on_stage,
                                       files=files).run()
                    except LeaseLostError:
                        scope.cancel()  # found out by a write or a check: followed below
                if not scope.cancel_called:
                    await journal.release(plan.name, finished=True)
                    return
        record, finished = await journal.peek(plan.name)
        if finished:
            # Driven to its end by another worker: its result is the journal's.
            Pipeline(client, plan, state, emit=emit, journal=None, record=record,
                     scratch=scratch, pacer=pacer, survey=survey, hooks=hooks)
            state.stage = max((Stage(name) for name in record.stages), default=None,
                              key=list(Stage).index)
            return
        await anyio.sleep(journal.lease_timeout / 3)
