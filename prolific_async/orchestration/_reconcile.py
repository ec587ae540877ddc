"""Create once: look on the server, create, and after an unsure answer look again.

Every stage that creates or changes something goes through `create_once`. Its ``find`` says
whether what the stage would create is already there (and adopts it); ``create`` makes it.
An answer that may or may not have reached the server (`OutcomeUnknownError`, or a 5xx that
a gateway may have sent after the server acted) is never followed by a blind second create:
``find`` is asked first, with ``recheck=True`` so that it reads the server afresh rather
than a list read earlier in the run.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from . import _sdk as pa

__all__ = ["CREATE_ATTEMPTS", "UNSURE", "create_once"]

#: How often a create whose answer was lost is tried again (after looking).
CREATE_ATTEMPTS = 6
#: A create that failed so may or may not have happened: look, then try again.
UNSURE = (pa.OutcomeUnknownError, pa.InternalServerError)

#: ``find(recheck)``: a message saying what was found (and adopted), or None.
Find = Callable[[bool], Awaitable[str | None]]


async def create_once(
    find: Find, create: Callable[[], Awaitable[str | None]], *, look_first: bool = True,
    attempts: int = CREATE_ATTEMPTS,
) -> str | None:
    """Adopt what ``find`` finds, else ``create`` it; returns the message for the event.

    ``look_first=False`` skips the first look when nothing can exist yet (the parent was
    created a moment ago by this very run): it saves a request, never safety, because
    every attempt after an unsure one looks.

    Example::

        message = await create_once(find_batch, create_batch)
    """
    for attempt in range(1, attempts + 1):
        if look_first or attempt > 1:
            found = await find(attempt > 1)
            if found is not None:
                return found
        try:
            return await create()
        except UNSURE:
            if attempt == attempts:
                raise
    raise AssertionError("unreachable: the last attempt returns or raises")
