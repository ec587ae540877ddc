"""Atomic, streamed downloads from presigned storage URLs (exports and reports)."""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import anyio

from ._errors import StorageError
from ._transport import Transport

__all__ = ["download"]


def _timestamped(stem: str, suffix: str) -> str:
    return f"{stem}-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}{suffix}"


async def download(
    transport: Transport,
    url_for: Callable[[bool], Awaitable[str]],
    dest: str | os.PathLike[str],
    *,
    stem: str,
    suffix: str,
) -> Path:
    """Stream a presigned URL into ``dest`` (a folder, or a file path) atomically.

    ``url_for(refresh)`` gives the URL to fetch; storage answers 403 to an expired signature,
    and then it is called once more with ``refresh=True`` for a new one. The bytes go to a
    hidden temporary file beside the target, renamed only once complete; a failed download
    leaves nothing behind. In a folder, the name is ``<stem>-<timestamp><suffix>`` so runs
    never overwrite each other.
    """
    target = Path(dest)
    if str(dest).endswith(("/", os.sep)) or await anyio.Path(target).is_dir():
        target = target / _timestamped(stem, suffix)
    await anyio.Path(target.parent).mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{secrets.token_hex(4)}.part")

    async def sink(resp: aiohttp.ClientResponse) -> None:
        async with await anyio.open_file(partial, "wb") as out:
            async for chunk in resp.content.iter_chunked(1 << 16):
                await out.write(chunk)

    try:
        for refresh in (False, True):
            try:
                await transport.transfer("GET", await url_for(refresh), sink=sink)
                break
            except StorageError as exc:
                if refresh or exc.status_code != 403:
                    raise
        await anyio.Path(partial).rename(target)
    finally:
        await anyio.Path(partial).unlink(missing_ok=True)
    return target
