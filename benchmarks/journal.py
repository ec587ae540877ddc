"""What does a journal cost a plan, in the SQLite file and in PostgreSQL shared by workers?

Each plan makes the journal traffic a pipeline makes: enter (lease and load), each stage
begun (those that create) and done, six ids recorded, released finished. With the SQLite file
one process does every plan (the baseline); with PostgreSQL, 1, 2 and 4 worker processes
share the same plans, each claiming ``--claim`` plans at a time (``SELECT … FOR UPDATE SKIP
LOCKED``) and driving them concurrently, until none is left. It prints, for each: wall time
(median of ``--repeat`` runs), plans a second, database round trips per plan, and the wall
time as a ratio to the SQLite baseline.

    python benchmarks/journal.py --journal postgresql://postgres@127.0.0.1:5432/postgres
        [--plans 500] [--workers 1,2,4] [--claim 25] [--repeat 3]

Without ``--journal`` only the SQLite baseline runs. The database is used through a schema of
its own (created, then dropped), so any database you may write to will do.

The round trips are the journal's own (`PostgresJournal.round_trips`): the heartbeat's beats
included, the schema check at connect excluded. This measures the journal, not Prolific:
a real plan spends minutes waiting on the API, against which these milliseconds vanish.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import anyio

from prolific_async.orchestration._journal_api import JournalStore, open_journal

#: Stages a plan goes through, and whether each creates something (begun first).
STAGES = [("dataset_create", True), ("dataset_upload", True), ("dataset_ready", False),
          ("batch_create", True), ("batch_setup", True), ("batch_ready", False),
          ("study_create", True), ("study_publish", True), ("responses", False),
          ("export", True), ("download", False)]
IDS = ["dataset_id", "batch_id", "study_id", "export_id", "export_path", "responses"]


async def drive(journal: JournalStore, plan: str) -> None:
    """One plan's journal traffic, as the pipeline makes it."""
    await journal.enter(plan, {"dataset": plan})
    ids = iter(IDS)
    for stage, creates in STAGES:
        if creates:
            await journal.begin(plan, stage)
            key = next(ids, None)
            if key is not None:
                await journal.set_id(plan, key, f"{key}-{plan}")
        await journal.finish(plan, stage, 0.1)
    await journal.release(plan, finished=True)


async def work(target: str, plans: int, claim: int, ready: Any, go: Any) -> tuple[int, int]:
    """Add the plans, wait for the start, then claim and drive until none is left; returns
    plans driven and round trips."""
    driven = 0
    async with open_journal(target) as journal:
        for n in range(plans):
            await journal.add(f"plan-{n}", {"dataset": f"plan-{n}"})
        before = getattr(journal, "round_trips", 0)
        ready.release()
        await anyio.to_thread.run_sync(go.wait)
        while claimed := await journal.claim(claim):
            async with anyio.create_task_group() as group:
                for plan in claimed:
                    group.start_soon(drive, journal, plan)
            driven += len(claimed)
        return driven, getattr(journal, "round_trips", 0) - before


def worker(target: str, plans: int, claim: int, ready: Any, go: Any, out: Any) -> None:
    out.put(anyio.run(work, target, plans, claim, ready, go))


def run(target: str, plans: int, workers: int, claim: int) -> tuple[float, int, int]:
    """Wall time from the common start to the last worker's end; plans driven; round trips."""
    context = multiprocessing.get_context("spawn")
    ready, go, out = context.Semaphore(0), context.Event(), context.Queue()
    processes = [context.Process(target=worker, args=(target, plans, claim, ready, go, out))
                 for _ in range(workers)]
    for process in processes:
        process.start()
    for _ in processes:
        ready.acquire(timeout=120)
    started = time.perf_counter()
    go.set()
    results = [out.get(timeout=600) for _ in processes]
    wall = time.perf_counter() - started
    for process in processes:
        process.join(timeout=60)
    return wall, sum(r[0] for r in results), sum(r[1] for r in results)


def with_schema(url: str, schema: str) -> str:
    parts = urlsplit(url)
    query = urlencode([("options", f"-csearch_path={schema}")])
    return urlunsplit(parts._replace(query=query))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--journal", help="a postgresql:// URL (else only SQLite runs)")
    parser.add_argument("--plans", type=int, default=500)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--claim", type=int, default=25)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    def median_of(target: Any, workers: int) -> tuple[float, int, int]:
        runs = [run(target(), args.plans, workers, args.claim) for _ in range(args.repeat)]
        wall = statistics.median(r[0] for r in runs)
        assert all(r[1] == args.plans for r in runs), runs
        return wall, runs[0][1], runs[0][2]

    print(f"{args.plans} plans, {len(STAGES)} stages each, claimed {args.claim} at a time; "
          f"median of {args.repeat}")
    folder = Path(tempfile.mkdtemp())
    files = iter(range(10**6))
    base, _, _ = median_of(lambda: str(folder / f"run-{next(files)}.db"), 1)
    print(f"{'sqlite file, 1 process':34} {base:7.2f} s {args.plans / base:8.0f} plans/s"
          f"{'':>12} ratio 1.00")
    if not args.journal:
        print("(PostgreSQL: pass --journal postgresql://...)")
        return
    import psycopg
    from psycopg import sql

    schemas: list[str] = []

    def fresh() -> str:
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(args.journal, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        schemas.append(schema)
        return with_schema(args.journal, schema)

    try:
        for workers in [int(n) for n in args.workers.split(",")]:
            wall, _, trips = median_of(fresh, workers)
            label = f"postgresql, {workers} worker process{'es' if workers > 1 else ''}"
            print(f"{label:34} {wall:7.2f} s {args.plans / wall:8.0f} plans/s "
                  f"{trips / args.plans:5.1f} trips/plan ratio {wall / base:.2f}")
    finally:
        with psycopg.connect(args.journal, autocommit=True) as conn:
            for schema in schemas:
                conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


if __name__ == "__main__":
    main()
