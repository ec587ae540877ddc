"""The SDK runs on asyncio (aiohttp); under another event loop it says so at once."""

from __future__ import annotations

import anyio
import pytest

import prolific_async as pa

TOKEN = "fake-prolific-token"
URL = "http://127.0.0.1:9"


def test_a_client_built_under_trio_says_the_sdk_runs_on_asyncio() -> None:
    async def main() -> None:
        pa.Prolific(TOKEN, base_url=URL)

    with pytest.raises(pa.ConfigurationError, match=r"runs on asyncio \(aiohttp\), not on trio"):
        anyio.run(main, backend="trio")


def test_a_client_built_outside_a_loop_and_opened_under_trio_says_so_too() -> None:
    client = pa.Prolific(TOKEN, base_url=URL)

    async def main() -> None:
        async with client:
            pass

    with pytest.raises(pa.ConfigurationError, match=r"runs on asyncio \(aiohttp\)"):
        anyio.run(main, backend="trio")


def test_a_client_opens_under_anyio_on_asyncio() -> None:
    async def main() -> str:
        async with pa.Prolific(TOKEN, base_url=URL) as client:
            return client.base_url

    assert anyio.run(main, backend="asyncio") == URL
