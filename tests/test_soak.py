"""The soak: many plans through `orchestrate` against a fake that fails on every route, once
straight through and once SIGKILLed part-way and resumed from its journal.

The fault profile (`soak_support.add_chaos`, seeded): 10 % 429 with Retry-After, 5 % 503,
2 % connections dropped before the server acts, 2 % answers lost after it acted, 1 % answers
slower than the client's read timeout, and latency jitter on the rest, on the API and on
storage alike. Then the fake's records must show, for every plan, exactly one batch and one
study, published once, its rows uploaded once, no export job beyond what repeated export
requests explain, and every answer the simulated participants gave present in the downloaded
export (read back with `pa.ExportArchive`).

Each SDK run is a process of its own (`soak_support`), so its figures are its own. The
default run takes 30 plans; ``nox -s soak`` runs 200 (``SOAK_PLANS``) and prints the figures
the README quotes. The fake's clock moves with each request, so the jobs take the same number
of polls however fast the machine is.
"""

from __future__ import annotations

import json
import signal
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import pytest

import prolific_async as pa
from prolific_async.testing import FakeClock, FakeProlific

from .helpers import QUESTIONS
from .soak_support import (
    PLACES,
    add_chaos,
    answers_exported,
    answers_submitted,
    audit,
    plan_count,
    soak_plans,
)

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.soak,
    pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX"),
]

ROOT = Path(__file__).parent.parent
#: Fake seconds each API request moves the clock: jobs progress as the run polls.
PER_REQUEST = 0.02
#: A plan makes about 29 pipeline events; the kill lands about halfway through the run.
KILL_AFTER_PER_PLAN = 15


def soak_fake(seed: int) -> FakeProlific:
    fake = FakeProlific(clock=FakeClock(speed=0, per_request=PER_REQUEST), seed=seed)
    add_chaos(fake, seed=seed)
    return fake


async def sdk_run(fake: FakeProlific, tmp_path: Path, count: int,
                  kill_after: int = 0) -> tuple[int, dict[str, Any]]:
    """Run the plans in a process of their own; its exit code, and its figures if it ended."""
    done = await anyio.run_process(
        [sys.executable, "-m", "tests.soak_support", fake.url, fake.token, fake.workspace_id,
         str(tmp_path / "run.db"), str(tmp_path / "exports"), str(count), str(kill_after)],
        cwd=ROOT, check=False)
    output = done.stdout.decode().strip().splitlines()
    if done.returncode != 0:
        return done.returncode, {"stderr": done.stderr.decode()[-3000:]}
    return done.returncode, json.loads(output[-1])


def check(fake: FakeProlific, plans: list[pa.BatchPlan], run: dict[str, Any]) -> dict[str, Any]:
    """Every plan done, nothing twice, nothing lost: the checks, and their figures."""
    results = run["results"]
    failed = {r["plan"]: r["error"] for r in results if r["error"] is not None}
    assert failed == {}
    found = audit(fake, plans)
    lost = total = 0
    for result in results:
        submitted = answers_submitted(fake, result["batch_id"])
        assert len(submitted) == PLACES * len(QUESTIONS)
        assert result["responses"] == len(submitted)
        lost += len(submitted - answers_exported(result["export_path"]))
        total += len(submitted)
    figures = {
        "plans_completed": len(results) - len(failed),
        "duplicates_found": found.duplicates, "responses_lost": lost,
        "responses_exported": total - lost, "export_jobs": found.export_jobs,
        "export_requests": found.export_requests, "orphan_datasets": found.orphan_datasets,
    }
    assert found.missing == [] and found.duplicates == 0 and lost == 0, (found, figures)
    assert found.unexplained_exports == 0, found
    return figures


def traffic(fake: FakeProlific, *runs: dict[str, Any]) -> dict[str, Any]:
    return {
        "requests_sent": sum(r["requests_sent"] for r in runs),
        # More than sent: aiohttp silently resends an idempotent request once after a cut
        # connection, unseen by the SDK's counters.
        "requests_received": sum(fake.stats().values()),
        "retries": sum(r["retries"] for r in runs),
        "rate_limited": sum(r["rate_limited"] for r in runs),
        "faults_injected": dict(sorted(fake.fault_counts().items())),
    }


def report(title: str, figures: dict[str, Any]) -> None:
    width = max(len(k) for k in figures)
    lines = [f"  {key.ljust(width)}  {value}" for key, value in figures.items()]
    print(f"\n[soak] {title}\n" + "\n".join(lines))


async def test_soak_straight_through(tmp_path: Path) -> None:
    count = plan_count()
    started = time.perf_counter()
    async with soak_fake(seed=21) as fake:
        plans = soak_plans(fake.workspace_id, tmp_path / "exports", count)
        code, run = await sdk_run(fake, tmp_path, count)
        assert code == 0, run["stderr"]
        figures = {"plans": count, **traffic(fake, run), **check(fake, plans, run),
                   "events": run["events"], "wall_seconds": round(time.perf_counter() - started, 1),
                   "peak_memory_mib": run["peak_memory_mib"],
                   "memory_at_start_mib": run["memory_at_start_mib"]}
    report(f"{count} plans, straight through", figures)
    assert figures["faults_injected"].keys() >= {"rate_limit", "unavailable", "drop",
                                                 "lose_answer", "slow", "jitter"}


async def test_soak_killed_part_way_and_resumed(tmp_path: Path) -> None:
    count = plan_count()
    kill_after = KILL_AFTER_PER_PLAN * count
    started = time.perf_counter()
    async with soak_fake(seed=22) as fake:
        plans = soak_plans(fake.workspace_id, tmp_path / "exports", count)
        code, killed = await sdk_run(fake, tmp_path, count, kill_after=kill_after)
        assert code == -signal.SIGKILL, killed.get("stderr")
        at_kill = audit(fake, plans)
        batches_at_kill = len(fake.world.batches())
        downloaded = len(list((tmp_path / "exports").glob("*.zip")))
        assert batches_at_kill and downloaded < count, "killed part-way"
        code, resumed = await sdk_run(fake, tmp_path, count)
        assert code == 0, resumed["stderr"]
        figures = {
            "plans": count, "killed_after_events": kill_after,
            "batches_at_kill": batches_at_kill,
            "published_at_kill": count - len(at_kill.missing),
            "downloaded_at_kill": downloaded,
            **traffic(fake, resumed), **check(fake, plans, resumed),
            "wall_seconds": round(time.perf_counter() - started, 1),
            "peak_memory_mib": resumed["peak_memory_mib"],
        }
        figures["requests_sent"] = f"{figures['requests_sent']} (the resumed run's)"
        figures["retries"] = f"{figures['retries']} (the resumed run's)"
    report(f"{count} plans, SIGKILLed after {kill_after} events and resumed", figures)
