"""``studies.watch_submissions``: waiting for N submissions on the shared poll machinery."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import anyio
import pytest

import prolific_async as pa
from prolific_async.testing import FakeClock, FakeProlific

from .helpers import published_study, ready_batch
from .orchestration import client_for, plan

pytestmark = pytest.mark.anyio

FAST = pa.PollPolicy(initial=0.005, multiplier=1.5, ceiling=0.02, deadline=5)
PROGRESS = re.compile(r"^ACTIVE: (\d) of 2 submitted$")


@pytest.fixture
async def stepping() -> AsyncIterator[tuple[pa.Prolific, FakeProlific]]:
    async with FakeProlific(clock=FakeClock(speed=0), seed=9) as fake:
        async with pa.Prolific(fake.token, base_url=fake.url, poll=FAST, seed=9) as client:
            yield client, fake


async def test_it_reports_each_new_submission_and_ends_at_the_target(
        stepping: tuple[pa.Prolific, FakeProlific]) -> None:
    client, fake = stepping
    batch = await ready_batch(client, fake)
    study = await published_study(client, fake, batch, places=4)
    fake.clock.per_request = 0.25
    seen = [t async for t in client.studies.watch_submissions(study.id, at_least=2)]
    counts = [int(m.group(1)) for t in seen if (m := PROGRESS.match(t.current))]
    assert len(counts) == len(seen) and counts == sorted(set(counts))
    assert counts[-1] >= 2 > counts[0] or counts == [counts[-1]]
    assert seen[-1].category is pa.Category.DONE
    assert seen[-1].snapshot.places_taken >= 2 and seen[-1].resource_id == study.id


async def test_a_timeout_resumes_from_its_token(
        stepping: tuple[pa.Prolific, FakeProlific]) -> None:
    client, fake = stepping
    batch = await ready_batch(client, fake)
    study = await published_study(client, fake, batch, places=2)
    short = pa.PollPolicy(initial=0.005, ceiling=0.01, deadline=0.05)
    with pytest.raises(pa.PollTimeout) as caught:
        await client.studies.watch_submissions(study.id, at_least=2, poll=short).wait()
    assert caught.value.last_status == "ACTIVE: 0 of 2 submitted"
    fake.clock.per_request = 0.25
    final = [t.current async for t in client.resume(caught.value.resume_token)]
    assert final[-1] in ("ACTIVE: 2 of 2 submitted", "AWAITING REVIEW")


def test_the_target_travels_in_the_status() -> None:
    from prolific_async._jobs import categorize

    assert categorize("study_submissions", "ACTIVE: 1 of 2 submitted") is pa.Category.PENDING
    assert categorize("study_submissions", "PAUSED: 0 of 2 submitted") is pa.Category.PENDING
    assert categorize("study_submissions", "ACTIVE: 2 of 2 submitted") is pa.Category.DONE
    assert categorize("study_submissions", "AWAITING REVIEW") is pa.Category.DONE
    for odd in ("ACTIVE", "ARCHIVED: 1 of 2 submitted", "ACTIVE: x of 2 submitted", ""):
        assert categorize("study_submissions", odd) is pa.Category.UNKNOWN


async def test_a_bad_target_is_refused_before_any_request(
        stepping: tuple[pa.Prolific, FakeProlific]) -> None:
    client, fake = stepping
    for bad in (0, True, "2"):
        with pytest.raises(ValueError, match="at_least must be an integer >= 1"):
            client.studies.watch_submissions("abc", at_least=bad)  # type: ignore[arg-type]
    assert fake.requests == []


async def test_waiting_for_submissions_in_a_plan_keeps_the_poll_rate_cap() -> None:
    # The fake's participants need requests to arrive: they come at the capped pace.
    async with FakeProlific(clock=FakeClock(speed=0, per_request=0.25), seed=4) as fake:
        study = pa.StudyPlan(description="d", reward=10, places=2, estimated_minutes=1,
                             publish=True, wait_for=2)
        started = finished = 0.0
        gets_before = 0
        async with client_for(fake) as client:
            async with pa.orchestrate(client, [plan("capped", fake.workspace_id,
                                                    study=study)]) as run:
                async for event in run:
                    if event.stage is pa.Stage.RESPONSES:
                        if event.kind is pa.EventKind.STARTED:
                            # Capped from here only, so the stages before run fast.
                            client.max_poll_rate = 2
                            fake.clock.per_request = 1.0
                            started = anyio.current_time()
                            gets_before = len(fake.requests_to("GET", "/api/v1/studies/*"))
                        elif event.kind is pa.EventKind.FINISHED:
                            finished = anyio.current_time()
        [result] = run.results
        assert result.ok, result.error
        gets = len(fake.requests_to("GET", "/api/v1/studies/*")) - gets_before
    assert gets >= 2, "the wait should have polled more than once"
    # At most 2 polls a second, the first at once.
    assert gets <= 1 + 2 * (finished - started) + 1
