"""``orchestrate(..., events=receiver)``: every study wait is woken by webhooks and polls
only as the safety net; the rest of the pipeline is polled as before."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

import prolific_async as pa
from prolific_async.testing import FakeClock, FakeProlific

from .orchestration import client_for, plan
from .test_hooks_watch import listening

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("wait_for", ["complete", 2])
async def test_study_waits_of_a_run_are_woken_by_webhooks(
        tmp_path: Path, wait_for: str | int) -> None:
    # A running clock (20x): participants submit every 200 ms of real time.
    async with FakeProlific(clock=FakeClock(speed=20), seed=3, submission_interval=4) as fake:
        study = pa.StudyPlan(description="d", reward=10, places=3, estimated_minutes=1,
                             publish=True, wait_for=wait_for)  # type: ignore[arg-type]
        plans = [plan(f"hooked-{n}", fake.workspace_id, study=study) for n in range(3)]
        async with client_for(fake) as client, listening(
                client, fake, "study.status.change", "study.progress.change") as listener:
            with anyio.fail_after(30):
                async with pa.orchestrate(client, plans, events=listener.receiver) as run:
                    results = await run.wait()
    assert [r.error for r in results] == [None, None, None]
    assert listener.receiver.accepted > 0
    for result in results:
        [study_rec] = fake.world.studies_for(result.batch_id or "")
        reads = fake.requests_to("GET", f"/api/v1/studies/{study_rec.id}/")
        # The first look, and one per event that came while it waited (3 submissions and
        # the end at most): the client's fast polling (every 20 ms) would send many more.
        assert 1 <= len(reads) <= 5, len(reads)
        assert result.responses is not None and result.responses >= 2 * 2
