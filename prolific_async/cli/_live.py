"""Watching an `orchestrate` run: a live view on stderr, then a summary table on stdout.

On a terminal the view is one row per plan (its current stage and status, updated as each
event arrives) under an overall bar; elsewhere (a pipe, CI) it prints one line per status
change, failure and finished plan, so logs stay readable.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import attrs
from rich.console import Group, RenderableType
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

import prolific_async as pa

from ._errors import FAILURE, CommandError, describe
from ._output import Output, jsonable

__all__ = ["Outcome", "RunView", "check", "drive", "summary"]

#: Stages grouped into the summary's time columns.
_PHASES: dict[str, tuple[pa.Stage, ...]] = {
    "dataset s": (pa.Stage.DATASET_CREATE, pa.Stage.DATASET_UPLOAD, pa.Stage.DATASET_READY),
    "batch s": (pa.Stage.BATCH_CREATE, pa.Stage.BATCH_SETUP, pa.Stage.BATCH_READY),
    "study s": (pa.Stage.STUDY_CREATE, pa.Stage.STUDY_PUBLISH, pa.Stage.RESPONSES,
                pa.Stage.REVIEW, pa.Stage.APPROVE, pa.Stage.BONUS_SETUP, pa.Stage.BONUS_PAY),
    "export s": (pa.Stage.EXPORT, pa.Stage.DOWNLOAD),
}
_LAST_STAGE = list(pa.Stage)[-1]


@attrs.define
class _Row:
    stage: str = "waiting"
    status: str = ""
    style: str = "dim"
    started: float | None = None  # time.monotonic() when the plan started
    elapsed: float = 0.0
    done: bool = False

    def seconds(self) -> float:
        """Seconds since the plan started: ticking while it runs, frozen once done."""
        if self.done or self.started is None:
            return self.elapsed
        return time.monotonic() - self.started


class RunView:
    """Feed it every `pa.PipelineEvent` of a run: ``with RunView(...) as view: view.show(e)``."""

    def __init__(self, output: Output, plans: Sequence[str], client: pa.Prolific) -> None:
        self._output = output
        self._client = client
        self._rows = {name: _Row() for name in plans}
        self._live: Live | None = None
        self._bar = Progress(TextColumn("{task.description}"), BarColumn(),
                             MofNCompleteColumn(), TimeElapsedColumn(),
                             console=output.err)
        self._task = self._bar.add_task("batches done", total=len(plans))

    def __enter__(self) -> RunView:
        if self._output.err.is_terminal:
            # Rendered from rich's refresh thread: it only reads rows whose set never changes.
            self._live = Live(get_renderable=self._render, console=self._output.err,
                              refresh_per_second=8, transient=False)
            self._live.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._live is not None:
            self._live.stop()

    def show(self, event: pa.PipelineEvent) -> None:
        row = self._rows[event.plan]
        was_done = row.done
        if row.started is None:
            row.started = time.monotonic() - event.elapsed
        row.stage, row.elapsed = str(event.stage), event.elapsed
        line = None
        if event.kind is pa.EventKind.TRANSITION and event.transition is not None:
            row.status, row.style = event.transition.current, "yellow"
            line = f"{event.transition.previous or '-'} -> {event.transition.current}"
        elif event.kind is pa.EventKind.STARTED:
            row.status, row.style = "…", "yellow"
        elif event.kind is pa.EventKind.WARNING:
            # Printed even over the live table: it may change what the user wants to run.
            self._output.note(f"{event.plan}  warning: {event.message}")
            return
        elif event.kind is pa.EventKind.FAILED:
            row.status, row.style, row.done = f"failed: {event.error}", "red", True
            line = f"failed: {type(event.error).__name__}: {event.error}"
        else:  # finished or skipped
            row.status, row.style = str(event.kind), "green"
            if event.stage is _LAST_STAGE:
                row.status, row.done = "done", True
                line = f"done in {event.elapsed:.1f}s"
        if row.done and not was_done:
            self._bar.advance(self._task)
        if line is not None and self._live is None:
            self._output.note(f"{event.plan}  {event.stage}  {line}")

    def _render(self) -> RenderableType:
        table = Table("batch", "stage", "status", "time", box=None, pad_edge=False)
        rows = list(self._rows.items())
        height = max(5, self._output.err.size.height - 7)
        hidden = max(0, len(rows) - height)
        if hidden:
            # Too many to show: the ones still running first.
            rows = sorted(rows, key=lambda item: item[1].done)[:height]
        for name, row in rows:
            table.add_row(name, row.stage, Text(row.status[:60], style=row.style),
                          f"{row.seconds():5.1f}s")
        if hidden:
            table.add_row(Text(f"… {hidden} more", style="dim"))
        stats = self._client.stats
        counts = Text(f"{_count(stats.requests, 'request')} sent, "
                      f"{_count(stats.retries, 'retry', 'retries')} absorbed", style="dim")
        return Group(table, self._bar.get_renderable(), counts)


@attrs.frozen
class Outcome:
    """A finished run: one result per plan, tasks per batch id, and what it cost."""

    results: list[pa.PlanResult]
    tasks: dict[str, int]
    requests: int
    retries: int
    wall: float
    exports: list[Path]

    @property
    def failed(self) -> list[pa.PlanResult]:
        return [result for result in self.results if not result.ok]


async def drive(output: Output, client: pa.Prolific, plans: Sequence[pa.BatchPlan], *,
                concurrency: int, journal: str | None = None,
                on_stage: pa.StageHook | None = None) -> Outcome:
    """Run ``plans`` through `pa.orchestrate`, showing it live on stderr."""
    started = time.monotonic()
    with RunView(output, [plan.name for plan in plans], client) as view:
        async with pa.orchestrate(client, plans, concurrency=concurrency,
                                  journal=journal, on_stage=on_stage) as run:
            async for event in run:
                view.show(event)
    # Measured before the task counts are read, which are not part of the run.
    requests, retries = client.stats.requests, client.stats.retries
    wall = time.monotonic() - started
    return Outcome(results=run.results, tasks=await _task_counts(client, plans),
                   requests=requests, retries=retries, wall=wall,
                   # Only folders an export reached: a failed run says nothing of others.
                   exports=sorted({r.export_path.parent.resolve() for r in run.results
                                   if r.export_path is not None}))


async def _task_counts(client: pa.Prolific, plans: Sequence[pa.BatchPlan]) -> dict[str, int]:
    """Tasks per batch id: one ``batches.list`` per workspace, after the run."""
    counts: dict[str, int] = {}
    for workspace_id in sorted({plan.workspace_id for plan in plans}):
        for batch in await client.batches.list(workspace_id=workspace_id):
            if batch.total_task_count is not None:
                counts[batch.id] = batch.total_task_count
    return counts


def summary(output: Output, outcome: Outcome, *, notes: Sequence[str] = (),
            extra: Mapping[str, Any] | None = None) -> None:
    """The results on stdout: a table, the totals, ``notes``, where the exports are; or,
    with ``--json``, one document holding the outcome and ``extra``."""
    if output.as_json:
        output.json({**jsonable(outcome), **(extra or {})})
        return
    rows = []
    for result in outcome.results:
        timing = [_seconds(result, stages) for stages in _PHASES.values()]
        export = result.export_path.name if result.export_path else ""
        # The first 8 characters tell datasets apart; --json has the whole ids.
        dataset = f"{result.dataset_id[:8]}…" if result.dataset_id else ""
        rows.append((result.plan, dataset, outcome.tasks.get(result.batch_id or ""),
                     result.responses, *timing,
                     export if result.ok else f"failed at {result.stage}: {result.error}"))
    output.table(("batch", "dataset", "tasks", "responses", *_PHASES, "export"), rows)
    failed = len(outcome.failed)
    output.line(f"{len(outcome.results) - failed} of {len(outcome.results)} batches done"
                + (f", {failed} failed" if failed else "")
                + f"; {_count(outcome.requests, 'request')} sent, "
                f"{_count(outcome.retries, 'retry', 'retries')} absorbed; "
                f"wall time {outcome.wall:.1f}s")
    for note in notes:
        output.line(note)
    for folder in outcome.exports:
        output.line(f"exports in {folder}")


def check(outcome: Outcome, *, hint: str = "") -> None:
    """Fail the command when plans failed: one line naming the first failure, and the
    failures' own exit code when they agree (else 1)."""
    failed = outcome.failed
    if not failed:
        return
    codes = {describe(r.error)[0] if r.error else FAILURE for r in failed}
    first = failed[0]
    reason = describe(first.error)[1] if first.error else "did not finish"
    if isinstance(first.error, (pa.PlanChangedError, pa.PlanFileError)):
        hint = ""  # rerunning the same command fails the same way; the reason says what to do
    raise CommandError(f"{len(failed)} of {len(outcome.results)} plans failed; "
                       f"{first.plan}: {reason}{hint}",
                       codes.pop() if len(codes) == 1 else FAILURE)


def _seconds(result: pa.PlanResult, stages: tuple[pa.Stage, ...]) -> str:
    spent = [result.timings[s] for s in stages if s in result.timings]
    return f"{sum(spent):.1f}" if spent else ""


def _count(number: int, one: str, many: str | None = None) -> str:
    return f"{number} {one if number == 1 else many or one + 's'}"
