"""`Context`: the little a resource needs from its client, so resources never see the client.

It carries the transport while the client is open and builds watches that share the client's
poll channels, adaptive poll rate, retry budget and random numbers. `derive` makes the context
of a ``with_options`` view: the same channels and state, another transport over the same
session.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._backend import loop_time
from ._channel import Channels
from ._config import PollPolicy
from ._errors import ClientClosedError
from ._polling import AdaptiveRate
from ._transport import Transport
from ._watch import JOB_STARTED, Watch, WatchEnv, WatchSpec, transitions

if TYPE_CHECKING:
    from ._hooks import HookReceiver

__all__: list[str] = []  # nothing public here


class Context:
    def __init__(self, *, poll: PollPolicy, rng: random.Random) -> None:
        self.poll = poll
        self._transport: Transport | None = None
        self._closed = False
        self.rate: AdaptiveRate = AdaptiveRate()
        self.watch_env: WatchEnv = WatchEnv(
            channels=Channels(self.rate), spend_retry=self._spend_retry, rng=rng)
        #: A view's transport is made from its parent's: (parent, how, the one made).
        self._derived: tuple[Context, Callable[[Transport], Transport]] | None = None
        self._made: tuple[Transport, Transport] | None = None

    @property
    def is_view(self) -> bool:
        return self._derived is not None

    def throttled(self) -> None:
        """A 429 from the API: every watch of the client slows down."""
        self.rate.throttled(loop_time())

    def derive(self, poll: PollPolicy, how: Callable[[Transport], Transport]) -> Context:
        """The context of a view: this one's watch state, its transport changed by ``how``
        (built again if this client is closed and another transport opened)."""
        view = copy.copy(self)
        view.poll = poll
        view._derived = (self, how)
        view._made = None
        return view

    def __repr__(self) -> str:
        return f"<Context {self.state}>"

    @property
    def state(self) -> str:
        if self._derived is not None:
            return self._derived[0].state
        return "open" if self._transport else ("closed" if self._closed else "not opened")

    def open(self, transport: Transport) -> None:
        if self._derived is not None:
            raise ClientClosedError("open the client this view was made from, not the view")
        self.check_openable()
        self._transport = transport

    def check_openable(self) -> None:
        if self._closed:
            raise ClientClosedError("this Prolific client was closed; create a new one")
        if self._transport is not None:
            raise ClientClosedError("this Prolific client is already open")

    def close(self) -> Transport | None:
        transport, self._transport = self._transport, None
        self._closed = True
        return transport

    @property
    def transport(self) -> Transport:
        if self._derived is not None:
            parent, how = self._derived
            base = parent.transport
            if self._made is None or self._made[0] is not base:
                self._made = (base, how(base))
            return self._made[1]
        if self._transport is None:
            if self._closed:
                raise ClientClosedError("this Prolific client is closed")
            raise ClientClosedError(
                "this Prolific client is not open: use `async with Prolific() as client:`"
            )
        return self._transport

    def _spend_retry(self) -> bool:
        return self.transport.budget.try_spend()

    def watch(
        self, spec: WatchSpec[Any], poll: PollPolicy | None = None, *,
        previous: str | None = None, attempt: int = 0, expect_started: bool = False,
        events: HookReceiver | None = None,
    ) -> Watch[Any]:
        """A `Watch` of ``spec``; fails at once when the client is not open. With ``events``
        (webhooks) and no ``poll``, it polls only as the receiver's safety net."""
        self.transport  # noqa: B018 - raises ClientClosedError before any watch exists
        if poll is None and events is not None:
            poll = events.poll_policy(self.poll)
        return Watch(spec, transitions(spec, poll or self.poll, self.watch_env,
                                       previous=previous, attempt=attempt,
                                       expect_started=expect_started, events=events,
                                       job_started=JOB_STARTED.get()))
