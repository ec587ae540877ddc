"""client.submissions against the fake: listing across pages, counts, approving, rejecting
(checked before sending) and bulk approval in sequential chunks, followed to the end."""

from __future__ import annotations

import anyio
import pytest

import prolific_async as pa
from prolific_async.testing import FakeProlific

from .helpers import published_study, ready_batch

pytestmark = pytest.mark.anyio

REASON = ("Thank you for taking part. Most answers were left empty or repeated the question "
          "word for word, so we cannot use this submission.")


async def submitted(client: pa.Prolific, fake: FakeProlific, places: int) -> pa.Study:
    """A published study whose ``places`` participants have all submitted."""
    study = await published_study(client, fake, await ready_batch(client, fake), places=places)
    fake.clock.advance(places * fake.world.submission_interval)
    return study


async def test_a_study_of_1200_submissions_is_listed_whole_across_three_pages(
        prolific_client: pa.Prolific, fake_prolific: FakeProlific) -> None:
    study = await submitted(prolific_client, fake_prolific, 1200)
    listed = [s async for s in prolific_client.submissions.list(study.id)]

    assert len(listed) == 1200 == len({s.id for s in listed})
    assert {s.status for s in listed} == {pa.SubmissionStatus.AWAITING_REVIEW}
    assert all(s.participant_id and s.completed_at for s in listed)
    pages = fake_prolific.requests_to("GET", f"/api/v1/studies/{study.id}/submissions/")
    assert [(r.query["limit"], r.query["offset"]) for r in pages] == [
        ("500", "0"), ("500", "500"), ("500", "1000")]


async def test_list_filters_by_status_and_counts_add_up(
        prolific_client: pa.Prolific, fake_prolific: FakeProlific) -> None:
    study = await published_study(prolific_client, fake_prolific,
                                  await ready_batch(prolific_client, fake_prolific), places=5)
    fake_prolific.clock.advance(3 * fake_prolific.world.submission_interval)
    first, *_ = [s async for s in prolific_client.submissions.list(study.id)]
    await prolific_client.submissions.approve(first.id)

    waiting = [s async for s in prolific_client.submissions.list(
        study.id, status=pa.SubmissionStatus.AWAITING_REVIEW)]
    active = [s async for s in prolific_client.submissions.list(study.id, status="ACTIVE")]
    counts = await prolific_client.submissions.counts(study.id)

    assert len(waiting) == 2 and len(active) == 1
    assert counts["APPROVED"] == 1 and counts["AWAITING REVIEW"] == 2 and counts["ACTIVE"] == 1
    assert "TOTAL" not in counts


async def test_approve_is_safe_to_repeat_and_pays_the_reward_once(
        prolific_client: pa.Prolific, fake_prolific: FakeProlific) -> None:
    study = await submitted(prolific_client, fake_prolific, 2)
    sub, _ = [s async for s in prolific_client.submissions.list(study.id)]

    first = await prolific_client.submissions.approve(sub.id)
    again = await prolific_client.submissions.approve(sub.id)
    detail = await prolific_client.submissions.get(sub.id)

    assert first.status == again.status == detail.status == pa.SubmissionStatus.APPROVED
    assert detail.participant_id == sub.participant_id and detail.study_id == study.id
    assert detail.bonus_payments == []
    assert [a.submission_id for a in fake_prolific.money.approvals] == [sub.id]


async def test_reject_sends_the_message_and_category(
        prolific_client: pa.Prolific, fake_prolific: FakeProlific) -> None:
    study = await submitted(prolific_client, fake_prolific, 1)
    [sub] = [s async for s in prolific_client.submissions.list(study.id)]

    rejected = await prolific_client.submissions.reject(
        sub.id, message=REASON, category=pa.RejectionCategory.LOW_EFFORT)

    assert rejected.status == pa.SubmissionStatus.REJECTED
    [sent] = fake_prolific.requests_to("POST", "/api/v1/submissions/*/transition/")
    assert sent.json == {"action": "REJECT", "message": REASON,
                         "rejection_category": "LOW_EFFORT"}
    with pytest.raises(pa.BadRequestError, match="REJECTED"):
        await prolific_client.submissions.approve(sub.id)
    assert fake_prolific.money.approvals == []


