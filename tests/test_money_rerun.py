"""Money under the reruns a careful user makes: a pay Prolific applies minutes later, a pay
the server refused outright."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest

import prolific_async as pa
from prolific_async.testing import FakeClock, FakeProlific

from .orchestration import PLACES, client_for
from .test_orchestrate_money import paying, run_all, ten
from .test_submissions import submitted

pytestmark = pytest.mark.anyio


@pytest.fixture
async def fake() -> AsyncIterator[FakeProlific]:
    async with FakeProlific(clock=FakeClock(speed=0, per_request=0.25), seed=5) as server:
        yield server


async def test_a_rerun_without_the_journal_while_the_pay_is_applied_pays_nothing_again(
        fake: FakeProlific, tmp_path: Path) -> None:
    # Prolific pays a set-up "in the following minutes": until then no submission shows it.
    fake.money.bonus_delay = 20.0
    plans = [paying("slow-pay", fake.workspace_id, approve="all", bonus=ten)]
    async with client_for(fake) as client:
        first, _ = await run_all(client, plans, journal=tmp_path / "a.db")
        again, _ = await run_all(client, plans, journal=tmp_path / "lost.db")

    assert first[0].ok and again[0].ok, (first[0].error, again[0].error)
    money = fake.money
    assert sum(len(b.pays) for b in money.bonuses.values()) == 1
    assert len(money.payments) == PLACES


async def test_a_pay_the_server_refused_can_be_sent_again_and_pays_once(
        fake: FakeProlific) -> None:
    async with client_for(fake) as client:
        study = await submitted(client, fake, 1)
        [sub] = [s async for s in client.submissions.list(study.id)]
        bonus = await client.bonuses.create(study.id, {sub.id: 25})
        fake.inject(method="POST", path="*/pay/", status=402, times=1)  # wallet empty
        with pytest.raises(pa.APIStatusError):
            await client.bonuses.pay(bonus)
        assert fake.money.bonuses[bonus.id].pays == []

        await client.bonuses.pay(bonus)  # topped up: the refusal paid nothing
        with pytest.raises(ValueError, match="already paid by this client"):
            await client.bonuses.pay(bonus)
    assert len(fake.money.bonuses[bonus.id].pays) == 1
    assert fake.money.paid_to(sub.id) == [25]


async def test_watch_paid_ends_once_every_bonus_shows(fake: FakeProlific) -> None:
    fake.money.bonus_delay = 5.0
    async with client_for(fake) as client:
        study = await submitted(client, fake, 2)
        subs = [s async for s in client.submissions.list(study.id)]
        bonus = await client.bonuses.create(study.id, {s.id: 25 for s in subs})
        await client.bonuses.pay(bonus)
        assert [(await client.submissions.get(s.id)).bonus_payments for s in subs] == [[], []]

        statuses = [t.current async for t in client.bonuses.watch_paid(bonus)]

        assert statuses[0] == "UNSEEN" and statuses[-1] == "PAID"
        assert [(await client.submissions.get(s.id)).bonus_payments for s in subs] == [[25], [25]]
        with pytest.raises(ValueError, match="BonusPayment returned by create"):
            client.bonuses.watch_paid(pa.BonusPayment(id=bonus.id))


async def test_two_concurrent_pays_of_one_set_up_send_one(fake: FakeProlific) -> None:
    async with client_for(fake) as client:
        study = await submitted(client, fake, 2)
        subs = [s async for s in client.submissions.list(study.id)]
        bonus = await client.bonuses.create(study.id, {s.id: 25 for s in subs})
        outcomes: list[str] = []

        async def pay() -> None:
            try:
                await client.bonuses.pay(bonus)  # reads the submissions first: both wait
                outcomes.append("paid")
            except ValueError as exc:
                outcomes.append(str(exc))

        async with anyio.create_task_group() as group:
            group.start_soon(pay)
            group.start_soon(pay)

    assert len(fake.money.bonuses[bonus.id].pays) == 1
    [refused] = [o for o in outcomes if o != "paid"]
    assert outcomes.count("paid") == 1 and "already paid by this client" in refused
