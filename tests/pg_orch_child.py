"""A worker of the many-worker tests: waits for ``go`` on stdin, then drives the shared plans
through orchestrate with a PostgreSQL journal, printing ``KIND PLAN STAGE`` per event and, at
the end, ``result PLAN ok|ERROR BATCH``. ``python -m tests.pg_orch_child URL TOKEN WORKSPACE
JOURNAL OUT PLANS CONCURRENCY``."""

from __future__ import annotations

import sys
from pathlib import Path

import anyio

import prolific_async as pa

from .orch_child import plans
from .orchestration import FAST


async def main(url: str, token: str, workspace_id: str, journal: str, out: str, count: str,
               concurrency: str) -> None:
    await anyio.wrap_file(sys.stdin).readline()
    async with pa.Prolific(token, base_url=url, poll=FAST,
                           retry=pa.RetryPolicy(wait_initial=0.001, wait_max=0.01)) as client:
        async with pa.orchestrate(client, plans(workspace_id, Path(out), int(count)),
                                  concurrency=int(concurrency), journal=journal) as run:
            async for event in run:
                print(event.kind, event.plan, event.stage, flush=True)
        for result in run.results:
            print("result", result.plan, "ok" if result.ok else repr(result.error),
                  result.batch_id, flush=True)


if __name__ == "__main__":
    anyio.run(main, *sys.argv[1:])