@pytest.mark.parametrize(("message", "category", "error"), [
    ("Low effort.", "LOW_EFFORT", "at least 100 characters"),
    (" " * 120, "LOW_EFFORT", "at least 100 characters"),
    (REASON, "LAZY", "category must be one of TOO_QUICKLY"),
])
async def test_a_bad_rejection_is_refused_before_sending(
        prolific_client: pa.Prolific, fake_prolific: FakeProlific, message: str,
        category: str, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        await prolific_client.submissions.reject("sub-0123abcd-0001", message=message,
                                                 category=category)
    assert fake_prolific.requests == []


async def test_2500_ids_are_approved_in_three_sequential_requests_and_followed_to_approved(
        prolific_client: pa.Prolific, fake_prolific: FakeProlific) -> None:
    study = await submitted(prolific_client, fake_prolific, 2500)
    ids = [s.id async for s in prolific_client.submissions.list(study.id)]
    fake_prolific.money.wallet_slots = 1  # a second bulk request at once would be a 429
    fake_prolific.clock.per_request = 0.5  # the approval lands while the SDK follows it

    result = await prolific_client.submissions.bulk_approve(study.id, ids)

    sent = fake_prolific.requests_to("POST", "/api/v1/submissions/bulk-approve/")
    assert [len(r.json["submission_ids"]) for r in sent] == [1000, 1000, 500]
    assert [i for r in sent for i in r.json["submission_ids"]] == ids
    assert fake_prolific.money.max_in_flight == 1 and fake_prolific.money.contention == 0
    assert result.requests == 3 and result.done and result.other == {}
    assert sorted(result.approved) == sorted(ids)
    assert sorted(a.submission_id for a in fake_prolific.money.approvals) == sorted(ids)


async def test_bulk_approve_refuses_ids_it_cannot_approve_before_sending(
        prolific_client: pa.Prolific, fake_prolific: FakeProlific) -> None:
    study = await published_study(prolific_client, fake_prolific,
                                  await ready_batch(prolific_client, fake_prolific), places=3)
    fake_prolific.clock.advance(fake_prolific.world.submission_interval)
    done, active = [s.id async for s in prolific_client.submissions.list(study.id)]

    with pytest.raises(ValueError, match=rf"1 of the submissions cannot be approved.*{active} "
                                         r"\(ACTIVE\)"):
        await prolific_client.submissions.bulk_approve(study.id, [done, active])
    with pytest.raises(ValueError, match=r"sub-ffffffff-0001 \(NOT IN STUDY\)"):
        await prolific_client.submissions.bulk_approve(study.id, [done, "sub-ffffffff-0001"])
    with pytest.raises(TypeError, match="not one string"):
        await prolific_client.submissions.bulk_approve(study.id, done)
    assert fake_prolific.requests_to("POST", "/api/v1/submissions/*") == []


async def test_bulk_approve_again_sends_only_what_is_not_approved_yet(
        prolific_client: pa.Prolific, fake_prolific: FakeProlific) -> None:
    study = await submitted(prolific_client, fake_prolific, 3)
    ids = [s.id async for s in prolific_client.submissions.list(study.id)]
    await prolific_client.submissions.approve(ids[0])
    fake_prolific.clock.per_request = 1.0

    result = await prolific_client.submissions.bulk_approve(study.id, ids)
    again = await prolific_client.submissions.bulk_approve(study.id, ids)

    [sent] = fake_prolific.requests_to("POST", "*/bulk-approve/")
    assert sent.json == {"submission_ids": ids[1:]}
    assert set(result.approved) == set(again.approved) == set(ids) and again.requests == 0
    assert len(fake_prolific.money.approvals) == 3


async def test_concurrent_approvals_under_wallet_contention_get_429s_and_all_land_once(
        prolific_client: pa.Prolific, fake_prolific: FakeProlific) -> None:
    study = await submitted(prolific_client, fake_prolific, 20)
    ids = [s.id async for s in prolific_client.submissions.list(study.id)]
    fake_prolific.money.wallet_slots, fake_prolific.money.wallet_hold = 2, 0.02
    # Patient enough that no approval gives up, however the 429s fall under load.
    patient = pa.Prolific(fake_prolific.token, base_url=fake_prolific.url, seed=1, retry=(
        pa.RetryPolicy(attempts=100, wait_initial=0.01, wait_max=0.05, budget=10_000)))

    async with patient, anyio.create_task_group() as group:
        for submission_id in ids:
            group.start_soon(patient.submissions.approve, submission_id)

    assert fake_prolific.money.contention > 0
    assert patient.stats.rate_limited == fake_prolific.money.contention
    assert sorted(a.submission_id for a in fake_prolific.money.approvals) == sorted(ids)


async def test_a_bulk_approval_not_applied_in_time_times_out_and_resumes(
        prolific_client: pa.Prolific, fake_prolific: FakeProlific) -> None:
    study = await submitted(prolific_client, fake_prolific, 3)
    ids = [s.id async for s in prolific_client.submissions.list(study.id)]

    with pytest.raises(pa.PollTimeout) as caught:  # the fake clock stands still
        await prolific_client.submissions.bulk_approve(
            study.id, ids, poll=pa.PollPolicy(initial=0.01, ceiling=0.02, deadline=0.2))
    assert caught.value.last_status == "APPROVING"
    fake_prolific.clock.advance(fake_prolific.money.bulk_approve_delay)

    changes = [t async for t in prolific_client.resume(caught.value.resume_token)]
    assert [t.current for t in changes] == ["APPROVED"]
    assert set(changes[-1].snapshot.approved) == set(ids)
    assert len(fake_prolific.requests_to("POST", "*/bulk-approve/")) == 1
