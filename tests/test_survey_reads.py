"""The run's shared lists: one read serves everyone who asked meanwhile, a fresh look never
takes an answer read before it asked, and a failed read is not handed on."""

from __future__ import annotations

from functools import partial

import anyio
import pytest

import prolific_async as pa
from prolific_async.orchestration._shared_reads import SharedReads
from prolific_async.orchestration._survey import Survey
from prolific_async.testing import FakeClock, FakeProlific

from .orchestration import client_for

pytestmark = pytest.mark.anyio


async def test_a_thousand_lookups_at_once_share_one_list_and_each_finds_its_own() -> None:
    async with FakeProlific(clock=FakeClock(speed=0)) as fake, client_for(fake) as client:
        data = await client.datasets.create(name="d", workspace_id=fake.workspace_id)
        made = [await client.batches.create(
            name=f"b{n}", workspace_id=fake.workspace_id, dataset_id=data.id,
            task_details=pa.TaskDetails(task_name="t", task_introduction="i", task_steps="s"))
            for n in range(3)]
        survey = Survey(client)
        found: dict[str, str | None] = {}

        async def look(name: str) -> None:
            batch = await survey.batch(name, workspace_id=fake.workspace_id)
            found[name] = batch.id if batch is not None else None

        listed_before = len(fake.requests_to("GET", "*/batches"))
        async with anyio.create_task_group() as group:
            for n in range(1000):
                group.start_soon(look, f"b{n}")
        assert len(fake.requests_to("GET", "*/batches")) - listed_before == 1
    assert [found[f"b{n}"] for n in range(3)] == [b.id for b in made]
    assert sum(value is None for value in found.values()) == 997


async def test_a_fresh_look_waits_for_a_read_begun_after_it_asked() -> None:
    reads = SharedReads()
    answers: list[int] = []
    release = anyio.Event()

    async def read() -> None:
        answers.append(len(answers) + 1)
        if len(answers) == 1:
            await release.wait()  # the first read is under way when the fresh look comes

    async with anyio.create_task_group() as group:
        group.start_soon(partial(reads.run, "k", read, fresh=False))
        await anyio.wait_all_tasks_blocked()
        seen: list[int] = []

        async def fresh() -> None:
            await reads.run("k", read, fresh=True)
            seen.append(answers[-1])

        async def shared() -> None:  # a plain look shares whatever read is under way
            await reads.run("k", read, fresh=False)

        for _ in range(5):
            group.start_soon(fresh)
            group.start_soon(shared)
        await anyio.wait_all_tasks_blocked()
        release.set()
    # The first read, then one more for all five fresh looks (begun after they asked).
    assert answers == [1, 2] and seen == [2] * 5


async def test_a_failed_read_is_not_shared_the_next_waiter_reads_for_itself() -> None:
    reads = SharedReads()
    calls: list[str] = []
    release = anyio.Event()

    async def failing() -> None:
        calls.append("failing")
        await release.wait()
        raise RuntimeError("list failed")

    async def working() -> None:
        calls.append("working")

    errors: list[BaseException] = []

    async def first() -> None:
        try:
            await reads.run("k", failing, fresh=False)
        except RuntimeError as exc:
            errors.append(exc)

    async with anyio.create_task_group() as group:
        group.start_soon(first)
        await anyio.wait_all_tasks_blocked()
        for _ in range(3):
            group.start_soon(partial(reads.run, "k", working, fresh=False))
        await anyio.wait_all_tasks_blocked()
        release.set()
    assert [str(e) for e in errors] == ["list failed"]
    assert calls == ["failing", "working"]  # one of the three read again, the others shared
