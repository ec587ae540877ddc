"""``client.hooks`` against the fake: secrets, subscriptions (created and confirmed), the
delivery log, and the fake's signed deliveries."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from aiohttp import web

import prolific_async as pa
from prolific_async.testing import FakeProlific

from .helpers import published_study, ready_batch, serve

pytestmark = pytest.mark.anyio


@asynccontextmanager
async def listening(receiver: pa.HookReceiver) -> AsyncIterator[str]:
    """``receiver`` served on a free loopback port; yields its URL."""
    app = web.Application()
    app.router.add_post("/hooks", receiver.aiohttp_handler)
    async with serve(app) as url:
        yield f"{url}/hooks"


async def test_event_types_lists_the_four_documented_types(
        prolific_client: pa.Prolific) -> None:
    types = {t.event_type for t in await prolific_client.hooks.event_types()}
    assert types == set(pa.HookEventType)


async def test_a_new_secret_replaces_the_old_one_and_is_masked(
        prolific_client: pa.Prolific, fake_prolific: FakeProlific) -> None:
    ws = fake_prolific.workspace_id
    first = await prolific_client.hooks.create_secret(ws)
    second = await prolific_client.hooks.create_secret(ws)
    assert first.value != second.value
    assert [s.id for s in await prolific_client.hooks.secrets(ws)] == [second.id]
    assert second.value.reveal() not in repr(second)


async def test_subscribe_creates_and_confirms_with_the_hook_secret(
        prolific_client: pa.Prolific, fake_prolific: FakeProlific) -> None:
    ws = fake_prolific.workspace_id
    await prolific_client.hooks.create_secret(ws)
    sub = await prolific_client.hooks.subscribe(
        workspace_id=ws, event_type="study.status.change", target_url="http://127.0.0.1:9/h")
    [create] = fake_prolific.requests_to("POST", "/api/v1/hooks/subscriptions/")
    [confirm] = fake_prolific.requests_to("POST", f"/api/v1/hooks/subscriptions/{sub.id}/")
    assert confirm.json == {"secret": fake_prolific.hooks.subscriptions[sub.id].hook_secret}
    assert fake_prolific.hooks.subscriptions[sub.id].confirmed
    assert [s.id for s in await prolific_client.hooks.subscriptions(ws)] == [sub.id]
    assert create.json["target_url"] == "http://127.0.0.1:9/h"


async def test_a_failed_confirmation_leaves_no_subscription_behind(
        prolific_client: pa.Prolific, fake_prolific: FakeProlific) -> None:
    ws = fake_prolific.workspace_id
    await prolific_client.hooks.create_secret(ws)
    fake_prolific.inject(method="POST", path="/api/v1/hooks/subscriptions/*/", status=400,
                         times=1)
    with pytest.raises(pa.BadRequestError):
        await prolific_client.hooks.subscribe(
            workspace_id=ws, event_type="study.status.change",
            target_url="http://127.0.0.1:9/h")
    assert fake_prolific.hooks.subscriptions == {}


@pytest.mark.parametrize("url", ["http://example.com/hooks", "ftp://127.0.0.1/h", "hooks",
                                 "https://"])
async def test_a_target_url_that_is_not_https_off_loopback_is_refused_before_sending(
        prolific_client: pa.Prolific, fake_prolific: FakeProlific, url: str) -> None:
    with pytest.raises(ValueError, match="target_url"):
        await prolific_client.hooks.subscribe(
            workspace_id=fake_prolific.workspace_id, event_type="study.status.change",
            target_url=url)
    assert fake_prolific.requests_to("*", "/api/v1/hooks/*") == []


async def test_update_pauses_and_unsubscribe_deletes(
        prolific_client: pa.Prolific, fake_prolific: FakeProlific) -> None:
    ws = fake_prolific.workspace_id
    await prolific_client.hooks.create_secret(ws)
    sub = await prolific_client.hooks.subscribe(
        workspace_id=ws, event_type="study.status.change", target_url="http://127.0.0.1:9/h")
    paused = await prolific_client.hooks.update(sub.id, is_enabled=False)
    assert paused.is_enabled is False and paused.target_url == sub.target_url
    assert await prolific_client.hooks.subscriptions(ws) == []
    assert [s.id for s in await prolific_client.hooks.subscriptions(ws, enabled=False)] \
        == [sub.id]
    await prolific_client.hooks.unsubscribe(sub.id)
    with pytest.raises(pa.NotFoundError):
        await prolific_client.hooks.get(sub.id)


async def test_the_fake_delivers_signed_events_and_logs_them_page_by_page(
        prolific_client: pa.Prolific, fake_prolific: FakeProlific) -> None:
    ws = fake_prolific.workspace_id
    secret = await prolific_client.hooks.create_secret(ws)
    receiver = pa.HookReceiver(secret.value)
    async with listening(receiver) as url:
        sub = await prolific_client.hooks.subscribe(
            workspace_id=ws, event_type="study.progress.change", target_url=url)
        batch = await ready_batch(prolific_client, fake_prolific)
        study = await published_study(prolific_client, fake_prolific, batch, places=5)
        fake_prolific.clock.advance(5 * fake_prolific.world.submission_interval)
        await fake_prolific.hooks.settle()
    receiver.close()
    events = [event async for event in receiver]
    assert [(e.event_type, e.resource_id) for e in events] == \
        [(pa.HookEventType.STUDY_PROGRESS_CHANGE, study.id)] * 5
    log = [e async for e in prolific_client.hooks.events(sub.id, page_size=2)]
    assert [e.id for e in log] == [e.event_id for e in events]
    assert {e.status for e in log} == {pa.HookDeliveryStatus.SUCCEEDED}
    assert len(fake_prolific.requests_to("GET", f"*/{sub.id}/events/")) == 3  # 2 + 2 + 1
    assert [e async for e in prolific_client.hooks.events(sub.id, status="FAILED")] == []


async def test_a_delivery_the_target_refuses_is_retried_until_it_is_taken(
        prolific_client: pa.Prolific, fake_prolific: FakeProlific) -> None:
    ws = fake_prolific.workspace_id
    secret = await prolific_client.hooks.create_secret(ws)
    receiver = pa.HookReceiver(secret.value)
    refusals = 2

    async def flaky(request: web.Request) -> web.Response:
        nonlocal refusals
        if refusals:
            refusals -= 1
            return web.Response(status=503)
        return await receiver.aiohttp_handler(request)

    app = web.Application()
    app.router.add_post("/hooks", flaky)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        await prolific_client.hooks.subscribe(workspace_id=ws, event_type="study.status.change",
                                              target_url=f"http://{host}:{port}/hooks")
        batch = await ready_batch(prolific_client, fake_prolific)
        await published_study(prolific_client, fake_prolific, batch)
        await fake_prolific.hooks.settle()
    finally:
        await runner.cleanup()
    [delivery] = fake_prolific.hooks.deliveries
    assert (delivery.status, delivery.posts, receiver.accepted) == ("SUCCEEDED", 3, 1)


async def test_events_start_with_the_subscription_and_skip_unconfirmed_ones(
        prolific_client: pa.Prolific, fake_prolific: FakeProlific) -> None:
    ws = fake_prolific.workspace_id
    secret = await prolific_client.hooks.create_secret(ws)
    receiver = pa.HookReceiver(secret.value)
    batch = await ready_batch(prolific_client, fake_prolific)
    before = await published_study(prolific_client, fake_prolific, batch)
    async with listening(receiver) as url:
        await prolific_client.hooks.subscribe(workspace_id=ws,
                                              event_type="study.status.change", target_url=url)
        # A second subscription to the same URL stays unconfirmed: its confirmation fails,
        # and so does the SDK's clean-up.
        fake_prolific.inject(method="POST", path="/api/v1/hooks/subscriptions/*/",
                             status=400, times=1)
        fake_prolific.inject(method="DELETE", path="/api/v1/hooks/subscriptions/*/",
                             status=400, times=1)
        with pytest.raises(pa.BadRequestError):
            await prolific_client.hooks.subscribe(
                workspace_id=ws, event_type="study.status.change", target_url=url)
        assert [s.confirmed for s in fake_prolific.hooks.subscriptions.values()] \
            == [True, False]
        after = await published_study(prolific_client, fake_prolific, batch)
        await fake_prolific.hooks.settle()
    receiver.close()
    assert [(e.resource_id, e.status) async for e in receiver] == [(after.id, "ACTIVE")]
    assert before.id != after.id
