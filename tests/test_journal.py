"""The journal: what it records, who may open it, and plans whose inputs changed."""

from __future__ import annotations

import asyncio
import sqlite3
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import closing
from pathlib import Path

import anyio
import pytest

import prolific_async as pa
from prolific_async.testing import FakeClock, FakeProlific

from .orchestration import DETAILS, UNPAID, batches_named, client_for, plan

pytestmark = pytest.mark.anyio


@pytest.fixture
async def fake() -> AsyncIterator[FakeProlific]:
    async with FakeProlific(clock=FakeClock(speed=0, per_request=0.25), seed=4) as server:
        yield server


async def run_all(client: pa.Prolific, plans: list[pa.BatchPlan], journal: Path
                  ) -> list[pa.PlanResult]:
    async with pa.orchestrate(client, plans, journal=journal) as run:
        return await run.wait()


def read(journal: Path, sql: str) -> list[tuple[object, ...]]:
    # closing(): sqlite3's own context manager commits but never closes (a ResourceWarning,
    # an error under filterwarnings=error, from Python 3.13).
    with closing(sqlite3.connect(journal)) as db:
        return list(db.execute(sql))


async def test_ids_and_stages_are_recorded(fake: FakeProlific, tmp_path: Path) -> None:
    journal = tmp_path / "run.db"
    async with client_for(fake) as client:
        [result] = await run_all(client, [plan("kept", fake.workspace_id, tmp_path)], journal)
    ids = dict(read(journal, "SELECT key, value FROM ids WHERE plan='kept'"))
    assert ids == {"dataset_id": result.dataset_id, "batch_id": result.batch_id,
                   "study_id": result.study_id, "export_id": ids["export_id"],
                   "export_path": str(result.export_path), "responses": str(result.responses),
                   "wait_for": "complete", "finished": "1"}
    stages = dict(read(journal, "SELECT stage, state FROM stages WHERE plan='kept'"))
    # Every stage but the feed (this plan has a file, not a pa.Feed) and the money stages.
    assert stages == {stage.value: "done" for stage in UNPAID if stage is not pa.Stage.FEED}
    assert fake.token.encode() not in journal.read_bytes()


async def test_a_second_run_on_the_same_journal_is_refused(fake: FakeProlific,
                                                           tmp_path: Path) -> None:
    journal = tmp_path / "run.db"
    async with client_for(fake) as client:
        async with pa.orchestrate(client, [], journal=journal):
            with pytest.raises(pa.JournalInUseError, match="is in use by another run"):
                async with pa.orchestrate(client, [], journal=journal):
                    pass  # pragma: no cover
        # Free again once the first run has ended.
        async with pa.orchestrate(client, [], journal=journal) as run:
            assert await run.wait() == []


async def test_a_journal_held_by_another_process_is_refused(fake: FakeProlific,
                                                           tmp_path: Path) -> None:
    journal = tmp_path / "run.db"
    holder = ("import sys, anyio\n"
              "from prolific_async.orchestration._journal import Journal\n"
              "async def main():\n"
              "    journal = await Journal.open(sys.argv[1])\n"
              "    print('open', flush=True)\n"
              "    sys.stdin.read()\n"
              "    await journal.aclose()\n"
              "anyio.run(main)\n")
    async with await anyio.open_process([sys.executable, "-c", holder, str(journal)]) as child:
        assert child.stdout is not None and child.stdin is not None
        assert (await child.stdout.receive()).strip() == b"open"
        async with client_for(fake) as client:
            with pytest.raises(pa.JournalInUseError) as caught:
                async with pa.orchestrate(client, [plan("p", fake.workspace_id)],
                                          journal=journal):
                    pass  # pragma: no cover
            assert str(journal) in str(caught.value)
            await child.stdin.aclose()
            assert await child.wait() == 0
            # The holder is gone: the journal is ours now.
            async with pa.orchestrate(client, [], journal=journal) as run:
                await run.wait()
    assert fake.requests_to("POST") == []


async def test_a_changed_plan_fails_alone(fake: FakeProlific, tmp_path: Path) -> None:
    journal = tmp_path / "run.db"
    csv = tmp_path / "data.csv"
    csv.write_text("prompt\np1\np2\n")
    plans = [plan("a", fake.workspace_id, study=None), plan("b", fake.workspace_id, study=None),
             plan("c", fake.workspace_id, study=None, dataset=csv)]
    async with client_for(fake) as client:
        await run_all(client, plans, journal)
        csv.write_text("prompt\np1\np2\np3\n")
        changed = [
            plan("a", fake.workspace_id, study=None, task_details=pa.TaskDetails(
                task_name="Other", task_introduction=DETAILS.task_introduction,
                task_steps=DETAILS.task_steps)),
            # Only what steers the run changed: it carries on (and now exports).
            plan("b", fake.workspace_id, tmp_path / "out", study=None),
            plans[2],
        ]
        a, b, c = await run_all(client, changed, journal)
    assert isinstance(a.error, pa.PlanChangedError) and a.error.changed == ["task_details"]
    assert "plan 'a' changed since the journal recorded it (task_details)" in str(a.error)
    assert b.ok and b.export_path is not None
    assert isinstance(c.error, pa.PlanChangedError) and c.error.changed == ["dataset"]
    # Nothing was created for the changed plans.
    assert len(batches_named(fake, "a")) == 1 and len(batches_named(fake, "c")) == 1


