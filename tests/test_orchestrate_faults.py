"""Lost answers and a hostile server: the pipeline looks before creating again."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import prolific_async as pa
from prolific_async.testing import FakeClock, FakeProlific

from .orchestration import batches_named, client_for, plan, publishes_of, run_all, studies_of

pytestmark = pytest.mark.anyio


@pytest.fixture
async def fake() -> AsyncIterator[FakeProlific]:
    async with FakeProlific(clock=FakeClock(speed=0, per_request=0.25), seed=21) as server:
        yield server



@pytest.mark.parametrize(("method", "path", "stage"), [
    ("POST", "*/data-collection/batches", pa.Stage.BATCH_CREATE),
    ("POST", "*/batches/*/setup", pa.Stage.BATCH_SETUP),
    ("POST", "/api/v1/studies/", pa.Stage.STUDY_CREATE),
    ("POST", "/api/v1/studies/*/transition/", pa.Stage.STUDY_PUBLISH),
    ("POST", "*/data-collection/datasets", pa.Stage.DATASET_CREATE),
    ("POST", "*/batches/*/export", pa.Stage.EXPORT),
])
async def test_a_lost_answer_creates_nothing_twice(fake: FakeProlific, tmp_path: Path,
                                                   method: str, path: str,
                                                   stage: pa.Stage) -> None:
    plans = [plan(f"lost-{n}", fake.workspace_id, tmp_path) for n in range(3)]
    fault = fake.inject(method=method, path=path, lose_answer=True, times=2)
    async with client_for(fake) as client:
        results, events = await run_all(client, plans)
    assert fault.fired == 2
    for result in results:
        assert result.ok, result.error
        assert batches_named(fake, result.plan) == [result.batch_id]
        assert studies_of(fake, result.batch_id or "") == [result.study_id]
        assert publishes_of(fake, result.study_id or "") == 1
    # An export request is safe to repeat: the server joins a job still generating, but
    # one that finished while the answer was lost is followed by a new (free) job.
    exports = [len(fake.world.exports_for(r.batch_id or "")) for r in results]
    extra = fault.fired if stage is pa.Stage.EXPORT else 0
    assert min(exports) == 1 and sum(exports) <= len(results) + extra, exports
    # The pipeline said what it found instead of creating again.
    found = [e.message for e in events if e.stage is stage and e.kind is pa.EventKind.FINISHED
             and e.message]
    if stage in (pa.Stage.BATCH_CREATE, pa.Stage.STUDY_CREATE):
        assert len(found) == 2 and all(m.startswith("found ") for m in found)
    if stage is pa.Stage.BATCH_SETUP:
        # The batch was re-read, not set up a second time.
        assert len(found) == 2 and all(m.startswith("already set up") for m in found), found
        assert len(fake.requests_to("POST", "*/setup")) == len(plans)
    if stage is pa.Stage.STUDY_PUBLISH:
        assert found == ["already published (ACTIVE)"] * 2


async def test_chaos_finishes_every_plan_once(fake: FakeProlific, tmp_path: Path) -> None:
    """Seeded 429s, 5xx, drops, lost answers and slow answers on every route."""
    fake.chaos(seed=5, rate_limit=0.03, unavailable=0.03, drop=0.02, lose_answer=0.03,
               retry_after="0.01")
    plans = [plan(f"chaos-{n}", fake.workspace_id, tmp_path) for n in range(10)]
    journal = tmp_path / "run.db"
    async with client_for(fake, retry=pa.RetryPolicy(attempts=8, wait_initial=0.001,
                                                     wait_max=0.01)) as client:
        await run_all(client, plans, journal)
        # A plan may still fail (its error is kept): rerunning with the journal finishes it.
        results, _ = await run_all(client, plans, journal)
    assert sum(fake.fault_counts().values()) > 0
    assert all(r.ok for r in results), [r.error for r in results]
    for result in results:
        assert batches_named(fake, result.plan) == [result.batch_id]
        assert studies_of(fake, result.batch_id or "") == [result.study_id]
        assert publishes_of(fake, result.study_id or "") == 1


async def test_a_lost_answer_on_the_new_dataset_after_an_unconfirmed_upload_is_absorbed(
        fake: FakeProlific, tmp_path: Path) -> None:
    # The upload's connection is cut (unconfirmed: the rows go to a new dataset), then the
    # answer to that new dataset's create is lost: a dataset costs nothing, so it is made again.
    upload = fake.inject(method="PUT", path="*", drop=True, times=1)
    second_create = fake.inject(method="POST", path="*/data-collection/datasets",
                                lose_answer=True, every=2, times=1)
    async with client_for(fake) as client:
        results, events = await run_all(client, [plan("unsure-upload", fake.workspace_id,
                                                      tmp_path)])
    assert (upload.fired, second_create.fired) == (1, 1)
    assert results[0].ok, results[0].error
    assert batches_named(fake, "unsure-upload") == [results[0].batch_id]
    uploaded = [e.message for e in events if e.stage is pa.Stage.DATASET_UPLOAD and e.message]
    assert any("new dataset" in m for m in uploaded), uploaded
