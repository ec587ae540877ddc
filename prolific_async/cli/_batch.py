"""``prolific-async batch …``: list, inspect, watch, set up, read and export batches."""

from __future__ import annotations

import click

import prolific_async as pa

from ._context import App, json_option, pass_app, workspace_option
from ._errors import NOT_FOUND, CommandError
from ._transfer import download_with_progress, saved

__all__ = ["batch"]

BATCH_FIELDS = ("id", "name", "status", "workspace_id", "datasets", "total_task_count",
                "total_instruction_count", "total_task_groups", "tasks_per_group",
                "created_at", "created_by", "auto_sync_enabled")


@click.group()
def batch() -> None:
    """AI Task Builder batches: a dataset turned into tasks."""


@batch.command("list")
@workspace_option
@json_option
@pass_app
def list_(app: App, workspace_id: str) -> None:
    """List the workspace's batches."""

    async def work(client: pa.Prolific) -> list[pa.Batch]:
        return await client.batches.list(workspace_id=workspace_id)

    batches = app.run(work)
    if app.output.as_json:
        app.output.json(batches)
    else:
        app.output.table(("id", "name", "status", "tasks", "created"), (
            (b.id, b.name, b.status, b.total_task_count,
             f"{b.created_at:%Y-%m-%d %H:%M}" if b.created_at else "") for b in batches),
            empty=f"no batches in workspace {workspace_id}")


@batch.command()
@click.argument("name")
@workspace_option
@json_option
@pass_app
def find(app: App, name: str, workspace_id: str) -> None:
    """Print the id of the workspace's batch named NAME (exit 5 if there is none).

    Every batch of that name is listed: names are not unique on Prolific, and a plan's batch
    is found by its name.
    """

    async def work(client: pa.Prolific) -> list[pa.Batch]:
        return [b for b in await client.batches.list(workspace_id=workspace_id)
                if b.name == name]

    found = app.run(work)
    if not found:
        raise CommandError(f"no batch named {name!r} in workspace {workspace_id}", NOT_FOUND)
    if app.output.as_json:
        app.output.json(found)
    elif len(found) == 1:
        app.output.line(found[0].id)
    else:
        app.output.note(f"{len(found)} batches are named {name!r}")
        app.output.table(("id", "status", "created"), (
            (b.id, b.status, f"{b.created_at:%Y-%m-%d %H:%M}" if b.created_at else "")
            for b in found))


@batch.command()
@click.argument("batch_id")
@json_option
@pass_app
def get(app: App, batch_id: str) -> None:
    """Show a batch."""

    async def work(client: pa.Prolific) -> pa.Batch:
        return await client.batches.get(batch_id)

    app.output.record(app.run(work), BATCH_FIELDS)


@batch.command()
@click.argument("batch_id")
@json_option
@pass_app
def status(app: App, batch_id: str) -> None:
    """Print a batch's status (UNINITIALISED, PROCESSING, READY or ERROR)."""

    async def work(client: pa.Prolific) -> pa.BatchStatus:
        return await client.batches.status(batch_id)

    current = app.run(work)
    if app.output.as_json:
        app.output.json({"id": batch_id, "status": current})
    else:
        app.output.line(str(current))


@batch.command()
@click.argument("batch_id")
@json_option
@pass_app
def watch(app: App, batch_id: str) -> None:
    """Print each status change of a batch until it is READY (exit 8 on ERROR)."""
    app.follow(lambda client: client.batches.watch(batch_id))


@batch.command()
@click.argument("batch_id")
@click.option("--tasks-per-group", type=click.IntRange(min=1), default=1, show_default=True,
              help="Tasks each participant gets per submission.")
@click.option("--dataset", "dataset_id", help="Dataset to use, if not attached at creation.")
@click.option("--wait", is_flag=True, help="Then watch the batch until it is READY.")
@json_option
@pass_app
def setup(app: App, batch_id: str, tasks_per_group: int, dataset_id: str | None,
          wait: bool) -> None:
    """Start turning the batch's dataset into tasks."""

    async def work(client: pa.Prolific) -> None:
        await client.batches.setup(batch_id, tasks_per_group=tasks_per_group,
                                   dataset_id=dataset_id)

    app.run(work)
    app.output.note(f"batch {batch_id}: set-up started")
    if wait:
        app.follow(lambda client: client.batches.watch(batch_id))


@batch.command()
@click.argument("batch_id")
@json_option
@pass_app
def responses(app: App, batch_id: str) -> None:
    """Print every task response so far (JSON lines with --json)."""

    async def work(client: pa.Prolific) -> list[pa.TaskResponse]:
        return [row async for row in client.batches.responses(batch_id)]

    rows = app.run(work)
    if app.output.as_json:
        for row in rows:
            app.output.json(row)
        return
    app.output.table(("participant", "task", "type", "answer"), (
        (r.participant_id, r.task_id, r.response.type, _answer(r.response.answer))
        for r in rows), empty=f"no responses to batch {batch_id} yet")
    app.output.note(f"{len(rows)} responses")


def _answer(answers: list[pa.Answer]) -> str:
    return "; ".join(
        " ".join(str(part) for part in (a.value, a.unit, a.explanation, a.file_name)
                 if part is not None) for a in answers)


@batch.command()
@click.argument("batch_id")
@click.option("--output", "-o", "dest", type=click.Path(), default=".",
              help="Folder or file for the CSV [default: <batch-id>-report-<time>.csv here].")
@json_option
@pass_app
def report(app: App, batch_id: str, dest: str) -> None:
    """Download the batch report: the dataset plus a column per question, as CSV."""
    saved(app, download_with_progress(
        app, f"report of batch {batch_id}",
        lambda client, progress: client.batches.download_report(batch_id, dest,
                                                                progress=progress)))


@batch.command()
@click.argument("batch_id")
@click.option("--output", "-o", "dest", type=click.Path(), default=".",
              help="Folder or file for the ZIP [default: <batch-id>-export-<time>.zip here].")
@click.option("--study", "study_id", help="Only the responses of this study.")
@json_option
@pass_app
def export(app: App, batch_id: str, dest: str, study_id: str | None) -> None:
    """Export every response as a ZIP: request, wait, download (with retries)."""
    saved(app, download_with_progress(
        app, f"batch {batch_id}",
        lambda client, progress: client.batches.export(batch_id, dest, study_id=study_id,
                                                       progress=progress)))
