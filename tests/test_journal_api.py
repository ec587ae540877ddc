"""What every journal does, the SQLite file and PostgreSQL alike (`JournalStore`)."""

from __future__ import annotations

from pathlib import Path

import pytest

import prolific_async as pa
from prolific_async.orchestration._journal_api import open_journal

from .pg_cluster import journal_url, postgres_url

__all__ = ["journal_url", "postgres_url"]  # the fixtures, imported for pytest

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["sqlite", "postgresql"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "run.db")
    return str(request.getfixturevalue("journal_url"))


async def test_claims_hand_out_each_plan_once_oldest_first(target: str) -> None:
    async with open_journal(target) as journal:
        for name in ("a", "b", "c"):
            await journal.add(name, {"dataset": name})
        assert await journal.claim(2) == ["a", "b"]
        assert await journal.claim(2) == ["c"]
        assert await journal.claim(2) == []
        # Released unfinished, a plan is claimed again; finished, never.
        await journal.release("a", finished=False)
        await journal.release("b", finished=True)
        assert await journal.claim(5) == ["a"]
        await journal.confirm("a")
        assert not journal.lost("a").is_set()


async def test_status_shows_each_plans_furthest_stage(target: str) -> None:
    async with open_journal(target) as journal:
        for name in ("new", "begun", "done"):
            await journal.enter(name, {})
        await journal.begin("begun", "batch_create")
        await journal.finish("begun", "dataset_create", 0.5)
        await journal.finish("done", "download", 1.0)
        await journal.release("done", finished=True)
        status = await journal.status()
    by_plan = {p.plan: (p.stage, p.state, p.finished) for p in status.plans}
    assert by_plan == {"new": (None, None, False), "begun": ("batch_create", "begun", False),
                       "done": ("download", "done", True)}
    assert status.by_stage() == {"not started": 1, "batch_create (begun)": 1, "finished": 1}
    # Read from outside, once the run has left: the same stages, and no lease held.
    after = (await pa.journal_status(target)).plans
    assert {p.plan: (p.stage, p.state, p.finished) for p in after} == by_plan
    assert {p.holder for p in after} == {None}


async def test_a_changed_input_is_refused_and_an_added_one_kept(target: str) -> None:
    async with open_journal(target) as journal:
        await journal.add("p", {"dataset": "x"})
        await journal.add("p", {"dataset": "x", "study": "s"})
        with pytest.raises(pa.PlanChangedError) as caught:
            await journal.add("p", {"dataset": "x", "study": "t"})
    assert caught.value.changed == ["study"]


async def test_the_poll_budget_of_a_lone_worker_is_the_whole(target: str) -> None:
    shares: list[float] = []
    async with open_journal(target) as journal:
        await journal.share_polls(250.0, shares.append)
    assert shares == [250.0]


async def test_an_unknown_scheme_is_refused_before_anything_is_opened(tmp_path: Path) -> None:
    with pytest.raises(pa.ConfigurationError, match=r"journal mysql://u:\*\*\*@db/x is not "
                                                    "supported"):
        async with open_journal("mysql://u:pw@db/x"):
            pass  # pragma: no cover
    with pytest.raises(pa.ConfigurationError, match="lease_timeout must be seconds"):
        async with open_journal("postgresql://u@127.0.0.1:1/x?lease_timeout=0"):
            pass  # pragma: no cover
