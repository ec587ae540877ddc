"""`Prolific`, the session manager: it owns the HTTP session, the config and the resources."""

from __future__ import annotations

import os
import random
from types import TracebackType
from typing import Any, NoReturn

import aiohttp
import anyio

from ._backend import require_asyncio
from ._config import PollPolicy, RetryPolicy, Timeouts
from ._context import Context
from ._errors import ConfigurationError
from ._observe import RequestHook, hooks_of
from ._polling import ResumeToken
from ._resources import (
    Batches,
    Bonuses,
    Collections,
    Datasets,
    Hooks,
    Instructions,
    Studies,
    Submissions,
)
from ._secret import Secret
from ._stats import ClientStats
from ._transport import MAX_RESPONSE_BODY, Transport, authorizing_request
from ._urls import api_origin_problem
from ._version import __version__
from ._watch import Watch

__all__ = ["DEFAULT_BASE_URL", "Prolific"]

#: The API's origin when neither ``base_url`` nor ``PROLIFIC_URL`` names another.
DEFAULT_BASE_URL = "https://api.prolific.com"


class Prolific:
    """An open connection to the Prolific API.

    Example::

        async with prolific_async.Prolific() as client:   # token from PROLIFIC_TOKEN
            batch = await client.batches.get(batch_id)

    The token comes from ``token`` or the ``PROLIFIC_TOKEN`` environment variable, the base
    URL from ``base_url`` or ``PROLIFIC_URL`` (default ``https://api.prolific.com``).
    ``timeouts``, ``retry`` and ``poll`` set how long requests may take, how failed requests
    are retried and how jobs are polled (each method that polls also takes ``poll=``).
    Pass ``session`` to use your own `aiohttp.ClientSession` (it is then yours to close), and
    ``seed`` to make retry and poll jitter repeatable. An API answer larger than
    ``max_response_bytes`` (64 MiB) is refused with `UnexpectedResponseError` without being
    read whole, so a broken proxy or server cannot exhaust memory.

    The status polls of all this client's watches together pass one evenly spaced gate whose
    rate adapts: it starts high, halves on a 429 (every watch slows together) and grows back
    while none come; ``max_poll_rate`` (polls a second; None: no explicit cap) is its ceiling,
    so watching a thousand jobs loads the API no more than watching a few hundred. Once a
    429 has cut the rate, every other API request of the client passes that gate too, until
    the rate has grown back.

    ``on_request`` and ``on_response`` are called once per attempt of every request with a
    `RequestEvent` (method, path without query, attempt, status, elapsed, retry reason);
    ``prolific_async.otel.spans()`` turns them into OpenTelemetry spans.
    `with_options` gives a view with other timeouts or retries over the same session.

    The base URL is the API's origin only (no path: the SDK adds ``/api/v1/``), over https
    (plain http only on this machine). Whitespace around the token (a newline read from a
    file) is dropped; a token with whitespace or other characters inside is refused.

    The token is held as a masked secret: it is sent only to the base URL (never to
    presigned storage URLs), never logged, never in a ``repr`` or ``vars()``, and a client
    cannot be pickled.
    """

    def __init__(
        self,
        token: str | None = None,
        *,
        base_url: str | None = None,
        session: aiohttp.ClientSession | None = None,
        timeouts: Timeouts | None = None,
        retry: RetryPolicy | None = None,
        poll: PollPolicy | None = None,
        max_connections: int = 100,
        max_response_bytes: int = MAX_RESPONSE_BODY,
        max_poll_rate: float | None = None,
        seed: int | None = None,
        on_request: RequestHook | None = None,
        on_response: RequestHook | None = None,
    ) -> None:
        require_asyncio(inside_async=False)
        secret, problem = _checked_token(token if token is not None
                                         else os.environ.get("PROLIFIC_TOKEN"))
        del token  # no plain copy of the token stays in this frame's locals
        if secret is None:
            raise ConfigurationError(problem)
        self._token = secret
        base_url = base_url or os.environ.get("PROLIFIC_URL") or DEFAULT_BASE_URL
        url_problem = api_origin_problem(base_url)
        if url_problem is not None:
            # A URL with credentials in it is not repeated in the message.
            shown = "(hidden)" if "@" in base_url else repr(base_url)
            raise ConfigurationError(f"base_url {shown} is refused: {url_problem}")
        if max_response_bytes < 1:
            raise ConfigurationError(
                f"max_response_bytes must be >= 1, got {max_response_bytes!r}")
        if max_connections < 1:
            raise ConfigurationError(f"max_connections must be >= 1, got {max_connections!r}")
        self.base_url: str = base_url.rstrip("/")
        self.timeouts: Timeouts = timeouts or Timeouts()
        self.retry: RetryPolicy = retry or RetryPolicy()
        self.poll: PollPolicy = poll or PollPolicy()
        self.user_agent = f"prolific-async/{__version__}"
        #: What this client has sent so far: requests, retries, 429s.
        self.stats: ClientStats = ClientStats()
        self._max_connections = max_connections
        self._max_response_bytes = max_response_bytes
        self._user_session = session
        self._rng = random.Random(seed)
        self._hooks = hooks_of(on_request, on_response)
        self._context = Context(poll=self.poll, rng=self._rng)
        self.max_poll_rate = max_poll_rate
        self._bind()

    def _bind(self) -> None:
        self.datasets: Datasets = Datasets(self._context)
        self.batches: Batches = Batches(self._context)
        self.instructions: Instructions = Instructions(self._context)
        self.collections: Collections = Collections(self._context)
        self.studies: Studies = Studies(self._context)
        self.submissions: Submissions = Submissions(self._context)
        self.bonuses: Bonuses = Bonuses(self._context, self.submissions)
        #: Webhook secrets and subscriptions; receive the events with `HookReceiver`.
        self.hooks: Hooks = Hooks(self._context)
        self._resources = (self.datasets, self.batches, self.instructions, self.collections,
                           self.studies, self.submissions, self.bonuses)

    def __repr__(self) -> str:
        # Also called on a half-built client (a traceback with locals, from __init__).
        context = getattr(self, "_context", None)
        state = context.state if context is not None else "not configured"
        return f"<Prolific base_url={getattr(self, 'base_url', None)!r} token='***' {state}>"

    def __reduce__(self) -> NoReturn:
        raise TypeError("a Prolific client cannot be pickled: it holds an open session and "
                        "the API token; create a new client in the other process")

    async def __aenter__(self) -> Prolific:
        require_asyncio(inside_async=True)
        self._context.check_openable()
        session = self._user_session
        if session is None:
            connector = aiohttp.TCPConnector(
                limit=self._max_connections, limit_per_host=self._max_connections,
                ttl_dns_cache=300,
            )
            session = aiohttp.ClientSession(connector=connector,
                                            request_class=authorizing_request(self._token))
        transport = Transport(
            session=session, base_url=self.base_url, token=self._token,
            user_agent=self.user_agent, timeouts=self.timeouts, retry=self.retry,
            stats=self.stats, rng=self._rng, max_body=self._max_response_bytes,
            hooks=self._hooks,
        )
        transport.shared.throttled = self._context.throttled
        transport.shared.gate = self._context.watch_env.channels.gate
        self._context.open(transport)
        return self

    def with_options(self, *, timeouts: Timeouts | None = None,
                     retry: RetryPolicy | None = None,
                     poll: PollPolicy | None = None) -> Prolific:
        """A light view of this client with other ``timeouts``, ``retry`` or ``poll``
        settings: it shares the session, the retry budget, the poll rate, the stats and the
        hooks, and is open while this client is. Closing it does nothing: close this client.

        Example::

            async with pa.Prolific() as client:
                patient = client.with_options(timeouts=pa.Timeouts(total=300),
                                              retry=pa.RetryPolicy(attempts=10))
                batch = await patient.batches.get(batch_id)
        """
        for name, value, kind in (("timeouts", timeouts, Timeouts), ("retry", retry, RetryPolicy),
                                  ("poll", poll, PollPolicy)):
            if value is not None and not isinstance(value, kind):
                raise ConfigurationError(
                    f"with_options: {name} must be a {kind.__name__}, got {value!r}")
        view = object.__new__(Prolific)  # not copy.copy: a client refuses to be reduced
        view.__dict__.update(self.__dict__)
        view.timeouts = timeouts or self.timeouts
        view.retry = retry or self.retry
        view.poll = poll or self.poll
        view._context = self._context.derive(
            view.poll, lambda base: base.with_options(timeouts=timeouts, retry=retry))
        view._bind()
        return view

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP session (unless it was passed in). Safe to call twice. A
        `with_options` view has nothing of its own to close."""
        if self._context.is_view:
            return
        transport = self._context.close()
        if transport is not None and self._user_session is None:
            with anyio.CancelScope(shield=True):
                await transport.session.close()

    @property
    def poll_rate(self) -> float:
        """The status polls a second this client allows right now, across all its watches.

        It adapts as TCP does: it starts high (500), halves on each 429 and grows back while
        none come, never above `max_poll_rate` when that is set. `orchestrate` spaces its
        waits by it.

        Example::

            print(f"polling at most {client.poll_rate:.0f} times a second")
        """
        return self._context.rate.rate

    @property
    def max_poll_rate(self) -> float | None:
        """The cap on status polls a second across every watch of this client, or None.

        Settable at any time; `prolific_async.orchestrate` sets it for its run.
        """
        return self._context.rate.ceiling

    @max_poll_rate.setter
    def max_poll_rate(self, rate: float | None) -> None:
        if rate is not None and (isinstance(rate, bool) or not isinstance(rate, (int, float))
                                 or not rate > 0):
            raise ConfigurationError(f"max_poll_rate must be a number > 0 or None, got {rate!r}")
        self._context.rate.cap(None if rate is None else float(rate))

    def resume(
        self, token: dict[str, Any], *, poll: PollPolicy | None = None,
    ) -> Watch[Any]:
        """Continue a watch that ended in `PollTimeout`, from its ``resume_token``.

        The token is plain JSON: store it, and resume in this process or another. Only changes
        from the last status seen are yielded; the backoff carries on where it was.

        Example::

            try:
                await client.batches.wait_ready(batch_id)
            except prolific_async.PollTimeout as exc:
                saved = json.dumps(exc.resume_token)
            ...
            async for t in client.resume(json.loads(saved)):
                print(t.current)
        """
        saved = ResumeToken.from_json(token)
        for resource in self._resources:
            spec = resource.spec_for(saved.kind, saved.ids)
            if spec is not None:
                return self._context.watch(spec, poll, previous=saved.status,
                                           attempt=saved.attempt)
        raise ValueError(f"resume token of an unknown kind of job: {saved.kind!r}")


def _checked_token(raw: str | None) -> tuple[Secret | None, str]:
    """The token as a `Secret`, or None and what is wrong with it (never the token itself).

    It returns rather than raises: a traceback with locals would show this frame's ``raw``.
    """
    raw = raw.strip() if isinstance(raw, str) else raw
    if not raw:
        return None, "no Prolific API token: pass Prolific(token=...) or set PROLIFIC_TOKEN"
    # A token is printable ASCII: anything else is a copy-paste slip, and a line break would
    # let it write a second header.
    for char in raw:
        if not "!" <= char <= "~":
            what = ("a line break" if char in "\r\n" else "whitespace" if char.isspace()
                    else "a character that is not printable ASCII")
            return None, (f"the Prolific API token contains {what}: copy it again from "
                          "Prolific (Settings > API tokens)")
    return Secret(raw), ""
