"""Reviewing and paying, as a user writes it: it must type-check under mypy --strict."""

from __future__ import annotations

from decimal import Decimal

import prolific_async as pa


async def review(client: pa.Prolific, study_id: str) -> Decimal:
    waiting: list[pa.Submission] = [s async for s in client.submissions.list(
        study_id, status=pa.SubmissionStatus.AWAITING_REVIEW)]
    counts: dict[str, int] = await client.submissions.counts(study_id)
    print(counts.get("AWAITING REVIEW", 0))
    rejected: pa.Submission = await client.submissions.reject(
        waiting[0].id, message="…" * 100, category=pa.RejectionCategory.LOW_EFFORT)
    print(rejected.status.known)
    result: pa.BulkApproval = await client.submissions.bulk_approve(
        study_id, [s.id for s in waiting[1:]], poll=pa.PollPolicy(deadline=600))
    for submission_id, status in result.other.items():
        print(submission_id, status.value)
    amounts: dict[str, int] = {s: 25 for s in result.approved}
    bonus: pa.BonusPayment = await client.bonuses.create(study_id, amounts, max_amount=2000)
    try:
        await client.bonuses.pay(bonus, settle_within=120)
    except pa.OutcomeUnknownError as exc:
        print(exc.request)
    paid: list[int] | None = (await client.submissions.get(waiting[1].id)).bonus_payments
    print(paid)
    return bonus.total_amount
