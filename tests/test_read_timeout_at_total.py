"""A read timeout no shorter than the total is left to the total (aiohttp then sets no read
timer, two timers less per call): a silent server still times out, at the total."""

from __future__ import annotations

import time

import pytest

import prolific_async as pa
from prolific_async.testing import FakeProlific

pytestmark = pytest.mark.anyio

LIST = "/api/v1/data-collection/batches"


@pytest.mark.parametrize("read", [0.5, 5.0])
async def test_a_silent_answer_times_out_at_the_total_when_read_is_not_shorter(
        fake_prolific: FakeProlific, read: float) -> None:
    fake_prolific.inject(method="GET", path=LIST, status=None, latency=30)
    async with pa.Prolific(fake_prolific.token, base_url=fake_prolific.url,
                           timeouts=pa.Timeouts(read=read, total=0.5),
                           retry=pa.RetryPolicy.disabled()) as client:
        started = time.monotonic()
        with pytest.raises(pa.APITimeoutError, match="timed out"):
            await client.batches.list(workspace_id=fake_prolific.workspace_id)
    # Well before the answer's 30 s: the total ended it (the bound is loose for a busy CI).
    assert time.monotonic() - started < 10
