"""A worker process of the PostgreSQL journal tests. ``python -m tests.pg_worker MODE URL``.

``split PLANS``: add the plans and print ``ready``; then for each line read on stdin, claim
five plans, record itself as each one's driver (a fenced write), release them finished, and
print ``drove N``.

``hold``: claim every plan, print ``held N``, then for each line read on stdin try one fenced
write per plan and print ``acted PLAN`` or ``lost PLAN``; independently, print ``noticed PLAN``
as soon as the heartbeat finds a lease gone.
"""

from __future__ import annotations

import sys

import anyio

from prolific_async.orchestration._journal_api import open_journal
from prolific_async.orchestration._leases import LeaseLostError


async def split(url: str, count: int) -> None:
    async with open_journal(url) as journal:
        for n in range(count):
            await journal.add(f"plan-{n}", {"n": str(n)})
        print("ready", flush=True)
        async for _ in anyio.wrap_file(sys.stdin):
            claimed = await journal.claim(5)
            for plan in claimed:
                await journal.set_id(plan, "driver", repr(journal))
                await journal.release(plan, finished=True)
            print("drove", len(claimed), flush=True)


async def hold(url: str) -> None:
    async with open_journal(url) as journal, anyio.create_task_group() as group:
        plans = await journal.claim(1000)
        for plan in plans:
            group.start_soon(notice, journal.lost(plan), plan)
        print("held", len(plans), flush=True)
        async for line in anyio.wrap_file(sys.stdin):
            for plan in plans:
                try:
                    await journal.set_id(plan, "acted", line.strip())
                except LeaseLostError:
                    print("lost", plan, flush=True)
                else:
                    print("acted", plan, flush=True)
        group.cancel_scope.cancel()


async def notice(lost: anyio.Event, plan: str) -> None:
    await lost.wait()
    print("noticed", plan, flush=True)


if __name__ == "__main__":
    mode, url, *rest = sys.argv[1:]
    if mode == "split":
        anyio.run(split, url, int(rest[0]))
    else:
        anyio.run(hold, url)
