"""Code a user would write: it must type-check under mypy --strict (nox -s typecheck)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import prolific_async as pa


async def pipeline(client: pa.Prolific, workspace_id: str) -> str:
    ds: pa.Dataset = await client.datasets.create(name="d", workspace_id=workspace_id)
    await client.datasets.upload(ds.id, "data.csv")
    async for t in client.datasets.watch(ds.id):
        status: str = t.current
        print(t.previous, status, t.elapsed)
    batch = await client.batches.create(
        name="b", workspace_id=workspace_id, dataset_id=ds.id,
        task_details=pa.TaskDetails(task_name="n", task_introduction="i", task_steps="s"))
    items: list[pa.Item] = await client.instructions.create(batch.id, [
        pa.MultipleChoice(description="?", options=[pa.Option(label="A", value="a")]),
        pa.FreeText(description="why?"),
    ])
    print(len(items))
    await client.batches.setup(batch.id, tasks_per_group=5)
    ready: pa.Batch = await client.batches.wait_ready(
        batch.id, poll=pa.PollPolicy(deadline=600))
    study: pa.Study = await client.studies.create(pa.StudyCreate(
        name="s", description="d", data_collection_id=ready.id))
    await client.studies.publish(study.id)
    async for response in client.batches.responses(batch.id):
        answer: pa.Answer = response.response.answer[0]
        print(answer.value)
    try:
        path = await client.batches.export(batch.id, "out/")
    except pa.PollTimeout as exc:
        async for t2 in client.resume(exc.resume_token):
            export: pa.ExportJob = t2.snapshot
            print(export.status)
        raise
    return str(path)


async def orchestrate_many(client: pa.Prolific, workspace_id: str) -> list[str | None]:
    plans = [pa.BatchPlan(
        name=f"p{n}", workspace_id=workspace_id, dataset=[{"prompt": "x"}],
        task_details=pa.TaskDetails(task_name="n", task_introduction="i", task_steps="s"),
        instructions=[pa.FreeText(description="why?")],
        study=pa.StudyPlan(description="d", reward=10, places=2, estimated_minutes=1,
                           publish=True, wait_for="complete"),
        export_to="out") for n in range(3)] + pa.load_plans("plans.toml")
    async with pa.orchestrate(client, plans, concurrency=10, journal="run.db") as run:
        async for event in run:
            stage: pa.Stage = event.stage
            kind: pa.EventKind = event.kind
            change: pa.Transition[object] | None = event.transition
            print(stage.value, kind.value, change, event.error, event.elapsed)
    results: list[pa.PlanResult] = run.results
    return [r.batch_id for r in results if r.ok]


@contextlib.contextmanager
def timed(run: pa.StageRun) -> Iterator[None]:
    yield
    outcome: pa.StageOutcome | None = run.outcome
    stage: pa.Stage | None = run.stage
    print(run.plan, stage, outcome, run.message, run.error, dict(run.ids), sorted(run.created))


async def traced(client: pa.Prolific, plans: list[pa.BatchPlan]) -> None:
    from prolific_async import otel

    hook: pa.StageHook = timed
    async with pa.orchestrate(client, plans, on_stage=hook) as run:
        await run.wait()
    async with pa.Prolific(**otel.hooks()) as traced_client, pa.orchestrate(
            traced_client, plans, on_stage=otel.stage_spans()) as run:
        await run.wait()
