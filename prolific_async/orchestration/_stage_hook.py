"""``orchestrate(..., on_stage=...)``: a context manager around each plan and each of its stages.

The hook is how a run is traced (`prolific_async.otel.stage_spans` makes it record spans) or
timed by the caller's own means. It is called with a `StageRun` as the plan or the stage
starts, and the context manager it returns is entered in the task that runs it, so whatever
that context manager makes current (a span, a ``contextvars`` value) is current for every
request the stage sends. The `StageRun` says how it ended by the time the context manager
exits. Without a hook nothing of this runs: one ``is None`` test per stage.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from typing import Literal

import attrs

from ._events import EventKind, PipelineEvent, Stage

__all__ = ["StageHook", "StageOutcome", "StageRun"]

#: How a plan or a stage ended: ``skipped`` (not asked for, or done in an earlier run),
#: ``cancelled`` (the run was left or cancelled; a rerun resumes it).
StageOutcome = Literal["done", "skipped", "failed", "cancelled"]

#: The ids a stage can create or adopt (the journal's other entries, such as per-submission
#: review decisions, are not ids of the plan's resources).
ID_KEYS = ("dataset_id", "import_id", "batch_id", "study_id", "export_id", "bonus_id")

_ENDINGS: dict[EventKind, StageOutcome] = {
    EventKind.FINISHED: "done", EventKind.SKIPPED: "skipped", EventKind.FAILED: "failed"}


@attrs.define
class StageRun:
    """One plan (``stage`` is None) or one of its stages, as an ``on_stage`` hook sees it.

    The hook gets it before the plan or stage starts, with ``outcome`` None; by the time the
    context manager the hook returned exits, ``outcome`` says how it ended, ``message`` why
    it was skipped (or what it reused), ``error`` what it failed with, ``ids`` the ids it
    created or adopted (for the plan: all of them; say ``{"batch_id": "..."}``) and
    ``created`` which of those it created.

    Example::

        @contextlib.contextmanager
        def timed(run: pa.StageRun) -> Iterator[None]:
            began = time.monotonic()
            yield
            print(run.plan, run.stage or "whole plan", run.outcome,
                  f"{time.monotonic() - began:.1f}s", run.ids)

        async with pa.orchestrate(client, plans, on_stage=timed) as run:
            await run.wait()
    """

    plan: str
    stage: Stage | None
    outcome: StageOutcome | None = None
    message: str = ""
    error: Exception | None = None
    ids: Mapping[str, str] = attrs.Factory(dict)
    created: frozenset[str] = frozenset()


#: What ``orchestrate(on_stage=...)`` takes: a `StageRun` to the context manager entered
#: around that plan or stage (``contextlib.contextmanager`` functions fit).
StageHook = Callable[[StageRun], AbstractContextManager[object]]


class StageObserver:
    """The pipeline's side of a hook: opens each `StageRun` and fills it in as it ends."""

    def __init__(self, hook: StageHook, plan: str, ids: Mapping[str, str],
                 fresh: set[str]) -> None:
        self._hook = hook
        self._plan = plan
        self._ids = ids  # the pipeline's, kept up to date by it
        self._fresh = fresh
        self._current: StageRun | None = None
        self._kept: set[str] = set()

    def kept(self, key: str) -> None:
        """The pipeline kept an id or an output (`Pipeline.set`): created, or adopted."""
        self._kept.add(key)

    def saw(self, event: PipelineEvent) -> None:
        """The pipeline's events say how the running stage ended."""
        outcome = _ENDINGS.get(event.kind)
        if outcome is not None and self._current is not None:
            self._current.outcome = outcome
            self._current.message = event.message
            self._current.error = event.error

    @contextlib.contextmanager
    def observe(self, stage: Stage | None) -> Iterator[None]:
        """Run the hook's context manager around the plan (``stage`` None) or one stage."""
        run = StageRun(plan=self._plan, stage=stage)
        if stage is not None:
            self._current = run
            self._kept = set()
        manager = self._hook(run)
        manager.__enter__()
        try:
            yield
        except BaseException as exc:
            if isinstance(exc, Exception):
                run.outcome, run.error = "failed", exc
            else:  # a cancellation (or an interrupt): a rerun resumes it
                run.outcome = "cancelled"
            self._ended(run)
            # Entered by hand: what its exit returns is ignored, so a hook never swallows
            # an error and makes a failed stage look done.
            manager.__exit__(type(exc), exc, exc.__traceback__)
            raise
        self._ended(run)
        manager.__exit__(None, None, None)

    def _ended(self, run: StageRun) -> None:
        # A stage reports what it kept; the plan, every id it ended with.
        ids = {k: v for k, v in self._ids.items()
               if k in ID_KEYS and v and (run.stage is None or k in self._kept)}
        run.ids = ids
        run.created = frozenset(ids) & self._fresh
        run.outcome = run.outcome or "done"
        self._current = None
