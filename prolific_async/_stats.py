"""`ClientStats`: what one client has sent, for progress displays and benchmarks."""

from __future__ import annotations

import attrs

__all__ = ["ClientStats"]


@attrs.define
class ClientStats:
    """Counters of one `Prolific` client since it was created.

    ``requests`` counts every HTTP request sent (API calls and storage transfers, each retry
    included), ``retries`` the repeats among them, ``rate_limited`` the 429 answers, and
    ``paused`` the seconds all requests waited because the server asked for a pause.

    Example::

        async with pa.Prolific() as client:
            ...
            print(client.stats.requests, "requests,", client.stats.retries, "retries")
    """

    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    paused: float = 0.0
