"""How many CPU instructions does one ``batches.get`` cost the client, SDK vs bare aiohttp?

`overhead.py` times client CPU, which a shared machine makes noisy (its paired rounds scatter
by ±15 %). Instruction counts do not: this script runs each client under valgrind's callgrind
twice, with ``--calls`` and with twice as many, against one fake server in its own process
(not under valgrind), and divides the difference in instructions by the difference in calls:
start-up, imports and the warm-up cancel out. The same four clients as `overhead.py`'s:

- ``bare``: a bare ``aiohttp.ClientSession`` doing ``resp.json()``, the baseline;
- ``transport``: the SDK's request path alone (``Transport.request``, no model);
- ``sdk``: ``client.batches.get``, the whole call (answers parsed by orjson when the
  ``[fast]`` extra is installed);
- ``sdk-json``: the same with the standard library's json, the default install;
- ``sdk-read30``: ``sdk`` with ``Timeouts(read=30)``, shorter than the total: aiohttp then
  arms a read timer (two timers a call; the default ``read`` equals the total and arms none);
- ``model``: the model alone (``structure_fn(Batch)`` on the answer's JSON, no I/O).

    python benchmarks/instructions.py [--calls 1000] [--concurrency 50] [--only sdk,bare]

Needs ``valgrind`` on the PATH. Figures are instructions per call (thousands) and the ratio to
bare. Counts depend a little on how the event loop batches answers (the machine's load), so
compare figures from one run.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import anyio

HERE = Path(__file__).resolve()
KINDS = ("bare", "transport", "sdk", "sdk-json", "sdk-read30", "model")


async def client(kind: str, calls: int, concurrency: int, target: dict[str, str]) -> None:
    """``calls`` calls of ``kind`` (after a warm-up of 200), the work callgrind counts."""
    import aiohttp

    import prolific_async as pa
    from prolific_async._converter import structure_fn

    if kind == "sdk-json":
        from prolific_async import _jsonparse

        _jsonparse.loads = _jsonparse.PARSERS["json"]
    url, token, batch_id = target["url"], target["token"], target["batch_id"]
    path = f"/api/v1/data-collection/batches/{batch_id}"
    limiter = anyio.Semaphore(concurrency)

    async def run(one: Any, count: int) -> None:
        async def limited() -> None:
            async with limiter:
                await one()

        async with anyio.create_task_group() as group:
            for _ in range(count):
                group.start_soon(limited)

    if kind == "bare":
        headers = {"Authorization": f"Token {token}"}
        connector = aiohttp.TCPConnector(limit=concurrency)
        async with aiohttp.ClientSession(connector=connector) as session:

            async def bare() -> None:
                async with session.get(url + path, headers=headers) as resp:
                    await resp.json()

            await run(bare, 200)
            settle_heap()
            await run(bare, calls)
        return
    timeouts = pa.Timeouts(read=30) if kind == "sdk-read30" else pa.Timeouts()
    async with pa.Prolific(token, base_url=url, max_connections=concurrency,
                           timeouts=timeouts) as sdk:
        if kind == "model":
            data = (await sdk._context.transport.request("GET", path)).data
            read = structure_fn(pa.Batch)
            settle_heap()
            for _ in range(calls):
                read(data)
            return
        if kind == "transport":
            transport = sdk._context.transport

            async def one() -> None:
                await transport.request("GET", path)
        else:

            async def one() -> None:
                await sdk.batches.get(batch_id)

        await run(one, 200)
        settle_heap()
        await run(one, calls)


def settle_heap() -> None:
    """Move what start-up made out of the collector's sight: a full collection walks every
    object, and one more or less of them in a run would add millions of instructions to its
    count, scattering the per-call figure by 10 % (what imports and warm-up left is not the
    per-call work being counted)."""
    gc.collect()
    gc.freeze()


async def serve(ready: Path) -> None:
    """A fake server whose address and one batch go to ``ready``; runs until killed."""
    import prolific_async as pa
    from prolific_async.testing import FakeClock, FakeProlific

    async with FakeProlific(clock=FakeClock(speed=0), record=False) as fake:
        async with pa.Prolific(fake.token, base_url=fake.url) as sdk:
            batch = await sdk.batches.create(
                name="bench", workspace_id=fake.workspace_id,
                task_details=pa.TaskDetails(task_name="n", task_introduction="i",
                                            task_steps="s"))
        partial = ready.with_suffix(".partial")
        partial.write_text(json.dumps({"url": fake.url, "token": fake.token,
                                       "batch_id": batch.id}))
        partial.replace(ready)  # whole or not there: the driver never reads half of it
        await anyio.sleep_forever()


def count(kind: str, calls: int, concurrency: int, target: Path, work: Path) -> int:
    """Instructions callgrind counted for one client process of ``calls`` calls."""
    out = work / f"callgrind.{kind}.{calls}"
    subprocess.run(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", "--dump-line=no",
         "--compress-strings=no", sys.executable, str(HERE), "--client", kind,
         "--calls", str(calls), "--concurrency", str(concurrency), "--target", str(target)],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONHASHSEED": "0"})
    found = re.search(r"^(?:summary|totals): (\d+)", out.read_text(errors="replace"), re.M)
    if found is None:
        raise RuntimeError(f"no instruction total in {out}")
    return int(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--only", default=",".join(KINDS))
    parser.add_argument("--client", choices=KINDS, help=argparse.SUPPRESS)
    parser.add_argument("--target", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        target = json.loads(args.target.read_text())
        anyio.run(client, args.client, args.calls, args.concurrency, target)
        return

    kinds = [kind for kind in KINDS if kind in args.only.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        ready = work / "target.json"
        server = subprocess.Popen([sys.executable, "-c", (
            "import anyio, sys; sys.path.insert(0, sys.argv[1]); import instructions; "
            "anyio.run(instructions.serve, __import__('pathlib').Path(sys.argv[2]))"),
            str(HERE.parent), str(ready)])
        try:
            while not ready.exists():
                if server.poll() is not None:
                    raise RuntimeError("the fake server did not start")
                anyio.run(anyio.sleep, 0.1)
            per_call = {}
            for kind in kinds:
                low = count(kind, args.calls, args.concurrency, ready, work)
                high = count(kind, 2 * args.calls, args.concurrency, ready, work)
                per_call[kind] = (high - low) / args.calls
                print(f"  {kind:9}: {per_call[kind] / 1000:7.1f} k instructions per call",
                      flush=True)
        finally:
            server.kill()
            server.wait()
    if "bare" in per_call:
        ratios = ", ".join(f"{kind} {per_call[kind] / per_call['bare']:.3f}"
                           for kind in kinds if kind not in ("bare", "model"))
        print(f"ratio to bare aiohttp ({args.calls} calls, concurrency {args.concurrency}): "
              f"{ratios}")


if __name__ == "__main__":
    main()
