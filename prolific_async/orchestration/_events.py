"""What a run reports: the stages of a plan, the events of each stage, one result per plan."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from . import _sdk as pa

__all__ = ["EventKind", "PipelineEvent", "PlanResult", "Stage"]


class Stage(str, enum.Enum):
    """The stages of one plan, in the order they run."""

    DATASET_CREATE = "dataset_create"
    DATASET_UPLOAD = "dataset_upload"
    DATASET_READY = "dataset_ready"
    BATCH_CREATE = "batch_create"
    BATCH_SETUP = "batch_setup"
    BATCH_READY = "batch_ready"
    STUDY_CREATE = "study_create"
    STUDY_PUBLISH = "study_publish"
    #: The rest of a `Feed`'s records, fed to the live batch (skipped for other datasets).
    FEED = "feed"
    RESPONSES = "responses"
    REVIEW = "review"
    APPROVE = "approve"
    BONUS_SETUP = "bonus_setup"
    BONUS_PAY = "bonus_pay"
    EXPORT = "export"
    DOWNLOAD = "download"

    def __str__(self) -> str:
        return self.value


class EventKind(str, enum.Enum):
    """What happened to a stage of a plan: see `PipelineEvent.kind`."""

    STARTED = "started"
    #: A watched job (dataset, batch, study, export) changed status: see ``transition``.
    TRANSITION = "transition"
    FINISHED = "finished"
    #: Nothing to do: done by an earlier run (resumed), or not asked for by the plan.
    SKIPPED = "skipped"
    FAILED = "failed"
    #: Something the plan will do that may surprise (an export made before responses).
    WARNING = "warning"
    #: A dry run's report of one stage: what exists already, or what would be done.
    PLANNED = "planned"

    def __str__(self) -> str:
        return self.value


@attrs.frozen(kw_only=True)
class PipelineEvent:
    """One step of one plan, as it happens.

    ``elapsed`` counts seconds since the plan started; ``transition`` is set for
    ``TRANSITION`` events, ``error`` for ``FAILED`` ones; ``message`` says why a stage was
    skipped, or what was reused.

    Example::

        async for event in run:
            if event.kind is pa.EventKind.TRANSITION:
                print(event.plan, event.stage, event.transition.current)
    """

    plan: str
    stage: Stage
    kind: EventKind
    elapsed: float
    transition: pa.Transition[Any] | None = None
    error: Exception | None = None
    message: str = ""

    def __str__(self) -> str:
        detail = self.message
        if self.transition is not None:
            change = f"{self.transition.previous or '-'} -> {self.transition.current}"
            detail = f"{change}: {detail}" if detail else change
        elif self.error is not None:
            detail = f"{type(self.error).__name__}: {self.error}"
        return f"[{self.elapsed:7.2f}s] {self.plan}: {self.stage} {self.kind}" + (
            f" ({detail})" if detail else "")


@attrs.frozen(kw_only=True)
class PlanResult:
    """What one plan left: ids created or reused, where it stopped, and why if it failed.

    ``stage`` is the last stage reached (finished, or failed when ``error`` is set);
    ``responses`` counts task responses when the plan waited for them; ``timings`` gives the
    seconds each stage run in this process took. After a dry run, ``publish_cost`` is what
    publishing its study would cost (cents, fees and VAT included; None: nothing to publish).

    Example::

        for result in run.results:
            print(result.plan, "ok" if result.ok else result.error, result.batch_id)
    """

    plan: str
    stage: Stage | None
    dataset_id: str | None = None
    batch_id: str | None = None
    study_id: str | None = None
    export_path: Path | None = None
    responses: int | None = None
    error: Exception | None = None
    timings: Mapping[Stage, float] = attrs.field(factory=dict)
    publish_cost: float | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.stage is not None
