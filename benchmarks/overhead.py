"""What does the SDK cost on top of a bare aiohttp session?

The same N ``batches.get`` calls, at the same concurrency, against the same fake server
(running in its own process so it does not share an event loop or a CPU clock with the
clients), once through ``prolific_async`` (auth, retry loop, error mapping, JSON to attrs
models) and once through a bare ``aiohttp.ClientSession`` doing what a user's bare code does
(``resp.json()`` into a dict). Rounds alternate, and alternate which goes first, so both see
the same machine noise; the figures are medians.

The figure that matters is client **CPU** (``time.process_time`` of this process): on
loopback the server is the bottleneck, so wall time hides the client's own work.

    python benchmarks/overhead.py [--calls 10000] [--concurrency 50] [--rounds 9]

With the ``[fast]`` extra (orjson) installed, the SDK runs twice per round: with orjson,
and with the standard library's json, the default install's figure.

On a machine with two CPUs or more, the server and the client are each pinned to a CPU of
their own, and each run starts with a full collection (no garbage left by the run before).
Rounds of 2,000 calls scatter from 0.86 to 1.90 on a loaded machine; rounds of at least
10,000 calls are needed for a stable median, and the spread is printed with it.

Goal: SDK CPU / bare CPU <= 1.1 (the median of the per-round ratios).
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing
import os
import statistics
import time
from typing import Any

import aiohttp
import anyio

import prolific_async as pa
from prolific_async import _jsonparse
from prolific_async.testing import FakeClock, FakeProlific


def pin(cpu: int) -> None:
    """Keep this process on one CPU when the machine has two or more: the client and the
    server then never trade places, nor wait for each other's core."""
    if hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) >= 2:
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[cpu]})


def serve(queue: Any, stop: Any) -> None:
    pin(0)

    async def main() -> None:
        async with FakeProlific(clock=FakeClock(speed=0), record=False) as fake:
            queue.put((fake.url, fake.token, fake.workspace_id))
            await anyio.to_thread.run_sync(stop.wait)

    anyio.run(main)


Timing = tuple[float, float]  # (wall seconds, client CPU seconds)


async def run_sdk(url: str, token: str, batch_id: str, calls: int, concurrency: int) -> Timing:
    """``batches.get`` with the fastest JSON parser installed."""
    _jsonparse.loads = _jsonparse.PARSERS.get("orjson", _jsonparse.PARSERS["json"])
    return await _run_sdk(url, token, batch_id, calls, concurrency)


async def run_sdk_json(url: str, token: str, batch_id: str, calls: int,
                       concurrency: int) -> Timing:
    """``batches.get`` with the standard library's json: the default install."""
    _jsonparse.loads = _jsonparse.PARSERS["json"]
    return await _run_sdk(url, token, batch_id, calls, concurrency)


async def _run_sdk(url: str, token: str, batch_id: str, calls: int, concurrency: int) -> Timing:
    limiter = anyio.Semaphore(concurrency)
    async with pa.Prolific(token, base_url=url, max_connections=concurrency) as client:

        async def one() -> None:
            async with limiter:
                await client.batches.get(batch_id)

        return await timed(one, calls)


async def run_transport(url: str, token: str, batch_id: str, calls: int,
                        concurrency: int) -> Timing:
    """The SDK's request path alone (auth, timeouts, retry loop, JSON), no model: where the
    SDK's cost lies, between bare aiohttp and ``batches.get``."""
    _jsonparse.loads = _jsonparse.PARSERS.get("orjson", _jsonparse.PARSERS["json"])
    limiter = anyio.Semaphore(concurrency)
    path = f"/api/v1/data-collection/batches/{batch_id}"
    async with pa.Prolific(token, base_url=url, max_connections=concurrency) as client:
        transport = client._context.transport

        async def one() -> None:
            async with limiter:
                await transport.request("GET", path)

        return await timed(one, calls)


