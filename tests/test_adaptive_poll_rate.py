"""The client-wide poll budget adapts as TCP does (AIMD), and a wait does not poll before the
quickest job of its kind could have finished; the fake answers 429 beyond its rate limit."""

from __future__ import annotations

import math
import time
from pathlib import Path

import anyio
import pytest

import prolific_async as pa
from prolific_async._jobs import KINDS
from prolific_async._polling import AdaptiveRate, PollLoop
from prolific_async.testing import FakeClock, FakeProlific

pytestmark = pytest.mark.anyio


async def create_datasets_at_once(client: pa.Prolific, fake: FakeProlific, count: int
                                  ) -> list[str]:
    """``count`` datasets created together; their ids, in the order they landed."""
    created: list[str] = []

    async def create(n: int) -> None:
        dataset = await client.datasets.create(name=f"d{n}", workspace_id=fake.workspace_id)
        created.append(dataset.id)

    async with anyio.create_task_group() as group:
        for n in range(count):
            group.start_soon(create, n)
    return created


def test_a_429_halves_the_rate_once_per_burst_and_quiet_seconds_grow_it_back() -> None:
    rate = AdaptiveRate(start=400, increase=20)
    rate.throttled(10.0)
    rate.throttled(10.2)  # the same burst: no second cut
    assert rate.rate == 200
    rate.throttled(11.5)
    assert rate.rate == 100
    rate.answered(12.5)
    rate.answered(14.5)
    assert rate.rate == pytest.approx(160)  # 3 quiet seconds since the 429, +20 a second


def test_the_rate_never_exceeds_an_explicit_ceiling_nor_falls_below_its_floor() -> None:
    rate = AdaptiveRate(start=500, increase=1000, floor=2)
    rate.cap(50)
    assert rate.rate == 50
    rate.answered(0)
    rate.answered(100)
    assert rate.rate == 50
    for second in range(20):
        rate.throttled(200.0 + 2 * second)
    assert rate.rate == 2
    rate.cap(None)
    rate.answered(300)
    assert rate.rate > 50  # lifted: it grows past the old ceiling


def test_a_wait_polls_first_at_once_then_not_before_the_quickest_such_job_could_end() -> None:
    shortest: dict[str, float] = {}
    policy = pa.PollPolicy(initial=0.25, jitter=0)
    first = PollLoop(job=KINDS["batch"], ids=("b1",), policy=policy, started_at=0.0,
                     shortest=shortest, learn=True)
    first.on_status("PROCESSING", 0.0)
    assert first.on_status("READY", 1.2).done
    assert shortest == {"batch": 1.2}
    second = PollLoop(job=KINDS["batch"], ids=("b2",), policy=policy, started_at=10.0,
                      shortest=shortest, learn=True)
    # The first poll goes at once (it reports the starting status); the next one waits.
    assert second.next_poll_at(10.0, 10.01, spread=0.5) == pytest.approx(11.2)
    plain = PollLoop(job=KINDS["batch"], ids=("b3",), policy=policy, started_at=10.0,
                     shortest=shortest)
    assert plain.next_poll_at(10.0, 10.01, spread=0.5) == pytest.approx(10.25)


def test_waits_started_together_learn_from_the_first_of_them_to_end() -> None:
    shortest: dict[str, float] = {}
    policy = pa.PollPolicy(initial=0.25, jitter=0)
    early, late = (PollLoop(job=KINDS["dataset"], ids=(name,), policy=policy, started_at=0.0,
                            shortest=shortest, learn=True) for name in ("d1", "d2"))
    late.on_status("PROCESSING", 0.0)
    assert late.next_poll_at(0.0, 0.01, spread=0.5) == pytest.approx(0.325)  # none learned
    early.on_status("PROCESSING", 0.0)
    assert early.on_status("READY", 1.0).done
    # The other wait, already under way, now skips the polls that could only see it pending.
    assert late.next_poll_at(0.25, 0.26, spread=0.5) == pytest.approx(1.0)


