"""The PostgreSQL journal against a real server: schema, records, leases shared by worker
processes, takeover after the timeout, and a stopped worker that must not act on lost leases."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import pytest
from anyio.abc import Process

import prolific_async as pa
from prolific_async.orchestration._journal_api import JournalStore, open_journal
from prolific_async.orchestration._leases import LeaseLostError, PlanLeasedError

from .cli_support import invoke
from .pg_cluster import journal_url, postgres_url

__all__ = ["journal_url", "postgres_url"]  # the fixtures, imported for pytest

pytestmark = pytest.mark.anyio
ROOT = Path(__file__).parent.parent
#: The shortest lease timeout allowed: the takeover tests wait it out once.
QUICK = "?lease_timeout=1"


async def query(url: str, sql: str) -> list[tuple[object, ...]]:
    import psycopg

    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        cursor = await conn.execute(sql)  # type: ignore[arg-type]
        return list(await cursor.fetchall()) if cursor.description else []


@asynccontextmanager
async def worker(*args: str) -> AsyncIterator[Process]:
    async with await anyio.open_process([sys.executable, "-m", "tests.pg_worker", *args],
                                        cwd=ROOT) as process:
        try:
            yield process
        finally:
            if process.returncode is None:
                process.kill()


async def line(process: Process) -> str:
    """The child's next line of output."""
    assert process.stdout is not None
    buffered = getattr(process, "_buffer", b"")
    while b"\n" not in buffered:
        with anyio.fail_after(60):
            buffered += await process.stdout.receive()
    first, _, rest = buffered.partition(b"\n")
    process._buffer = rest  # type: ignore[attr-defined]
    return first.decode()


async def claim_after_expiry(journal: JournalStore, count: int) -> list[str]:
    """Claim until another worker's leases expire: polled, since they expire on the database's
    clock and nothing announces it. Within 30 s, for a lease timeout of 1 s."""
    for _ in range(600):
        if taken := await journal.claim(count):
            return taken
        await anyio.sleep(0.05)
    raise AssertionError("the leases were never taken over")


async def stale_status(url: str) -> pa.JournalStatus:
    """`journal status` once every held lease has gone stale (polled, as `claim_after_expiry`)."""
    for _ in range(600):
        status = await pa.journal_status(url)
        if all(p.stale for p in status.plans):
            return status
        await anyio.sleep(0.05)
    raise AssertionError("the leases never went stale")


async def lines(process: Process, count: int) -> list[str]:
    return [await line(process) for _ in range(count)]


async def test_the_schema_is_created_once_and_versioned(journal_url: str) -> None:
    async with open_journal(journal_url), open_journal(journal_url):
        pass
    meta = dict(await query(journal_url, "SELECT key, value FROM prolific_journal_meta"))
    assert meta == {"kind": "prolific_async journal", "schema_version": "1"}
    await query(journal_url, "UPDATE prolific_journal_meta SET value='9' "
                             "WHERE key='schema_version'")
    with pytest.raises(pa.ConfigurationError, match="has schema version 9, this SDK writes 1"):
        async with open_journal(journal_url):
            pass  # pragma: no cover


async def test_a_database_whose_meta_table_is_not_ours_is_refused(journal_url: str) -> None:
    await query(journal_url, "CREATE TABLE prolific_journal_meta (key text, value text)")
    with pytest.raises(pa.ConfigurationError, match="did not write; it was left untouched"):
        async with open_journal(journal_url):
            pass  # pragma: no cover
    assert await query(journal_url, "SELECT count(*) FROM pg_tables WHERE tablename LIKE "
                                     "'prolific_journal_%'") == [(1,)]


async def test_an_unreachable_journal_names_the_url_without_its_password(
        postgres_url: str) -> None:
    url = postgres_url.replace("postgres@", "postgres:hunter2@").rsplit("/", 1)[0] + "/absent"
    with pytest.raises(pa.ConfigurationError) as caught:
        async with open_journal(url):
            pass  # pragma: no cover
    assert "cannot open journal postgresql://postgres:***@" in str(caught.value)
    assert "hunter2" not in str(caught.value)


