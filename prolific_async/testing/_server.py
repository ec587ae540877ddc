"""The fake's plumbing, shared by its two hosts: serving on loopback, recording requests,
counting them, and injecting faults. Nothing here knows the API."""

from __future__ import annotations

import asyncio
import fnmatch
import json
import math
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any, Literal

import attrs
from aiohttp import web

__all__ = ["Fault", "Handler", "Plumbing", "RecordedRequest", "Reject", "cut"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Host = Literal["api", "storage"]


@attrs.frozen
class RecordedRequest:
    """One request the fake received, as sent (storage bodies are kept as their size)."""

    server: Host
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    json: Any
    body_size: int
    at: float  # time.monotonic() when it arrived


@attrs.define
class Fault:
    """An injected failure for requests matching ``method`` and the ``path`` glob.

    When it fires: on every ``every``-th match, or with ``probability``, or on each match
    when neither is set; at most ``times`` times. Random draws come from the fault's own
    generator when ``seed`` is set, otherwise from the fake's (seeded by ``FakeProlific(seed=)``),
    so a run is repeatable.

    What it does, first that applies:

    - ``drop=True``: the connection is cut before the server acts (the request had no effect).
    - ``lose_answer=True``: the server carries the request out (creates the batch, publishes
      the study...), then cuts the connection before answering: the answer is lost after the
      server acted.
    - ``truncate_after=N``: the server acts and sends its full headers (with the full
      ``Content-Length``) but only the first N bytes of the body, then cuts the connection:
      a download that breaks off midway.
    - ``status``: answer ``status`` with ``body`` (JSON, or text when a string; a short JSON
      detail by default) and ``Retry-After: retry_after`` when set, without acting.
      ``status=429, retry_after="2"`` is a rate limit, ``status=503`` (the default) an outage.
      ``chunked=True`` sends that answer without a ``Content-Length`` (chunked transfer
      encoding, as many proxies do), so a client learns its size only by reading it.
    - ``status=None`` with only ``latency``/``jitter``: a slow answer. The server acts at once
      and holds the answer back, so it can outlast a client's read timeout (the request still
      had its effect); other requests are not held up.

    Any of them waits ``latency`` seconds plus a uniform draw in ``[0, jitter]`` first.
    `kind` names the fault for `FakeProlific.fault_counts`.

    Example::

        fake.inject(method="POST", path="*/batches", lose_answer=True, times=1)
        fake.inject(path="/exports/*", truncate_after=1000, times=1)
        fake.inject(method="GET", path="*/status", status=None, latency=2.0, jitter=0.5)
    """

    method: str = "*"
    path: str = "*"
    status: int | None = 503
    retry_after: str | None = None
    body: Any = None
    chunked: bool = False
    drop: bool = False
    lose_answer: bool = False
    truncate_after: int | None = None
    latency: float = 0.0
    jitter: float = 0.0
    every: int | None = None
    probability: float | None = None
    times: int | None = None
    seed: int | None = None
    matched: int = 0
    fired: int = 0
    _rng: random.Random | None = attrs.field(default=None, init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        if self.seed is not None:
            self._rng = random.Random(self.seed)
        if self.latency < 0 or self.jitter < 0:
            raise ValueError("latency and jitter must be >= 0")
        if self.truncate_after is not None and self.truncate_after < 0:
            raise ValueError("truncate_after must be >= 0")

    @property
    def kind(self) -> str:
        """What the fault does: ``drop``, ``lose_answer``, ``truncate``, ``rate_limit`` (429),
        ``unavailable`` (5xx), ``status_<code>``, ``slow`` or ``jitter``."""
        if self.drop:
            return "drop"
        if self.lose_answer:
            return "lose_answer"
        if self.truncate_after is not None:
            return "truncate"
        if self.status == 429:
            return "rate_limit"
        if self.status is not None:
            return "unavailable" if self.status >= 500 else f"status_{self.status}"
        return "slow" if self.latency else "jitter"

    @property
    def answers(self) -> bool:
        """Whether the fault answers in the server's place (the request has no effect)."""
        return self.drop or (self.status is not None and not self.lose_answer
                             and self.truncate_after is None)

    def matches(self, method: str, path: str) -> bool:
        return fnmatch.fnmatchcase(method, self.method) and fnmatch.fnmatchcase(path, self.path)

    def should_fire(self, rng: random.Random) -> bool:
        rng = self._rng or rng
        self.matched += 1
        if self.times is not None and self.fired >= self.times:
            return False
        if self.every is not None:
            hit = self.matched % self.every == 0
        elif self.probability is not None:
            hit = rng.random() < self.probability
        else:
            hit = True
        self.fired += hit
        return hit

    def delay(self, rng: random.Random) -> float:
        return self.latency + ((self._rng or rng).uniform(0, self.jitter) if self.jitter else 0)

    def response(self) -> web.Response:
        assert self.status is not None
        headers = {"Retry-After": self.retry_after} if self.retry_after else {}
        if isinstance(self.body, str):
            response = web.Response(status=self.status, text=self.body,
                                    content_type="text/html", headers=headers)
        else:
            body = self.body if self.body is not None else {"detail": f"injected {self.status}"}
            response = web.json_response(body, status=self.status, headers=headers)
        if self.chunked:
            response.enable_chunked_encoding()
        return response


class Reject(Exception):
    """Raised by a handler to answer with ``response`` at once (a validation error, a 404)."""

    def __init__(self, response: web.Response) -> None:
        self.response = response


def cut(request: web.Request) -> None:
    """Drop the connection under ``request`` at once, like a network failure."""
    assert request.transport is not None
    request.transport.abort()


@attrs.define
class _Plan:
    """What the faults that fired want done to one answer."""

    delay: float = 0.0
    after: Fault | None = None  # a lose_answer or truncate_after fault


class TokenBucket:
    """The API's rate limit (``FakeProlific(rate_limit=)``): ``rate`` requests a second, in
    bursts of at most ``rate``, in real time; a request over it gets a 429."""

    def __init__(self, rate: float) -> None:
        if not rate > 0:
            raise ValueError(f"rate_limit must be > 0, got {rate!r}")
        self.rate: float = rate
        self.tokens: float = rate
        self.stamp: float | None = None
        self.refused: int = 0

    def take(self, now: float) -> float | None:
        """None when a token was taken, else the seconds until one is free."""
        if self.stamp is not None:
            self.tokens = min(self.rate, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return None
        self.refused += 1
        return (1 - self.tokens) / self.rate


class Plumbing:
    """Serves apps on 127.0.0.1, records and counts their requests and injects faults.

    One instance is shared by the API and the storage host, so a fault's path glob, the
    recorded requests and the counters cover both.
    """

    def __init__(self, *, seed: int, record: bool, rate_limit: float | None = None) -> None:
        self.record = record
        self.bucket: TokenBucket | None = None if rate_limit is None else TokenBucket(rate_limit)
        self.requests: list[RecordedRequest] = []
        self.faults: list[Fault] = []
        # Requests by "METHOD /route/{pattern}": cheap, so kept even when record is off.
        self.counts: Counter[str] = Counter()
        self._rng = random.Random(seed)
        self._runners: list[web.AppRunner] = []
        self._plans: dict[int, _Plan] = {}  # by id() of the request being answered

    async def serve(self, app: web.Application, host: str = "127.0.0.1", port: int = 0) -> str:
        """Start ``app`` on ``host:port`` (a free port by default); return its base URL."""
        # Closing does not wait for answers held back by slow faults.
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.1)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        self._runners.append(runner)
        server = site._server
        assert isinstance(server, asyncio.base_events.Server)
        port = server.sockets[0].getsockname()[1]
        # A server on every interface is reached, from here, on loopback.
        shown = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host
        return f"http://{'[' + shown + ']' if ':' in shown else shown}:{port}"

    async def close(self) -> None:
        runners, self._runners = self._runners, []
        for runner in runners:
            await runner.cleanup()

    def middleware(self, host: Host) -> Any:
        """The outermost middleware of ``host``: count, record, then fault or handle."""

        @web.middleware
        async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
            self.counts[f"{request.method} {_pattern(request)}"] += 1
            if host == "api" and self.bucket is not None:
                wait = self.bucket.take(time.monotonic())
                if wait is not None:
                    return web.json_response(
                        {"error": {"title": "Too Many Requests", "detail": "rate limited"}},
                        status=429, headers={"Retry-After": str(math.ceil(wait))})
            if self.record:
                # Storage bodies can be large: only their size is kept.
                self._record(host, request, b"" if host == "storage" else await request.read())
            plan = _Plan()
            for fault in self.faults:
                if not (fault.matches(request.method, request.path)
                        and fault.should_fire(self._rng)):
                    continue
                plan.delay += fault.delay(self._rng)
                if fault.answers:
                    await asyncio.sleep(plan.delay)
                    if fault.drop:
                        cut(request)
                        return web.Response(status=500)  # never sent
                    return fault.response()
                if fault.lose_answer or fault.truncate_after is not None:
                    plan.after = fault
                    break
            self._plans[id(request)] = plan
            try:
                response = await handler(request)
            except Reject as rejected:
                response = rejected.response
            finally:
                del self._plans[id(request)]
            if plan.delay:  # zero if a streaming handler has held its answer already
                await asyncio.sleep(plan.delay)
            if plan.after is None or response.prepared:
                # A streamed answer has been held back and cut by its handler.
                return response
            if plan.after.lose_answer:
                cut(request)
                return web.Response(status=500)  # never sent
            assert isinstance(response, web.Response) and plan.after.truncate_after is not None
            return await _send_truncated(request, response, plan.after.truncate_after)

        return middleware

    async def hold(self, request: web.Request) -> None:
        """Wait out the delay slow faults put on this answer: for handlers that stream their
        answer themselves, before they start sending it."""
        plan = self._plans.get(id(request))
        if plan is not None and plan.delay:
            delay, plan.delay = plan.delay, 0.0
            await asyncio.sleep(delay)

    def truncate_after(self, request: web.Request) -> int | None:
        """How many body bytes a streaming handler may send before it must `cut` the
        connection, when a truncating fault fired on this request."""
        plan = self._plans.get(id(request))
        return plan.after.truncate_after if plan is not None and plan.after else None

    def stats(self) -> dict[str, int]:
        return dict(self.counts)

    def fault_counts(self) -> dict[str, int]:
        counts: Counter[str] = Counter()
        for fault in self.faults:
            counts[fault.kind] += fault.fired
        return dict(counts)

    def _record(self, host: Host, request: web.Request, body: bytes) -> None:
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = None
        self.requests.append(RecordedRequest(
            server=host, method=request.method, path=request.path,
            query=dict(request.query), headers=dict(request.headers), json=parsed,
            body_size=request.content_length or len(body), at=time.monotonic(),
        ))


def _pattern(request: web.Request) -> str:
    """The route that matched, as registered (without the optional trailing slash)."""
    resource = request.match_info.route.resource
    if resource is None:
        return "(no route)"
    canonical = resource.canonical
    return canonical[:-1] if len(canonical) > 1 and canonical.endswith("/") else canonical


async def _send_truncated(request: web.Request, response: web.Response,
                          limit: int) -> web.StreamResponse:
    body = response.body
    assert isinstance(body, bytes)
    stream = web.StreamResponse(status=response.status, reason=response.reason)
    stream.headers.update((k, v) for k, v in response.headers.items()
                          if k.lower() != "content-length")
    stream.content_length = len(body)
    await stream.prepare(request)
    await stream.write(body[:limit])
    cut(request)
    return stream
