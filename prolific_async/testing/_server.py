"""The fake's plumbing, shared by its two hosts: serving on loopback, recording requests,
counting them, and injecting faults. Nothing here knows the API."""

from __future__ import annotations

import asyncio
import fnmatch
import json
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any, Literal

import attrs
from aiohttp import web

__all__ = ["Fault", "Handler", "Plumbing", "RecordedRequest", "Reject"]

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

    It fires on every ``every``-th match, or with ``probability`` (from the fake's seeded
    generator), or on each match when neither is set; at most ``times`` times. It answers
    ``status`` with ``body`` (JSON, or text when a string; a short JSON detail by default)
    and ``Retry-After: retry_after`` when set, or drops the connection (``drop=True``), after
    ``latency`` seconds. ``status=None`` with only ``latency`` slows requests down.
    """

    method: str = "*"
    path: str = "*"
    status: int | None = 503
    retry_after: str | None = None
    body: Any = None
    drop: bool = False
    latency: float = 0.0
    every: int | None = None
    probability: float | None = None
    times: int | None = None
    matched: int = 0
    fired: int = 0

    def matches(self, method: str, path: str) -> bool:
        return fnmatch.fnmatchcase(method, self.method) and fnmatch.fnmatchcase(path, self.path)

    def should_fire(self, rng: random.Random) -> bool:
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

    def response(self) -> web.Response:
        assert self.status is not None
        headers = {"Retry-After": self.retry_after} if self.retry_after else {}
        if isinstance(self.body, str):
            return web.Response(status=self.status, text=self.body, content_type="text/html",
                                headers=headers)
        body = self.body if self.body is not None else {"detail": f"injected {self.status}"}
        return web.json_response(body, status=self.status, headers=headers)


class Reject(Exception):
    """Raised by a handler to answer with ``response`` at once (a validation error, a 404)."""

    def __init__(self, response: web.Response) -> None:
        self.response = response


class Plumbing:
    """Serves apps on 127.0.0.1, records and counts their requests and injects faults.

    One instance is shared by the API and the storage host, so a fault's path glob and the
    recorded requests cover both.
    """

    def __init__(self, *, seed: int, record: bool) -> None:
        self.record = record
        self.requests: list[RecordedRequest] = []
        self.faults: list[Fault] = []
        self._rng = random.Random(seed)
        self._runners: list[web.AppRunner] = []

    async def serve(self, app: web.Application) -> str:
        """Start ``app`` on a free loopback port and return its base URL."""
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self._runners.append(runner)
        server = site._server
        assert isinstance(server, asyncio.base_events.Server)
        port = server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def close(self) -> None:
        runners, self._runners = self._runners, []
        for runner in runners:
            await runner.cleanup()

    def middleware(self, host: Host) -> Any:
        """The outermost middleware of ``host``: record, then maybe fault, then handle."""

        @web.middleware
        async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
            if self.record:
                # Storage bodies can be large: only their size is kept.
                self._record(host, request, b"" if host == "storage" else await request.read())
            for fault in self.faults:
                if fault.matches(request.method, request.path) and fault.should_fire(self._rng):
                    if fault.latency:
                        await asyncio.sleep(fault.latency)
                    if fault.drop:
                        assert request.transport is not None
                        request.transport.abort()
                        return web.Response(status=500)
                    if fault.status is not None:
                        return fault.response()
            try:
                return await handler(request)
            except Reject as rejected:
                return rejected.response

        return middleware

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
