"""The fake's fault injection, seen over real HTTP: lost answers, slow answers, cut downloads,
seeded chaos profiles, and the request counters."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import anyio
import pytest

import prolific_async as pa
from prolific_async.testing import FakeClock, FakeProlific, Fault

from .helpers import DETAILS, published_study, ready_batch

pytestmark = pytest.mark.anyio

BATCHES = "/api/v1/data-collection/batches"


@pytest.fixture
async def http(fake_prolific: FakeProlific) -> AsyncIterator[aiohttp.ClientSession]:
    headers = {"Authorization": f"Token {fake_prolific.token}"}
    async with aiohttp.ClientSession(fake_prolific.url, headers=headers) as session:
        yield session


def batch_body(fake: FakeProlific, name: str) -> dict[str, Any]:
    return {"name": name, "workspace_id": fake.workspace_id,
            "task_details": {"task_name": "t", "task_introduction": "i", "task_steps": "s"}}


async def batch_names(http: aiohttp.ClientSession, fake: FakeProlific) -> list[str]:
    async with http.get(BATCHES, params={"workspace_id": fake.workspace_id}) as resp:
        return [b["name"] for b in (await resp.json())["results"]]


async def test_lose_answer_acts_then_cuts_the_connection(
    fake_prolific: FakeProlific, http: aiohttp.ClientSession,
) -> None:
    fault = fake_prolific.inject(method="POST", path=BATCHES, lose_answer=True, times=1)
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await http.post(BATCHES, json=batch_body(fake_prolific, "lost"))
    # The client saw no answer, but the batch was created.
    assert await batch_names(http, fake_prolific) == ["lost"]
    assert fault.fired == 1 and fake_prolific.fault_counts() == {"lose_answer": 1}


async def test_drop_cuts_the_connection_before_the_server_acts(
    fake_prolific: FakeProlific, http: aiohttp.ClientSession,
) -> None:
    fake_prolific.inject(method="POST", path=BATCHES, drop=True, times=1)
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await http.post(BATCHES, json=batch_body(fake_prolific, "dropped"))
    assert await batch_names(http, fake_prolific) == []


async def test_sdk_sees_a_lost_answer_as_an_unknown_outcome(
    prolific_client: pa.Prolific, fake_prolific: FakeProlific,
) -> None:
    fake_prolific.inject(method="POST", path=f"{BATCHES}*", lose_answer=True, times=1)
    with pytest.raises(pa.OutcomeUnknownError):
        await prolific_client.batches.create(name="b", workspace_id=fake_prolific.workspace_id,
                                             task_details=DETAILS)
    # The server did act: the batch is there to be found, once.
    found = await prolific_client.batches.find("b", workspace_id=fake_prolific.workspace_id)
    assert found is not None
    assert [r.id for r in fake_prolific.world.batches_named("b")] == [found.id]


async def test_slow_answer_outlasts_a_read_timeout_and_holds_up_nothing_else(
    fake_prolific: FakeProlific, http: aiohttp.ClientSession,
) -> None:
    fake_prolific.inject(method="POST", path=BATCHES, status=None, latency=30)
    with pytest.raises(asyncio.TimeoutError):  # not TimeoutError on Python 3.10
        await http.post(BATCHES, json=batch_body(fake_prolific, "slow"),
                        timeout=aiohttp.ClientTimeout(sock_read=0.2))
    # The server still holds that answer back for half a minute, yet answers this at once;
    # and it acted on the slow request when it arrived: its batch is listed.
    with anyio.fail_after(5):
        assert await batch_names(http, fake_prolific) == ["slow"]


def test_jitter_is_seeded() -> None:
    unused = random.Random()  # a fault with a seed never draws from the fake's generator

    def delays(seed: int) -> list[float]:
        fault = Fault(status=None, latency=1.0, jitter=0.5, seed=seed)
        return [fault.delay(unused) for _ in range(5)]

    assert delays(3) == delays(3) != delays(4)
    assert all(1.0 <= d <= 1.5 for d in delays(3))


async def test_truncate_after_cuts_a_download_midway(
    prolific_client: pa.Prolific, fake_prolific: FakeProlific,
) -> None:
    batch = await ready_batch(prolific_client, fake_prolific)
    await published_study(prolific_client, fake_prolific, batch, places=2)
    fake_prolific.clock.advance(10)
    job = await prolific_client.batches.request_export(batch.id)
    fake_prolific.clock.advance(fake_prolific.world.export_generating)
    done = await prolific_client.batches.export_status(batch.id, job.export_id)
    assert done.url is not None
    fake_prolific.inject(method="GET", path="/exports/*", truncate_after=100, times=1)
    async with aiohttp.ClientSession() as session:
        received = bytearray()
        with pytest.raises(aiohttp.ClientPayloadError):
            async with session.get(done.url) as resp:
                assert resp.status == 200
                full = resp.content_length
                async for chunk in resp.content.iter_any():
                    received += chunk
        assert len(received) == 100 and full is not None and full > 100
        async with session.get(done.url) as resp:  # the fault fired once
            whole = await resp.read()
    assert len(whole) == full and whole[:100] == received


async def test_truncate_after_cuts_an_api_answer(
    fake_prolific: FakeProlific, http: aiohttp.ClientSession,
) -> None:
    fake_prolific.inject(method="GET", path=BATCHES, truncate_after=5, times=1)
    with pytest.raises(aiohttp.ClientPayloadError):
        async with http.get(BATCHES, params={"workspace_id": fake_prolific.workspace_id}) as r:
            await r.read()


async def chaos_run(seed: int, requests: int) -> tuple[dict[str, int], list[str]]:
    async with FakeProlific(clock=FakeClock(speed=0), record=False) as fake:
        faults = fake.chaos(seed=seed, rate_limit=0.2, unavailable=0.1, drop=0.05,
                            lose_answer=0.05, slow=0.05, slow_seconds=0.001, jitter=0.001)
        assert [f.kind for f in faults] == ["rate_limit", "unavailable", "drop",
                                            "lose_answer", "slow", "jitter"]
        seen = []
        headers = {"Authorization": f"Token {fake.token}"}
        async with aiohttp.ClientSession(fake.url, headers=headers) as session:
            for _ in range(requests):
                try:
                    # A POST (aiohttp silently retries a GET whose connection was cut) that
                    # the server refuses (400) when no fault answers in its place.
                    async with session.post(BATCHES, json={}) as resp:
                        seen.append(str(resp.status))
                        if resp.status == 429:
                            assert resp.headers["Retry-After"] == "1"
                except aiohttp.ServerDisconnectedError:
                    seen.append("cut")
        assert fake.requests == []  # record=False keeps nothing...
        assert fake.stats() == {f"POST {BATCHES}": requests}  # ...but counts
        return fake.fault_counts(), seen


async def test_chaos_profile_is_seeded_and_keeps_its_rates() -> None:
    counts, seen = await chaos_run(seed=11, requests=600)
    assert (counts, seen) == await chaos_run(seed=11, requests=600)
    assert counts != (await chaos_run(seed=12, requests=600))[0]
    # Each kind fires on about its share of the requests (exact for this seed).
    assert 90 <= counts["rate_limit"] <= 150 and 40 <= counts["unavailable"] <= 80
    for kind in ("drop", "lose_answer", "slow"):
        assert 15 <= counts[kind] <= 50, kind
    assert counts["jitter"] == 600 - sum(counts[k] for k in ("rate_limit", "unavailable",
                                                             "drop", "lose_answer"))
    assert seen.count("429") == counts["rate_limit"]
    assert seen.count("503") == counts["unavailable"]
    assert seen.count("cut") == counts["drop"] + counts["lose_answer"]


def test_chaos_rates_must_add_up_to_at_most_one() -> None:
    fake = FakeProlific()
    with pytest.raises(ValueError, match="at most 1"):
        fake.chaos(seed=1, rate_limit=0.6, unavailable=0.5)


async def test_stats_count_requests_by_route_on_both_hosts(
    prolific_client: pa.Prolific, fake_prolific: FakeProlific,
) -> None:
    await ready_batch(prolific_client, fake_prolific)
    stats = fake_prolific.stats()
    assert stats["POST /api/v1/data-collection/batches"] == 1
    assert stats["PUT /uploads/{key}"] == 1
    assert stats["GET /api/v1/data-collection/batches/{batch_id}"] == 1
    assert sum(stats.values()) == len(fake_prolific.requests)