async def run_bare(url: str, token: str, batch_id: str, calls: int, concurrency: int) -> Timing:
    limiter = anyio.Semaphore(concurrency)
    connector = aiohttp.TCPConnector(limit=concurrency)
    headers = {"Authorization": f"Token {token}"}
    target = f"{url}/api/v1/data-collection/batches/{batch_id}"
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one() -> None:
            async with limiter, session.get(target, headers=headers) as resp:
                await resp.json()

        return await timed(one, calls)


async def timed(one: Any, calls: int) -> Timing:
    # Each side starts with nothing left for the collector from the round before it: the
    # garbage of one side is not charged to the other.
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    async with anyio.create_task_group() as group:
        for _ in range(calls):
            group.start_soon(one)
    return time.perf_counter() - wall, time.process_time() - cpu


async def make_batch(url: str, token: str, workspace_id: str) -> str:
    async with pa.Prolific(token, base_url=url) as client:
        batch = await client.batches.create(
            name="bench", workspace_id=workspace_id,
            task_details=pa.TaskDetails(task_name="n", task_introduction="i", task_steps="s"))
        return batch.id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()

    queue: Any = multiprocessing.Queue()
    stop = multiprocessing.Event()
    server = multiprocessing.Process(target=serve, args=(queue, stop), daemon=True)
    server.start()
    pin(1)
    try:
        url, token, workspace_id = queue.get(timeout=30)
        batch_id = anyio.run(make_batch, url, token, workspace_id)
        # One warm-up of each, then alternating measured rounds.
        anyio.run(run_bare, url, token, batch_id, 200, args.concurrency)
        anyio.run(run_sdk, url, token, batch_id, 200, args.concurrency)
        runners = [run_bare, run_sdk, run_transport]
        if "orjson" in _jsonparse.PARSERS:
            runners.append(run_sdk_json)
        times: dict[Any, list[Timing]] = {runner: [] for runner in runners}
        for number in range(args.rounds):
            # Rotate which goes first, so none always meets a warmer or busier machine.
            at = number % len(runners)
            for runner in runners[at:] + runners[:at]:
                took = anyio.run(runner, url, token, batch_id, args.calls, args.concurrency)
                times[runner].append(took)
    finally:
        stop.set()
        server.join(timeout=10)

    bare = times[run_bare]
    fastest = "orjson" if "orjson" in _jsonparse.PARSERS else "json"
    print(f"{args.calls} batches.get calls, concurrency {args.concurrency}, "
          f"{args.rounds} alternating rounds (medians); answers parsed by {fastest}")
    for index, what in ((1, "client CPU"), (0, "wall time ")):
        sdk, bare_t = times[run_sdk], statistics.median(t[index] for t in bare)
        print(f"  {what}: bare aiohttp {bare_t * 1e6 / args.calls:6.0f} us/call, "
              f"prolific_async {statistics.median(t[index] for t in sdk) * 1e6 / args.calls:6.0f}"
              f" us/call; ratio SDK/bare {spread(sdk, bare, index)}"
              + ("; goal <= 1.1" if index == 1 else ""))
    if run_sdk_json in times:
        print(f"  default install (json), client CPU: ratio SDK/bare "
              f"{spread(times[run_sdk_json], bare, 1)}")
    alone = statistics.median(t[1] for t in times[run_transport])
    print(f"  of which the request path alone (no model): {alone * 1e6 / args.calls:6.0f} "
          f"us/call CPU; ratio to bare {spread(times[run_transport], bare, 1)}")


def spread(runs: list[Timing], bare: list[Timing], index: int) -> str:
    """The median and range of the per-round ratios: each round's runs are back to back, so
    their ratio cancels most machine noise."""
    ratios = sorted(s[index] / b[index] for s, b in zip(runs, bare, strict=True))
    return f"median {statistics.median(ratios):.3f} (range {ratios[0]:.2f}-{ratios[-1]:.2f})"


if __name__ == "__main__":
    main()
