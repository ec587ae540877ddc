"""client.bonuses against the fake: integer minor units converted in one place, amounts
checked before sending, a per-call ceiling, and pay sent once, settled by reading when its
answer is lost."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import prolific_async as pa
from prolific_async._models.bonuses import csv_bonuses, format_minor
from prolific_async.testing import FakeProlific

from .test_submissions import submitted

pytestmark = pytest.mark.anyio


def test_amounts_in_minor_units_become_the_documented_csv_decimal() -> None:
    assert csv_bonuses({"a1": 25, "b2": 1250, "c3": 1, "d4": 100, "e5": 123456}) == (
        "a1,0.25\nb2,12.50\nc3,0.01\nd4,1.00\ne5,1234.56")


@given(st.integers(min_value=-10**12, max_value=10**12))
def test_format_minor_is_exact_for_every_integer(amount: int) -> None:
    assert Decimal(format_minor(amount)) * 100 == amount


async def ids_of(client: pa.Prolific, study: pa.Study) -> list[pa.Submission]:
    return [s async for s in client.submissions.list(study.id)]


async def test_create_sends_decimals_and_returns_the_cost_in_minor_units(
        prolific_client: pa.Prolific, fake_prolific: FakeProlific) -> None:
    study = await submitted(prolific_client, fake_prolific, 2)
    first, second = await ids_of(prolific_client, study)

    bonus = await prolific_client.bonuses.create(
        study.id, {first.id: 425, second.participant_id or "": 425})

    [sent] = fake_prolific.requests_to("POST", "/api/v1/submissions/bonus-payments/")
    assert sent.json == {"study_id": study.id,
                         "csv_bonuses": f"{first.id},4.25\n{second.participant_id},4.25"}
    # Prolific's spec example: 850 of bonuses cost 283.34 of fees.
    assert (bonus.amount, bonus.fees, bonus.vat, bonus.total_amount) == (
        850, Decimal("283.34"), 0, Decimal("1133.34"))
    assert bonus.study == study.id and dict(bonus.amounts) == {
        first.id: 425, second.participant_id: 425}
    assert fake_prolific.money.payments == []  # a set-up pays nothing


@pytest.mark.parametrize(("amount", "error", "match"), [
    (0.25, TypeError, r"must be an int in minor units \(25 is 0.25\), got float 0.25"),
    ("25", TypeError, "got str '25'"),
    (Decimal("25"), TypeError, "got Decimal"),
    (True, TypeError, "got bool True"),
    (0, ValueError, "at least 1"),
    (1001, ValueError, r"1001 \(10.01\) is above max_amount=1000 \(10.00\)"),
])
async def test_a_bad_amount_is_refused_before_sending(
        prolific_client: pa.Prolific, fake_prolific: FakeProlific, amount: Any,
        error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        await prolific_client.bonuses.create("60f6acb180a7b59ac0621f9e", {"sub1": amount})
    assert fake_prolific.requests == []


@pytest.mark.parametrize(("amounts", "match"), [
    ({}, "amounts is empty"),
    ({"a,b": 25}, "not a participant or submission id: 'a,b'"),
    ({"a\nb,1": 25}, "not a participant or submission id"),
])
async def test_ids_that_would_break_the_csv_are_refused(
        prolific_client: pa.Prolific, fake_prolific: FakeProlific, amounts: Any,
        match: str) -> None:
    with pytest.raises(ValueError, match=match):
        await prolific_client.bonuses.create("60f6acb180a7b59ac0621f9e", amounts)
    assert fake_prolific.requests == []


async def test_the_ceiling_can_be_raised_per_call(
        prolific_client: pa.Prolific, fake_prolific: FakeProlific) -> None:
    study = await submitted(prolific_client, fake_prolific, 1)
    [sub] = await ids_of(prolific_client, study)
    bonus = await prolific_client.bonuses.create(study.id, {sub.id: 5000}, max_amount=5000)
    assert bonus.amount == 5000


async def test_pay_pays_once_and_the_submission_shows_it(
        prolific_client: pa.Prolific, fake_prolific: FakeProlific) -> None:
    study = await submitted(prolific_client, fake_prolific, 2)
    first, second = await ids_of(prolific_client, study)
    bonus = await prolific_client.bonuses.create(study.id, {first.id: 25, second.id: 50})

    await prolific_client.bonuses.pay(bonus)
    with pytest.raises(ValueError, match=f"{bonus.id} was already paid by this client"):
        await prolific_client.bonuses.pay(bonus.id)

    assert fake_prolific.money.bonuses[bonus.id].pays == [fake_prolific.clock.now()]
    assert (await prolific_client.submissions.get(first.id)).bonus_payments == [25]
    assert (await prolific_client.submissions.get(second.id)).bonus_payments == [50]


async def test_a_pay_whose_answer_is_lost_after_paying_is_settled_by_reading(
        prolific_client: pa.Prolific, fake_prolific: FakeProlific) -> None:
    study = await submitted(prolific_client, fake_prolific, 2)
    first, second = await ids_of(prolific_client, study)
    earlier = await prolific_client.bonuses.create(study.id, {first.id: 25})
    await prolific_client.bonuses.pay(earlier)  # an earlier bonus of the same amount
    bonus = await prolific_client.bonuses.create(study.id, {first.id: 25,
                                                            second.participant_id or "": 30})
    fake_prolific.inject(method="POST", path="*/pay/", lose_answer=True, times=1)

    await prolific_client.bonuses.pay(bonus, settle_within=2)

    assert len(fake_prolific.requests_to("POST", f"*/{bonus.id}/pay/")) == 1
    assert fake_prolific.money.paid_to(first.id) == [25, 25]
    assert fake_prolific.money.paid_to(second.id) == [30]


async def test_a_lost_pay_not_seen_paid_is_outcome_unknown_naming_what_to_check(
        prolific_client: pa.Prolific, fake_prolific: FakeProlific) -> None:
    study = await submitted(prolific_client, fake_prolific, 1)
    [sub] = await ids_of(prolific_client, study)
    bonus = await prolific_client.bonuses.create(study.id, {sub.id: 25})
    fake_prolific.money.bonus_delay = 10_000  # paid, but not shown within the wait
    fake_prolific.inject(method="POST", path="*/pay/", lose_answer=True, times=1)

    with pytest.raises(pa.OutcomeUnknownError) as caught:
        await prolific_client.bonuses.pay(bonus, settle_within=0.2)

    message = str(caught.value)
    assert f"bonus payment {bonus.id}" in message and study.id in message
    assert "show none of its 1 bonuses paid" in message
    assert f"Check the bonus payments of submissions {sub.id}" in message
    assert "before paying it again; the SDK will not" in message
    assert len(fake_prolific.requests_to("POST", "*/pay/")) == 1
    assert len(fake_prolific.money.bonuses[bonus.id].pays) == 1


async def test_a_lost_pay_of_a_bare_id_is_outcome_unknown_at_once(
        prolific_client: pa.Prolific, fake_prolific: FakeProlific) -> None:
    study = await submitted(prolific_client, fake_prolific, 1)
    [sub] = await ids_of(prolific_client, study)
    bonus = await prolific_client.bonuses.create(study.id, {sub.id: 25})
    fake_prolific.inject(method="POST", path="*/pay/", lose_answer=True, times=1)
    reads = len(fake_prolific.requests_to("GET"))

    with pytest.raises(pa.OutcomeUnknownError, match=f"paying bonus payment {bonus.id}: its "
                                                     "answer was lost: it may have been paid"):
        await prolific_client.bonuses.pay(bonus.id)
    assert len(fake_prolific.requests_to("GET")) == reads


async def test_a_lost_set_up_says_an_unpaid_set_up_may_be_left(
        prolific_client: pa.Prolific, fake_prolific: FakeProlific) -> None:
    study = await submitted(prolific_client, fake_prolific, 1)
    [sub] = await ids_of(prolific_client, study)
    fake_prolific.inject(method="POST", path="*/bonus-payments/", lose_answer=True, times=1)

    with pytest.raises(pa.OutcomeUnknownError, match="an unpaid set-up may exist on the "
                                                     "server"):
        await prolific_client.bonuses.create(study.id, {sub.id: 25})
    [left] = fake_prolific.money.bonuses.values()
    assert left.pays == [] and fake_prolific.money.payments == []


async def test_ids_that_did_not_take_part_are_named_by_the_server(
        prolific_client: pa.Prolific, fake_prolific: FakeProlific) -> None:
    study = await submitted(prolific_client, fake_prolific, 1)
    with pytest.raises(pa.BadRequestError, match="did not take part in the study: stranger"):
        await prolific_client.bonuses.create(study.id, {"stranger": 25})


async def test_a_429_on_pay_is_sent_again_and_pays_once(
        prolific_client: pa.Prolific, fake_prolific: FakeProlific) -> None:
    study = await submitted(prolific_client, fake_prolific, 1)
    [sub] = await ids_of(prolific_client, study)
    bonus = await prolific_client.bonuses.create(study.id, {sub.id: 25})
    fake_prolific.inject(method="POST", path="*/pay/", status=429, retry_after="0.01", times=1)

    await prolific_client.bonuses.pay(bonus)

    assert len(fake_prolific.requests_to("POST", "*/pay/")) == 2  # the 429 had no effect
    assert len(fake_prolific.money.bonuses[bonus.id].pays) == 1
    assert fake_prolific.money.paid_to(sub.id) == [25]


async def test_a_5xx_on_pay_is_never_sent_again_and_is_settled_by_reading(
        prolific_client: pa.Prolific, fake_prolific: FakeProlific) -> None:
    study = await submitted(prolific_client, fake_prolific, 1)
    [sub] = await ids_of(prolific_client, study)
    bonus = await prolific_client.bonuses.create(study.id, {sub.id: 25})
    fake_prolific.inject(method="POST", path="*/pay/", status=503, times=1)

    with pytest.raises(pa.OutcomeUnknownError, match="the server failed after it may have "
                                                     r"acted \(503"):
        await prolific_client.bonuses.pay(bonus, settle_within=0.1)

    assert len(fake_prolific.requests_to("POST", "*/pay/")) == 1
    assert fake_prolific.money.payments == []  # this 503 came before paying: nothing to see
