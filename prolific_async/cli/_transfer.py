"""Exports with a live download bar on stderr, and how a saved file is reported."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)

import prolific_async as pa

from ._context import App

__all__ = ["ProgressCallback", "export_with_progress", "saved"]

#: Called with (bytes so far, total bytes or None) while a download runs.
ProgressCallback = Callable[[int, "int | None"], None]


def export_with_progress(
    app: App, what: str,
    export: Callable[[pa.Prolific, ProgressCallback], Awaitable[Path]],
) -> Path:
    """Run ``export(client, progress)`` with a spinner, then a byte bar, on stderr."""
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                  DownloadColumn(), TransferSpeedColumn(), TimeElapsedColumn(),
                  console=app.output.err, transient=True) as bar:
        task = bar.add_task(f"exporting {what}", total=None)

        def progress(done: int, total: int | None) -> None:
            bar.update(task, description=f"downloading {what}", completed=done, total=total)

        async def work(client: pa.Prolific) -> Path:
            return await export(client, progress)

        path = app.run(work)
    app.output.note(f"exported {what} to {path}")
    return path


def saved(app: App, path: Path) -> None:
    """Report a file a command wrote: its path on stdout (or path and size as JSON)."""
    if app.output.as_json:
        app.output.json({"path": str(path), "bytes": path.stat().st_size})
    else:
        app.output.line(str(path))