async def test_a_file_that_is_not_a_journal(fake: FakeProlific, tmp_path: Path) -> None:
    bogus = tmp_path / "notes.txt"
    bogus.write_text("these are not the droids\n" * 100)
    async with client_for(fake) as client:
        with pytest.raises(pa.ConfigurationError, match="is not a prolific_async journal"):
            async with pa.orchestrate(client, [], journal=bogus):
                pass  # pragma: no cover


async def test_writes_made_at_once_all_land_and_a_failing_one_fails_alone(
        tmp_path: Path) -> None:
    # A thousand plans write together, and the journal carries waiting writes to its thread
    # in groups: each write must still land, in order, and an error reach only its caller.
    from prolific_async.orchestration._journal import Journal

    path = tmp_path / "run.db"
    journal = await Journal.open(path)
    try:
        await journal.enter("p0", {"inputs": "a"})
        failures: list[BaseException] = []

        async def one(n: int) -> None:
            await journal.set_id(f"p{n}", "batch", f"b{n}")
            await journal.set_id(f"p{n}", "batch", f"b{n}-again")  # the later write wins

        async def changed() -> None:
            try:
                await journal.enter("p0", {"inputs": "b"})
            except pa.PlanChangedError as exc:
                failures.append(exc)

        await one_more_among(one, 200, changed, at=100)
    finally:
        await journal.aclose()
    assert len(failures) == 1
    assert sorted(read(path, "SELECT plan, value FROM ids WHERE key='batch'")) == sorted(
        (f"p{n}", f"b{n}-again") for n in range(200))


async def test_a_failing_write_undoes_only_its_own_statements_and_each_trip_commits(
        tmp_path: Path) -> None:
    # A trip to the thread is one transaction: a call that fails half-way must leave nothing
    # of itself, the others in the trip must land, and no caller goes on before the commit.
    from prolific_async.orchestration._journal import Journal

    path = tmp_path / "run.db"
    journal = await Journal.open(path)
    open_after: list[bool] = []

    def half_then_fail() -> None:
        journal._execute("INSERT OR REPLACE INTO ids VALUES (?, ?, ?)", ("bad", "batch", "x"))
        raise ValueError("half-way")

    async def good(n: int) -> None:
        await journal.begin(f"p{n}", "dataset_create")  # a write its caller waits for
        open_after.append(journal._db.in_transaction)

    async def bad() -> None:
        with pytest.raises(ValueError, match="half-way"):
            await journal._run(half_then_fail)

    try:
        await one_more_among(good, 20, bad, at=10)
    finally:
        await journal.aclose()
    assert open_after == [False] * 20
    assert read(path, "SELECT plan FROM ids") == []
    assert sorted(read(path, "SELECT plan FROM stages")) == sorted(
        (f"p{n}",) for n in range(20))


async def test_a_failing_single_statement_undoes_itself_without_a_savepoint(
        tmp_path: Path) -> None:
    # One statement (every write of a run's stages and ids) runs without a savepoint of its
    # own: SQLite undoes a failing statement whole, even one that had written a row already.
    import sqlite3

    from prolific_async.orchestration._journal import Journal

    path = tmp_path / "run.db"
    journal = await Journal.open(path)

    async def good(n: int) -> None:
        await journal.begin(f"p{n}", "dataset_create")

    async def bad() -> None:
        with pytest.raises(sqlite3.IntegrityError):  # its second row repeats the first's key
            await journal._run(journal._execute,
                               "INSERT INTO ids VALUES (?, 'batch', 'b1'), (?, 'batch', 'b2')",
                               ("twice", "twice"))

    try:
        await one_more_among(good, 20, bad, at=10)
    finally:
        await journal.aclose()
    assert read(path, "SELECT plan FROM ids") == []
    assert len(read(path, "SELECT plan FROM stages")) == 20


async def one_more_among(each: Callable[[int], Awaitable[None]], count: int,
                         extra: Callable[[], Awaitable[None]], *, at: int) -> None:
    """``each(n)`` for ``count`` tasks at once, and ``extra()`` started among them."""
    async with anyio.create_task_group() as group:
        for n in range(count):
            group.start_soon(each, n)
            if n == at:
                group.start_soon(extra)


