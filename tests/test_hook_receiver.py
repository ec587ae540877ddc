"""`HookReceiver`: what it answers Prolific, what it hands on, and its two web adapters."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import aiohttp
import anyio
import pytest
from aiohttp import web

import prolific_async as pa

from .helpers import serve

pytestmark = pytest.mark.anyio

SECRET = "receiver-test-secret"


def delivery(payload: dict[str, Any], event_id: str | None = "ev-1", *,
             secret: str = SECRET, at: float | None = None) -> tuple[bytes, dict[str, str]]:
    """A body and headers as Prolific sends them, signed by hand."""
    body = json.dumps(payload).encode()
    stamp = str(int(time.time() if at is None else at))
    signature = base64.b64encode(hmac.new(secret.encode(), stamp.encode() + body,
                                          hashlib.sha256).digest()).decode()
    headers = {"X-Prolific-Request-Timestamp": stamp, "X-Prolific-Request-Signature": signature,
               "X-Timestamp": stamp, "Content-Type": "application/json"}
    if event_id is not None:
        headers["X-Event-ID"] = event_id
    return body, headers


STATUS = {"resource_id": "study-1", "event_type": "study.status.change", "metadata": {},
          "status": "AWAITING REVIEW"}


async def test_a_verified_delivery_is_answered_200_and_handed_out_typed() -> None:
    receiver = pa.HookReceiver(SECRET)
    answer = await receiver.handle(*delivery(STATUS, "ev-1"))
    assert answer == pa.HookAnswer(200, "ok")
    event = await receiver.__anext__()
    assert event.event_id == "ev-1"
    assert event.event_type is pa.HookEventType.STUDY_STATUS_CHANGE
    assert (event.resource_id, event.status) == ("study-1", "AWAITING REVIEW")
    assert event.sent_at is not None and event.payload == STATUS


async def test_a_repeated_event_id_is_acknowledged_and_handed_out_once() -> None:
    receiver = pa.HookReceiver(SECRET)
    for _ in range(3):
        assert (await receiver.handle(*delivery(STATUS, "ev-1"))).status == 200
    await receiver.handle(*delivery({**STATUS, "status": "COMPLETED"}, "ev-2"))
    receiver.close()
    events = [event async for event in receiver]
    assert [e.event_id for e in events] == ["ev-1", "ev-2"]
    assert (receiver.accepted, receiver.duplicates) == (2, 2)


async def test_the_memory_of_event_ids_is_bounded_oldest_forgotten_first() -> None:
    receiver = pa.HookReceiver(SECRET, remember=2, buffer=0)
    for event_id in ("a", "b", "c", "a", "c"):
        await receiver.handle(*delivery(STATUS, event_id))
    # "a" was forgotten when "c" came, so its late repeat counts as new; "c" is still known.
    assert (receiver.accepted, receiver.duplicates) == (4, 1)


async def test_a_forged_or_stale_delivery_is_refused_401_and_wakes_nothing() -> None:
    receiver = pa.HookReceiver(SECRET)
    woken: list[str] = []
    receiver.listen("study-1", lambda: woken.append("study-1"))
    forged = await receiver.handle(*delivery(STATUS, secret="someone-else"))
    stale = await receiver.handle(*delivery(STATUS, at=time.time() - 3600))
    body, _ = delivery(STATUS)
    unsigned = await receiver.handle(body, {"Content-Type": "application/json"})
    assert [a.status for a in (forged, stale, unsigned)] == [401, 401, 401]
    assert "tolerance" in stale.body and "missing" in unsigned.body
    assert (receiver.rejected, receiver.accepted, woken) == (3, 0, [])


async def test_a_signed_body_that_is_not_an_event_is_answered_400() -> None:
    receiver = pa.HookReceiver(SECRET)
    answer = await receiver.handle(*delivery({"event_type": "study.status.change"}))
    assert answer.status == 400 and "resource_id" in answer.body


async def test_an_oversized_body_is_refused_413_before_it_is_verified() -> None:
    receiver = pa.HookReceiver(SECRET, max_body=100)
    answer = await receiver.handle(*delivery({**STATUS, "metadata": {"pad": "x" * 200}}))
    assert answer.status == 413


async def test_a_full_buffer_drops_the_oldest_event_and_still_answers_200() -> None:
    receiver = pa.HookReceiver(SECRET, buffer=2)
    answers = [await receiver.handle(*delivery({**STATUS, "resource_id": f"s{i}"}, f"e{i}"))
               for i in range(3)]
    assert [a.status for a in answers] == [200, 200, 200]
    receiver.close()
    assert [e.resource_id async for e in receiver] == ["s1", "s2"]
    assert receiver.dropped == 1


async def test_listeners_are_woken_by_new_events_about_their_resource_only() -> None:
    receiver = pa.HookReceiver(SECRET, buffer=0)
    woken: list[str] = []
    stop = receiver.listen("study-1", lambda: woken.append("1"))
    receiver.listen("study-2", lambda: woken.append("2"))
    await receiver.handle(*delivery(STATUS, "a"))
    await receiver.handle(*delivery(STATUS, "a"))  # a repeat wakes no one
    stop()
    await receiver.handle(*delivery(STATUS, "b"))
    await receiver.handle(*delivery({**STATUS, "resource_id": "study-2"}, "c"))
    assert woken == ["1", "2"]


async def test_iteration_waits_for_the_next_delivery() -> None:
    receiver = pa.HookReceiver(SECRET)
    got: list[pa.HookEvent] = []

    async def consume() -> None:
        async for event in receiver:
            got.append(event)

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(consume)
            await anyio.wait_all_tasks_blocked()
            await receiver.handle(*delivery(STATUS))
            receiver.close()
    assert [e.event_id for e in got] == ["ev-1"]


@pytest.mark.parametrize(("name", "value"), [
    ("tolerance", 0), ("buffer", -1), ("remember", 0), ("max_body", 0), ("safety_poll", -5),
])
def test_bad_settings_are_refused_naming_the_setting(name: str, value: float) -> None:
    with pytest.raises(pa.ConfigurationError, match=name):
        pa.HookReceiver(SECRET, **{name: value})


def test_the_secret_is_never_shown() -> None:
    receiver = pa.HookReceiver(SECRET)
    assert SECRET not in repr(receiver) and SECRET not in str(vars(receiver))


# -- adapters ---------------------------------------------------------------------------------


async def test_the_aiohttp_handler_answers_over_http() -> None:
    receiver = pa.HookReceiver(SECRET, max_body=1000)
    app = web.Application()
    app.router.add_post("/prolific/hooks", receiver.aiohttp_handler)
    body, headers = delivery(STATUS)
    async with serve(app) as url, aiohttp.ClientSession() as http:
        async with http.post(url + "/prolific/hooks", data=body, headers=headers) as ok:
            assert (ok.status, await ok.text()) == (200, "ok")
        async with http.post(url + "/prolific/hooks", data=body + b" ", headers=headers) as bad:
            assert bad.status == 401
        async with http.post(url + "/prolific/hooks", data=b"x" * 5000, headers=headers) as big:
            assert big.status == 413
    assert receiver.accepted == 1


async def call_asgi(app: Any, method: str, body: bytes, headers: dict[str, str],
                    path: str = "/prolific/hooks") -> tuple[int, bytes]:
    """One HTTP request through an ASGI application, the way an ASGI server makes it:
    the body arrives in two chunks."""
    chunks = [{"type": "http.request", "body": body[:10], "more_body": True},
              {"type": "http.request", "body": body[10:], "more_body": False}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return chunks.pop(0) if chunks else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": method, "scheme": "https", "path": path, "raw_path": path.encode(),
             "root_path": "", "query_string": b"", "server": ("testserver", 443),
             "client": ("127.0.0.1", 5000),
             "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]}
    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    return start["status"], b"".join(m.get("body", b"") for m in sent
                                     if m["type"] == "http.response.body")


async def test_the_asgi_app_answers_a_raw_asgi_call() -> None:
    receiver = pa.HookReceiver(SECRET)
    body, headers = delivery(STATUS)
    assert await call_asgi(receiver.asgi, "POST", body, headers) == (200, b"ok")
    assert (await call_asgi(receiver.asgi, "POST", body[:-1], headers))[0] == 401
    assert (await call_asgi(receiver.asgi, "GET", b"", {}))[0] == 405
    assert receiver.accepted == 1


async def test_the_readme_starlette_example_routes_deliveries_to_the_receiver() -> None:
    from starlette.applications import Starlette
    from starlette.routing import Route

    receiver = pa.HookReceiver(SECRET)
    app = Starlette(routes=[Route("/prolific/hooks", receiver.asgi, methods=["POST"])])
    body, headers = delivery(STATUS)
    assert await call_asgi(app, "POST", body, headers) == (200, b"ok")
    assert receiver.accepted == 1


async def test_a_refused_delivery_leaves_no_secret_in_any_frame_of_its_traceback() -> None:
    receiver = pa.HookReceiver(SECRET)
    body, headers = delivery(STATUS, secret="someone-else")
    try:
        pa.verify_signature(body, headers["X-Prolific-Request-Timestamp"],
                            headers["X-Prolific-Request-Signature"], receiver._secret)
    except pa.SignatureError as exc:
        tb = exc.__traceback__
        while tb is not None:
            shown = repr(tb.tb_frame.f_locals)
            assert SECRET not in shown and SECRET.encode().hex() not in shown
            tb = tb.tb_next
    else:
        pytest.fail("a forged delivery was accepted")
