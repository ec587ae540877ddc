"""Builders shared by the orchestration tests (and the child process of the kill tests)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import attrs

import prolific_async as pa
from prolific_async.testing import FakeProlific

from .helpers import DETAILS, QUESTIONS

#: Fast polling against a fake whose clock moves with each request.
FAST = pa.PollPolicy(initial=0.005, multiplier=1.5, ceiling=0.02, deadline=60)
PLACES = 2
#: The stages that review and pay: skipped by plans that do not ask for them.
MONEY = (pa.Stage.REVIEW, pa.Stage.APPROVE, pa.Stage.BONUS_SETUP, pa.Stage.BONUS_PAY)
#: The stages a plan without review or bonuses runs.
UNPAID = [stage for stage in pa.Stage if stage not in MONEY]


def rows(n: int, tag: str = "") -> list[dict[str, str]]:
    return [{"prompt": f"prompt {tag}{i}", "response": f"response {i}"} for i in range(n)]


def plan(name: str, workspace_id: str, export_to: Path | None = None, *, publish: bool = True,
         wait: bool = True, **changes: object) -> pa.BatchPlan:
    study = pa.StudyPlan(description="Rate two responses", reward=100, places=PLACES,
                         estimated_minutes=5, publish=publish,
                         wait_for="complete" if wait and publish else None)
    fields: dict[str, object] = {
        "name": name, "workspace_id": workspace_id, "dataset": rows(4, name),
        "task_details": DETAILS, "instructions": QUESTIONS, "tasks_per_group": 1,
        "study": study, "export_to": export_to,
    }
    fields.update(changes)
    return pa.BatchPlan(**fields)  # type: ignore[arg-type]


async def ten_each(submission: pa.Submission, responses: list[pa.TaskResponse]) -> int:
    """A bonus of 10 (0.10) for every approved submission."""
    return 10


def paying_plan(name: str, workspace_id: str, export_to: Path | None = None) -> pa.BatchPlan:
    """`plan`, reviewed (``approve="all"``) and with a bonus of 10 per submission."""
    base = plan(name, workspace_id, export_to)
    assert base.study is not None
    return attrs.evolve(base, study=attrs.evolve(base.study, approve="all", bonus=ten_each))


def client_for(fake: FakeProlific, **options: object) -> pa.Prolific:
    settings: dict[str, object] = {
        "poll": FAST, "seed": 7, "retry": pa.RetryPolicy(wait_initial=0.001, wait_max=0.01),
        **options}
    return pa.Prolific(fake.token, base_url=fake.url, **settings)  # type: ignore[arg-type]


def batches_named(fake: FakeProlific, name: str) -> list[str]:
    return [batch.id for batch in fake.world.batches_named(name)]


def studies_of(fake: FakeProlific, batch_id: str) -> list[str]:
    return [study.id for study in fake.world.studies_for(batch_id)]


def publishes_of(fake: FakeProlific, study_id: str) -> int:
    """PUBLISH requests the study got: accepted, and refused as already published."""
    study = fake.world.studies[study_id]
    return study.publish_count + study.refused_publishes


def submissions_in(path: Path) -> int:
    with zipfile.ZipFile(path) as archive:
        return len(archive.read("responses-by-submission.jsonl").decode().splitlines())


async def run_all(client: pa.Prolific, plans: list[pa.BatchPlan], journal: Path | None = None,
                  **options: object) -> tuple[list[pa.PlanResult], list[pa.PipelineEvent]]:
    """Run ``plans`` to the end: their results, and every event the run streamed."""
    events: list[pa.PipelineEvent] = []
    async with pa.orchestrate(client, plans, journal=journal,
                              **options) as run:  # type: ignore[arg-type]
        async for event in run:
            events.append(event)
    return run.results, events
