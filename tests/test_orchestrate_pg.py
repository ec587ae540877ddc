"""`orchestrate` and the command with a PostgreSQL journal: a run resumes from it, two workers on
the same plans never drive one plan twice, and `journal status` shows where the plans stand."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest

import prolific_async as pa
from prolific_async.orchestration._journal import Journal
from prolific_async.testing import FakeClock, FakeProlific

from .cli_support import invoke, one_error_line, served
from .orchestration import batches_named, client_for, plan, publishes_of, studies_of
from .pg_cluster import journal_url, postgres_url
from .test_cli_run import plan_file

__all__ = ["journal_url", "postgres_url"]  # the fixtures, imported for pytest


@pytest.fixture
async def fake() -> AsyncIterator[FakeProlific]:
    async with FakeProlific(clock=FakeClock(speed=0, per_request=0.25), seed=4) as server:
        yield server


@pytest.mark.anyio
async def test_a_run_resumes_from_its_postgres_journal(fake: FakeProlific, tmp_path: Path,
                                                       journal_url: str) -> None:
    plans = [plan(f"p{n}", fake.workspace_id, tmp_path / "out") for n in range(3)]
    async with client_for(fake) as client:
        # A fixed poll rate is the run's, recorded in the journal for its workers to share.
        async with pa.orchestrate(client, plans, journal=journal_url, poll_rate=300) as run:
            first = await run.wait()
        assert all(result.ok for result in first)
        posts = len(fake.requests_to("POST"))
        async with pa.orchestrate(client, plans, journal=journal_url) as run:
            events = [event async for event in run]
            again = run.results
    assert [r.batch_id for r in again] == [r.batch_id for r in first]
    assert all(r.ok and r.export_path for r in again)
    # Finished plans of a shared journal are reported as recorded, not driven again.
    assert events == []
    assert len(fake.requests_to("POST")) == posts
    status = await pa.journal_status(journal_url)
    assert status.by_stage() == {"finished": 3}
    assert [p.holder for p in status.plans] == [None, None, None]
    assert status.workers == ()  # both runs left: their leases and rows are gone
    assert status.poll_ceiling == 300.0


@pytest.mark.anyio
async def test_two_workers_on_the_same_plans_each_report_every_plan_driven_once(
        fake: FakeProlific, tmp_path: Path, journal_url: str) -> None:
    plans = [plan(f"w{n}", fake.workspace_id) for n in range(6)]
    results: dict[str, list[pa.PlanResult]] = {}
    driven: dict[str, set[str]] = {"a": set(), "b": set()}

    async def worker(name: str) -> None:
        async with client_for(fake) as client, pa.orchestrate(
                client, plans, concurrency=3, journal=journal_url + "?lease_timeout=1") as run:
            async for event in run:
                if event.kind is pa.EventKind.STARTED:
                    driven[name].add(event.plan)
            results[name] = run.results

    async with anyio.create_task_group() as group:
        group.start_soon(worker, "a")
        group.start_soon(worker, "b")
    for n, name in enumerate(p.name for p in plans):
        a, b = results["a"][n], results["b"][n]
        # Each worker reports every plan, whoever drove it.
        assert a.ok and b.ok, (a, b)
        assert a.batch_id == b.batch_id and a.study_id == b.study_id and a.batch_id
        [batch] = batches_named(fake, name)
        [study] = studies_of(fake, batch)
        assert publishes_of(fake, study) == 1
    # A worker's events are those of the plans it drove; each plan was driven by one.
    assert driven["a"] | driven["b"] == {p.name for p in plans}
    assert not driven["a"] & driven["b"]


def test_journal_status_on_the_command_line(tmp_path: Path, journal_url: str) -> None:
    with served() as running:
        plans = plan_file(tmp_path, running.fake.workspace_id, ["first", "second"])
        assert invoke(running, "run", str(plans), "--journal", journal_url).exit_code == 0
        shown = invoke(running, "journal", "status", "--journal", journal_url)
        assert shown.exit_code == 0, shown.stderr
        assert shown.stdout.split() == ["stage", "plans", "finished", "2"]
        assert "poll budget" not in shown.stderr  # adaptive: no fixed budget to share
        as_json = json.loads(invoke(running, "journal", "status", "--journal", journal_url,
                                    "--json").stdout)
        assert sorted(p["plan"] for p in as_json["plans"]) == ["first", "second"]
        assert all(p["finished"] and p.get("holder") is None for p in as_json["plans"])


def test_journal_status_of_a_sqlite_journal(tmp_path: Path) -> None:
    path = tmp_path / "run.db"

    async def record() -> None:
        journal = await Journal.open(path)
        for name in ("done", "halfway"):
            await journal.enter(name, {})
        await journal.begin("halfway", "batch_create")
        await journal.release("done", finished=True)
        await journal.aclose()

    anyio.run(record)
    shown = invoke(None, "journal", "status", "--journal", str(path))
    assert shown.stdout.split() == ["stage", "plans", "batch_create", "(begun)", "1",
                                    "finished", "1"]
    missing = invoke(None, "journal", "status", "--journal", str(tmp_path / "no.db"))
    assert missing.exit_code == 3
    assert f"no journal at {str(tmp_path / 'no.db')!r}" in one_error_line(missing)


def test_a_journal_url_with_a_password_never_shows_it(postgres_url: str) -> None:
    secret = postgres_url.replace("postgres@", "postgres:hunter2@").rsplit("/", 1)[0] + "/none"
    result = invoke(None, "journal", "status", "--journal", secret)
    assert result.exit_code == 3
    assert "hunter2" not in result.stderr + result.stdout
    assert "postgres:***@" in one_error_line(result)
