"""Receiving Prolific's webhooks: `verify_signature` and `HookReceiver`.

What is signed (Prolific docs, API reference > Webhooks > Verifying): every delivery carries
``X-Prolific-Request-Timestamp`` (a UNIX time) and ``X-Prolific-Request-Signature``, the
base64 of HMAC-SHA256, keyed with the workspace secret, over the timestamp header's text
followed by the request body. The docs' Python example re-serialises the parsed body with
``json.dumps`` before hashing; that matches only while Prolific's serialiser happens to agree
with Python's on spacing, key order and escapes, so here the exact raw bytes received are
hashed, before anything is parsed. A timestamp too far from now is refused so a recorded
delivery cannot be replayed later (the docs name no tolerance; 5 minutes is the common one).

Deliveries come at least once (retried up to 11 times over 24 hours with the same
``X-Event-ID``) and in no guaranteed order, so the receiver drops repeats by event id, and
the watches treat an event only as a nudge to re-read the study: the API stays the truth.
"""

from __future__ import annotations

import base64
import collections
import hashlib
import hmac
import json
import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from datetime import datetime, timezone
from typing import Any

import anyio
import attrs
from aiohttp import web
from anyio.lowlevel import checkpoint

from ._config import PollPolicy
from ._errors import ConfigurationError, SignatureError
from ._models.hooks import HookEvent, HookEventType
from ._secret import Secret

__all__ = ["EVENT_ID_HEADER", "SIGNATURE_HEADER", "TIMESTAMP_HEADER", "HookAnswer",
           "HookReceiver", "verify_signature"]

logger = logging.getLogger("prolific_async.hooks")

SIGNATURE_HEADER = "X-Prolific-Request-Signature"
TIMESTAMP_HEADER = "X-Prolific-Request-Timestamp"
EVENT_ID_HEADER = "X-Event-ID"
#: When Prolific sent the event (for ordering; not signed, so only informative).
SENT_AT_HEADER = "X-Timestamp"

Secretish = str | bytes | Secret


def verify_signature(
    body: bytes, timestamp: str | None, signature: str | None, secret: Secretish, *,
    tolerance: float = 300.0, now: float | None = None,
) -> None:
    """Check one delivery's signature; raise `SignatureError` saying why it is refused.

    ``body`` is the request body exactly as received (bytes: re-serialised JSON would not
    match), ``timestamp`` and ``signature`` the ``X-Prolific-Request-Timestamp`` and
    ``X-Prolific-Request-Signature`` headers (None when missing), ``secret`` the workspace
    secret. The expected signature is
    ``base64(HMAC-SHA256(secret, timestamp_header_text + body))``, compared in constant time;
    a timestamp more than ``tolerance`` seconds from ``now`` (default: this machine's clock)
    is refused as stale.

    Example::

        pa.verify_signature(await request.read(),
                            request.headers.get("X-Prolific-Request-Timestamp"),
                            request.headers.get("X-Prolific-Request-Signature"),
                            secret)
    """
    if not isinstance(body, (bytes, bytearray, memoryview)):
        raise TypeError(f"body must be the raw request bytes, got {type(body).__name__}")
    if not tolerance >= 0:
        raise ValueError(f"tolerance must be >= 0 seconds, got {tolerance!r}")
    if not timestamp:
        raise SignatureError(f"the {TIMESTAMP_HEADER} header is missing")
    if not signature:
        raise SignatureError(f"the {SIGNATURE_HEADER} header is missing")
    # Both are ASCII when Prolific sends them; anything else is refused as malformed before
    # it is encoded for the HMAC (a lone surrogate would not encode at all).
    if not timestamp.isascii():
        raise SignatureError(f"the {TIMESTAMP_HEADER} header is not a UNIX time: "
                             f"{timestamp[:40]!r}")
    if not signature.isascii():
        raise SignatureError(f"the {SIGNATURE_HEADER} header is not base64")
    if not _signature_matches(body, timestamp, signature, secret):
        raise SignatureError(f"the {SIGNATURE_HEADER} header does not match the body: "
                             "a wrong secret, or a body changed on the way")
    try:
        sent = float(timestamp)
    except ValueError:
        raise SignatureError(f"the {TIMESTAMP_HEADER} header is not a UNIX time: "
                             f"{timestamp[:40]!r}") from None
    current = time.time() if now is None else now
    if not math.isfinite(sent) or abs(current - sent) > tolerance:
        raise SignatureError(f"the {TIMESTAMP_HEADER} header is {current - sent:.0f} s from "
                             f"now, beyond the {tolerance:g} s tolerance (a replay, or a "
                             "clock far off)")


