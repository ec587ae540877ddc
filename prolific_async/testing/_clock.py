"""`FakeClock`: the fake server's time, which tests stop and move by hand."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

__all__ = ["FakeClock", "iso"]


class FakeClock:
    """The fake server's notion of time, in seconds.

    ``speed=1.0`` runs with the wall clock (the demo); ``speed=0`` stands still until a test
    calls `advance` (deterministic tests); anything else scales time (a 10-minute job in 6 s
    with ``speed=100``). ``per_request`` moves the clock that much on every API request, so
    a poller makes progress deterministically, measured in requests rather than seconds.

    Its dates start at the wall-clock time the clock was made (to the second), so the expiry
    of a presigned URL means to a client what it would on the real API.
    """

    def __init__(self, speed: float = 1.0, *, per_request: float = 0.0) -> None:
        if speed < 0 or per_request < 0:
            raise ValueError("speed and per_request must be >= 0")
        self.speed = speed
        self.per_request = per_request
        self._offset = 0.0
        self._started = time.monotonic()
        self.epoch: datetime = datetime.now(timezone.utc).replace(microsecond=0)

    def now(self) -> float:
        return self._offset + (time.monotonic() - self._started) * self.speed

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        self._offset += seconds

    def datetime(self, at: float | None = None) -> datetime:
        return self.epoch + timedelta(seconds=self.now() if at is None else at)


def iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")
