"""What does the SDK cost on top of a bare aiohttp session?

The same N ``batches.get`` calls, at the same concurrency, against the same fake server
(running in its own process so it does not share an event loop with the clients), once
through ``prolific_async`` (auth, retry loop, error mapping, JSON to attrs models) and once
through a bare ``aiohttp.ClientSession`` (``resp.json()`` into a dict). Rounds alternate, and
alternate which goes first, so both see the same machine noise; the figures are medians.

    python benchmarks/overhead.py [--calls 2000] [--concurrency 50] [--rounds 5]

Goal: SDK time / bare time <= 1.2 (the median of the per-round ratios).
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import time
from typing import Any

import aiohttp
import anyio

import prolific_async as pa
from prolific_async.testing import FakeClock, FakeProlific


def serve(queue: Any, stop: Any) -> None:
    async def main() -> None:
        async with FakeProlific(clock=FakeClock(speed=0), record=False) as fake:
            queue.put((fake.url, fake.token, fake.workspace_id))
            await anyio.to_thread.run_sync(stop.wait)

    anyio.run(main)


async def run_sdk(url: str, token: str, batch_id: str, calls: int, concurrency: int) -> float:
    limiter = anyio.Semaphore(concurrency)
    async with pa.Prolific(token, base_url=url, max_connections=concurrency) as client:

        async def one() -> None:
            async with limiter:
                batch = await client.batches.get(batch_id)
                assert batch.id == batch_id

        started = time.perf_counter()
        async with anyio.create_task_group() as group:
            for _ in range(calls):
                group.start_soon(one)
        return time.perf_counter() - started


async def run_bare(url: str, token: str, batch_id: str, calls: int, concurrency: int) -> float:
    limiter = anyio.Semaphore(concurrency)
    connector = aiohttp.TCPConnector(limit=concurrency)
    headers = {"Authorization": f"Token {token}"}
    target = f"{url}/api/v1/data-collection/batches/{batch_id}"
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one() -> None:
            async with limiter, session.get(target, headers=headers) as resp:
                resp.raise_for_status()
                body = await resp.json()
                assert body["id"] == batch_id

        started = time.perf_counter()
        async with anyio.create_task_group() as group:
            for _ in range(calls):
                group.start_soon(one)
        return time.perf_counter() - started


async def make_batch(url: str, token: str, workspace_id: str) -> str:
    async with pa.Prolific(token, base_url=url) as client:
        batch = await client.batches.create(
            name="bench", workspace_id=workspace_id,
            task_details=pa.TaskDetails(task_name="n", task_introduction="i", task_steps="s"))
        return batch.id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=11)
    args = parser.parse_args()

    queue: Any = multiprocessing.Queue()
    stop = multiprocessing.Event()
    server = multiprocessing.Process(target=serve, args=(queue, stop), daemon=True)
    server.start()
    try:
        url, token, workspace_id = queue.get(timeout=30)
        batch_id = anyio.run(make_batch, url, token, workspace_id)
        # One warm-up of each, then alternating measured rounds.
        anyio.run(run_bare, url, token, batch_id, 200, args.concurrency)
        anyio.run(run_sdk, url, token, batch_id, 200, args.concurrency)
        sdk: list[float] = []
        bare: list[float] = []
        for number in range(args.rounds):
            # Alternate which goes first, so neither always meets a warmer or busier machine.
            pair = (run_bare, run_sdk) if number % 2 == 0 else (run_sdk, run_bare)
            for runner in pair:
                took = anyio.run(runner, url, token, batch_id, args.calls, args.concurrency)
                (bare if runner is run_bare else sdk).append(took)
    finally:
        stop.set()
        server.join(timeout=10)

    sdk_t, bare_t = statistics.median(sdk), statistics.median(bare)
    # Each round's two runs are back to back, so their ratio cancels most machine noise.
    ratios = sorted(s / b for s, b in zip(sdk, bare, strict=True))
    print(f"{args.calls} batches.get calls, concurrency {args.concurrency}, "
          f"{args.rounds} alternating rounds (medians)")
    print(f"  bare aiohttp  : {bare_t:7.3f} s  {args.calls / bare_t:8.0f} calls/s")
    print(f"  prolific_async: {sdk_t:7.3f} s  {args.calls / sdk_t:8.0f} calls/s")
    print(f"  ratio SDK/bare: median {statistics.median(ratios):.3f} "
          f"(per-round range {ratios[0]:.2f}-{ratios[-1]:.2f}; goal <= 1.2)")


if __name__ == "__main__":
    main()
