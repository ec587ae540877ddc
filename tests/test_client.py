"""The session manager: configuration, lifecycle, and keeping the token safe."""

from __future__ import annotations

import logging

import aiohttp
import pytest

import prolific_async as pa
from prolific_async.testing import FakeProlific

pytestmark = pytest.mark.anyio


def test_token_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROLIFIC_TOKEN", "env-token")
    monkeypatch.setenv("PROLIFIC_URL", "http://127.0.0.1:9/")
    client = pa.Prolific()
    assert client.base_url == "http://127.0.0.1:9"


def test_missing_token_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROLIFIC_TOKEN", raising=False)
    with pytest.raises(pa.ConfigurationError, match="PROLIFIC_TOKEN"):
        pa.Prolific()


@pytest.mark.parametrize("url", ["ftp://x", "api.prolific.com"])
def test_bad_base_url(url: str) -> None:
    with pytest.raises(pa.ConfigurationError, match="base_url"):
        pa.Prolific("t", base_url=url)


def test_default_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROLIFIC_URL", raising=False)
    assert pa.Prolific("t").base_url == "https://api.prolific.com"


async def test_repr_hides_the_token(fake_prolific: FakeProlific) -> None:
    client = pa.Prolific(fake_prolific.token, base_url=fake_prolific.url)
    assert fake_prolific.token not in repr(client)
    async with client:
        assert fake_prolific.token not in repr(client)
        assert fake_prolific.token not in repr(client._context.transport)
    assert "closed" in repr(client)


async def test_use_outside_async_with_is_a_clear_error(fake_prolific: FakeProlific) -> None:
    client = pa.Prolific(fake_prolific.token, base_url=fake_prolific.url)
    with pytest.raises(pa.ClientClosedError, match="async with"):
        await client.batches.get("b")
    assert fake_prolific.requests == []


async def test_use_after_close_is_a_clear_error(fake_prolific: FakeProlific) -> None:
    async with pa.Prolific(fake_prolific.token, base_url=fake_prolific.url) as client:
        pass
    with pytest.raises(pa.ClientClosedError, match="closed"):
        await client.batches.list(workspace_id=fake_prolific.workspace_id)
    with pytest.raises(pa.ClientClosedError):
        async with client:
            pass
    await client.aclose()  # twice is fine


async def test_headers_sent(prolific_client: pa.Prolific, fake_prolific: FakeProlific) -> None:
    await prolific_client.batches.list(workspace_id=fake_prolific.workspace_id)
    [sent] = fake_prolific.requests
    assert sent.headers["Authorization"] == f"Token {fake_prolific.token}"
    assert sent.headers["User-Agent"] == f"prolific-async/{pa.__version__}"


async def test_wrong_token_is_authentication_error(fake_prolific: FakeProlific) -> None:
    async with pa.Prolific("not-the-token", base_url=fake_prolific.url) as client:
        with pytest.raises(pa.AuthenticationError, match="401") as caught:
            await client.batches.list(workspace_id=fake_prolific.workspace_id)
    assert caught.value.detail == "Invalid token."
    assert "not-the-token" not in str(caught.value)


async def test_own_session_is_used_and_left_open(fake_prolific: FakeProlific) -> None:
    async with aiohttp.ClientSession() as session:
        async with pa.Prolific(fake_prolific.token, base_url=fake_prolific.url,
                               session=session) as client:
            await client.batches.list(workspace_id=fake_prolific.workspace_id)
        assert not session.closed


async def test_token_never_in_debug_logs(
    prolific_client: pa.Prolific, fake_prolific: FakeProlific, caplog: pytest.LogCaptureFixture,
    tmp_path: object,
) -> None:
    from .helpers import ready_batch

    fake_prolific.inject(method="GET", path="*/status", status=503, times=1)
    with caplog.at_level(logging.DEBUG):
        batch = await ready_batch(prolific_client, fake_prolific)
        await prolific_client.batches.wait_ready(batch.id)
        with pytest.raises(pa.NotFoundError):
            await prolific_client.batches.get("missing")
    assert "GET /api/v1/data-collection/batches/missing" in caplog.text
    assert fake_prolific.token not in caplog.text
    assert "Authorization" not in caplog.text