def _signature_matches(body: bytes, timestamp: str, signature: str, secret: Secretish) -> bool:
    """The HMAC comparison, in its own frame: the key and the expected signature never sit in
    the locals of a frame that raises (a traceback with locals would show them)."""
    key = _secret_bytes(secret)
    digest = hmac.new(key, timestamp.encode("ascii") + bytes(body), hashlib.sha256).digest()
    return hmac.compare_digest(base64.b64encode(digest), signature.strip().encode("ascii"))


def _secret_bytes(secret: Secretish) -> bytes:
    if isinstance(secret, Secret):
        secret = secret.reveal()
    if isinstance(secret, str):
        secret = secret.encode()
    if not isinstance(secret, bytes) or not secret:
        raise ConfigurationError("the webhook secret must be a non-empty string or pa.Secret")
    return secret


@attrs.frozen
class HookAnswer:
    """What to answer Prolific: ``status`` (200 accepted or a repeat, 400 not an event,
    401 failed verification, 413 too large) and a short plain-text ``body``."""

    status: int
    body: str


Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class HookReceiver:
    """Verifies, parses and deduplicates Prolific's webhook deliveries, and hands them on.

    Serve it from the web server you already run: ``receiver.aiohttp_handler`` for
    aiohttp.web, ``receiver.asgi`` for any ASGI server (Starlette, FastAPI), or call
    ``await receiver.handle(body, headers)`` from anything else and send back its answer.
    Then consume the events by iterating the receiver, or pass it to a watch
    (``client.studies.watch(study_id, events=receiver)``): each new event about the study
    wakes the watch, which re-reads the study at once.

    Answering never waits for a consumer. Events wait for ``async for`` in a buffer of
    ``buffer`` events; when it is full the oldest waiting event is dropped (counted in
    ``dropped``, logged) and the delivery is still answered 200: the watches were woken all
    the same and re-read the API, which is the truth, whereas answering an error would make
    Prolific count failures and, after days of them, disable the subscription. ``buffer=0``
    keeps no events (the receiver only wakes watches).

    Repeats (the same ``X-Event-ID``, as Prolific's retries send) are answered 200 and
    dropped; the last ``remember`` event ids are kept, so size it for a day of events (the
    retry window). A delivery larger than ``max_body`` bytes is refused unread.

    A watch given a receiver still polls, as a safety net against lost deliveries, but only
    every ``safety_poll`` seconds (5 minutes by default): a lost event costs at most that
    much latency, never a wrong result.

    Example::

        receiver = pa.HookReceiver(os.environ["PROLIFIC_HOOK_SECRET"])
        app = web.Application()
        app.router.add_post("/prolific/hooks", receiver.aiohttp_handler)
        ...
        await client.studies.watch(study.id, events=receiver).wait()
    """

    def __init__(
        self, secret: Secretish, *, tolerance: float = 300.0, buffer: int = 1000,
        remember: int = 10_000, max_body: int = 64 * 1024, safety_poll: float = 300.0,
    ) -> None:
        self._secret = Secret(_secret_bytes(secret).decode("utf-8", "surrogateescape"))
        del secret  # no plain copy stays in this frame's locals (tracebacks show them)
        for name, value, low in (("tolerance", tolerance, 0), ("buffer", buffer, -1),
                                 ("remember", remember, 0), ("max_body", max_body, 0),
                                 ("safety_poll", safety_poll, 0)):
            # Counts must be whole: remember=0.5 would keep no event id (no deduplication).
            kinds = (int, float) if name in ("tolerance", "safety_poll") else (int,)
            if isinstance(value, bool) or not isinstance(value, kinds) or not value > low:
                what = "a number" if float in kinds else "a whole number"
                raise ConfigurationError(f"{name} must be {what} {'>=' if low < 0 else '>'}"
                                         f" 0, got {value!r}")
        self.tolerance: float = float(tolerance)
        self.buffer_size: int = int(buffer)
        self.remember: int = int(remember)
        self.max_body: int = int(max_body)
        self.safety_poll: float = float(safety_poll)
        #: Deliveries accepted, repeats dropped, deliveries refused, events dropped unread.
        self.accepted: int = 0
        self.duplicates: int = 0
        self.rejected: int = 0
        self.dropped: int = 0
        self._seen: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._events: collections.deque[HookEvent] = collections.deque()
        self._arrived: anyio.Event | None = None
        self._listeners: dict[str, list[Callable[[], None]]] = {}
        self._closed = False
        #: The ASGI application: mount it or route to it (``Route(path, receiver.asgi)``).
        self.asgi: _AsgiApp = _AsgiApp(self)

    def __repr__(self) -> str:
        return (f"<HookReceiver secret='***' accepted={self.accepted} "
                f"waiting={len(self._events)}>")

    async def handle(self, body: bytes, headers: Mapping[str, str]) -> HookAnswer:
        """Verify, parse and take in one delivery; the answer to send back to Prolific."""
        await checkpoint()
        if len(body) > self.max_body:
            self.rejected += 1
            return HookAnswer(413, f"body over {self.max_body} bytes")
        lowered = {key.lower(): value for key, value in headers.items()}
        try:
            verify_signature(body, lowered.get(TIMESTAMP_HEADER.lower()),
                             lowered.get(SIGNATURE_HEADER.lower()), self._secret,
                             tolerance=self.tolerance)
            event = _parse_event(body, lowered)
        except SignatureError as exc:
            self.rejected += 1
            logger.warning("webhook delivery refused: %s", exc)
            return HookAnswer(401, str(exc))
        except ValueError as exc:
            self.rejected += 1
            logger.warning("webhook delivery is not an event: %s", exc)
            return HookAnswer(400, str(exc))
        if event.event_id is not None:
            if event.event_id in self._seen:
                self.duplicates += 1
                return HookAnswer(200, "repeat")
            self._seen[event.event_id] = None
            if len(self._seen) > self.remember:
                self._seen.popitem(last=False)
        self.accepted += 1
        self._keep(event)
        for wake in tuple(self._listeners.get(event.resource_id, ())):
            wake()
        return HookAnswer(200, "ok")

    def listen(self, resource_id: str, wake: Callable[[], None]) -> Callable[[], None]:
        """Call ``wake()`` on each new event about ``resource_id``; returns the function that
        stops it. The watches use this; ``wake`` must be quick and must not raise."""
        self._listeners.setdefault(resource_id, []).append(wake)

        def stop() -> None:
            found = self._listeners.get(resource_id, [])
            if wake in found:
                found.remove(wake)
            if not found:
                self._listeners.pop(resource_id, None)

        return stop

    def poll_policy(self, policy: PollPolicy) -> PollPolicy:
        """``policy`` turned into the safety net of a watch woken by this receiver: after the
        first read, one poll every ``safety_poll`` seconds, the same deadline."""
        every = max(self.safety_poll, policy.ceiling)
        return attrs.evolve(policy, initial=every, ceiling=every)

    # -- consuming ---------------------------------------------------------------------------

    def __aiter__(self) -> HookReceiver:
        return self

    async def __anext__(self) -> HookEvent:
        """The oldest waiting event; waits for one. Ends once `close` was called and the
        waiting events are consumed."""
        while not self._events:
            if self._closed:
                raise StopAsyncIteration
            if self._arrived is None:
                self._arrived = anyio.Event()
            await self._arrived.wait()
        return self._events.popleft()

    def close(self) -> None:
        """End iteration once the waiting events are consumed (deliveries are still taken)."""
        self._closed = True
        self._wake_consumers()

    def _keep(self, event: HookEvent) -> None:
        if self.buffer_size == 0:
            return
        if len(self._events) >= self.buffer_size:
            self._events.popleft()
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                logger.warning("webhook buffer full (%d events): %d dropped unread so far; "
                               "iterate the receiver faster or give it a larger buffer",
                               self.buffer_size, self.dropped)
        self._events.append(event)
        self._wake_consumers()

    def _wake_consumers(self) -> None:
        if self._arrived is not None:
            self._arrived.set()
            self._arrived = None

    # -- web adapters ------------------------------------------------------------------------

    async def aiohttp_handler(self, request: web.Request) -> web.Response:
        """An aiohttp.web handler: ``app.router.add_post(path, receiver.aiohttp_handler)``."""
        if request.content_length is not None and request.content_length > self.max_body:
            self.rejected += 1
            return web.Response(status=413, text=f"body over {self.max_body} bytes")
        body = bytearray()
        async for chunk in request.content.iter_chunked(16 * 1024):
            body += chunk
            if len(body) > self.max_body:
                break
        answer = await self.handle(bytes(body), request.headers)
        return web.Response(status=answer.status, text=answer.body)


