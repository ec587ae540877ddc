"""Approving and paying under answers lost after the server acted, and 429s, across seeds:
every submission approved once, every bonus set-up paid at most once, and each participant's
paid bonuses equal to what was intended, or the plan stopped with `OutcomeUnknownError`
naming the set-up and what to check."""

from __future__ import annotations

import attrs
import pytest

import prolific_async as pa
from prolific_async.testing import FakeClock, FakeProlific

from .helpers import published_study, ready_batch

pytestmark = pytest.mark.anyio

SEEDS = range(8)
PLACES = 6


@attrs.define
class Outcome:
    """What one plan did: the set-ups it paid, and where it stopped, if it did."""

    intended: dict[str, int]
    paid_by: dict[str, str] = attrs.Factory(dict)  # submission -> the set-up paid for it
    stopped: dict[str, pa.OutcomeUnknownError] = attrs.Factory(dict)  # submission -> error
    lost_set_ups: int = 0


async def review_and_pay(client: pa.Prolific, study: pa.Study) -> Outcome:
    """The plan: approve every submission, then a bonus each, as a careful user would."""
    ids = [s.id async for s in client.submissions.list(study.id)]
    result = await client.submissions.bulk_approve(study.id, ids)
    assert result.done and not result.other
    outcome = Outcome(intended={sid: 10 * (n + 1) for n, sid in enumerate(ids)})
    for sid, amount in outcome.intended.items():
        while True:
            try:
                bonus = await client.bonuses.create(study.id, {sid: amount})
                break
            except pa.OutcomeUnknownError:
                outcome.lost_set_ups += 1  # harmless: an unpaid set-up; make another
        try:
            await client.bonuses.pay(bonus, settle_within=0.15)
        except pa.OutcomeUnknownError as exc:
            outcome.stopped[sid] = exc
        outcome.paid_by[sid] = bonus.id
    return outcome


async def run_seed(seed: int) -> tuple[Outcome, FakeProlific, int]:
    """One plan against a fake with seeded faults; also how many pay answers were lost."""
    async with FakeProlific(clock=FakeClock(speed=0, per_request=0.5), seed=seed) as fake:
        async with pa.Prolific(fake.token, base_url=fake.url, seed=seed,
                               poll=pa.PollPolicy(initial=0.01, ceiling=0.05, deadline=10),
                               retry=pa.RetryPolicy(attempts=8, wait_initial=0.01,
                                                    wait_max=0.05)) as client:
            study = await published_study(client, fake, await ready_batch(client, fake),
                                          places=PLACES)
            fake.clock.advance(PLACES * fake.world.submission_interval)
            # Odd seeds show a paid bonus at once, even ones only long after the SDK's wait.
            fake.money.bonus_delay = 0.0 if seed % 2 else 10_000.0
            fake.chaos(seed=seed, rate_limit=0.15, lose_answer=0.25, method="POST",
                       path="/api/v1/submissions/*", retry_after="0.01")
            [_pay_429, lost_pay] = fake.chaos(seed=seed + 1000, rate_limit=0.15,
                                             lose_answer=0.3, method="POST", path="*/pay/",
                                             retry_after="0.01")
            outcome = await review_and_pay(client, study)
    return outcome, fake, lost_pay.fired


async def test_money_moves_exactly_once_under_lost_answers_and_429s_across_seeds() -> None:
    lost = {"shown at once": 0, "shown late": 0}
    fired = {"lose_answer": 0, "rate_limit": 0}
    for seed in SEEDS:
        outcome, fake, lost_pays = await run_seed(seed)
        money = fake.money
        for kind in fired:
            fired[kind] += fake.fault_counts().get(kind, 0)
        # Every submission approved once: one reward each, never two.
        assert sorted(a.submission_id for a in money.approvals) == sorted(outcome.intended)
        # Every set-up paid at most once; set-ups whose answer was lost are never paid.
        assert all(len(b.pays) <= 1 for b in money.bonuses.values())
        assert {b.id for b in money.bonuses.values() if b.pays} <= set(outcome.paid_by.values())
        # Each participant got what was intended, or the plan stopped naming what to check.
        for sid, amount in outcome.intended.items():
            if sid in outcome.stopped:
                message = str(outcome.stopped[sid])
                assert f"bonus payment {outcome.paid_by[sid]}" in message
                assert f"submissions {sid}" in message and "before paying it again" in message
                assert money.paid_to(sid) == [amount]  # paid: its answer alone was lost
            else:
                assert money.paid_to(sid) == [amount]
        # A lost pay is settled by reading when the payment shows, and stops when it does not.
        assert len(outcome.stopped) == (0 if seed % 2 else lost_pays), seed
        lost["shown at once" if seed % 2 else "shown late"] += lost_pays
    assert all(lost.values()), lost  # the seeds exercise both ends
    assert all(fired.values()), fired
