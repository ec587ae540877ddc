"""How long to wait between two polls: pure arithmetic, no clock and no randomness of its own."""

from __future__ import annotations

from ._config import PollPolicy

__all__ = ["HINT_CEILINGS", "MIN_DELAY", "next_delay"]

#: Every poll sleeps at least this long, whatever a policy or server says: no hot loops.
MIN_DELAY = 0.001
#: A server's Retry-After is obeyed, but never beyond this many ceilings.
HINT_CEILINGS = 4.0


def next_delay(policy: PollPolicy, attempt: int, *, hint: float | None = None,
               spread: float = 0.5) -> float:
    """Seconds to wait after poll number ``attempt`` (0 = the first poll).

    ``spread`` is a uniform random number in [0, 1) that places the delay inside the jitter
    band; passing it in keeps this function pure. The result lies in
    ``[MIN_DELAY, ceiling]`` unless the server's hint asks for more (at most
    ``ceiling * HINT_CEILINGS``).
    """
    base = policy.initial * policy.multiplier ** min(attempt, 200)
    base = min(base, policy.ceiling)
    delay = min(base * (1 + policy.jitter * (2 * spread - 1)), policy.ceiling)
    if hint is not None and hint > delay:
        delay = min(hint, policy.ceiling * HINT_CEILINGS)
    return max(delay, MIN_DELAY)