class _AsgiApp:
    """``receiver.asgi``: a complete ASGI application (an object, not a method, so that
    Starlette's ``Route`` treats it as an application rather than a request handler)."""

    def __init__(self, receiver: HookReceiver) -> None:
        self._receiver = receiver

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":  # served on its own: nothing to start or stop
            while True:
                message = await receive()
                kind = message["type"].rsplit(".", 1)[-1]
                await send({"type": f"lifespan.{kind}.complete"})
                if kind == "shutdown":
                    return
        if scope["type"] != "http":
            return
        if scope.get("method") != "POST":
            await _asgi_answer(send, HookAnswer(405, "POST only"), allow=True)
            return
        limit = self._receiver.max_body
        body = bytearray()
        more = True
        while more and len(body) <= limit:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = bool(message.get("more_body", False))
        headers = {key.decode("latin-1"): value.decode("latin-1")
                   for key, value in scope.get("headers", ())}
        await _asgi_answer(send, await self._receiver.handle(bytes(body), headers))


async def _asgi_answer(send: Send, answer: HookAnswer, *, allow: bool = False) -> None:
    body = answer.body.encode()
    headers = [(b"content-type", b"text/plain; charset=utf-8"),
               (b"content-length", str(len(body)).encode())]
    if allow:
        headers.append((b"allow", b"POST"))
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _parse_event(body: bytes, headers: Mapping[str, str]) -> HookEvent:
    """The event in a verified body; a `ValueError` naming what is wrong otherwise."""
    try:
        data = json.loads(body)
    except ValueError:
        raise ValueError("the body is not JSON") from None
    except RecursionError:  # signed, yet nested deeper than the parser goes
        raise ValueError("the body is JSON nested too deeply to be an event") from None
    if not isinstance(data, dict):
        raise ValueError("the body is not a JSON object")
    for field in ("resource_id", "event_type"):
        if not isinstance(data.get(field), str) or not data[field]:
            raise ValueError(f"the body has no {field}")
    sent_at = None
    raw_sent = headers.get(SENT_AT_HEADER.lower())
    if raw_sent:
        try:
            sent_at = datetime.fromtimestamp(float(raw_sent), timezone.utc)
        except (ValueError, OverflowError, OSError):
            sent_at = None  # informative only: a bad value does not refuse the event
    status, participant = data.get("status"), data.get("participant_id")
    return HookEvent(
        event_id=headers.get(EVENT_ID_HEADER.lower()) or None,
        event_type=HookEventType(data["event_type"]), resource_id=data["resource_id"],
        status=status if isinstance(status, str) else None,
        participant_id=participant if isinstance(participant, str) else None,
        sent_at=sent_at, payload=data,
    )
