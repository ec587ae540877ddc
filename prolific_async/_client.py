"""`Prolific`, the session manager: it owns the HTTP session, the config and the resources."""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import anyio

from ._config import PollPolicy, RetryPolicy, Timeouts
from ._errors import ClientClosedError, ConfigurationError
from ._polling import KINDS, Channels, Watch, WatchSpec, transitions
from ._resources import Batches, Collections, Datasets, Instructions, Studies
from ._transport import Transport
from ._version import __version__

__all__ = ["DEFAULT_BASE_URL", "Prolific"]

DEFAULT_BASE_URL = "https://api.prolific.com"


class Prolific:
    """An open connection to the Prolific API.

    Example::

        async with prolific_async.Prolific() as client:   # token from PROLIFIC_TOKEN
            batch = await client.batches.get(batch_id)

    The token comes from ``token`` or the ``PROLIFIC_TOKEN`` environment variable, the base
    URL from ``base_url`` or ``PROLIFIC_URL`` (default ``https://api.prolific.com``).
    Pass ``session`` to use your own `aiohttp.ClientSession` (it is then yours to close), and
    ``seed`` to make retry and poll jitter repeatable.
    The token is sent only to the base URL: never to presigned storage URLs, never logged,
    never in a ``repr``.
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
        seed: int | None = None,
    ) -> None:
        token = token if token is not None else os.environ.get("PROLIFIC_TOKEN")
        if not token or not token.strip():
            raise ConfigurationError(
                "no Prolific API token: pass Prolific(token=...) or set PROLIFIC_TOKEN"
            )
        if any(ch in token for ch in "\r\n"):
            raise ConfigurationError("the Prolific API token contains a line break")
        base_url = base_url or os.environ.get("PROLIFIC_URL") or DEFAULT_BASE_URL
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigurationError(f"base_url must be an http(s) URL, got {base_url!r}")
        if max_connections < 1:
            raise ConfigurationError(f"max_connections must be >= 1, got {max_connections!r}")
        self._token = token.strip()
        self.base_url = base_url.rstrip("/")
        self.timeouts = timeouts or Timeouts()
        self.retry = retry or RetryPolicy()
        self.poll = poll or PollPolicy()
        self.user_agent = f"prolific-async/{__version__}"
        self._max_connections = max_connections
        self._user_session = session
        self._rng = random.Random(seed)
        self._transport: Transport | None = None
        self._closed = False
        self._channels = Channels()

        self.datasets = Datasets(self)
        self.batches = Batches(self)
        self.instructions = Instructions(self)
        self.collections = Collections(self)
        self.studies = Studies(self)

    def __repr__(self) -> str:
        state = "open" if self._transport else ("closed" if self._closed else "not opened")
        return f"<Prolific base_url={self.base_url!r} token='***' {state}>"

    async def __aenter__(self) -> Prolific:
        if self._closed:
            raise ClientClosedError("this Prolific client was closed; create a new one")
        if self._transport is not None:
            raise ClientClosedError("this Prolific client is already open")
        session = self._user_session
        if session is None:
            connector = aiohttp.TCPConnector(
                limit=self._max_connections, limit_per_host=self._max_connections,
                ttl_dns_cache=300,
            )
            session = aiohttp.ClientSession(connector=connector)
        self._transport = Transport(
            session=session, base_url=self.base_url, token=self._token,
            user_agent=self.user_agent, timeouts=self.timeouts, retry=self.retry,
            rng=self._rng,
        )
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP session (unless it was passed in). Safe to call twice."""
        transport, self._transport = self._transport, None
        self._closed = True
        if transport is not None and self._user_session is None:
            with anyio.CancelScope(shield=True):
                await transport.session.close()

    def _require_transport(self) -> Transport:
        if self._transport is None:
            if self._closed:
                raise ClientClosedError("this Prolific client is closed")
            raise ClientClosedError(
                "this Prolific client is not open: use `async with Prolific() as client:`"
            )
        return self._transport

    def _watch(
        self, spec: WatchSpec[Any], policy: PollPolicy | None, *,
        previous: str | None = None, attempt: int = 0,
    ) -> Watch[Any]:
        transport = self._require_transport()
        return Watch(spec, transitions(spec, policy or self.poll, self._channels,
                                       spend_retry=transport.budget.try_spend,
                                       previous=previous, attempt=attempt, rng=self._rng))

    def resume(
        self, token: dict[str, Any], *, policy: PollPolicy | None = None
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
        if not isinstance(token, dict) or token.get("v") != 1 or token.get("kind") not in KINDS:
            raise ValueError(f"not a prolific_async resume token: {token!r}")
        ids = token.get("ids")
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise ValueError(f"resume token has bad ids: {ids!r}")
        specs: dict[str, Callable[..., WatchSpec[Any]]] = {
            "dataset": self.datasets._status_spec,
            "dataset_import": self.datasets._import_spec,
            "batch": self.batches._status_spec,
            "batch_export": self.batches._export_spec,
            "collection_export": self.collections._export_spec,
            "batch_sync": self.batches._sync_spec,
            "study": self.studies._study_spec,
        }
        try:
            spec = specs[token["kind"]](*ids)
        except TypeError:
            raise ValueError(f"resume token has the wrong number of ids: {ids!r}") from None
        status = token.get("status")
        return self._watch(spec, policy, previous=status if isinstance(status, str) else None,
                           attempt=int(token.get("attempt", 0)))
