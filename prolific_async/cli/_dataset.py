"""``prolific-async dataset …``: create, upload to, append to, and watch datasets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

import prolific_async as pa

from ._append import append_jsonl
from ._context import App, json_option, pass_app, workspace_option
from ._errors import INPUT

__all__ = ["dataset"]

DATASET_FIELDS = ("id", "name", "status", "workspace_id", "total_datapoint_count",
                  "schema_version", "filename", "created_at", "created_by", "imports")


@click.group()
def dataset() -> None:
    """Datasets: the data tasks are made from."""


@dataset.command()
@click.option("--name", "-n", required=True, help="Dataset name.")
@workspace_option
@json_option
@pass_app
def create(app: App, name: str, workspace_id: str) -> None:
    """Create an empty dataset and print its id."""

    async def work(client: pa.Prolific) -> pa.Dataset:
        return await client.datasets.create(name=name, workspace_id=workspace_id)

    created = app.run(work)
    if app.output.as_json:
        app.output.json(created)
    else:
        app.output.note(f"created dataset {name!r}")
        app.output.line(created.id)


@dataset.command()
@click.argument("dataset_id")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--wait", is_flag=True, help="Then watch the dataset until it is processed.")
@json_option
@pass_app
def upload(app: App, dataset_id: str, file: Path, wait: bool) -> None:
    """Upload a CSV (or JSONL / ZIP) file to a dataset."""

    async def work(client: pa.Prolific) -> pa.UploadURL:
        return await client.datasets.upload(dataset_id, file)

    target = app.run(work)
    app.output.note(f"uploaded {file} to dataset {dataset_id}")
    if app.output.as_json and not wait:
        app.output.json(target)
    if not wait:
        return
    # A dataset with a schema (V4) tracks each upload as an import job instead of a status.
    import_id = target.import_id

    def watch(client: pa.Prolific) -> pa.Watch[Any]:
        if import_id is not None:
            return client.datasets.watch_import(dataset_id, import_id)
        return client.datasets.watch(dataset_id)

    app.follow(watch)


@dataset.command()
@click.argument("dataset_id")
@json_option
@pass_app
def status(app: App, dataset_id: str) -> None:
    """Show a dataset: status, rows and imports."""

    async def work(client: pa.Prolific) -> pa.Dataset:
        return await client.datasets.get(dataset_id)

    app.output.record(app.run(work), DATASET_FIELDS)


@dataset.command()
@click.argument("dataset_id")
@json_option
@pass_app
def watch(app: App, dataset_id: str) -> None:
    """Print each status change of a dataset until it is READY (exit 8 on ERROR)."""
    app.follow(lambda client: client.datasets.watch(dataset_id))


@dataset.command()
@click.argument("dataset_id")
@click.argument("file", metavar="FILE.jsonl|-")
@json_option
@pass_app
def append(app: App, dataset_id: str, file: str) -> None:
    """Append JSON lines (one record a line; - reads stdin) to a V4 dataset.

    Prints the accepted, duplicate and rejected counts and each rejection with its line;
    exits 6 if any record was rejected. Records already in the dataset come back as
    duplicates, so running the same file again is harmless.
    """
    result = append_jsonl(app, dataset_id, file)
    if app.output.as_json:
        app.output.json(result)
    else:
        app.output.line(f"accepted {result.accepted}, duplicates {result.duplicates}, "
                        f"rejected {result.rejected}")
        for rejection in result.rejections:
            where = "?" if rejection.index is None else rejection.index + 1
            app.output.line(f"line {where}: {rejection.field or '-'}: {rejection.reason}")
    if result.rejected:
        raise click.exceptions.Exit(INPUT)