async def test_records_survive_the_worker_like_the_sqlite_journal(journal_url: str) -> None:
    async with open_journal(journal_url) as journal:
        assert await journal.enter("p", {"dataset": "a"}) == pa.orchestration._journal.PlanRecord()
        await journal.set_id("p", "batch_id", "b1")
        await journal.begin("p", "batch_create")
        await journal.finish("p", "batch_create", 1.5)
        await journal.begin("p", "batch_setup")
        await journal.set_id("p", "export_id", "e1")
        await journal.forget("p", "export_id")
        await journal.forget("p", "never_set")
    async with open_journal(journal_url) as journal:
        # A study added to the plan since is not a change; a changed dataset is.
        record = await journal.enter("p", {"dataset": "a", "study": "s"})
        assert record.ids == {"batch_id": "b1"}
        assert record.stages == {"batch_create": "done", "batch_setup": "begun"}
        assert record.seconds == {"batch_create": 1.5}
        with pytest.raises(pa.PlanChangedError) as caught:
            await journal.add("p", {"dataset": "b", "study": "s"})
        assert caught.value.changed == ["dataset"]


async def test_a_plan_driven_by_a_live_worker_is_not_entered(journal_url: str) -> None:
    async with open_journal(journal_url) as first, open_journal(journal_url) as second:
        await first.enter("p", {})
        with pytest.raises(PlanLeasedError) as caught:
            await second.enter("p", {})
        assert caught.value.holder == first.worker
        assert await second.claim(10) == []
        await first.release("p", finished=False)
        assert await second.claim(10) == ["p"]
        await second.release("p", finished=True)
        # Finished: nobody claims it again.
        assert await first.claim(10) == []


async def test_three_worker_processes_split_the_plans_each_driven_once(
        journal_url: str) -> None:
    async with worker("split", journal_url, "60") as a, worker("split", journal_url, "60") as b, \
            worker("split", journal_url, "60") as c:
        workers = (a, b, c)
        assert [await line(p) for p in workers] == ["ready"] * 3
        driven = [0, 0, 0]
        # Rounds in which the three claim five plans each, at the same moment.
        while True:
            for p in workers:
                assert p.stdin is not None
                await p.stdin.send(b"claim\n")
            counts = [int((await line(p)).split()[1]) for p in workers]
            if not any(counts):
                break
            driven = [total + n for total, n in zip(driven, counts, strict=True)]
        for p in workers:
            assert p.stdin is not None
            await p.stdin.aclose()
        assert [await p.wait() for p in workers] == [0, 0, 0]
    assert driven == [20, 20, 20]
    drivers = await query(journal_url, "SELECT p.name, count(i.value), bool_and(p.finished) "
                                       "FROM prolific_journal_plans p JOIN prolific_journal_ids i "
                                       "ON i.plan = p.name GROUP BY p.name")
    assert len(drivers) == 60 and all(n == 1 and finished for _, n, finished in drivers)
    assert len({value for (value,) in await query(
        journal_url, "SELECT value FROM prolific_journal_ids")}) == 3
    # Every plan was leased once: the epochs never moved past the first lease.
    assert await query(journal_url, "SELECT max(epoch) FROM prolific_journal_plans") == [(1,)]


async def test_claims_skip_the_rows_another_worker_is_claiming(journal_url: str) -> None:
    import psycopg

    async with open_journal(journal_url) as journal:
        for n in range(4):
            await journal.add(f"p{n}", {})
        # Another worker's claim in flight holds p0 and p1 locked: this one takes the others
        # at once instead of waiting for it.
        async with await psycopg.AsyncConnection.connect(journal_url) as other:
            await other.execute("SELECT name FROM prolific_journal_plans WHERE name IN "
                                "('p0', 'p1') FOR UPDATE")
            with anyio.fail_after(10):
                assert await journal.claim(4) == ["p2", "p3"]
            await other.rollback()
        assert await journal.claim(4) == ["p0", "p1"]