def test_a_wait_that_polled_too_early_looks_again_around_the_age_such_jobs_end() -> None:
    # Learned: such a job takes 1.0 s. A wait whose poll at 1.0 s found its job running looks
    # again a quarter of that later, until the job is 1.5 s old; then its backoff (30 s
    # here, as a run of many plans paces it) takes over.
    shortest = {"dataset": 1.0}
    policy = pa.PollPolicy(initial=30, ceiling=60, jitter=0)
    wait = PollLoop(job=KINDS["dataset"], ids=("d1",), policy=policy, started_at=0.0,
                    shortest=shortest, learn=True)
    wait.on_status("PROCESSING", 0.0)
    assert wait.next_poll_at(0.0, 0.01, spread=0.5) == pytest.approx(1.0)  # the floor
    wait.on_status("PROCESSING", 1.0)
    assert wait.next_poll_at(1.0, 1.01, spread=0.5) == pytest.approx(1.26)
    wait.on_status("PROCESSING", 1.26)
    assert wait.next_poll_at(1.26, 1.27, spread=0.5) == pytest.approx(1.52)
    wait.on_status("PROCESSING", 1.52)
    assert wait.next_poll_at(1.52, 1.53, spread=0.5) == pytest.approx(1.52 + 60)  # ceiling
    # A 429's Retry-After is obeyed as before; a wait that does not learn keeps its backoff.
    limited = pa.RateLimitError("slow down", status_code=429, body=None, detail="",
                                request=pa.RequestInfo("GET", "/x"))
    limited.retry_after = 7.0
    assert wait.next_poll_at(1.0, 1.01, spread=0.5, error=limited) > 7
    # Once a 429 has cut the client's rate, its channels pass look_again=False: backoff.
    assert wait.next_poll_at(1.0, 1.01, spread=0.5, look_again=False) == pytest.approx(61.0)
    plain = PollLoop(job=KINDS["dataset"], ids=("d2",), policy=policy, started_at=0.0,
                     shortest=shortest)
    plain.on_status("PROCESSING", 0.0)
    assert plain.next_poll_at(1.0, 1.01, spread=0.5) == pytest.approx(1.0 + 30 * 1.3)


def test_jobs_started_together_are_probed_by_the_oldest_until_one_of_them_ends() -> None:
    # Nothing of the kind has ended yet. The oldest job is asked about; the others, younger,
    # wait until they are a quarter older than it was, so while it is probed (each look a
    # quarter later than the last) they send nothing; once it is seen done, each of them
    # polls once, when a job that quick would have ended.
    shortest: dict[str, float] = {}
    asked: dict[str, float] = {}
    policy = pa.PollPolicy(initial=0.25, ceiling=15, jitter=0)
    oldest, second, third = (
        PollLoop(job=KINDS["dataset"], ids=(f"d{n}",), policy=policy, started_at=0.05 * n,
                 shortest=shortest, asked=asked, learn=True, from_job_start=True)
        for n in range(3))
    assert oldest.floor_at == -math.inf  # nothing learned: each one's own first delay
    oldest.sending(0.4)
    assert asked == {"dataset": pytest.approx(0.4)}
    assert second.floor_at == pytest.approx(0.05 + 0.5)
    assert third.floor_at == pytest.approx(0.10 + 0.5)
    assert second.first_poll_at(spread=0.0) == pytest.approx(0.55)  # not its own 0.1
    oldest.on_status("PROCESSING", 0.45)
    assert oldest.next_poll_at(0.4, 0.45, spread=0.5) == pytest.approx(0.5)  # 1.25 x 0.4
    oldest.sending(0.5)
    assert second.floor_at == pytest.approx(0.05 + 0.625)
    assert oldest.on_status("READY", 1.1).done
    assert shortest == {"dataset": pytest.approx(1.1)}
    assert second.floor_at == pytest.approx(1.15)
    assert third.floor_at == pytest.approx(1.2)
    # A plain watch, or one that does not learn, is never held back by the others.
    plain = PollLoop(job=KINDS["dataset"], ids=("d9",), policy=policy, started_at=0.0,
                     shortest={}, asked={"dataset": 0.5}, learn=True)
    assert plain.floor_at == -math.inf and plain.first_poll_at(spread=0.5) == -math.inf


def test_a_job_stuck_for_an_hour_holds_the_younger_waits_back_a_ceiling_at_most() -> None:
    asked = {"dataset": 3600.0}
    policy = pa.PollPolicy(initial=0.25, ceiling=15, jitter=0)
    young = PollLoop(job=KINDS["dataset"], ids=("d1",), policy=policy, started_at=100.0,
                     shortest={}, asked=asked, learn=True, from_job_start=True)
    assert young.floor_at == pytest.approx(115.0)
    young.sending(115.0)
    assert asked == {"dataset": 3600.0}  # the oldest age asked about only grows


def test_a_wait_counted_from_its_jobs_start_first_asks_after_a_drawn_share_of_its_delay() -> None:
    # At once it would only see its job pending; drawn, so that jobs started together are
    # not all asked about at the same moment (a run's waits have a spacing of seconds).
    policy = pa.PollPolicy(initial=2.0, ceiling=15, jitter=0)
    counted = PollLoop(job=KINDS["study"], ids=("s1",), policy=policy, started_at=10.0,
                       shortest={}, asked={}, learn=True, from_job_start=True)
    assert counted.first_poll_at(spread=0.0) == pytest.approx(10.4)  # a fifth of 2 s
    assert counted.first_poll_at(spread=0.5) == pytest.approx(11.2)
    assert counted.first_poll_at(spread=0.999) == pytest.approx(12.0, abs=0.01)
    learned = PollLoop(job=KINDS["study"], ids=("s2",), policy=policy, started_at=10.0,
                       shortest={"study": 3.0}, asked={}, learn=True, from_job_start=True)
    assert learned.first_poll_at(spread=0.0) == pytest.approx(13.0)  # no sooner than that
    short = pa.PollPolicy(initial=2.0, ceiling=15, deadline=1.0)
    bounded = PollLoop(job=KINDS["study"], ids=("s3",), policy=short, started_at=10.0,
                       shortest={"study": 3.0}, asked={}, learn=True, from_job_start=True)
    assert bounded.first_poll_at(spread=0.5) == pytest.approx(11.0)  # the deadline's look


