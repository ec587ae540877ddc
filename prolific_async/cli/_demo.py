"""``prolific-async demo``: the whole job, offline, in well under a minute.

It starts the fake Prolific server in-process (its clock 10 times faster than real time),
writes a small dataset of product reviews per batch, and runs one plan per batch through
`pa.orchestrate`: dataset, upload, batch, setup, study, publish, simulated participants,
export and download, all at once, live. ``--faults`` makes the fake answer some requests
with 429 or 5xx, or drop the connection (seeded), to show retries being absorbed and
nothing created twice.
"""

from __future__ import annotations

import random
import tempfile
from pathlib import Path

import click

import prolific_async as pa
from prolific_async.testing import FakeClock, FakeProlific

from ._context import App, pass_app, run_async
from ._demo_data import DETAILS, QUESTIONS, write_reviews
from ._live import Outcome, check, drive, summary

__all__ = ["demo"]

#: The fake's clock runs this many times faster than real time (by default): minutes of
#: work in seconds, slow enough to watch.
SPEED = 10.0
ROWS, TASKS_PER_GROUP, PLACES = 8, 2, 4
#: The bonus each approved submission gets, in minor units.
BONUS = 25


@click.command()
@click.option("--batches", "-n", type=click.IntRange(1, 1000), default=20, show_default=True,
              help="How many batches to run at once.")
@click.option("--concurrency", "-c", type=click.IntRange(min=1), default=50,
              show_default=True, help="How many batches may be in flight together.")
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the datasets and exports [default: a new temporary folder].")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed for the data, the fake server and its faults.")
@click.option("--speed", type=click.FloatRange(min=1), default=SPEED, show_default=True,
              help="How many times faster than real time the fake's clock runs.")
@click.option("--faults", is_flag=True,
              help="Make the fake answer 429 / 5xx and drop connections now and then.")
@pass_app
def demo(app: App, batches: int, concurrency: int, out: Path | None, seed: int,
         speed: float, faults: bool) -> None:
    """Run batches end to end against the embedded fake Prolific: no token, no network."""
    folder = out or Path(tempfile.mkdtemp(prefix="prolific-demo-"))
    data, exports = folder / "data", folder / "exports"
    data.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    names = [f"reviews-{number:02d}" for number in range(1, batches + 1)]
    files = [write_reviews(data / f"{name}.csv", rng, ROWS) for name in names]

    async def main() -> Outcome:
        async with _fake(speed, seed, faults) as fake:
            plans = [pa.BatchPlan(
                name=name, workspace_id=fake.workspace_id, dataset=file,
                task_details=DETAILS, instructions=QUESTIONS, tasks_per_group=TASKS_PER_GROUP,
                study=pa.StudyPlan(description="Label the sentiment of product reviews.",
                                   reward=50, places=PLACES, estimated_minutes=3,
                                   publish=True, wait_for="complete", approve="all",
                                   bonus=BONUS),
                export_to=exports) for name, file in zip(names, files, strict=True)]
            async with pa.Prolific(fake.token, base_url=fake.url, seed=seed) as client:
                app.output.note(
                    f"demo: {batches} batches against the fake Prolific at {fake.url} "
                    f"(its clock runs {speed:g}x real time"
                    + (", with injected faults)" if faults else ")"))
                outcome = await drive(app.output, client, plans, concurrency=concurrency)
                twice = await _created_twice(client, fake.workspace_id)
            fired = fake.fault_counts() if faults else {}
            paid = _paid_once(fake)
        notes = ["on the server: one batch and one study per plan, nothing created twice"
                 if not twice else f"created twice: {', '.join(twice)}", paid]
        if faults:
            notes.insert(0, "faults injected: " + (", ".join(
                f"{count} {kind.replace('_', ' ')}" for kind, count in sorted(fired.items())
                if count)
                or "none"))
        summary(app.output, outcome, notes=notes,
                extra={"faults": fired, "created_twice": twice, "data": str(data)})
        return outcome

    check(run_async(main))


def _fake(speed: float, seed: int, faults: bool) -> FakeProlific:
    """The demo's server: jobs take realistic times in fake seconds (at the default speed,
    a tenth of that in real time), and maybe meet trouble."""
    fake = FakeProlific(clock=FakeClock(speed=speed), seed=seed, record=False,
                        dataset_processing=20, batch_setup=30, export_generating=10,
                        submission_interval=5)
    if faults:
        # Seeded: the same --seed meets the same trouble at the same requests, on the API and
        # the storage host: a 429 with Retry-After, a 503, a connection cut before the server
        # acts, or after it acted.
        # Not on the bonus pay (/api/v1/bulk-bonus-payments/...): a pay answered 5xx cannot be
        # told from one the server carried out, so a run stops that plan rather than risk
        # paying twice. The demo shows the faults a run absorbs.
        for path, offset in (("/api/v1/[!b]*", 0), ("/[!a]*", 1000)):  # the API; storage
            fake.chaos(seed=seed + offset, rate_limit=0.02, unavailable=0.03, drop=0.01,
                       lose_answer=0.01, path=path)
    return fake


def _paid_once(fake: FakeProlific) -> str:
    """What the fake's wallet saw: each approval and bonus once, or what went twice."""
    money = fake.money
    approved = [a.submission_id for a in money.approvals]
    twice = len(approved) - len(set(approved)) + sum(
        len(b.pays) > 1 for b in money.bonuses.values())
    return (f"money: {len(approved)} submissions approved and {len(money.payments)} bonuses "
            f"of {BONUS / 100:.2f} paid, " + ("each once" if not twice else
                                               f"{twice} paid twice"))


async def _created_twice(client: pa.Prolific, workspace_id: str) -> list[str]:
    """Ask the server: which plan got two batches, or a batch two studies?"""
    batches = await client.batches.list(workspace_id=workspace_id)
    names = [batch.name for batch in batches if batch.name]
    owners = [study.data_collection_id for study in await client.studies.list()]
    by_id = {batch.id: batch.name or batch.id for batch in batches}
    return sorted({f"batch {n}" for n in names if names.count(n) > 1}
                  | {f"study of {by_id.get(o, o)}" for o in owners if o and owners.count(o) > 1})