async def test_a_killed_workers_leases_are_taken_over_after_the_timeout(
        journal_url: str) -> None:
    async with open_journal(journal_url + QUICK) as survivor:
        for n in range(3):
            await survivor.add(f"p{n}", {})
        async with worker("hold", journal_url + QUICK) as held:
            assert await line(held) == "held 3"
            assert await survivor.claim(3) == []
            held.kill()
            await held.wait()
        # Until taken over, `journal status` shows the dead worker's leases, then as stale.
        status = await pa.journal_status(journal_url)
        [dead] = [w.worker for w in status.workers if w.worker != survivor.worker]
        assert {p.holder for p in status.plans} == {dead}
        stale = await stale_status(journal_url)
        assert all(p.holder == dead and p.stale for p in stale.plans)
        assert [(w.worker, w.live, w.leases) for w in stale.workers] == [
            (survivor.worker, True, 0), (dead, False, 3)]
        shown = await anyio.to_thread.run_sync(  # the command runs its own event loop
            lambda: invoke(None, "journal", "status", "--journal", journal_url))
        assert shown.stdout.count("stale: another worker may take it over") == 3
        assert await survivor.claim(3) == ["p0", "p1", "p2"]
        waited = await query(journal_url, "SELECT min(now() - seen) >= interval '1 second' "
                                          "FROM prolific_journal_workers WHERE id <> "
                                          f"'{survivor.worker}'")
        assert waited == [(True,)]
        await survivor.set_id("p0", "batch_id", "b")
    assert await query(journal_url, "SELECT max(epoch) FROM prolific_journal_plans") == [(2,)]


@pytest.mark.skipif(not hasattr(signal, "SIGSTOP"), reason="needs SIGSTOP (POSIX)")
async def test_a_stopped_worker_notices_its_lost_leases_and_does_not_act(
        journal_url: str) -> None:
    async with open_journal(journal_url + QUICK) as taker:
        for n in range(2):
            await taker.add(f"p{n}", {})
        async with worker("hold", journal_url + QUICK) as stopped:
            assert stopped.stdin is not None
            assert await line(stopped) == "held 2"
            await stopped.stdin.send(b"before\n")
            assert sorted(await lines(stopped, 2)) == ["acted p0", "acted p1"]
            os.kill(stopped.pid, signal.SIGSTOP)
            try:
                assert await claim_after_expiry(taker, 2) == ["p0", "p1"]
            finally:
                os.kill(stopped.pid, signal.SIGCONT)
            # Its heartbeat finds the leases gone, without its trying to write...
            assert sorted(await lines(stopped, 2)) == ["noticed p0", "noticed p1"]
            # ...and a write it still tries is refused.
            await stopped.stdin.send(b"after\n")
            assert sorted(await lines(stopped, 2)) == ["lost p0", "lost p1"]
            await stopped.stdin.aclose()
            assert await stopped.wait() == 0
        await taker.set_id("p0", "batch_id", "b")
    acted = await query(journal_url, "SELECT value FROM prolific_journal_ids WHERE key='acted'")
    assert acted == [("before",), ("before",)]


async def test_a_worker_cut_off_from_the_database_past_its_timeout_gives_up_its_leases(
        journal_url: str) -> None:
    import psycopg

    async with open_journal(journal_url + QUICK) as cut_off:
        await cut_off.add("p", {})
        assert await cut_off.claim(1) == ["p"]
        # Its heartbeats cannot land while another session holds the workers table.
        async with await psycopg.AsyncConnection.connect(journal_url) as blocker:
            await blocker.execute("LOCK TABLE prolific_journal_workers IN ACCESS EXCLUSIVE MODE")
            with anyio.fail_after(30):
                await cut_off.lost("p").wait()
            await blocker.rollback()
        with pytest.raises(LeaseLostError):
            await cut_off.set_id("p", "batch_id", "b")


async def test_the_poll_budget_is_divided_between_live_workers(journal_url: str) -> None:
    shares: list[tuple[str, float]] = []
    changed = anyio.Event()

    def recorder(name: str) -> object:
        def apply(rate: float) -> None:
            shares.append((name, rate))
            changed.set()
        return apply

    async with open_journal(journal_url + QUICK) as first:
        await first.share_polls(120.0, recorder("first"))
        async with open_journal(journal_url + QUICK) as second:
            # The ceiling the first worker recorded wins over this one's.
            await second.share_polls(500.0, recorder("second"))
            assert shares[-1] == ("second", 60.0)
            with anyio.fail_after(30):
                while ("first", 60.0) not in shares:
                    changed = anyio.Event()
                    await changed.wait()
        # The second left: the first's next heartbeat takes the whole budget back.
        with anyio.fail_after(30):
            while shares[-1] != ("first", 120.0):
                changed = anyio.Event()
                await changed.wait()
        status = await first.status()
        assert status.poll_ceiling == 120.0
        assert [w.worker for w in status.workers] == [first.worker]
