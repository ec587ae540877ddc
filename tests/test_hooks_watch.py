"""Study watches woken by webhooks, with polling as the safety net: pushed events end a
watch at once with few reads; lost, repeated or reordered deliveries never change the end."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import pytest
from aiohttp import web

import prolific_async as pa
from prolific_async.testing import FakeProlific

from .helpers import published_study, ready_batch, serve

pytestmark = pytest.mark.anyio

PARTICIPANTS = 5  # one participant a second of fake time: the study takes 5 s


class Listener:
    """A web server on a free loopback port handing deliveries to ``receiver``; it notes
    when each was answered, and answers 503 while ``down`` (as a proxy does while the app
    behind it is stopped)."""

    def __init__(self, receiver: pa.HookReceiver) -> None:
        self.receiver = receiver
        self.arrivals: list[float] = []
        self.down = False
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        if self.down:
            return web.Response(status=503)
        answer = await self.receiver.aiohttp_handler(request)
        self.arrivals.append(anyio.current_time())
        return answer

    @asynccontextmanager
    async def serving(self) -> AsyncIterator[Listener]:
        app = web.Application()
        app.router.add_post("/hooks", self.handle)
        async with serve(app) as url:
            self.url = f"{url}/hooks"
            yield self


@asynccontextmanager
async def listening(client: pa.Prolific, fake: FakeProlific, *event_types: str,
                    safety_poll: float = 300.0) -> AsyncIterator[Listener]:
    """A receiver for a new workspace secret, served and subscribed to ``event_types``."""
    secret = await client.hooks.create_secret(fake.workspace_id)
    listener = Listener(pa.HookReceiver(secret.value, safety_poll=safety_poll))
    async with listener.serving():
        for event_type in event_types:
            await client.hooks.subscribe(workspace_id=fake.workspace_id, event_type=event_type,
                                         target_url=listener.url)
        yield listener


def study_reads(fake: FakeProlific, study_id: str) -> int:
    return len(fake.requests_to("GET", f"/api/v1/studies/{study_id}/"))


async def run_clock(fake: FakeProlific, seconds: int) -> None:
    """Move the fake clock a second at a time, letting each second's events go out."""
    for _ in range(seconds):
        fake.clock.advance(fake.world.submission_interval)
        await fake.hooks.settle()


async def test_a_watch_woken_by_events_ends_right_after_the_last_one_with_few_reads(
        prolific_client: pa.Prolific, fake_prolific: FakeProlific) -> None:
    async with listening(prolific_client, fake_prolific, "study.status.change") as listener:
        batch = await ready_batch(prolific_client, fake_prolific)
        study = await published_study(prolific_client, fake_prolific, batch,
                                      places=PARTICIPANTS)
        await fake_prolific.hooks.settle()  # the UNPUBLISHED -> ACTIVE event
        listener.arrivals.clear()
        done_at = 0.0

        async def finish(watch: pa.Watch[pa.Study]) -> None:
            nonlocal done_at
            async for t in watch:
                seen.append(t.current)
            done_at = anyio.current_time()

        with anyio.fail_after(10):
            async with prolific_client.studies.watch(study.id,
                                                     events=listener.receiver) as watch:
                seen = [(await watch.__anext__()).current]
                async with anyio.create_task_group() as tg:
                    tg.start_soon(finish, watch)
                    await run_clock(fake_prolific, PARTICIPANTS)
    assert seen == ["ACTIVE", "AWAITING REVIEW"]
    [last_event] = listener.arrivals  # the one status change while watching
    assert done_at - last_event < 0.5
    # The first read and one for the event: no polling in the 5 s nothing happened.
    assert study_reads(fake_prolific, study.id) <= 2


async def test_with_every_delivery_dropped_the_watch_ends_by_polling(
        prolific_client: pa.Prolific, fake_prolific: FakeProlific) -> None:
    fake_prolific.hooks.faults(seed=5, drop=1.0)
    # A short safety net, so the test does not wait the default 5 minutes.
    async with listening(prolific_client, fake_prolific, "study.status.change",
                         "study.progress.change", safety_poll=0.05) as listener:
        batch = await ready_batch(prolific_client, fake_prolific)
        study = await published_study(prolific_client, fake_prolific, batch,
                                      places=PARTICIPANTS)
        fake_prolific.clock.advance(PARTICIPANTS * fake_prolific.world.submission_interval)
        with anyio.fail_after(10):
            final = await prolific_client.studies.watch(study.id,
                                                        events=listener.receiver).wait()
        await fake_prolific.hooks.settle()
    assert final.status == pa.StudyStatus.AWAITING_REVIEW
    assert fake_prolific.hooks.deliveries  # events were made, and every one was lost
    assert {d.status for d in fake_prolific.hooks.deliveries} == {"FAILED"}
    assert listener.receiver.accepted == 0