async def test_datasets_uploaded_together_are_each_polled_about_once(tmp_path: Path) -> None:
    # Twenty datasets are processing (the fake's clock stands still); their waits know when
    # each upload ended. Until one is seen done only the oldest is asked about; the clock is
    # moved past the processing once a poll finds the oldest 0.6 s old. Polled on their own
    # backoff (0.25 s, then 30 % more each time), the twenty would have sent ~60 polls.
    csv = tmp_path / "rows.csv"
    csv.write_text("prompt\nhello\n")
    async with FakeProlific(clock=FakeClock(speed=0), dataset_processing=1.0) as fake:
        status_polls: list[float] = []
        began: list[float] = []

        def on_request(event: pa.RequestEvent) -> None:
            if event.path.endswith("/status"):
                status_polls.append(anyio.current_time())
                if began and status_polls[-1] - began[0] >= 0.6 and fake.clock.now() < 1.0:
                    fake.clock.advance(5.0)

        async with pa.Prolific(fake.token, base_url=fake.url, seed=11,
                               on_request=on_request) as client:
            ids = await create_datasets_at_once(client, fake, 20)

            async def upload_and_wait(dataset_id: str) -> None:
                await client.datasets.upload(dataset_id, csv)
                with pa.job_started_at(anyio.current_time()):
                    if not began:
                        began.append(anyio.current_time())
                    await client.datasets.watch(dataset_id).wait()

            with anyio.fail_after(30):
                async with anyio.create_task_group() as group:
                    for dataset_id in ids:
                        group.start_soon(upload_and_wait, dataset_id)
    assert fake.clock.now() >= 1.0  # the oldest was probed until 0.6 s old
    # About a dozen looks at the oldest (from its first at 0.05-0.25 s, each 1.25x older),
    # then one for each of the others. (Without the probing: 60.)
    assert 20 <= len(status_polls) <= 20 + 16


def test_a_job_seen_done_at_the_first_poll_teaches_only_when_its_start_is_known() -> None:
    # A wait that knows when its job started learns from a first look that finds it done
    # (the job took at most that long); a plain wait_ready may begin long after its job
    # ended, so a first look that finds it done teaches nothing.
    policy = pa.PollPolicy(initial=0.25, jitter=0)
    shortest: dict[str, float] = {}
    plain = PollLoop(job=KINDS["batch_export"], ids=("e1",), policy=policy, started_at=5.0,
                     shortest=shortest, learn=True)
    assert plain.on_status("complete", 5.1).done
    assert shortest == {}
    counted = PollLoop(job=KINDS["batch_export"], ids=("e2",), policy=policy, started_at=5.0,
                       shortest=shortest, learn=True, from_job_start=True)
    assert counted.on_status("complete", 6.25).done
    assert shortest == {"batch_export": 1.25}
    # Counted to when the poll was sent, when known: a later wait's poll, sent at that age,
    # spends the same time on its way (counted to the answer it would be a request late).
    sent = PollLoop(job=KINDS["batch_export"], ids=("e3",), policy=policy, started_at=5.0,
                    shortest=shortest, learn=True, from_job_start=True)
    assert sent.on_status("complete", 6.2, sent=6.0).done
    assert shortest == {"batch_export": pytest.approx(1.0)}


async def test_a_watch_begun_under_job_started_at_counts_from_the_jobs_start() -> None:
    # Its deadline, as what it learns, counts from when the job was started, not from when
    # the watch began: a job started 4 s before a watch with a 5 s deadline times out 1 s in.
    async with FakeProlific(clock=FakeClock(speed=0)) as fake, pa.Prolific(
            fake.token, base_url=fake.url,
            poll=pa.PollPolicy(initial=0.25, ceiling=0.5, deadline=5)) as client:
        dataset = await client.datasets.create(name="d", workspace_id=fake.workspace_id)
        began = anyio.current_time()
        with pa.job_started_at(began - 4.0):  # read as the watch is made
            watch = client.datasets.watch(dataset.id)
        with pytest.raises(pa.PollTimeout), anyio.fail_after(30):
            await watch.wait()
        assert anyio.current_time() - began < 3.0


