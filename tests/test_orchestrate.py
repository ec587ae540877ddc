"""orchestrate: many plans end to end against the fake, isolated failures, events, resume."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest

import prolific_async as pa
from prolific_async.testing import FakeClock, FakeProlific

from .orchestration import (
    MONEY,
    PLACES,
    QUESTIONS,
    UNPAID,
    batches_named,
    client_for,
    plan,
    publishes_of,
    run_all,
    studies_of,
    submissions_in,
)

pytestmark = pytest.mark.anyio

ALL_STAGES = [stage.value for stage in UNPAID]
#: What a plan whose dataset is not a `pa.Feed` reports for each stage (the money aside).
NOT_FED = [(s, k) for s in ALL_STAGES
           for k in (("skipped",) if s == pa.Stage.FEED else ("started", "finished"))]


@pytest.fixture
async def fake() -> AsyncIterator[FakeProlific]:
    # Every request moves the clock 0.25 s: jobs finish as they are polled, with no waiting.
    async with FakeProlific(clock=FakeClock(speed=0, per_request=0.25), seed=3,
                            fail_names={"plan-bad"}) as server:
        yield server



async def test_fifty_plans_finish_with_ids_responses_and_exports(
        fake: FakeProlific, tmp_path: Path) -> None:
    plans = [plan(f"plan-{n:02d}", fake.workspace_id, tmp_path / "out") for n in range(50)]
    async with client_for(fake) as client:
        results, events = await run_all(client, plans, concurrency=50)

    assert [r.plan for r in results] == [p.name for p in plans]
    for result in results:
        assert result.error is None, result.error
        assert result.ok and result.stage is pa.Stage.DOWNLOAD
        # The ids are the server's, named after the plan, and wired together.
        assert batches_named(fake, result.plan) == [result.batch_id]
        batch = fake.world.owners[result.batch_id or ""]
        assert batch.dataset_id == result.dataset_id
        assert fake.world.datasets[result.dataset_id or ""].name == result.plan
        assert studies_of(fake, result.batch_id or "") == [result.study_id]
        study = fake.world.studies[result.study_id or ""]
        assert study.body["internal_name"] == result.plan
        assert publishes_of(fake, result.study_id or "") == 1
        # Each participant answers every question of one task (tasks_per_group=1).
        assert result.responses == PLACES * len(QUESTIONS)
        assert result.export_path is not None and result.export_path.parent == tmp_path / "out"
        assert submissions_in(result.export_path) == PLACES
        assert set(result.timings) == set(UNPAID) - {pa.Stage.FEED}
    assert len({r.batch_id for r in results}) == 50

    # Every plan reports every stage, started then finished, in pipeline order.
    by_plan: dict[str, list[pa.PipelineEvent]] = defaultdict(list)
    for event in events:
        by_plan[event.plan].append(event)
    for name, seen in by_plan.items():
        steps = [(e.stage.value, e.kind.value) for e in seen
                 if e.kind is not pa.EventKind.TRANSITION and e.stage not in MONEY]
        assert steps == NOT_FED, name
        ready = [e.transition.current for e in seen
                 if e.stage is pa.Stage.BATCH_READY and e.transition is not None]
        assert ready[-1] == "READY"
        assert [e.elapsed for e in seen] == sorted(e.elapsed for e in seen)


async def test_a_failing_dataset_fails_its_plan_alone(fake: FakeProlific, tmp_path: Path) -> None:
    plans = [plan(name, fake.workspace_id, tmp_path, wait=False)
             for name in ("plan-a", "plan-bad", "plan-c")]
    async with client_for(fake) as client:
        results, events = await run_all(client, plans)

    ok = {r.plan: r for r in results if r.ok}
    assert set(ok) == {"plan-a", "plan-c"}
    [bad] = [r for r in results if not r.ok]
    assert bad.plan == "plan-bad" and bad.stage is pa.Stage.DATASET_READY
    assert isinstance(bad.error, pa.ResourceFailed) and bad.error.status == "ERROR"
    assert bad.dataset_id is not None and bad.batch_id is None
    assert batches_named(fake, "plan-bad") == []
    [failed] = [e for e in events if e.kind is pa.EventKind.FAILED]
    assert failed.plan == "plan-bad" and failed.error is bad.error
    assert all(r.export_path is not None for r in ok.values())


async def test_optional_stages_are_skipped_with_a_reason(fake: FakeProlific) -> None:
    plans = [plan("no-study", fake.workspace_id, study=None),
             plan("unpublished", fake.workspace_id, publish=False)]
    async with client_for(fake) as client:
        results, events = await run_all(client, plans)
    assert all(r.ok for r in results)
    skipped = {(e.plan, e.stage.value): e.message for e in events
               if e.kind is pa.EventKind.SKIPPED}
    assert skipped == {
        ("no-study", "study_create"): "no study in the plan",
        ("no-study", "study_publish"): "publish=False",
        ("no-study", "feed"): "not a feed",
        ("no-study", "responses"): "no wait_for",
        ("no-study", "export"): "no export_to",
        ("no-study", "download"): "no export_to",
        ("unpublished", "study_publish"): "publish=False",
        ("unpublished", "feed"): "not a feed",
        ("unpublished", "responses"): "no wait_for",
        ("unpublished", "export"): "no export_to",
        ("unpublished", "download"): "no export_to",
        **{(name, stage.value): reason for name in ("no-study", "unpublished")
           for stage, reason in zip(MONEY, ["approve=None: left for a person"] * 2
                                    + ["no bonus in the plan"] * 2, strict=True)},
    }
    no_study, unpublished = results
    assert no_study.study_id is None and no_study.responses is None
    study = fake.world.studies[unpublished.study_id or ""]
    assert study.status == "UNPUBLISHED"


async def test_dataset_sources(fake: FakeProlific, tmp_path: Path) -> None:
    csv = tmp_path / "reviews.csv"
    csv.write_text("prompt,response\np1,r1\np2,r2\np3,r3\n")
    async with client_for(fake) as client:
        existing = await client.datasets.create(name="existing", workspace_id=fake.workspace_id)
        await client.datasets.upload(existing.id, csv)
        plans = [
            plan("from-csv", fake.workspace_id, dataset=csv, study=None),
            plan("from-rows", fake.workspace_id, dataset=[{"a": "1"}, {"a": "2", "b": "x"}],
                 study=None),
            plan("from-existing", fake.workspace_id, dataset=pa.ExistingDataset(existing.id),
                 study=None),
        ]
        results, events = await run_all(client, plans)
    assert all(r.ok for r in results), [r.error for r in results]
    from_csv, from_rows, from_existing = results
    assert len(fake.world.datasets[from_csv.dataset_id or ""].rows) == 3
    assert fake.world.datasets[from_rows.dataset_id or ""].rows == [
        {"a": "1", "b": ""}, {"a": "2", "b": "x"}]
    assert from_existing.dataset_id == existing.id
    assert len(fake.world.owners[from_existing.batch_id or ""].tasks) == 3
    assert [(e.stage.value, e.message) for e in events
            if e.plan == "from-existing" and e.kind is pa.EventKind.SKIPPED][:2] == [
        ("dataset_create", "an existing dataset"), ("dataset_upload", "an existing dataset")]


async def test_plans_sharing_a_file_check_it_once_and_a_bad_one_fails_each_before_creating(
        fake: FakeProlific, tmp_path: Path) -> None:
    good, empty = tmp_path / "good.csv", tmp_path / "empty.csv"
    good.write_text("prompt,response\np1,r1\n")
    empty.write_text("")
    async with client_for(fake) as client:
        checked: list[Path] = []
        check = client.datasets.check_upload

        async def counted(path: Path, *, filename: str | None = None) -> None:
            checked.append(path)
            await check(path, filename=filename)

        client.datasets.check_upload = counted  # type: ignore[method-assign]
        plans = [plan(f"good-{n}", fake.workspace_id, dataset=good, study=None)
                 for n in range(4)]
        plans += [plan(f"empty-{n}", fake.workspace_id, dataset=empty, study=None)
                  for n in range(2)]
        results, _ = await run_all(client, plans)
    assert [r.ok for r in results] == [True] * 4 + [False] * 2
    for refused in results[4:]:
        assert isinstance(refused.error, ValueError) and "is empty" in str(refused.error)
        assert refused.dataset_id is None and refused.stage is pa.Stage.DATASET_CREATE
    assert len(fake.world.datasets) == 4  # none for the refused file
    # One check of the good file for its four plans; the empty one, each plan its own.
    assert checked.count(good) == 1 and checked.count(empty) == 2


async def test_a_run_waited_for_makes_no_events_once_waited_for(
        fake: FakeProlific, monkeypatch: pytest.MonkeyPatch) -> None:
    # `run.wait()` discards the events: from then on the plans do not make them (a thousand
    # plans made ~32,000 only to be thrown away). Events read before it were real ones.
    from prolific_async.orchestration import _pipeline

    made: list[pa.PipelineEvent] = []

    class Counted(pa.PipelineEvent):
        def __init__(self, **fields: Any) -> None:
            super().__init__(**fields)
            made.append(self)

    monkeypatch.setattr(_pipeline, "PipelineEvent", Counted)
    async with client_for(fake) as client:
        plans = [plan(f"quiet-{n}", fake.workspace_id, study=None) for n in range(3)]
        async with pa.orchestrate(client, plans) as run:
            first = await run.__anext__()
            seen = len(made)
            results = await run.wait()
        assert [r.ok for r in results] == [True] * 3
        assert first.kind is pa.EventKind.STARTED and seen >= 1
        assert len(made) == seen  # none made after wait()
        # Iterated, a run streams every stage's start and end.
        async with pa.orchestrate(client, [plan("loud", fake.workspace_id, study=None)]) as run:
            events = [event async for event in run]
    assert len(events) >= 2 * 5 and len(made) > seen


async def test_layout_is_sent_as_given(fake: FakeProlific) -> None:
    layout = [pa.BatchPage(rows=[pa.BatchRow(columns=[
        pa.BatchColumn(items=[pa.RichText(content="<p>Read</p>")]),
        pa.BatchColumn(items=[pa.FreeText(description="Why?")]),
    ])])]
    async with client_for(fake) as client:
        results, _ = await run_all(client, [plan("laid-out", fake.workspace_id, study=None,
                                                 instructions=None, layout=layout)])
    [result] = results
    sent = fake.world.owners[result.batch_id or ""].body["batch_items"]
    assert [len(row["columns"]) for row in sent[0]["rows"]] == [2]
    assert sent[0]["rows"][0]["columns"][1]["items"][0]["type"] == "free_text"


async def test_wait_for_a_number_of_submissions(fake: FakeProlific) -> None:
    study = pa.StudyPlan(description="d", reward=10, places=5, estimated_minutes=1,
                         publish=True, wait_for=2)
    async with client_for(fake) as client:
        results, events = await run_all(client, [plan("two", fake.workspace_id, study=study)])
    [result] = results
    assert result.ok, result.error
    # At least the two submissions waited for (the clock may have let a third in since).
    assert result.responses is not None and result.responses >= 2 * len(QUESTIONS)
    progress = [e.transition.current for e in events
                if e.stage is pa.Stage.RESPONSES and e.transition is not None]
    assert progress[0].endswith(" of 2 submitted") or progress[0] == "AWAITING REVIEW"
    assert progress[-1] in ("ACTIVE: 2 of 2 submitted", "AWAITING REVIEW")


async def test_bad_arguments_are_refused_before_anything_runs(fake: FakeProlific) -> None:
    async with client_for(fake) as client:
        twins = [plan("same", fake.workspace_id), plan("same", fake.workspace_id)]
        with pytest.raises(ValueError, match="two plans are named 'same'"):
            async with pa.orchestrate(client, twins):
                pass
        with pytest.raises(ValueError, match="concurrency"):
            async with pa.orchestrate(client, [], concurrency=0):
                pass
    assert fake.requests_to("POST") == []


async def test_concurrency_bounds_plans_in_flight(fake: FakeProlific) -> None:
    plans = [plan(f"c-{n}", fake.workspace_id, study=None) for n in range(6)]
    running: set[str] = set()
    most = 0
    async with client_for(fake) as client:
        async with pa.orchestrate(client, plans, concurrency=2) as run:
            async for event in run:
                if event.stage is pa.Stage.DATASET_CREATE and event.kind is pa.EventKind.STARTED:
                    running.add(event.plan)
                if event.stage is pa.Stage.DOWNLOAD:
                    running.discard(event.plan)
                most = max(most, len(running))
    assert most == 2
    assert all(r.ok for r in run.results)


def sdk_tasks() -> list[asyncio.Task[object]]:
    return [t for t in asyncio.all_tasks() if t.get_name().startswith("prolific_async.")
            and not t.get_name().startswith("prolific_async.testing")]


async def test_leaving_early_cancels_everything_and_the_journal_resumes(
        fake: FakeProlific, tmp_path: Path) -> None:
    plans = [plan(f"early-{n}", fake.workspace_id, tmp_path / "out") for n in range(5)]
    journal = tmp_path / "run.db"
    async with client_for(fake) as client:
        async with pa.orchestrate(client, plans, journal=journal) as run:
            async for event in run:
                if event.stage is pa.Stage.BATCH_SETUP and event.kind is pa.EventKind.FINISHED:
                    break
        assert sdk_tasks() == []
        cancelled = [r for r in run.results if isinstance(r.error, pa.PlanCancelled)]
        assert cancelled and "rerun with the same journal" in str(cancelled[0].error)

        results, events = await run_all(client, plans, journal=journal)
    assert all(r.ok for r in results), [r.error for r in results]
    for result in results:
        assert batches_named(fake, result.plan) == [result.batch_id]
        assert studies_of(fake, result.batch_id or "") == [result.study_id]
        assert publishes_of(fake, result.study_id or "") == 1
    assert any(e.kind is pa.EventKind.SKIPPED and e.message == "done in an earlier run"
               for e in events)


async def test_cancelling_from_outside_leaves_no_task(fake: FakeProlific, tmp_path: Path) -> None:
    """As Ctrl-C does: the task running the block is cancelled while plans are mid-flight."""
    plans = [plan(f"outside-{n}", fake.workspace_id) for n in range(5)]
    midway = anyio.Event()

    async def consume(client: pa.Prolific) -> None:
        async with pa.orchestrate(client, plans, journal=tmp_path / "j.db") as run:
            async for event in run:
                if event.stage is pa.Stage.BATCH_READY:
                    midway.set()

    async with client_for(fake) as client:
        async with anyio.create_task_group() as group:
            group.start_soon(consume, client)
            await midway.wait()
            group.cancel_scope.cancel()
        assert sdk_tasks() == []
        # The journal was closed: it opens again at once, and the run resumes.
        async with pa.orchestrate(client, plans, journal=tmp_path / "j.db") as again:
            results = await again.wait()
    assert all(r.ok for r in results)
    for result in results:
        assert batches_named(fake, result.plan) == [result.batch_id]


async def test_a_finished_run_rerun_skips_everything(fake: FakeProlific, tmp_path: Path) -> None:
    plans = [plan("once", fake.workspace_id, tmp_path)]
    async with client_for(fake) as client:
        first, _ = await run_all(client, plans, journal=tmp_path / "j.db")
        posts = len(fake.requests_to("POST"))
        second, events = await run_all(client, plans, journal=tmp_path / "j.db")
    assert len(fake.requests_to("POST")) == posts
    assert {(e.kind.value, e.message) for e in events if e.stage not in MONEY} == {
        ("skipped", "done in an earlier run"), ("skipped", "not a feed")}
    [a], [b] = first, second
    assert (a.dataset_id, a.batch_id, a.study_id, a.export_path, a.responses) == (
        b.dataset_id, b.batch_id, b.study_id, b.export_path, b.responses)
    assert b.ok and set(b.timings) == set(UNPAID) - {pa.Stage.FEED}


async def test_events_print_readably(fake: FakeProlific) -> None:
    async with client_for(fake) as client:
        _, events = await run_all(client, [plan("shown", fake.workspace_id, study=None)])
    lines = [str(e) for e in events]
    assert any(line.endswith("shown: batch_ready transition (PROCESSING -> READY)")
               for line in lines), lines
    assert any("shown: export skipped (no export_to)" in line for line in lines)


def test_the_readme_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    import re

    readme = (Path(__file__).parent.parent / "README.md").read_text()
    [code] = re.findall(r"<!-- readme-test: orchestrate -->\n```python\n(.*?)```", readme,
                        re.DOTALL)
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), {"__name__": "readme"})
    lines = capsys.readouterr().out.splitlines()
    # 2 participants, each answering the one question for a group of 2 tasks.
    assert len(lines) == 5 and all(" ok 4 responses in exports/" in line for line in lines), lines
    assert len(list((tmp_path / "exports").glob("*.zip"))) == 5


def test_waits_are_paced_by_the_waits_under_way() -> None:
    from contextlib import ExitStack

    from prolific_async.orchestration._pacing import Pacer

    base = pa.PollPolicy(initial=0.25, ceiling=15, deadline=600)
    pacer = Pacer(base, rate=100)
    assert pacer.policy() is base
    with ExitStack() as stack:
        for _ in range(20):
            stack.enter_context(pacer.waiting())
        assert pacer.policy() is base  # 20 waits at 100/s: the client's own cadence is slower
        for _ in range(980):
            stack.enter_context(pacer.waiting())
        paced = pacer.policy()
        assert (paced.initial, paced.ceiling, paced.deadline) == (10.0, 15, 600)
    assert pacer.waits == 0 and pacer.policy() is base
    with pytest.raises(ValueError, match="poll_rate must be > 0"):
        Pacer(base, rate=0)


def test_by_default_waits_are_paced_by_the_clients_adaptive_rate() -> None:
    from contextlib import ExitStack

    from prolific_async.orchestration._pacing import Pacer

    base = pa.PollPolicy(initial=0.25, ceiling=15, deadline=600)
    rate = [500.0]
    pacer = Pacer(base, rate=lambda: rate[0])
    with ExitStack() as stack:
        for _ in range(1000):
            stack.enter_context(pacer.waiting())
        assert pacer.policy().initial == 2.0  # 1,000 waits at 500 polls/s
        rate[0] = 250.0  # a 429 halved the client's rate: every new wait slows with it
        assert pacer.policy().initial == 4.0


async def test_a_run_leaves_the_clients_rate_adaptive_unless_given_a_fixed_one(
        tmp_path: Path) -> None:
    async with FakeProlific(clock=FakeClock(speed=0, per_request=0.25), seed=4) as fake, \
            client_for(fake) as client:
        caps: list[float | None] = []
        for poll_rate in (None, 40.0):
            async with pa.orchestrate(client, [plan(f"p{poll_rate}", fake.workspace_id)],
                                      poll_rate=poll_rate) as run:
                async for _ in run:
                    caps.append(client.max_poll_rate)
            assert all(r.ok for r in run.results)
        assert client.max_poll_rate is None  # given back after each run
        assert set(caps) == {None, 40.0}
        assert client.poll_rate == 500.0  # no 429 met: the adaptive rate is where it started
        with pytest.raises(ValueError, match="poll_rate must be a number > 0 or None"):
            async with pa.orchestrate(client, [], poll_rate=0):
                pass
