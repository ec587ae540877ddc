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
import fnmatch
import glob
import os
import re
import secrets
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import IO

import aiohttp
import anyio
import anyio.lowlevel
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
    # Each step that touches the disk is one trip to a worker thread (a thousand downloads
    # at once pay for every trip): a body under `WRITE_BUFFER` takes one, at the end, which
    # makes the partial file, writes it and moves it into place.
    part = _Part(dest, stem, suffix)
    state = Resume()

    async def sink(resp: aiohttp.ClientResponse) -> None:
        if part.tail is not None:  # an earlier answer ended, then its attempt failed
            await _flush(part, *part.tail, state, None, counted=True)
        asked = state.done
        offset = state.begin(resp.status, resp.headers, resp.content_length)
        if offset is None:
            # Raised as a broken body, so the transport's retry loop fetches it all again.
            raise aiohttp.ClientPayloadError(
                f"storage answered {resp.headers.get('Content-Range')!r} to bytes={asked}-")
        if progress is not None:
            progress(offset, state.total)
        start: int | None = offset  # the first write of an answer starts at its offset
        pending: list[bytes] = []
        size = 0
        try:
            async for chunk in resp.content.iter_chunked(READ_CHUNK):
                pending.append(chunk)
                size += len(chunk)
                if size >= WRITE_BUFFER:
                    await _flush(part, start, pending, state, progress)
                    start, pending, size = None, [], 0
        except (aiohttp.ClientError, asyncio.TimeoutError):
            if state.ranges:
                # Keep what arrived before the break: the retry asks only for the rest.
                await _flush(part, start, pending, state, progress)
            raise
        # A cancel that came while buffered bytes were read (no await) still ends it here.
        await anyio.lowlevel.checkpoint_if_cancelled()
        # The last bytes are written by the trip that ends the download.
        part.tail = (start, pending)
        state.done += size
        if progress is not None and size:
            progress(state.done, state.total)
        if not state.complete:
            # aiohttp notices a body shorter than its Content-Length; this also covers a range.
            raise aiohttp.ClientPayloadError(f"storage sent {state.done} of {state.total} bytes")

    complete, target = False, None
    try:
        for refresh in (False, True):
            try:
                await transport.transfer("GET", await url_for(refresh), sink=sink,
                                         headers=state.headers)
                break
            except StorageError as exc:
                if refresh or exc.status_code != 403:
                    raise
        complete = True
    finally:
        # Shielded: a cancelled download must still remove its partial file.
        if complete or part.holder is not None:
            with anyio.CancelScope(shield=True):
                target = await anyio.to_thread.run_sync(part.settle, complete)
    assert target is not None  # complete, so settled into place
    return target


@attrs.define
class _Part:
    """A download's partial file, made at its first write (its methods block).

    Held (locked) from then to the end, across retries: a later run that finds the partial
    file unheld knows its process died, and removes it (`remove_abandoned_parts`)."""

    dest: str | os.PathLike[str]
    stem: str
    suffix: str
    target: Path | None = None
    partial: Path | None = None
    holder: IO[bytes] | None = None
    #: The last bytes of an answer, waiting for the end: (where they start, the chunks).
    tail: tuple[int | None, list[bytes]] | None = None

    def write(self, start: int | None, chunks: list[bytes]) -> None:
        """Write ``chunks``: at ``start`` (dropping what lies beyond it), or after the last
        write when None."""
        holder = self.holder if self.holder is not None else self._make()
        if start is not None:
            holder.seek(start)
            holder.truncate()
        holder.writelines(chunks)

    def settle(self, complete: bool) -> Path | None:
        """Complete: the tail written and the file moved to its target (returned). Else the
        partial file removed (None). Either way let go."""
        try:
            if complete:
                self.write(*(self.tail or (None, [])))
                assert self.holder is not None and self.partial is not None
                assert self.target is not None
                self.holder.flush()
                self.partial.replace(self.target)
                return self.target
            return None
        finally:
            if self.holder is not None and self.partial is not None:
                self.partial.unlink(missing_ok=True)
                self.holder.close()

    def _make(self) -> IO[bytes]:
        """The target's path, and its partial file created and held."""
        target = Path(self.dest)
        if str(self.dest).endswith(("/", os.sep)) or target.is_dir():
            target = target / _timestamped(self.stem, self.suffix)
        target.parent.mkdir(parents=True, exist_ok=True)
        stem, suffix = self.stem, self.suffix
        remove_abandoned_parts(
            target.parent, f"{glob.escape(stem)}-*{glob.escape(suffix)}"
            if target.name.startswith(f"{stem}-") else glob.escape(target.name))
        self.target = target
        self.partial = target.with_name(f".{target.name}.{secrets.token_hex(4)}.part")
        self.holder = hold(self.partial)
        return self.holder


#: The partial files seen in each folder this process downloaded to, by folder (a bounded
#: number of folders, oldest forgotten first): a folder is listed once, not once per download,
#: which a thousand exports into one folder would make quadratic. A download of this process
#: removes its own partial file however it ends; those a killed process leaves behind are
#: found by the first download into their folder of each later process.
_LEFTOVERS: dict[Path, set[str]] = {}
_LEFTOVER_FOLDERS = 256
_LEFTOVERS_LOCK = threading.Lock()


def remove_abandoned_parts(folder: Path, pattern: str) -> list[Path]:
    """Remove the partial files of downloads named ``pattern`` (a glob of the target's name)
    in ``folder`` whose process is gone (killed mid-download); return them. Blocking.

    Only files this module names (``.<target>.<hex>.part``) are candidates, and only those no
    living process holds, so another download of the same file in progress is left alone.
    """
    with _LEFTOVERS_LOCK:
        names = _LEFTOVERS.get(folder)
        if names is None:
            if len(_LEFTOVERS) >= _LEFTOVER_FOLDERS:
                del _LEFTOVERS[next(iter(_LEFTOVERS))]
            with os.scandir(folder) as entries:
                names = _LEFTOVERS[folder] = {
                    entry.name for entry in entries
                    if entry.name.startswith(".") and entry.name.endswith(".part")}
        match = re.compile(fnmatch.translate(f".{pattern}.*.part")).match
        candidates = [name for name in names if match(name)]
    removed = []
    for name in candidates:
        path = folder / name
        if abandoned(path):
            path.unlink(missing_ok=True)
            removed.append(path)
        if not path.exists():
            with _LEFTOVERS_LOCK:
                names.discard(name)
    return removed


async def _flush(part: _Part, start: int | None, pending: list[bytes], state: Resume,
                 progress: ProgressCallback | None, *, counted: bool = False) -> None:
    """Write ``pending`` in one trip; ``counted``: its bytes are in ``state.done`` already."""
    part.tail = None
    if not pending and start is None:
        return
    await anyio.to_thread.run_sync(part.write, start, pending)
    if not counted:
        state.done += sum(map(len, pending))
    if progress is not None:
        progress(state.done, state.total)
