"""Dry runs: what a run would create, publish and spend, found with reads only.

A dry run checks each plan as the real run would before sending anything (its file), then
reads what the server holds with the run's shared lists (`Survey`: the token and the
workspace are checked by the same ``batches.list``), and reports per stage, as a
``PLANNED`` event, what exists already and what would be done. A study that would be
published is priced with Prolific's cost calculator (``studies.cost``, a POST that creates
nothing): the plan's result carries it as ``publish_cost``. Nothing else is sent.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from . import _sdk as pa
from ._events import EventKind, PipelineEvent, Stage
from ._plan import BatchPlan
from ._stages import STAGES, upload_name
from ._survey import Survey

__all__ = ["dry_run"]


def _money(cents: float) -> str:
    return f"{cents / 100:,.2f}"


async def dry_run(
    client: pa.Prolific, plan: BatchPlan, survey: Survey, *,
    emit: Callable[[PipelineEvent], None], started: Callable[[Stage], None],
) -> float | None:
    """Report each stage of ``plan``; returns what publishing its study would cost (cents),
    or None when nothing would be published."""
    if isinstance(plan.dataset, Path):
        await client.datasets.check_upload(plan.dataset, filename=upload_name(plan.dataset))
    batch = await survey.batch(plan.name, workspace_id=plan.workspace_id)
    studies = await survey.studies_of(batch.id) if batch is not None else []
    study = studies[0] if studies else None
    status = batch.status if batch is not None else None
    set_up = status not in (None, pa.BatchStatus.UNINITIALISED)
    datasets = [ref.id for ref in batch.datasets or []] if batch is not None else []
    published = study is not None and study.status != pa.StudyStatus.UNPUBLISHED
    exists: dict[Stage, str | None] = {
        Stage.DATASET_CREATE: f"dataset {datasets[0]}" if datasets else None,
        Stage.DATASET_UPLOAD: "its batch exists" if batch is not None else None,
        Stage.DATASET_READY: f"its batch is {status}" if set_up else None,
        Stage.BATCH_CREATE: f"batch {batch.id} ({status})" if batch is not None else None,
        Stage.BATCH_SETUP: f"set up ({status})" if set_up else None,
        Stage.BATCH_READY: "READY" if status == pa.BatchStatus.READY else None,
        Stage.STUDY_CREATE: f"study {study.id} ({study.status})" if study else None,
        Stage.STUDY_PUBLISH: f"published ({study.status})" if study and published else None,
    }
    cost = None
    for spec in STAGES:
        started(spec.stage)
        reason = spec.skip(plan)
        found = exists.get(spec.stage)
        if reason is not None:
            message = f"not in the plan: {reason}"
        elif found is not None:
            message = f"exists: {found}"
        elif spec.stage is Stage.STUDY_PUBLISH:
            assert plan.study is not None
            priced = await client.studies.cost(reward=plan.study.reward,
                                               total_available_places=plan.study.places)
            cost = priced.total_cost
            message = f"would publish: {_money(cost)} with fees and VAT"
        elif spec.stage is Stage.BONUS_PAY:
            assert plan.study is not None
            most = plan.study.most_bonus
            message = (f"would pay a bonus to approved submissions: at most {_money(most)} "
                       f"each, {_money(most * plan.study.places)} in all before fees")
        else:
            message = f"would create {spec.creates}" if spec.creates else "would run"
        emit(PipelineEvent(plan=plan.name, stage=spec.stage, kind=EventKind.PLANNED,
                           elapsed=0.0, message=message))
    return cost
