"""A run SIGKILLed at a seeded point, then rerun with its journal, creates nothing twice.

The child process (``tests/orch_child.py``) talks to the fake through a small proxy in this
process, which counts the child's API requests and, at the seeded one, kills the child:
either before the request reaches the fake, or after the fake has acted on it and before the
child gets the answer (the gap no journal can see). The rerun happens here, on the same
journal, and the fake's records must show one batch and one study per plan, each study
published once.
"""

from __future__ import annotations

import fnmatch
import random
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import anyio
import attrs
import pytest
from aiohttp import web
from anyio.abc import Process

import prolific_async as pa
from prolific_async.testing import FakeClock, FakeProlific

from .orch_child import plans
from .orchestration import batches_named, client_for, publishes_of, studies_of, submissions_in

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX"),
]

ROOT = Path(__file__).parent.parent
PLANS = 3
#: POSTs a run of PLANS plans makes: dataset, batch, setup, study, publish, export each.
POSTS = 6 * PLANS


@attrs.define
class KillPoint:
    """Kill at the ``number``-th request matching ``method`` and the ``path`` glob, ``before``
    or after the fake acted on it."""

    method: str
    number: int
    before: bool
    path: str = "*"
    seen: int = 0
    child: Process | None = None
    killed: str | None = None


def kill_point(seed: int) -> KillPoint:
    """Odd seeds kill mid-create, after the fake acted on a POST (the gap no journal sees);
    even ones before a request reaches it: a POST, or any request (a poll, say)."""
    rng = random.Random(seed)
    if seed % 2:
        return KillPoint("POST", rng.randint(1, POSTS), before=False)
    if seed % 4 == 2:
        return KillPoint("*", rng.randint(1, 12 * PLANS), before=True)
    return KillPoint("POST", rng.randint(1, POSTS), before=True)


@pytest.fixture
async def fake() -> AsyncIterator[FakeProlific]:
    async with FakeProlific(clock=FakeClock(speed=0, per_request=0.25), seed=11) as server:
        yield server


def kill(point: KillPoint, where: str) -> None:
    assert point.child is not None
    point.child.send_signal(signal.SIGKILL)
    point.killed = where


async def start_proxy(fake: FakeProlific, session: aiohttp.ClientSession,
                      point: KillPoint) -> web.AppRunner:
    async def forward(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        due = False
        if point.killed is None and point.method in ("*", request.method) and (
                fnmatch.fnmatchcase(request.path, point.path)):
            point.seen += 1
            due = point.seen == point.number
        what = f"{request.method} {request.path}"
        if due and point.before:
            kill(point, f"before {what}")
            raise ConnectionResetError("killed")
        headers = {k: v for k, v in request.headers.items()
                   if k in ("Authorization", "Content-Type", "User-Agent", "Accept")}
        async with session.request(request.method, fake.url + request.path_qs,
                                   headers=headers, data=body or None) as answer:
            data = await answer.read()
        if due:
            kill(point, f"after {what}")
            raise ConnectionResetError("killed")
        return web.Response(status=answer.status, body=data, content_type=answer.content_type)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", forward)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner


#: Mid-create on each kind of creating request, whatever the seeds drew.
AFTER = {
    "dataset": KillPoint("POST", 2, before=False, path="*/datasets"),
    "study": KillPoint("POST", 2, before=False, path="/api/v1/studies/"),
    "export": KillPoint("POST", 3, before=False, path="*/export"),
}


async def run_child_until_killed(fake: FakeProlific, point: KillPoint, journal: Path,
                                 out: Path, *, count: int = PLANS, paying: bool = False
                                 ) -> None:
    async with aiohttp.ClientSession() as session:
        runner = await start_proxy(fake, session, point)
        try:
            url = f"http://127.0.0.1:{runner.addresses[0][1]}"
            command = [sys.executable, "-m", "tests.orch_child", url, fake.token,
                       fake.workspace_id, str(journal), str(out), str(count),
                       *(["paying"] if paying else [])]
            async with await anyio.open_process(command, cwd=ROOT) as child:
                point.child = child
                code = await child.wait()
        finally:
            await runner.cleanup()
    assert point.killed is not None, f"the run ended before its kill point {point}"
    assert code == -signal.SIGKILL


@pytest.mark.parametrize("seed", [*range(1, 9), *AFTER])
async def test_a_killed_run_resumes_without_duplicates(fake: FakeProlific, tmp_path: Path,
                                                       seed: int | str) -> None:
    point = attrs.evolve(AFTER[seed]) if isinstance(seed, str) else kill_point(seed)
    journal, out = tmp_path / "run.db", tmp_path / "out"
    await run_child_until_killed(fake, point, journal, out)
    await rerun_finds_everything_once(fake, point, journal, out)


async def rerun_finds_everything_once(fake: FakeProlific, point: KillPoint, journal: Path,
                                      out: Path) -> None:
    async with client_for(fake) as client:
        async with pa.orchestrate(client, plans(fake.workspace_id, out, PLANS),
                                  journal=journal) as run:
            results = await run.wait()
    for result in results:
        assert result.ok, (point.killed, result.plan, result.error)
        assert batches_named(fake, result.plan) == [result.batch_id], point.killed
        assert studies_of(fake, result.batch_id or "") == [result.study_id], point.killed
        assert publishes_of(fake, result.study_id or "") == 1, point.killed
        assert result.export_path is not None and submissions_in(result.export_path) == 2


async def test_a_journal_copied_without_its_wal_after_a_kill_creates_nothing_twice(
        fake: FakeProlific, tmp_path: Path) -> None:
    """As a backup of ``run.db`` alone would be: the WAL holds every write since the open."""
    point = KillPoint("POST", 2, before=False, path="*/transition/")
    journal, out = tmp_path / "run.db", tmp_path / "out"
    await run_child_until_killed(fake, point, journal, out)
    assert (tmp_path / "run.db-wal").stat().st_size > 0
    copy = tmp_path / "copy.db"
    copy.write_bytes(journal.read_bytes())
    await rerun_finds_everything_once(fake, point, copy, out)
