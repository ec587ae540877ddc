"""What the soak test and its SDK processes share: the plans, the chaos, the client, and the
checks of the fake's records.

Every run of the SDK is a process of its own, so that its figures (peak memory above all)
are the SDK's alone, not the fake's or pytest's, and so that it can be SIGKILLed::

    python -m tests.soak_support URL TOKEN WORKSPACE JOURNAL EXPORTS PLANS KILL_AFTER

runs PLANS plans through `orchestrate` with the journal, and prints one line of JSON (its
figures and each plan's result) at the end; with KILL_AFTER > 0 it SIGKILLs itself after that
many pipeline events instead, in the middle of whatever is in flight.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import attrs

import prolific_async as pa
from prolific_async.testing import FakeProlific

from .helpers import DETAILS, QUESTIONS

#: Plans in the default (short) run; ``SOAK_PLANS`` sets another count (``nox -s soak``: 200).
SHORT_PLANS = 30
PLACES = 2
ROWS = 4
#: The client's read timeout, and the slow answers that outlast it.
READ_TIMEOUT = 0.25
SLOW_SECONDS = 0.6


def plan_count() -> int:
    return int(os.environ.get("SOAK_PLANS", SHORT_PLANS))


def add_chaos(fake: FakeProlific, seed: int) -> None:
    """The issue's fault profile, seeded, on every route of both hosts (API and storage)."""
    fake.chaos(seed=seed, rate_limit=0.10, unavailable=0.05, drop=0.02, lose_answer=0.02,
               slow=0.01, slow_seconds=SLOW_SECONDS, jitter=0.003, retry_after="0.02")


def soak_client(url: str, token: str) -> pa.Prolific:
    """A client tuned for a fast loopback soak: short waits, and a retry budget sized for a
    fault rate (20 %) far above any real service's, so that what is tested is recovery, not
    the budget's refusal to storm (``tests/test_transport.py`` tests that)."""
    return pa.Prolific(
        token, base_url=url, seed=17, timeouts=pa.Timeouts(read=READ_TIMEOUT),
        retry=pa.RetryPolicy(attempts=10, wait_initial=0.005, wait_max=0.05, budget=1000,
                             budget_refill_per_second=500),
        poll=pa.PollPolicy(initial=0.01, multiplier=1.5, ceiling=0.05, deadline=300,
                           max_poll_errors=20),
    )


def soak_plans(workspace_id: str, exports: Path, count: int) -> list[pa.BatchPlan]:
    """``count`` plans: 4 rows, one task per group, two questions, a published study of two
    places waited to completion, and the export downloaded."""
    study = pa.StudyPlan(description="Rate two responses", reward=50, places=PLACES,
                         estimated_minutes=2, publish=True, wait_for="complete")
    return [pa.BatchPlan(
        name=f"soak-{n:04d}", workspace_id=workspace_id,
        dataset=[{"prompt": f"prompt {n}.{i}", "response": f"response {i}"} for i in range(ROWS)],
        task_details=DETAILS, instructions=QUESTIONS, tasks_per_group=1, study=study,
        export_to=exports) for n in range(count)]


# -- the checks -------------------------------------------------------------------------------

@attrs.define
class Audit:
    """What the fake's records say about the plans of a run."""

    missing: list[str] = attrs.Factory(list)
    duplicate_batches: int = 0
    duplicate_studies: int = 0
    extra_publishes: int = 0
    #: Batches with more tasks than their plan has rows: an upload processed twice.
    doubled_uploads: int = 0
    export_jobs: int = 0
    export_requests: int = 0
    #: Export jobs beyond the export requests their batch received.
    unexplained_exports: int = 0
    #: Datasets whose create answer was lost, or whose upload was unconfirmed (harmless).
    orphan_datasets: int = 0

    @property
    def duplicates(self) -> int:
        return (self.duplicate_batches + self.duplicate_studies + self.extra_publishes
                + self.doubled_uploads)


def audit(fake: FakeProlific, plans: list[pa.BatchPlan]) -> Audit:
    """One batch and one study per plan, the study published once, the rows uploaded once;
    export jobs beyond one per batch only where its export was asked for more than once."""
    found = Audit()
    asked = Counter(r.path.split("/")[-2] for r in fake.requests_to("POST", "*/export"))
    for plan in plans:
        batches = fake.world.batches_named(plan.name)
        found.duplicate_batches += max(0, len(batches) - 1)
        found.orphan_datasets += max(0, len(fake.world.datasets_named(plan.name)) - 1)
        studies = fake.world.studies_for(batches[0].id) if batches else []
        if not studies or studies[0].publish_count != 1:
            found.missing.append(plan.name)
        if not batches:
            continue
        found.duplicate_studies += max(0, len(studies) - 1)
        found.extra_publishes += sum(max(0, s.publish_count - 1) for s in studies)
        found.doubled_uploads += len(batches[0].tasks) > ROWS
        jobs = len(fake.world.exports_for(batches[0].id))
        found.export_jobs += jobs
        found.export_requests += asked[batches[0].id]
        found.unexplained_exports += max(0, jobs - max(asked[batches[0].id], 1))
    return found


def answers_submitted(fake: FakeProlific, batch_id: str) -> set[tuple[str, str, str]]:
    """(submission, task, instruction) of every answer the simulated participants gave."""
    owner = fake.world.owners[batch_id]
    return {(sub["submission_id"], task["id"], question)
            for sub in fake.world.submissions(owner)
            for task in sub["tasks"] for question in sub["answers"]}


def answers_exported(path: str | Path) -> set[tuple[str, str, str]]:
    """The same triples, as read back from a downloaded export with `pa.ExportArchive`."""
    with pa.ExportArchive(path) as archive:
        return {(record.submission_id, task_id, instruction_id)
                for record in archive.submissions()
                for task_id, answers in record.responses.items()
                for instruction_id in answers}


# -- the SDK's process ------------------------------------------------------------------------

def peak_memory_mib() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1 << 20) if sys.platform == "darwin" else peak / 1024, 1)


async def run_plans(url: str, token: str, workspace_id: str, journal: str, exports: str,
                    count: int, kill_after: int) -> dict[str, Any]:
    """Run the plans (see the module docstring); returns this process's figures."""
    plans = soak_plans(workspace_id, Path(exports), count)
    started = peak_memory_mib()
    events = 0
    async with soak_client(url, token) as client:
        async with pa.orchestrate(client, plans, journal=journal) as run:
            async for _ in run:
                events += 1
                if events == kill_after:
                    # No clean-up of any kind: the process is gone mid-request.
                    os.kill(os.getpid(), signal.SIGKILL)
    return {
        "events": events, "requests_sent": client.stats.requests,
        "retries": client.stats.retries, "rate_limited": client.stats.rate_limited,
        "memory_at_start_mib": started, "peak_memory_mib": peak_memory_mib(),
        "results": [{"plan": r.plan, "error": None if r.error is None else repr(r.error),
                     "batch_id": r.batch_id, "responses": r.responses,
                     "export_path": None if r.export_path is None else str(r.export_path)}
                    for r in run.results],
    }


if __name__ == "__main__":
    import anyio

    url, token, workspace, journal, exports, count, kill_after = sys.argv[1:8]
    figures = anyio.run(run_plans, url, token, workspace, journal, exports, int(count),
                        int(kill_after))
    print(json.dumps(figures))
