"""``prolific-async study …``: the study that takes a batch or collection to participants."""

from __future__ import annotations

import sys

import click

import prolific_async as pa

from ._context import App, json_option, pass_app
from ._errors import USAGE, CommandError

__all__ = ["study"]

STUDY_FIELDS = ("id", "name", "internal_name", "status", "data_collection_method",
                "data_collection_id", "data_collection_metadata", "total_available_places",
                "places_taken", "reward", "estimated_completion_time", "project",
                "date_created", "published_at")


@click.group()
def study() -> None:
    """Studies: how a batch or collection reaches participants (and is paid for)."""


@study.command()
@click.option("--batch", "batch_id", help="The READY batch to collect responses for.")
@click.option("--collection", "collection_id", help="Or the collection.")
@click.option("--name", "-n", required=True, help="Name participants see.")
@click.option("--description", "-d", required=True, help="Description participants see.")
@click.option("--reward", type=click.IntRange(min=0), required=True,
              help="Reward per submission, in cents (or pence).")
@click.option("--places", type=click.IntRange(min=1), required=True,
              help="How many submissions to take.")
@click.option("--minutes", type=click.IntRange(min=1), required=True,
              help="Estimated completion time, in minutes.")
@click.option("--annotators-per-task", type=click.IntRange(min=1),
              help="How many participants answer each task.")
@click.option("--project", help="Project id to bill.")
@json_option
@pass_app
def create(app: App, batch_id: str | None, collection_id: str | None, name: str,
           description: str, reward: int, places: int, minutes: int,
           annotators_per_task: int | None, project: str | None) -> None:
    """Create an unpublished study on a batch or collection and print its id."""
    if (batch_id is None) == (collection_id is None):
        raise CommandError("give exactly one of --batch and --collection", USAGE)
    method = (pa.DataCollectionMethod.AI_TASK_BUILDER_BATCH if batch_id
              else pa.DataCollectionMethod.AI_TASK_BUILDER_COLLECTION)
    body = pa.StudyCreate(
        name=name, description=description, data_collection_id=batch_id or collection_id or "",
        data_collection_method=method, reward=reward, total_available_places=places,
        estimated_completion_time=minutes, project=project,
        data_collection_metadata=(pa.DataCollectionMetadata(
            annotators_per_task=annotators_per_task) if annotators_per_task else None))

    async def work(client: pa.Prolific) -> pa.Study:
        return await client.studies.create(body)

    created = app.run(work)
    if app.output.as_json:
        app.output.json(created)
    else:
        app.output.note(f"created study {name!r} (unpublished)")
        app.output.line(created.id)


@study.command("list")
@click.option("--batch", "batch_id", metavar="ID",
              help="Only the studies of this batch (or collection).")
@click.option("--state", "states", multiple=True, metavar="STATUS",
              type=click.Choice([s.value for s in pa.StudyStatus], case_sensitive=False),
              help="Only studies in this status (repeat for several).")
@json_option
@pass_app
def list_(app: App, batch_id: str | None, states: tuple[str, ...]) -> None:
    """List your studies, newest as the API orders them."""
    state = None if not states else (
        states[0].upper() if len(states) == 1 else f"({'|'.join(s.upper() for s in states)})")

    async def work(client: pa.Prolific) -> list[pa.Study]:
        return await client.studies.list(data_collection_id=batch_id, state=state)

    studies = app.run(work)
    if app.output.as_json:
        app.output.json(studies)
        return
    app.output.table(("id", "name", "status", "places", "reward", "batch"), (
        (s.id, s.internal_name or s.name, s.status,
         f"{s.places_taken or 0}/{s.total_available_places or '?'}", s.reward,
         s.data_collection_id) for s in studies),
        empty="no studies" + (f" of batch {batch_id}" if batch_id else "")
        + (f" in {' or '.join(states)}" if states else ""))


@study.command()
@click.argument("study_id")
@json_option
@pass_app
def get(app: App, study_id: str) -> None:
    """Show a study."""

    async def work(client: pa.Prolific) -> pa.Study:
        return await client.studies.get(study_id)

    app.output.record(app.run(work), STUDY_FIELDS)


@study.command()
@click.argument("study_id")
@click.option("--yes", "-y", is_flag=True, help="Do not ask: publishing spends money.")
@json_option
@pass_app
def publish(app: App, study_id: str, yes: bool) -> None:
    """Publish a study: participants start, and on the real API it spends money."""
    if not yes:
        if not sys.stdin.isatty():
            raise CommandError("publishing spends money: pass --yes to confirm", USAGE)
        click.confirm(f"Publish study {study_id}? Participants will be paid", abort=True,
                      err=True)

    async def work(client: pa.Prolific) -> pa.Study:
        return await client.studies.publish(study_id)

    published = app.run(work)
    if app.output.as_json:
        app.output.json(published)
    else:
        app.output.note(f"published study {study_id}")
        app.output.line(str(published.status))
