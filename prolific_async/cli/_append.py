"""``prolific-async dataset append``: JSON lines from a file or stdin, appended to a V4
dataset with a live bar, and the counts."""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
from rich.progress import BarColumn, DownloadColumn, Progress, SpinnerColumn, TextColumn

import prolific_async as pa

from ._context import App
from ._errors import INPUT, CommandError

__all__ = ["append_jsonl"]

#: Input is read this much at a time (each read is one hop to a worker thread).
READ_BLOCK = 1 << 20
#: A line longer than this cannot be one record of a request.
MAX_LINE = 4 << 20


async def _lines(source: anyio.AsyncFile[bytes], counted: Any) -> AsyncIterator[bytes]:
    """The lines of ``source``, read in blocks; ``counted(n)`` hears the bytes read."""
    rest = b""
    while block := await source.read(READ_BLOCK):
        counted(len(block))
        *lines, rest = (rest + block).split(b"\n")
        if len(rest) > MAX_LINE:
            raise CommandError(f"a line is longer than {MAX_LINE} bytes: not one record",
                               INPUT)
        for line in lines:
            yield line
    if rest.strip():
        yield rest


async def _records(source: anyio.AsyncFile[bytes], counted: Any) -> AsyncIterator[Any]:
    """One JSON object a line; a line that is not one stops the command, naming it (the
    requests before it were sent: appending them again is harmless)."""
    number = 0
    async for line in _lines(source, counted):
        number += 1
        try:
            record = json.loads(line)
        except ValueError as exc:
            raise CommandError(f"line {number} is not JSON: {exc}", INPUT) from None
        if not isinstance(record, dict):
            raise CommandError(f"line {number} is not a JSON object", INPUT)
        yield record


def append_jsonl(app: App, dataset_id: str, file: str) -> pa.AppendResult:
    """Append the records of ``file`` (``-``: stdin) with a bar on stderr."""
    path = None if file == "-" else Path(file)
    if path is not None and not path.is_file():
        raise CommandError(f"no such file: {file}", INPUT)
    total = path.stat().st_size if path is not None else None
    with Progress(SpinnerColumn(), TextColumn("appending"), BarColumn(), DownloadColumn(),
                  TextColumn("{task.fields[records]} records answered"),
                  console=app.output.err, transient=True) as bar:
        task = bar.add_task("append", total=total, records=0)

        def counted(size: int) -> None:
            bar.advance(task, size)

        def answered(records: int) -> None:
            bar.update(task, records=records)

        async def work(client: pa.Prolific) -> pa.AppendResult:
            source = (await anyio.open_file(path, "rb") if path is not None
                      else anyio.wrap_file(sys.stdin.buffer))
            async with source:
                return await client.datasets.append(dataset_id, _records(source, counted),
                                                    progress=answered)

        return app.run(work)
