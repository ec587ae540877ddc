"""Every answer of many batches in one CSV: a script.

Finds the READY batches of a workspace whose name starts with a prefix, exports them all at
once (a few at a time), and writes one CSV with a row per answer (`pa.ExportArchive.rows`,
whose ``batch_id`` column says which batch each row came from). The export ZIPs are kept in
``--keep`` when given, else thrown away. Exporting is free: nothing here spends money.

    $ export PROLIFIC_TOKEN=...       # or: . ./fake.env, from prolific-async fake-server
    $ python examples/merge_exports.py --workspace 6745ab669112d10b9b3afb48 \\
          --prefix compare- answers.csv
    12 batches, 480 answers -> answers.csv
"""

from __future__ import annotations

import argparse
import csv
import os
import tempfile
from pathlib import Path

import anyio

import prolific_async as pa


async def export_all(client: pa.Prolific, batches: list[pa.Batch], folder: Path,
                     concurrency: int) -> list[Path]:
    """Each batch's export ZIP in ``folder``, in the order of ``batches``."""
    paths: list[Path | None] = [None] * len(batches)
    limiter = anyio.CapacityLimiter(concurrency)

    async def one(index: int, batch: pa.Batch) -> None:
        async with limiter:
            paths[index] = await client.batches.export(batch.id, folder)

    async with anyio.create_task_group() as group:
        for index, batch in enumerate(batches):
            group.start_soon(one, index, batch)
    return [path for path in paths if path is not None]


def merge(archives: list[Path], dest: Path) -> int:
    """Every archive's rows in one CSV (blocking: run it in a thread); the number of rows."""
    count = 0
    with dest.open("w", newline="", encoding="utf-8") as out:
        writer: csv.DictWriter[str] | None = None
        for path in archives:
            with pa.ExportArchive(path) as archive:
                if writer is None:
                    writer = csv.DictWriter(out, fieldnames=archive.columns)
                    writer.writeheader()
                for row in archive.rows():
                    writer.writerow(row)
                    count += 1
    return count


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dest", type=Path, help="the CSV to write")
    parser.add_argument("--workspace", default=os.environ.get("PROLIFIC_WORKSPACE"),
                        help="the workspace id (default: $PROLIFIC_WORKSPACE)")
    parser.add_argument("--prefix", default="", help="only batches whose name starts so")
    parser.add_argument("--concurrency", type=int, default=8, help="exports at once")
    parser.add_argument("--keep", type=Path, help="a folder to keep the export ZIPs in")
    args = parser.parse_args(argv)
    if not args.workspace:
        parser.error("--workspace (or PROLIFIC_WORKSPACE) is required")
    if args.concurrency < 1:
        parser.error("--concurrency must be at least 1")

    async with pa.Prolific() as client:  # PROLIFIC_TOKEN and PROLIFIC_URL from the environment
        batches = [b for b in await client.batches.list(workspace_id=args.workspace)
                   if b.name and b.name.startswith(args.prefix)
                   and b.status == pa.BatchStatus.READY]
        batches.sort(key=lambda b: b.name or "")
        with tempfile.TemporaryDirectory() as scratch:
            folder = args.keep or Path(scratch)
            folder.mkdir(parents=True, exist_ok=True)
            archives = await export_all(client, batches, folder, args.concurrency)
            rows = await anyio.to_thread.run_sync(merge, archives, args.dest)
    print(f"{len(batches)} batches, {rows} answers -> {args.dest}")


if __name__ == "__main__":
    anyio.run(main)
