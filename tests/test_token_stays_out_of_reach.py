"""The token stays where it belongs: out of any traceback, even one printed with its locals after
a call was cancelled from outside (the frames then run through aiohttp), and off every request
to storage, even through a user's session whose default headers carry it. Answers nested too
deeply to read are a clear error, not a bare RecursionError."""

from __future__ import annotations

import asyncio
import traceback
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import anyio
import pytest

import prolific_async as pa
from prolific_async.testing import FakeClock, FakeProlific

from .helpers import ready_batch, write_csv

pytestmark = pytest.mark.anyio

SECRET = "tok-9f2c41d7e6ab-outer-cancel"


def with_locals(error: BaseException) -> str:
    """The traceback as an error reporter shows it: every frame's locals, chained causes."""
    shown = traceback.TracebackException.from_exception(error, capture_locals=True)
    return "".join(shown.format())


async def _fail_after(call: Callable[[], Awaitable[object]]) -> None:
    with anyio.fail_after(0.3):
        await call()


async def _wait_for(call: Callable[[], Awaitable[object]]) -> None:
    await asyncio.wait_for(call(), timeout=0.3)


async def _cancel_scope(call: Callable[[], Awaitable[object]]) -> None:
    with anyio.move_on_after(0.3):
        await call()


@pytest.mark.parametrize("cancel", [_fail_after, _wait_for, _cancel_scope],
                         ids=["anyio.fail_after", "asyncio.wait_for", "cancel scope"])
async def test_no_traceback_with_locals_shows_the_token_after_an_outer_cancel(
    cancel: Callable[[Callable[[], Awaitable[object]]], Awaitable[None]],
) -> None:
    seen: list[BaseException] = []
    async with FakeProlific(token=SECRET) as fake:
        # The answer is held back, so the cancel lands inside aiohttp with the request sent.
        fake.inject(method="GET", path="/api/v1/data-collection/batches/*", status=None,
                    latency=5)
        async with pa.Prolific(SECRET, base_url=fake.url) as client:

            async def call() -> object:
                try:
                    return await client.batches.get("b1")
                except BaseException as exc:  # what propagated out of the SDK, as it was
                    seen.append(exc)
                    raise

            try:
                await cancel(call)
            # On 3.10 asyncio.wait_for raises asyncio.TimeoutError, not yet the builtin one.
            except (TimeoutError, asyncio.TimeoutError) as outer:
                seen.append(outer)
    assert seen, "the call was cancelled"
    for error in seen:
        text = with_locals(error)
        assert "aiohttp" in text  # the frames that held the headers are there...
        assert SECRET not in text  # ...and show no token


async def test_storage_requests_through_a_user_session_carry_none_of_its_headers(
    tmp_path: Path,
) -> None:
    async with FakeProlific(token=SECRET, clock=FakeClock(speed=0)) as fake:
        defaults = {"Authorization": f"Token {SECRET}", "X-Team": "annotation"}
        async with aiohttp.ClientSession(headers=defaults) as session, \
                pa.Prolific(SECRET, base_url=fake.url, session=session) as client:
            dataset = await client.datasets.create(name="d", workspace_id=fake.workspace_id)
            await client.datasets.upload(dataset.id, write_csv(tmp_path))  # a presigned PUT
            batch = await ready_batch(client, fake)
            fake.clock.per_request = 0.5  # the export job moves on as it is polled
            await client.batches.export(batch.id, tmp_path)  # a presigned GET
    storage = [r for r in fake.requests if r.server == "storage"]
    assert {r.method for r in storage} == {"PUT", "GET"}
    for request in storage:
        assert "Authorization" not in request.headers, request
        assert "X-Team" not in request.headers, request
        assert SECRET not in repr(request.headers)
    api = [r for r in fake.requests if r.server == "api"]
    assert all(r.headers.get("X-Team") == "annotation" for r in api)  # the session's own use


@pytest.mark.parametrize("nested", ["[" * 100_000 + "]" * 100_000,
                                    '{"a":' * 50_000 + "1" + "}" * 50_000])
async def test_an_answer_nested_too_deeply_is_an_unexpected_response(nested: str) -> None:
    async with FakeProlific() as fake:
        fake.inject(method="GET", path="/api/v1/data-collection/batches/b1", status=200,
                    body=nested, times=1)
        async with pa.Prolific(fake.token, base_url=fake.url) as client:
            with pytest.raises(pa.UnexpectedResponseError, match="nested too deeply") as caught:
                await client.batches.get("b1")
    assert "GET /api/v1/data-collection/batches/b1 answered 200" in str(caught.value)
