"""Downloads (exports, reports) with a live bar on stderr, and how a saved file is reported."""

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

__all__ = ["download_with_progress", "saved"]


def download_with_progress(
    app: App, what: str,
    download: Callable[[pa.Prolific, pa.ProgressCallback], Awaitable[Path]],
) -> Path:
    """Run ``download(client, progress)`` with a spinner while the file is prepared, then a
    byte bar while it downloads, on stderr (``progress`` is the SDK's download callback)."""
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                  DownloadColumn(), TransferSpeedColumn(), TimeElapsedColumn(),
                  console=app.output.err, transient=True) as bar:
        task = bar.add_task(f"preparing {what}", total=None)

        def progress(done: int, total: int | None) -> None:
            bar.update(task, description=f"downloading {what}", completed=done, total=total)

        async def work(client: pa.Prolific) -> Path:
            return await download(client, progress)

        path = app.run(work)
    app.output.note(f"saved {what} to {path}")
    return path


def saved(app: App, path: Path) -> None:
    """Report a file a command wrote: its path on stdout (or path and size as JSON)."""
    if app.output.as_json:
        app.output.json({"path": str(path), "bytes": path.stat().st_size})
    else:
        app.output.line(str(path))