async def test_writes_nobody_waits_for_land_and_their_errors_reach_their_plan(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Ids and finished stages only save requests: the pipeline does not wait for them. They
    # must still land (with no awaited write to carry them), before the journal closes, and
    # a failure must stop the plan at its next awaited write, not vanish.
    from prolific_async.orchestration._journal import Journal

    path = tmp_path / "run.db"
    journal = await Journal.open(path)
    try:
        await journal.set_id("p1", "batch", "b1")
        await journal.finish("p1", "dataset_create", 1.5)
        record, _ = await journal.peek("p1")  # read after them, in call order
        assert record.ids == {"batch": "b1"} and record.seconds == {"dataset_create": 1.5}

        def refuse(sql: str, args: tuple[object, ...]) -> None:
            raise sqlite3.OperationalError("disk I/O error")

        monkeypatch.setattr(journal, "_execute", refuse)
        await journal.set_id("p2", "batch", "b2")  # returns: nobody waits for it
        monkeypatch.undo()
        await journal.set_id("p3", "batch", "b3")
        carriers = set(journal._carriers)  # carried with no awaited write behind them
        assert carriers
        with anyio.fail_after(10):
            await asyncio.wait(carriers)
        with pytest.raises(sqlite3.OperationalError, match="disk I/O"):
            await journal.begin("p2", "study_create")
        await journal.begin("p3", "study_create")  # another plan's writes are unharmed
    finally:
        await journal.aclose()
    assert sorted(read(path, "SELECT plan, value FROM ids")) == [("p1", "b1"), ("p3", "b3")]


async def test_a_write_nobody_waits_for_made_during_a_trip_lands_with_no_later_write(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A trip under way took its calls already; a write posted meanwhile must not wait for
    # some later awaited write (a plan may then wait on its study for hours).
    import threading

    from prolific_async.orchestration import _journal
    from prolific_async.orchestration._journal import Journal

    path = tmp_path / "run.db"
    journal = await Journal.open(path)
    release = threading.Event()
    real = _journal._run_calls

    def held(db: object, calls: list[object]) -> None:
        release.wait(10)
        real(db, calls)  # type: ignore[arg-type]

    monkeypatch.setattr(_journal, "_run_calls", held)
    try:
        async with anyio.create_task_group() as group:
            group.start_soon(journal.begin, "p1", "dataset_create")
            await anyio.wait_all_tasks_blocked()  # its trip is in the thread, held
            await journal.set_id("p1", "dataset_id", "d1")
            release.set()
        with anyio.fail_after(10):
            await asyncio.wait(set(journal._carriers))
        assert journal._waiting == []
    finally:
        monkeypatch.undo()
        await journal.aclose()
    assert read(path, "SELECT value FROM ids") == [("d1",)]


async def test_a_write_cancelled_from_outside_still_lands(tmp_path: Path) -> None:
    from prolific_async.orchestration._journal import Journal

    path = tmp_path / "run.db"
    journal = await Journal.open(path)
    try:
        with anyio.CancelScope() as scope:
            async with anyio.create_task_group() as group:
                for n in range(50):
                    group.start_soon(journal.set_id, f"p{n}", "batch", f"b{n}")
                await anyio.lowlevel.checkpoint()  # every write has joined the queue
                scope.cancel()
    finally:
        await journal.aclose()
    assert len(read(path, "SELECT plan FROM ids")) == 50


async def test_a_broken_trip_to_the_thread_fails_each_write_it_took_and_none_waits_forever(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from prolific_async.orchestration import _journal
    from prolific_async.orchestration._journal import Journal

    class Broke(BaseException):
        pass

    trips: list[object] = []
    real = _journal._run_calls

    def broken(db: object, calls: list[object]) -> None:
        trips.append(calls)
        if len(trips) == 2:  # the trip taking the writes that queued behind the first
            raise Broke
        real(db, calls)  # type: ignore[arg-type]

    journal = await Journal.open(tmp_path / "run.db")
    ended: list[type[BaseException]] = []

    async def one(n: int) -> None:
        try:
            await journal.begin(f"p{n}", "dataset_create")  # a write its caller waits for
        except (Broke, RuntimeError) as exc:
            ended.append(type(exc))

    monkeypatch.setattr(_journal, "_run_calls", broken)
    try:
        with anyio.fail_after(10):
            async with anyio.create_task_group() as group:
                for n in range(5):
                    group.start_soon(one, n)
    finally:
        monkeypatch.undo()
        await journal.aclose()
    assert len(trips[1]) > 1  # type: ignore[arg-type]
    assert sorted(map(str, ended)) == sorted(map(str, [Broke] + [RuntimeError] * (
        len(trips[1]) - 1)))  # type: ignore[arg-type]