def test_lifting_a_runs_cap_gives_back_the_start_rate_unless_a_429_cut_it() -> None:
    rate = AdaptiveRate(start=500)
    rate.cap(40)
    rate.cap(None)
    assert rate.rate == 500  # a run's fixed cap says nothing of the server's limit
    rate.cap(40)
    rate.throttled(1.0)
    rate.cap(None)
    assert rate.rate == 20  # a 429 did: it grows back from there


async def test_watches_under_a_rate_limit_are_held_near_it_and_their_429s_counted() -> None:
    limit = 40
    async with FakeProlific(clock=FakeClock(speed=0), rate_limit=limit) as fake, \
            pa.Prolific(fake.token, base_url=fake.url, seed=3) as client:
        datasets = [await client.datasets.create(name=f"d{i}", workspace_id=fake.workspace_id)
                    for i in range(30)]
        before = len(fake.requests)
        policy = pa.PollPolicy(initial=0.01, ceiling=0.02, deadline=2.0)

        async def watch(dataset: pa.Dataset) -> None:
            with pytest.raises(pa.PollError):
                await client.datasets.watch(dataset.id, poll=policy).wait()

        started = time.monotonic()
        async with anyio.create_task_group() as group:
            for dataset in datasets:
                group.start_soon(watch, dataset)
        took = time.monotonic() - started
    polls = len(fake.requests) - before
    assert fake.rate_limited >= 1  # the limit was met...
    assert client.stats.rate_limited == fake.rate_limited
    # ...and the watches backed off together: 30 watches polling every 10-20 ms unchecked
    # would ask ~40x the limit. (The share of 429s is benchmarks/orchestrate.py's question.)
    assert polls / took <= limit * 2.5


async def test_after_a_429_every_api_request_is_spaced_at_the_cut_rate_not_only_polls() -> None:
    async with FakeProlific(clock=FakeClock(speed=0)) as fake, \
            pa.Prolific(fake.token, base_url=fake.url, seed=5, max_poll_rate=20) as client:
        dataset = await client.datasets.create(name="d", workspace_id=fake.workspace_id)
        fake.inject(method="GET", path="*/datasets/*", status=429, retry_after="0", times=1)
        await client.datasets.get(dataset.id)  # one 429, then its retry: the rate is now 10/s
        assert client.stats.rate_limited == 1

        async def get() -> None:
            await client.datasets.get(dataset.id)

        started = time.monotonic()
        async with anyio.create_task_group() as group:
            for _ in range(10):
                group.start_soon(get)
        took = time.monotonic() - started
    # Ten gets sent together, unpaced, are answered within milliseconds; paced, each takes
    # its own slot at 10 a second (one may go 10 ms early), the last about 1 s on.
    assert took >= 0.8


async def test_429s_with_retry_after_spend_no_retry_budget_so_a_burst_of_creates_all_land() -> None:
    # No retry budget at all: only 429s that say when to come back may be retried.
    retry = pa.RetryPolicy(budget=0, budget_refill_per_second=0)
    async with FakeProlific(clock=FakeClock(speed=0), rate_limit=50) as fake, \
            pa.Prolific(fake.token, base_url=fake.url, seed=7, retry=retry) as client:
        created = await create_datasets_at_once(client, fake, 100)
        assert fake.rate_limited >= 1
        assert len(set(created)) == 100
        # A 503 still needs the budget: with none left it is raised at once.
        fake.inject(method="GET", path="*/datasets/*", status=503, times=1)
        with pytest.raises(pa.InternalServerError):
            await client.datasets.get(created[0])


def test_the_rate_slows_other_requests_only_from_a_429_until_it_has_grown_back() -> None:
    rate = AdaptiveRate(start=100, increase=50)
    assert not rate.slowed  # below its top of 10,000, but no 429 has shown a limit
    rate.throttled(1.0)
    assert rate.slowed
    rate.cap(200)
    rate.answered(2.0)
    assert rate.slowed  # 50 + 50
    rate.answered(5.0)
    assert rate.rate == 200 and not rate.slowed


async def test_a_429_holds_the_requests_queued_for_a_connection_not_only_later_ones() -> None:
    # 40 creates at once through 5 connections, against 20 requests a second (bursts of 20):
    # the first 20 pass; only the 5 under way meet the 429; the 15 queued behind them wait
    # out its Retry-After and the cut rate, and then land within the refilled bucket.
    async with FakeProlific(clock=FakeClock(speed=0), rate_limit=20) as fake, \
            pa.Prolific(fake.token, base_url=fake.url, seed=11, max_connections=5) as client:
        created = await create_datasets_at_once(client, fake, 40)
    assert len(set(created)) == 40
    assert 1 <= fake.rate_limited <= 5
