"""Atomic, streamed downloads from presigned storage URLs (exports and reports).

One mechanism for both: the bytes stream in chunks to a hidden temporary file beside the
target, which is renamed into place only once complete, so a failed or interrupted download
never leaves a partial file where the real one goes. Memory stays constant (one write buffer).

Faults, from the cheapest remedy to the dearest:

- a connection dropped mid-body is retried by the transport's retry loop; when the storage host
  said it serves byte ranges (``Accept-Ranges: bytes``, as S3 does) the retry asks only for the
  rest (``Range: bytes=<done>-``, guarded by ``If-Range`` so a changed object is fetched whole),
  otherwise it starts again from the first byte;
- a 403 means the presigned signature expired: a fresh URL is obtained once and the download
  carries on (resuming, when it can, from where the old URL stopped);
- a cancelled download removes its partial file (shielded from the cancel); a killed one
  cannot, so each download first removes the partial files of the same target that no living
  process holds (`prolific_async._leftovers`).
"""

from __future__ import annotations

import asyncio
import glob
import os
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

import aiohttp
import anyio
import attrs

from ._errors import StorageError
from ._leftovers import abandoned, hold
from ._transport import Transport

__all__ = ["ProgressCallback", "Resume", "download", "remove_abandoned_parts"]

#: ``progress(bytes_done, total_or_None)``: called as the file grows (``total`` is None when the
#: host did not say). After a restart ``bytes_done`` goes back to 0.
ProgressCallback = Callable[[int, int | None], object]

#: Chunks are gathered up to this size before each file write: every write is a hop to a worker
#: thread, and one hop per MiB costs nothing measurable where one per 64 KiB chunk did.
WRITE_BUFFER = 1 << 20
READ_CHUNK = 1 << 16

_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-\d+/(\d+|\*)")


def _timestamped(stem: str, suffix: str) -> str:
    return f"{stem}-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}{suffix}"


@attrs.define
class Resume:
    """What is on disk so far, and whether the host lets the next attempt ask for only the
    rest. Pure decisions, no I/O: the sink feeds it each answer's status and headers."""

    done: int = 0
    total: int | None = None
    ranges: bool = False
    validator: str | None = None

    def headers(self) -> dict[str, str]:
        """The headers of the next attempt: a ``Range`` for the rest, when that works."""
        if not (self.done and self.ranges):
            return {}
        headers = {"Range": f"bytes={self.done}-"}
        if self.validator:
            # A changed object answers 200 with all of it, instead of a range of the new one.
            headers["If-Range"] = self.validator
        return headers

    def begin(self, status: int, headers: Mapping[str, str], length: int | None) -> int | None:
        """The offset an answer's body starts at (a full body starts again at 0), or None
        when it is not the range asked for: what was kept is then forgotten, so the next
        attempt fetches it all."""
        if status == 206 and self.done:
            match = _CONTENT_RANGE.fullmatch(headers.get("Content-Range", "").strip())
            if match is None or int(match[1]) != self.done:
                self.done, self.ranges = 0, False
                return None
            self.total = None if match[2] == "*" else int(match[2])
            return self.done
        self.done = 0
        self.total = length
        # Byte offsets mean nothing across a content encoding the client undoes on the fly.
        self.ranges = headers.get("Accept-Ranges", "").strip().lower() == "bytes" and \
            headers.get("Content-Encoding", "identity").strip().lower() == "identity"
        self.validator = headers.get("ETag") or headers.get("Last-Modified")
        return 0

    @property
    def complete(self) -> bool:
        return self.total is None or self.done == self.total


async def download(
    transport: Transport,
    url_for: Callable[[bool], Awaitable[str]],
    dest: str | os.PathLike[str],
    *,
    stem: str,
    suffix: str,
    progress: ProgressCallback | None = None,
) -> Path:
    """Stream a presigned URL into ``dest`` (a folder, or a file path) atomically.

    ``url_for(refresh)`` gives the URL to fetch; storage answers 403 to an expired signature,
    and then it is called once more with ``refresh=True`` for a new one. In a folder, the name
    is ``<stem>-<timestamp><suffix>`` so runs never overwrite each other. ``progress`` is
    called with ``(bytes_done, total_or_None)`` as the file grows.
    """
    target = Path(dest)
    if str(dest).endswith(("/", os.sep)) or await anyio.Path(target).is_dir():
        target = target / _timestamped(stem, suffix)
    await anyio.Path(target.parent).mkdir(parents=True, exist_ok=True)
    await anyio.to_thread.run_sync(
        remove_abandoned_parts, target.parent,
        f"{glob.escape(stem)}-*{glob.escape(suffix)}" if target.name.startswith(f"{stem}-")
        else glob.escape(target.name))
    partial = target.with_name(f".{target.name}.{secrets.token_hex(4)}.part")
    # Held (locked) for the whole download, across retries: a later run that finds this file
    # unheld knows its process died, and removes it (`remove_abandoned_parts`).
    holder = await anyio.to_thread.run_sync(hold, partial)
    state = Resume()

    async def sink(resp: aiohttp.ClientResponse) -> None:
        asked = state.done
        offset = state.begin(resp.status, resp.headers, resp.content_length)
        if offset is None:
            # Raised as a broken body, so the transport's retry loop fetches it all again.
            raise aiohttp.ClientPayloadError(
                f"storage answered {resp.headers.get('Content-Range')!r} to bytes={asked}-")
        if progress is not None:
            progress(offset, state.total)
        async with await anyio.open_file(partial, "r+b" if offset else "wb") as out:
            if offset:
                await out.seek(offset)
                await out.truncate()
            pending: list[bytes] = []
            size = 0
            try:
                async for chunk in resp.content.iter_chunked(READ_CHUNK):
                    pending.append(chunk)
                    size += len(chunk)
                    if size >= WRITE_BUFFER:
                        await _flush(out, pending, state, progress)
                        pending, size = [], 0
            except (aiohttp.ClientError, asyncio.TimeoutError):
                if state.ranges:
                    # Keep what arrived before the break: the retry asks only for the rest.
                    await _flush(out, pending, state, progress)
                raise
            await _flush(out, pending, state, progress)
        if not state.complete:
            # aiohttp notices a body shorter than its Content-Length; this also covers a range.
            raise aiohttp.ClientPayloadError(f"storage sent {state.done} of {state.total} bytes")

    try:
        for refresh in (False, True):
            try:
                await transport.transfer("GET", await url_for(refresh), sink=sink,
                                         headers=state.headers)
                break
            except StorageError as exc:
                if refresh or exc.status_code != 403:
                    raise
        await anyio.Path(partial).replace(target)
    finally:
        # Shielded: a cancelled download must still remove its partial file.
        with anyio.CancelScope(shield=True):
            await anyio.Path(partial).unlink(missing_ok=True)
            await anyio.to_thread.run_sync(holder.close)
    return target


def remove_abandoned_parts(folder: Path, pattern: str) -> list[Path]:
    """Remove the partial files of downloads named ``pattern`` (a glob of the target's name)
    in ``folder`` whose process is gone (killed mid-download); return them. Blocking.

    Only files this module names (``.<target>.<hex>.part``) are candidates, and only those no
    living process holds, so another download of the same file in progress is left alone.
    """
    removed = []
    for path in folder.glob(f".{pattern}.*.part"):
        if abandoned(path):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


async def _flush(out: anyio.AsyncFile[bytes], pending: list[bytes], state: Resume,
                 progress: ProgressCallback | None) -> None:
    if not pending:
        return
    await out.writelines(pending)
    state.done += sum(map(len, pending))
    if progress is not None:
        progress(state.done, state.total)
