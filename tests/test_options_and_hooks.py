"""``client.with_options`` views share the client's session and state; ``on_request`` and
``on_response`` hooks see every attempt, and nothing secret."""

from __future__ import annotations

import pytest

import prolific_async as pa
from prolific_async.testing import FakeProlific

pytestmark = pytest.mark.anyio

LIST = "/api/v1/data-collection/batches"


async def test_hooks_see_each_attempt_with_its_status_and_why_it_is_retried(
    fake_prolific: FakeProlific,
) -> None:
    asked: list[pa.RequestEvent] = []
    answered: list[pa.RequestEvent] = []
    fake_prolific.inject(method="GET", path=LIST, status=503, times=1)
    async with pa.Prolific(fake_prolific.token, base_url=fake_prolific.url, seed=1,
                           retry=pa.RetryPolicy(wait_initial=0.001, wait_max=0.002),
                           on_request=asked.append, on_response=answered.append) as client:
        await client.batches.list(workspace_id=fake_prolific.workspace_id)
    assert [(e.method, e.path, e.attempt) for e in asked] == [("GET", LIST, 1), ("GET", LIST, 2)]
    first, second = answered
    assert (first.status, first.retry_reason, first.error) == (503, "503",
                                                              "InternalServerError")
    assert (second.status, second.retry_reason, second.error) == (200, None, None)
    assert all(e.elapsed is not None and e.elapsed >= 0 for e in answered)
    assert fake_prolific.token not in repr(asked + answered)
    assert "workspace_id" not in repr(asked + answered)  # the query stays out


async def test_a_view_with_other_options_shares_the_session_and_the_stats(
    fake_prolific: FakeProlific,
) -> None:
    fake_prolific.inject(method="GET", path=LIST, status=503, times=2)
    async with pa.Prolific(fake_prolific.token, base_url=fake_prolific.url) as client:
        hasty = client.with_options(retry=pa.RetryPolicy.disabled())
        with pytest.raises(pa.InternalServerError):
            await hasty.batches.list(workspace_id=fake_prolific.workspace_id)
        patient = client.with_options(retry=pa.RetryPolicy(wait_initial=0.001, wait_max=0.002),
                                      timeouts=pa.Timeouts(total=5))
        assert await patient.batches.list(workspace_id=fake_prolific.workspace_id) == []
        await patient.aclose()  # a view closes nothing
        assert await client.batches.list(workspace_id=fake_prolific.workspace_id) == []
        assert client.stats.requests == 4 and client.stats.retries == 1
        assert patient.timeouts.total == 5 and client.timeouts.total == 60
    with pytest.raises(pa.ClientClosedError):
        await patient.batches.list(workspace_id=fake_prolific.workspace_id)


def test_a_bad_option_is_a_configuration_error_naming_it() -> None:
    client = pa.Prolific("t0ken")
    with pytest.raises(pa.ConfigurationError, match="with_options: retry must be a "
                                                    "RetryPolicy"):
        client.with_options(retry=3)  # type: ignore[arg-type]
    with pytest.raises(pa.ConfigurationError, match=r"Timeouts.total must be a number > 0"):
        pa.Timeouts(total=0)
