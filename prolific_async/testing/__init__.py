"""A faithful fake of the Prolific AI Task Builder API, for tests and demos, fully offline.

Example::

    from prolific_async import Prolific
    from prolific_async.testing import FakeClock, FakeProlific

    async with FakeProlific(clock=FakeClock(speed=0)) as fake:
        async with Prolific(fake.token, base_url=fake.url) as client:
            ...

With pytest, the ``fake_prolific`` fixture gives a started fake (manual clock) and
``prolific_client`` an open client connected to it.
"""

from ._clock import FakeClock
from ._fake import FakeProlific
from ._server import Fault, RecordedRequest

__all__ = ["FakeClock", "FakeProlific", "Fault", "RecordedRequest"]
