"""How fast does ``client.batches.feed`` move records into a live batch, and in how much memory?

N records (100,000 by default) go through a feed into a READY batch of the fake (running in
its own process, so it shares neither the event loop nor the CPU clock with the client), from
a generator, with the feed's defaults: requests of up to 1,000 records, coalesced syncs, the
last sync waited for. The baseline is the fastest a client can do the same appends: a bare
``aiohttp`` session POSTing the same NDJSON, 1,000 records a request, one request at a time
(as the feed does). Syncs make the server work (it turns records into tasks), so the ratio is
taken against the feed with ``sync=False``, doing exactly the baseline's appends; the feed
with syncs is shown beside it. Rounds alternate the order; figures are medians.

Printed: records per second (each variant, and the ratio), the feed's requests (appends,
syncs and sync polls), client CPU over wall time (well under 1: the client waits on the
server), the peak of Python memory the feed allocated (``tracemalloc``, in a separate untimed
run) and the client process's peak RSS (interpreter and libraries included).

    python benchmarks/feed.py [--records 100000] [--rounds 3]

Goals: peak memory bounded and under 100 MB whatever N (the feed holds at most its buffer of
2,000 records and one request); feed throughput within 15% of the bare client (ratio >= 0.85),
that is, limited by the server, not the client.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import statistics
import sys
import time
import tracemalloc
from collections.abc import Iterator
from typing import Any

import aiohttp
import anyio

import prolific_async as pa
from prolific_async.testing import FakeClock, FakeProlific

SCHEMA = pa.DatasetSchema(fields={"prompt": pa.SchemaField(type="text"),
                                  "response": pa.SchemaField(type="text"),
                                  "model": pa.SchemaField(type="metadata")})
POLL = pa.PollPolicy(initial=0.02, multiplier=1.5, ceiling=0.2, deadline=300)


def serve(queue: Any, stop: Any) -> None:
    async def main() -> None:
        # A real-time clock: syncs take 50 ms, as a small one might on the real API.
        async with FakeProlific(clock=FakeClock(speed=1), record=False, batch_setup=0.05,
                                dataset_processing=0.05) as fake:
            queue.put((fake.url, fake.token, fake.workspace_id))
            await anyio.to_thread.run_sync(stop.wait)

    anyio.run(main)


def records(start: int, count: int) -> Iterator[dict[str, Any]]:
    for i in range(start, start + count):
        yield {"prompt": f"Summarise document {i}", "response": f"Document {i} says " + "x" * 40,
               "model": "m-1"}


async def live_batch(client: pa.Prolific, workspace_id: str, name: str) -> pa.Batch:
    ds = await client.datasets.create(name=name, workspace_id=workspace_id, schema=SCHEMA)
    await client.datasets.append(ds.id, records(-10, 10))
    batch = await client.batches.create(
        name=name, workspace_id=workspace_id, dataset_id=ds.id,
        task_details=pa.TaskDetails(task_name="Rate", task_introduction="<p>Rate</p>",
                                    task_steps="<p>Rate it</p>"),
        batch_items=pa.one_page([pa.FreeText(description="Is it right?")]))
    await client.batches.setup(batch.id)
    return await client.batches.wait_ready(batch.id, poll=POLL)


async def run_feed(server: tuple[str, str, str], start: int, count: int, name: str,
                   sync: bool = True) -> dict[str, float]:
    url, token, workspace_id = server
    async with pa.Prolific(token, base_url=url, poll=POLL) as client:
        batch = await live_batch(client, workspace_id, name)
        before = client.stats.requests
        wall, cpu = time.perf_counter(), time.process_time()
        async with client.batches.feed(batch.id, sync=sync, poll=POLL) as feed:
            await feed.send_many(records(start, count))
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        result = feed.result
        assert result.accepted == count and result.tasks_created == (count if sync else 0)
        return {"wall": wall, "cpu": cpu, "requests": client.stats.requests - before,
                "appends": result.requests, "syncs": result.syncs}


async def run_bare(server: tuple[str, str, str], start: int, count: int,
                   name: str) -> dict[str, float]:
    url, token, workspace_id = server
    async with pa.Prolific(token, base_url=url) as client:
        ds = await client.datasets.create(name=name, workspace_id=workspace_id, schema=SCHEMA)
    path = f"{url}/api/v1/data-collection/datasets/{ds.id}/datapoints"
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/x-ndjson"}
    wall, cpu = time.perf_counter(), time.process_time()
    async with aiohttp.ClientSession() as session:
        lines: list[bytes] = []

        async def post() -> None:
            async with session.post(path, data=b"\n".join(lines) + b"\n",
                                    headers=headers) as resp:
                assert resp.status == 200, await resp.text()
                await resp.json()
            lines.clear()

        for record in records(start, count):
            lines.append(json.dumps(record, separators=(",", ":")).encode())
            if len(lines) == 1000:
                await post()
        if lines:
            await post()
    return {"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    n = args.records

    context = multiprocessing.get_context("spawn")
    queue, stop = context.Queue(), context.Event()
    process = context.Process(target=serve, args=(queue, stop), daemon=True)
    process.start()
    server = queue.get(timeout=60)
    try:
        feeds: list[dict[str, float]] = []
        plain: list[dict[str, float]] = []
        bares: list[dict[str, float]] = []
        offset = 0
        for round_ in range(args.rounds):
            order = [("feed", run_feed, True, feeds), ("plain", run_feed, False, plain),
                     ("bare", run_bare, None, bares)]
            for label, run, sync, into in (order if round_ % 2 == 0 else order[::-1]):
                extra = () if sync is None else (sync,)
                into.append(anyio.run(run, server, offset, n, f"{label}-{round_}", *extra))
                offset += n
        # Memory, untimed: what the feed itself allocates while N records go through it.
        tracemalloc.start()
        anyio.run(run_feed, server, offset, n, "memory")
        _, traced_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    finally:
        stop.set()
        process.join(10)

    def median(runs: list[dict[str, float]], key: str) -> float:
        return statistics.median(run[key] for run in runs)

    feed_rate = n / median(feeds, "wall")
    plain_rate = n / median(plain, "wall")
    bare_rate = n / median(bares, "wall")
    ratios = [b["wall"] / f["wall"] for f, b in zip(plain, bares, strict=True)]
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    rss_mb = rss / (1 << 20) if sys.platform == "darwin" else rss / 1024
    print(f"{n} records through client.batches.feed, {args.rounds} rounds (medians)")
    print(f"  feed:      {feed_rate:10,.0f} records/s  ({median(feeds, 'wall'):.2f} s; "
          f"{median(feeds, 'requests'):.0f} requests: {median(feeds, 'appends'):.0f} appends, "
          f"{median(feeds, 'syncs'):.0f} syncs, the rest sync polls and one batch read)")
    print(f"  no syncs:  {plain_rate:10,.0f} records/s  ({median(plain, 'wall'):.2f} s; "
          f"the feed with sync=False, {median(plain, 'appends'):.0f} appends)")
    print(f"  bare:      {bare_rate:10,.0f} records/s  ({median(bares, 'wall'):.2f} s; "
          f"aiohttp, 1,000-record requests)")
    print(f"  ratio:     feed (no syncs) / bare throughput {statistics.median(ratios):.2f} "
          f"(rounds: {', '.join(f'{r:.2f}' for r in ratios)}; goal >= 0.85)")
    print(f"  client CPU / wall: feed {median(feeds, 'cpu') / median(feeds, 'wall'):.2f}, "
          f"no syncs {median(plain, 'cpu') / median(plain, 'wall'):.2f}, "
          f"bare {median(bares, 'cpu') / median(bares, 'wall'):.2f} "
          "(under 1: the client waits on the server)")
    cpu_ratio = statistics.median(f["cpu"] / b["cpu"] for f, b in zip(plain, bares, strict=True))
    print(f"  client CPU per record: no syncs {median(plain, 'cpu') / n * 1e6:.1f} us, bare "
          f"{median(bares, 'cpu') / n * 1e6:.1f} us (ratio {cpu_ratio:.2f}; the steadier "
          "figure on a busy machine)")
    print(f"  memory:    Python peak during the feed {traced_peak / (1 << 20):.1f} MB "
          f"(tracemalloc); client process peak RSS {rss_mb:.0f} MB (goal < 100 MB)")


if __name__ == "__main__":
    main()
