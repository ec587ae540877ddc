"""The child of the kill tests: drives plans through orchestrate with a journal, printing each
event, until the parent SIGKILLs it. ``python -m tests.orch_child URL TOKEN WORKSPACE
JOURNAL OUT PLANS [paying]`` (``paying``: plans that approve and pay a bonus)."""

from __future__ import annotations

import sys
from pathlib import Path

import anyio

import prolific_async as pa

from .orchestration import FAST, paying_plan, plan


def plans(workspace_id: str, out: Path, count: int, *, paying: bool = False
          ) -> list[pa.BatchPlan]:
    make = paying_plan if paying else plan
    return [make(f"kill-{n}", workspace_id, out) for n in range(count)]


async def main(url: str, token: str, workspace_id: str, journal: str, out: str,
               count: str, kind: str = "") -> None:
    async with pa.Prolific(token, base_url=url, poll=FAST,
                           retry=pa.RetryPolicy(wait_initial=0.001, wait_max=0.01)) as client:
        async with pa.orchestrate(client, plans(workspace_id, Path(out), int(count),
                                                paying=kind == "paying"),
                                  journal=journal) as run:
            async for event in run:
                print(event, flush=True)


if __name__ == "__main__":
    anyio.run(main, *sys.argv[1:])
