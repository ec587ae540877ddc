"""Twenty plans that approve every submission and pay each a bonus, SIGKILLed at seeded points
around the money requests and rerun on the same journal: every submission approved once,
every set-up paid at most once, each participant paid the intended bonus, or the plan stopped
with `OutcomeUnknownError` naming the set-up and what to check."""

from __future__ import annotations

import random
from pathlib import Path

import attrs
import pytest

import prolific_async as pa
from prolific_async.testing import FakeProlific

from .orch_child import plans
from .orchestration import PLACES, client_for
from .test_orchestrate_kill import KillPoint, fake, run_child_until_killed

pytestmark = pytest.mark.anyio

__all__ = ["fake"]  # the fixture, shared with the kill tests

COUNT = 20
_MONEY_POSTS = ("*/bulk-approve/", "*/bonus-payments/", "*/pay/")

#: Each kind of money request, killed after the fake acted on it (the gap no journal sees),
#: and a pay killed before it reached the fake (after the run marked it as being sent).
POINTS = {
    "after approve": KillPoint("POST", 5, before=False, path="*/bulk-approve/"),
    "after set-up": KillPoint("POST", 7, before=False, path="*/bonus-payments/"),
    "after pay": KillPoint("POST", 9, before=False, path="*/pay/"),
    "before pay": KillPoint("POST", 3, before=True, path="*/pay/"),
}


def seeded(seed: int) -> KillPoint:
    rng = random.Random(seed)
    return KillPoint("POST", rng.randint(1, COUNT), before=rng.random() < 0.5,
                     path=rng.choice(_MONEY_POSTS))


@pytest.mark.parametrize("where", [*POINTS, 1])
async def test_a_killed_paying_run_moves_money_exactly_once(
        fake: FakeProlific, tmp_path: Path, where: str | int) -> None:
    point = attrs.evolve(POINTS[where]) if isinstance(where, str) else seeded(where)
    journal, out = tmp_path / "run.db", tmp_path / "out"
    await run_child_until_killed(fake, point, journal, out, count=COUNT, paying=True)

    async with client_for(fake) as client:
        async with pa.orchestrate(client, plans(fake.workspace_id, out, COUNT, paying=True),
                                  journal=journal) as run:
            results = await run.wait()

    money = fake.money
    studies = [r.study_id for r in results]
    assert all(studies)
    submissions = [f"sub-{study[:8]}-{k:04d}" for study in studies if study
                   for k in range(PLACES)]
    assert sorted(a.submission_id for a in money.approvals) == sorted(submissions)
    assert all(len(b.pays) <= 1 for b in money.bonuses.values()), point.killed
    stopped = {r.study_id: r.error for r in results if not r.ok}
    for result in results:
        assert result.ok or isinstance(result.error, pa.OutcomeUnknownError), (
            point.killed, result.error)
    for study in studies:
        paid = [money.paid_to(f"sub-{(study or '')[:8]}-{k:04d}") for k in range(PLACES)]
        if study in stopped:
            message = str(stopped[study])
            assert "bonus payment" in message and "before paying it" in message
            assert all(p in ([], [10]) for p in paid), point.killed
        else:
            assert paid == [[10]] * PLACES, point.killed
    if where == "before pay":
        # That pay was marked as being sent and never reached the fake: a rerun cannot tell
        # it from a pay still on its way, so it stops rather than risk paying twice (and so
        # does any other plan whose pay was on its way when the run was killed).
        assert stopped and all(money.paid_to(f"sub-{s[:8]}-0000") in ([], [10])
                               for s in stopped if s)
