"""``prolific-async collection …``: list, inspect and export collections."""

from __future__ import annotations

import click

import prolific_async as pa

from ._context import App, json_option, pass_app, workspace_option
from ._transfer import download_with_progress, saved

__all__ = ["collection"]

COLLECTION_FIELDS = ("id", "name", "workspace_id", "item_count", "created_at", "created_by",
                     "last_modified_at", "task_details")


@click.group()
def collection() -> None:
    """Collections: static pages of questions (early access)."""


@collection.command("list")
@workspace_option
@json_option
@pass_app
def list_(app: App, workspace_id: str) -> None:
    """List the workspace's collections."""

    async def work(client: pa.Prolific) -> list[pa.Collection]:
        return await client.collections.list(workspace_id=workspace_id)

    found = app.run(work)
    if app.output.as_json:
        app.output.json(found)
    else:
        app.output.table(("id", "name", "pages", "created"), (
            (c.id, c.name, len(c.collection_items or []),
             f"{c.created_at:%Y-%m-%d %H:%M}" if c.created_at else "") for c in found),
            empty=f"no collections in workspace {workspace_id}")


@collection.command()
@click.argument("collection_id")
@json_option
@pass_app
def get(app: App, collection_id: str) -> None:
    """Show a collection."""

    async def work(client: pa.Prolific) -> pa.Collection:
        return await client.collections.get(collection_id)

    app.output.record(app.run(work), COLLECTION_FIELDS)


@collection.command()
@click.argument("collection_id")
@click.option("--output", "-o", "dest", type=click.Path(), default=".",
              help="Folder or file for the ZIP [default: <id>-export-<time>.zip here].")
@click.option("--study", "study_id", help="Only the responses of this study.")
@json_option
@pass_app
def export(app: App, collection_id: str, dest: str, study_id: str | None) -> None:
    """Export every response as a ZIP: request, wait, download (with retries)."""
    saved(app, download_with_progress(
        app, f"collection {collection_id}",
        lambda client, progress: client.collections.export(collection_id, dest,
                                                           study_id=study_id,
                                                           progress=progress)))