async def test_repeated_and_reordered_deliveries_give_each_event_once_and_the_right_end(
        prolific_client: pa.Prolific, fake_prolific: FakeProlific) -> None:
    fake_prolific.hooks.faults(seed=11, repeat=0.5, reorder=1.0, reorder_delay=0.3)
    async with listening(prolific_client, fake_prolific, "study.status.change",
                         "study.progress.change", "submission.status.change") as listener:
        receiver = listener.receiver
        batch = await ready_batch(prolific_client, fake_prolific)
        studies = [await published_study(prolific_client, fake_prolific, batch, places=3)
                   for _ in range(2)]
        finals: dict[str, str] = {}

        async def watch(study_id: str) -> None:
            final = await prolific_client.studies.watch(study_id, events=receiver).wait()
            finals[study_id] = str(final.status)

        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                for study in studies:
                    tg.start_soon(watch, study.id)
                await anyio.wait_all_tasks_blocked()
                fake_prolific.clock.advance(3 * fake_prolific.world.submission_interval)
                await fake_prolific.hooks.settle()
    receiver.close()
    received = [event async for event in receiver]
    made = fake_prolific.hooks.deliveries
    repeats = sum(d.repeat for d in made)
    assert repeats > 0 and sum(d.posts for d in made) == len(made) + repeats
    assert sorted(e.event_id or "" for e in received) == sorted(d.id for d in made)
    assert receiver.duplicates == repeats
    assert [e.event_id for e in received] != [d.id for d in made]  # they did arrive reordered
    assert finals == {s.id: "AWAITING REVIEW" for s in studies}


async def test_after_the_receiver_was_down_the_retried_delivery_catches_the_watch_up(
        prolific_client: pa.Prolific, fake_prolific: FakeProlific) -> None:
    async with listening(prolific_client, fake_prolific, "study.status.change") as listener:
        batch = await ready_batch(prolific_client, fake_prolific)
        study = await published_study(prolific_client, fake_prolific, batch, places=1)
        await fake_prolific.hooks.settle()
        with anyio.fail_after(10):
            async with prolific_client.studies.watch(study.id,
                                                     events=listener.receiver) as watch:
                first = await watch.__anext__()
                listener.down = True
                fake_prolific.clock.advance(fake_prolific.world.submission_interval)
                fake_prolific.hooks.scan()
                await fake_prolific.hooks.wait_for_attempts(fake_prolific.hooks.attempts + 2)
                listener.down = False  # back up: the next retry gets through
                final = await watch.wait()
    assert (first.current, final.status) == ("ACTIVE", pa.StudyStatus.AWAITING_REVIEW)
    [_, delivery] = fake_prolific.hooks.deliveries
    assert delivery.posts >= 3 and listener.receiver.accepted == 2
    # Woken by the retry, not by polling (the safety net is 5 minutes away).
    assert study_reads(fake_prolific, study.id) <= 2


async def test_an_event_during_a_read_in_flight_is_followed_by_another_read(
        prolific_client: pa.Prolific, fake_prolific: FakeProlific) -> None:
    """A read sent before the change but answered after the event must not end the wake."""
    async with listening(prolific_client, fake_prolific, "study.status.change",
                         "study.progress.change") as listener:
        batch = await ready_batch(prolific_client, fake_prolific)
        study = await published_study(prolific_client, fake_prolific, batch, places=2)
        await fake_prolific.hooks.settle()
        ends: list[pa.Study] = []

        async def finish(watch: pa.Watch[pa.Study]) -> None:
            ends.append(await watch.wait())

        with anyio.fail_after(10):
            async with prolific_client.studies.watch(study.id,
                                                     events=listener.receiver) as watch:
                assert (await watch.__anext__()).current == "ACTIVE"
                # The read the first submission's event causes is answered slowly: the
                # server reads the study (ACTIVE) at once and holds the answer back.
                fake_prolific.inject(method="GET", path=f"/api/v1/studies/{study.id}/",
                                     status=None, latency=0.3, times=1)
                async with anyio.create_task_group() as tg:
                    tg.start_soon(finish, watch)
                    fake_prolific.clock.advance(fake_prolific.world.submission_interval)
                    await fake_prolific.hooks.settle()
                    await anyio.wait_all_tasks_blocked()  # that read is in flight
                    fake_prolific.clock.advance(fake_prolific.world.submission_interval)
                    await fake_prolific.hooks.settle()  # AWAITING REVIEW, while it still is
    [final] = ends
    assert final.status == pa.StudyStatus.AWAITING_REVIEW
    assert study_reads(fake_prolific, study.id) == 3  # the first, the slow one, the next
