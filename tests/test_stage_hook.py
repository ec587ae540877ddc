"""``orchestrate(on_stage=...)``: a context manager around each plan and each of its stages,
told how each ended and which ids it created or adopted."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

import prolific_async as pa
from prolific_async.testing import FakeClock, FakeProlific

from .orchestration import MONEY, client_for, plan, run_all

pytestmark = pytest.mark.anyio


@pytest.fixture
async def fake() -> AsyncIterator[FakeProlific]:
    # Every request moves the clock 0.25 s: jobs finish as they are polled, with no waiting.
    async with FakeProlific(clock=FakeClock(speed=0, per_request=0.25), seed=3,
                            fail_names={"plan-bad"}) as server:
        yield server


class Recorder:
    """An ``on_stage`` hook keeping each `StageRun` as it was entered and as it ended."""

    def __init__(self, *, swallow: bool = False) -> None:
        self.entered: list[tuple[str, pa.Stage | None, str | None]] = []
        self.ended: list[pa.StageRun] = []
        self.swallow = swallow

    @contextlib.contextmanager
    def __call__(self, run: pa.StageRun) -> Iterator[None]:
        self.entered.append((run.plan, run.stage, run.outcome))
        try:
            yield
        except Exception:
            if not self.swallow:
                raise
        finally:
            self.ended.append(run)

    def of(self, name: str) -> tuple[pa.StageRun, dict[pa.Stage, pa.StageRun]]:
        """The plan's own run and its stages' runs."""
        [whole] = [r for r in self.ended if r.plan == name and r.stage is None]
        stages = {r.stage: r for r in self.ended if r.plan == name and r.stage is not None}
        return whole, stages


async def test_each_plan_and_stage_is_wrapped_and_told_its_outcome_and_ids(
        fake: FakeProlific, tmp_path: Path) -> None:
    hook = Recorder()
    plans = [plan(name, fake.workspace_id, tmp_path, wait=False)
             for name in ("plan-ok", "plan-bad")]
    async with client_for(fake) as client:
        results, _ = await run_all(client, plans, on_stage=hook)
    ok, bad = results

    # Entered before it ran (nothing known yet), the plan first, then its stages in order.
    entered = [(stage, outcome) for name, stage, outcome in hook.entered if name == "plan-ok"]
    assert entered == [(None, None), *((stage, None) for stage in pa.Stage)]
    whole, stages = hook.of("plan-ok")
    assert whole.outcome == "done" and whole.error is None
    assert whole.ids == {"dataset_id": ok.dataset_id, "batch_id": ok.batch_id,
                         "study_id": ok.study_id, "export_id": whole.ids["export_id"]}
    assert whole.created == set(whole.ids)
    # Each stage reports the id it made, and only that.
    assert stages[pa.Stage.DATASET_CREATE].ids == {"dataset_id": ok.dataset_id}
    assert stages[pa.Stage.BATCH_CREATE].ids == {"batch_id": ok.batch_id}
    assert stages[pa.Stage.BATCH_CREATE].created == {"batch_id"}
    assert stages[pa.Stage.STUDY_CREATE].ids == {"study_id": ok.study_id}
    assert stages[pa.Stage.BATCH_READY].ids == {}
    # Stages the plan does not ask for are skipped, with the reason.
    not_asked = {pa.Stage.FEED, pa.Stage.RESPONSES, *MONEY}  # no feed, no wait_for, no money
    for stage in pa.Stage:
        skipped = stages[stage].outcome == "skipped"
        assert skipped is (stage in not_asked), stage
        assert not skipped or (stages[stage].message and stages[stage].ids == {}), stage
    assert stages[pa.Stage.DOWNLOAD].outcome == "done"

    # The failing plan: its dataset's wait fails, and so does the plan; nothing after it ran.
    whole, stages = hook.of("plan-bad")
    ready = stages[pa.Stage.DATASET_READY]
    assert ready.outcome == "failed" and ready.error is bad.error
    assert isinstance(ready.error, pa.ResourceFailed)
    assert whole.outcome == "failed" and whole.error is bad.error
    assert whole.ids == {"dataset_id": bad.dataset_id}
    assert list(stages) == [pa.Stage.DATASET_CREATE, pa.Stage.DATASET_UPLOAD,
                            pa.Stage.DATASET_READY]


async def test_a_rerun_reports_what_it_adopted_and_created_nothing(
        fake: FakeProlific, tmp_path: Path) -> None:
    plans = [plan("plan-again", fake.workspace_id, publish=False)]
    async with client_for(fake) as client:
        [first], _ = await run_all(client, plans)
        hook = Recorder()
        [second], _ = await run_all(client, plans, on_stage=hook)  # no journal: found by name

    assert second.batch_id == first.batch_id
    whole, stages = hook.of("plan-again")
    found = stages[pa.Stage.BATCH_CREATE]
    assert found.outcome == "done" and found.ids == {"batch_id": first.batch_id}
    assert found.created == frozenset() and first.batch_id in found.message
    assert whole.outcome == "done" and whole.created == frozenset()


async def test_a_rerun_with_its_journal_reports_every_stage_skipped_and_the_plans_ids(
        fake: FakeProlific, tmp_path: Path) -> None:
    plans = [plan("plan-journaled", fake.workspace_id, publish=False)]
    async with client_for(fake) as client:
        [first], _ = await run_all(client, plans, tmp_path / "run.db", on_stage=Recorder())
        hook = Recorder()
        [second], _ = await run_all(client, plans, tmp_path / "run.db", on_stage=hook)

    assert second.ok and second.batch_id == first.batch_id
    whole, stages = hook.of("plan-journaled")
    assert list(stages) == list(pa.Stage)
    assert all(run.outcome == "skipped" and run.ids == {} for run in stages.values())
    assert stages[pa.Stage.BATCH_CREATE].message == "done in an earlier run"
    assert whole.outcome == "done" and whole.created == frozenset()
    assert whole.ids == {"dataset_id": first.dataset_id, "batch_id": first.batch_id,
                         "study_id": first.study_id}


async def test_a_hook_that_swallows_an_error_cannot_make_a_failed_plan_look_done(
        fake: FakeProlific) -> None:
    hook = Recorder(swallow=True)
    async with client_for(fake) as client:
        [bad], _ = await run_all(client, [plan("plan-bad", fake.workspace_id)], on_stage=hook)
    assert isinstance(bad.error, pa.ResourceFailed) and bad.stage is pa.Stage.DATASET_READY
    whole, stages = hook.of("plan-bad")
    assert whole.outcome == stages[pa.Stage.DATASET_READY].outcome == "failed"
    assert pa.Stage.BATCH_CREATE not in stages


async def test_leaving_a_run_early_ends_the_running_stage_and_the_plan_as_cancelled(
        fake: FakeProlific) -> None:
    hook = Recorder()
    async with client_for(fake) as client, pa.orchestrate(
            client, [plan("plan-left", fake.workspace_id)], on_stage=hook) as run:
        async for event in run:
            if event.kind is pa.EventKind.STARTED:
                break  # leaving the block cancels the plan mid-stage
    [result] = run.results
    assert isinstance(result.error, pa.PlanCancelled)
    whole, stages = hook.of("plan-left")
    *before, last = stages.values()
    assert whole.outcome == last.outcome == "cancelled"
    assert whole.error is None and last.error is None
    assert all(s.outcome in {"done", "skipped"} for s in before)
    assert len(hook.entered) == len(hook.ended)  # every context manager was exited


async def test_a_dry_run_calls_no_hook_and_a_hook_must_be_callable(
        fake: FakeProlific) -> None:
    hook = Recorder()
    plans = [plan("plan-dry", fake.workspace_id)]
    async with client_for(fake) as client:
        await run_all(client, plans, on_stage=hook, dry_run=True)
        assert hook.entered == []
        not_a_hook: Any = "otel"
        with pytest.raises(TypeError, match="on_stage"):
            async with pa.orchestrate(client, plans, on_stage=not_a_hook):
                pass
