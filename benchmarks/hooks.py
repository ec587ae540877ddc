"""Waiting on 200 studies: pushed by webhooks through one receiver, or polled?

Against the fake server on loopback with a real-time clock, ``--studies`` studies are
published at once; study ``i`` takes ``5 + i % --spread`` seconds (one participant a second),
so completions spread over the run. Each study is watched to AWAITING REVIEW twice, in two
runs on fresh fakes:

- polling: ``client.studies.watch(id)`` with the client's default `PollPolicy`;
- webhooks: ``client.studies.watch(id, events=receiver)``, one `HookReceiver` served by
  aiohttp.web on loopback, subscribed to ``study.status.change``; its safety-net poll (5 min)
  never comes due in this run.

It prints the study reads each run sent while watching and the detection delay (from the
moment the study completed on the server to the watch ending; medians, 95th percentiles and
maxima), and the ratios webhooks / polling.

    python benchmarks/hooks.py [--studies 200] [--spread 40]

Goals: webhooks send at most a fifth of polling's reads, with a median delay under 0.5 s.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
from aiohttp import web

import prolific_async as pa
from prolific_async.testing import FakeClock, FakeProlific

READS = "GET /api/v1/studies/{study_id}"
DETAILS = pa.TaskDetails(task_name="Rate", task_introduction="<p>Hi</p>",
                         task_steps="<ol><li>Rate</li></ol>")


@asynccontextmanager
async def served(receiver: pa.HookReceiver) -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_post("/hooks", receiver.aiohttp_handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        host, port = runner.addresses[0][:2]
        yield f"http://{host}:{port}/hooks"
    finally:
        await runner.cleanup()


async def ready_batch(client: pa.Prolific, fake: FakeProlific, folder: Path) -> pa.Batch:
    data = folder / "data.csv"
    data.write_text("prompt,response\n" + "".join(f"p{i},r{i}\n" for i in range(4)))
    ds = await client.datasets.create(name="bench", workspace_id=fake.workspace_id)
    await client.datasets.upload(ds.id, data)
    fake.clock.advance(fake.world.dataset_processing)
    batch = await client.batches.create(
        name="bench", workspace_id=fake.workspace_id, dataset_id=ds.id, task_details=DETAILS,
        batch_items=pa.one_page([pa.FreeText(description="Why?")]))
    await client.batches.setup(batch.id, tasks_per_group=1)
    fake.clock.advance(fake.world.batch_setup)
    return await client.batches.get(batch.id)


async def one_run(studies: int, spread: int, *, webhooks: bool) -> tuple[int, list[float]]:
    """(study reads sent while watching, detection delays in seconds)."""
    async with FakeProlific(clock=FakeClock(speed=1.0), record=False) as fake:
        async with pa.Prolific(fake.token, base_url=fake.url, seed=1) as client:
            with tempfile.TemporaryDirectory() as folder:
                batch = await ready_batch(client, fake, Path(folder))
            secret = await client.hooks.create_secret(fake.workspace_id)
            receiver = pa.HookReceiver(secret.value, buffer=0)
            async with served(receiver) as url:
                if webhooks:
                    await client.hooks.subscribe(workspace_id=fake.workspace_id,
                                                 event_type="study.status.change",
                                                 target_url=url)
                ids = []
                for i in range(studies):
                    study = await client.studies.create(pa.StudyCreate(
                        name=f"s{i}", description="bench", data_collection_id=batch.id,
                        reward=10, total_available_places=5 + i % spread,
                        estimated_completion_time=1))
                    ids.append(study.id)
                # Fake seconds to this loop's clock (the fake clock runs in real time).
                to_loop = anyio.current_time() - fake.clock.now()
                for study_id in ids:
                    await client.studies.publish(study_id)
                reads_before = fake.stats().get(READS, 0)
                delays: list[float] = []

                async def watch(study_id: str) -> None:
                    await client.studies.watch(study_id,
                                               events=receiver if webhooks else None).wait()
                    rec = fake.world.studies[study_id]
                    assert rec.published_at is not None
                    places = int(rec.body["total_available_places"])
                    done_at = rec.published_at + places * fake.world.submission_interval
                    delays.append(anyio.current_time() - (done_at + to_loop))

                async with anyio.create_task_group() as tg:
                    for study_id in ids:
                        tg.start_soon(watch, study_id)
                return fake.stats().get(READS, 0) - reads_before, delays


def summary(delays: list[float]) -> tuple[float, float, float]:
    ordered = sorted(delays)
    return (statistics.median(ordered), ordered[int(0.95 * (len(ordered) - 1))], ordered[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--studies", type=int, default=200)
    parser.add_argument("--spread", type=int, default=40)
    args = parser.parse_args()
    policy = pa.PollPolicy()
    print(f"{args.studies} studies lasting 5 to {4 + args.spread} s; polling: default "
          f"PollPolicy (initial {policy.initial} s, ceiling {policy.ceiling} s)")
    results = {}
    for name, webhooks in (("polling", False), ("webhooks", True)):
        reads, delays = anyio.run(functools.partial(one_run, args.studies, args.spread,
                                                    webhooks=webhooks))
        results[name] = (reads, summary(delays))
        median, p95, worst = results[name][1]
        print(f"{name:>9}: {reads:>6} study reads ({reads / args.studies:5.1f} a study); "
              f"delay median {median:6.3f} s, p95 {p95:6.3f} s, max {worst:6.3f} s")
    (poll_reads, (poll_median, _, _)), (hook_reads, (hook_median, _, _)) = (
        results["polling"], results["webhooks"])
    print(f"webhooks / polling: reads {hook_reads / poll_reads:.3f}, "
          f"median delay {hook_median / poll_median:.3f}")
    for goal, met in (("reads <= a fifth of polling's", hook_reads <= poll_reads / 5),
                      ("median delay < 0.5 s", hook_median < 0.5)):
        print(f"{'met ' if met else 'MISSED'} {goal}")


if __name__ == "__main__":
    main()
