"""``client.datasets``: create, upload, watch."""

from __future__ import annotations

import codecs
import json
import mimetypes
import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio

from .._config import PollPolicy
from .._converter import converter
from .._jobs import JobKind
from .._models.common import StatusSnapshot
from .._models.datasets import (
    Dataset,
    DatasetImport,
    DatasetSchema,
    DatasetStatus,
    ImportStatus,
    UploadURL,
)
from .._watch import Watch, WatchSpec
from ._base import DC, required, segment, watches, with_extra
from .datasets_v4 import V4Datasets

__all__ = ["DATASET", "DATASET_IMPORT", "UPLOAD_SUFFIXES", "Datasets"]

DATASET = JobKind(
    "dataset", pending={DatasetStatus.UNINITIALISED, DatasetStatus.PROCESSING},
    done={DatasetStatus.READY}, failed={DatasetStatus.ERROR},
    remedy="check the uploaded file and upload it again",
    not_started={DatasetStatus.UNINITIALISED},
    missing_step="upload a file first with client.datasets.upload(dataset_id, path)",
)
DATASET_IMPORT = JobKind(
    "dataset_import",
    pending={ImportStatus.UNINITIALISED, ImportStatus.QUEUED, ImportStatus.PROCESSING},
    # "partial": some records were rejected, the rest are in (the CLI ends there too).
    done={ImportStatus.COMPLETE, ImportStatus.PARTIAL},
    # "pending_schema" waits on the user, so polling longer cannot help.
    failed={ImportStatus.FAILED, ImportStatus.PENDING_SCHEMA},
    remedy="see the import's errors and reason",
)

#: The files the API takes: CSV or ZIP into a V3 dataset, CSV or JSONL into a V4 one.
UPLOAD_SUFFIXES = (".csv", ".jsonl", ".zip")
#: Uploads are read from disk this much at a time (each read is one hop to a worker thread).
UPLOAD_CHUNK = 1 << 20
#: How much of a file is read to tell whether it is what its name says, before sending it.
SNIFF_BYTES = 64 * 1024


def _read_chunk(path: str | os.PathLike[str], offset: int) -> bytes:
    """Up to `UPLOAD_CHUNK` bytes of the file from ``offset`` (blocking)."""
    with open(path, "rb") as stream:
        stream.seek(offset)
        return stream.read(UPLOAD_CHUNK)


def _fit_to_send(shown: str, name: str) -> tuple[int, bytes | None]:
    """The size of the file at ``shown`` and, when it is smaller than `SNIFF_BYTES`, its
    bytes (read to check it: sent as they are, with no other trip to the disk); or the error
    saying why it cannot be sent (blocking)."""
    path = Path(shown)
    if path.is_dir():
        raise IsADirectoryError(f"cannot upload {shown!r}: it is a directory; give a file")
    if not path.is_file():
        raise FileNotFoundError(f"no such file to upload: {shown!r}")
    if not name.lower().endswith(UPLOAD_SUFFIXES):
        raise ValueError(f"cannot upload {name!r}: datasets take .csv or .zip (V3) and "
                         ".csv or .jsonl (V4) files")
    size = path.stat().st_size
    if size == 0:
        raise ValueError(f"cannot upload {shown!r}: the file is empty")
    with path.open("rb") as stream:
        head = stream.read(SNIFF_BYTES)
    problem = _sniff(head, name)
    if problem is not None:
        raise ValueError(f"cannot upload {shown!r}: {problem}")
    return size, head if len(head) == size < SNIFF_BYTES else None


def _sniff(head: bytes, name: str) -> str | None:
    """What is wrong with the start of the file for its kind, or None (blocking).

    The server would take a mislabelled file and end the dataset in ERROR after processing;
    the start of the file tells most mistakes (a spreadsheet saved as .csv, a JSON array
    named .jsonl) before anything is sent: ``head`` is its first `SNIFF_BYTES`.
    """
    whole = len(head) < SNIFF_BYTES
    if name.lower().endswith(".zip"):
        return None if head.startswith(b"PK\x03\x04") else "it is not a ZIP archive"
    if b"\x00" in head:
        return "it holds NUL bytes: it is a binary file, not CSV or JSONL text"
    try:
        # Not final unless whole: the sample may end inside a multi-byte character.
        text = codecs.getincrementaldecoder("utf-8-sig")().decode(head, final=whole)
    except UnicodeDecodeError as exc:
        return f"it is not UTF-8 text (byte {exc.start} cannot be read): save it as UTF-8"
    first, newline, _ = text.lstrip().partition("\n")
    if name.lower().endswith(".jsonl") and (newline or whole):
        try:
            ok = isinstance(json.loads(first), dict)
        except ValueError:
            ok = False
        if not ok:
            return "its first line is not a JSON object (JSONL holds one object per line)"
    if not first.strip():
        return "it holds only blank lines"
    return None


class Datasets(V4Datasets):
    """Datasets hold the data tasks are made from (V4 datasets also take records as they
    come: `append`, `update`, `watch_migration`).

    Example::

        ds = await client.datasets.create(name="reviews", workspace_id=WS)
        await client.datasets.upload(ds.id, "reviews.csv")
        ds = await client.datasets.wait_ready(ds.id)
    """

    async def create(
        self, *, name: str, workspace_id: str, schema: DatasetSchema | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> Dataset:
        """Create a dataset; with a ``schema`` it is a V4 dataset (imports instead of READY).

        ``extra`` adds body fields this SDK does not know yet. Datasets cannot be listed, so
        one whose create answer was lost (`OutcomeUnknownError`) stays an orphan: harmless,
        as an empty dataset costs nothing.
        """
        body: dict[str, Any] = {"name": required("name", name),
                                   "workspace_id": required("workspace_id", workspace_id)}
        if schema is not None:
            body["schema"] = converter.unstructure(schema)
        # Creates something: retried only when the server provably did not act.
        dataset: Dataset = await self._call(
            "POST", f"{DC}/datasets", Dataset, json_body=with_extra(body, extra),
            idempotent=False
        )
        return dataset

    async def get(self, dataset_id: str) -> Dataset:
        """A dataset, with its status and datapoint count."""
        dataset: Dataset = await self._call(
            "GET", f"{DC}/datasets/{segment('dataset_id', dataset_id)}", Dataset
        )
        return dataset

    async def status(self, dataset_id: str) -> DatasetStatus:
        """The dataset's status alone (UNINITIALISED, PROCESSING, READY or ERROR); to wait
        for READY use `wait_ready`."""
        snapshot: StatusSnapshot = await self._call(
            "GET", f"{DC}/datasets/{segment('dataset_id', dataset_id)}/status", StatusSnapshot
        )
        return DatasetStatus(snapshot.status)

    async def upload_url(self, dataset_id: str, filename: str) -> UploadURL:
        """A presigned URL to PUT ``filename`` to (`upload` does both steps for you)."""
        path = (f"{DC}/datasets/{segment('dataset_id', dataset_id)}"
                f"/upload-url/{segment('filename', filename, text=True)}")
        url: UploadURL = await self._call("GET", path, UploadURL)
        return url

    async def upload(
        self, dataset_id: str, path: str | os.PathLike[str], *,
        filename: str | None = None, content_type: str | None = None,
    ) -> UploadURL:
        """Upload a file: get a presigned URL, then PUT the file to it.

        A V3 dataset takes ``.csv`` or ``.zip``, a V4 dataset (created with a schema)
        ``.csv`` or ``.jsonl``. The path is checked before anything is sent: a missing file,
        a directory, an empty file, another extension or content that does not match it is a
        clear error. The file is streamed from disk in 1 MiB chunks (one under 64 KiB is sent
        as the check read it), and the storage request carries no ``Authorization`` header.
        An upload whose answer was lost is not sent again (`OutcomeUnknownError`): storage
        may have kept it, so look at the dataset's status. Returns the upload URL answer,
        whose ``import_id`` identifies the import job of a V4 dataset.

        Example::

            await client.datasets.upload(ds.id, "reviews.csv")
            ds = await client.datasets.wait_ready(ds.id)
        """
        name, size, whole = await self._checked(path, filename)
        target = await self.upload_url(dataset_id, name)
        kind = (content_type or target.content_type or mimetypes.guess_type(name)[0]
                or "application/octet-stream")

        @asynccontextmanager
        async def opened() -> AsyncIterator[AsyncIterator[bytes]]:
            # Streamed from disk, as chunks aiohttp cannot rewind: it silently sends a PUT again
            # after a cut connection when it can rewind the body, and an upload must not be
            # repeated unseen (storage may have kept the first; see Transport.transfer).
            # One trip to a worker thread per chunk (open, read, close): most files are one,
            # and a small file was read whole by the check.
            async def chunks() -> AsyncIterator[bytes]:
                if whole is not None:
                    yield whole
                    return
                offset = 0
                while offset < size:
                    chunk = await anyio.to_thread.run_sync(_read_chunk, path, offset)
                    if not chunk:
                        break  # shortened since it was checked: the length check says so
                    yield chunk
                    offset += len(chunk)

            yield chunks()

        await self._transport.transfer(
            "PUT", target.upload_url, body=opened,
            headers={"Content-Type": kind, "Content-Length": str(size)},
        )
        return target

    async def check_upload(self, path: str | os.PathLike[str], *,
                           filename: str | None = None) -> None:
        """Check a file as `upload` would, sending nothing: call it before creating the
        dataset, so that a bad file leaves no empty dataset behind.

        Example::

            await client.datasets.check_upload("reviews.csv")   # raises if upload would
            ds = await client.datasets.create(name="reviews", workspace_id=WS)
            await client.datasets.upload(ds.id, "reviews.csv")
        """
        await self._checked(path, filename)

    @staticmethod
    async def _checked(path: str | os.PathLike[str], filename: str | None
                       ) -> tuple[str, int, bytes | None]:
        """The name to upload as, the size and (a small file) the bytes, once the file is
        known to be fit to send."""
        name = filename or Path(path).name
        segment("filename", name, text=True)
        # One trip to a worker thread for every look at the disk: a run of a thousand plans
        # checks a thousand files, and each trip costs more than the looks themselves.
        return name, *await anyio.to_thread.run_sync(_fit_to_send, os.fspath(path), name)

    async def import_status(self, dataset_id: str, import_id: str) -> DatasetImport:
        """A V4 import job's status and counts."""
        job: DatasetImport = await self._call("GET", self._import_path(dataset_id, import_id),
                                              DatasetImport)
        return job

    @staticmethod
    def _import_path(dataset_id: str, import_id: str) -> str:
        return (f"{DC}/datasets/{segment('dataset_id', dataset_id)}"
                f"/imports/{segment('import_id', import_id)}")

    def watch(
        self, dataset_id: str, *, poll: PollPolicy | None = None,
    ) -> Watch[StatusSnapshot]:
        """Stream a V3 dataset's status changes until READY (`ResourceFailed` on ERROR)."""
        return self._watch(self._status_spec(dataset_id), poll)

    @watches(DATASET)
    def _status_spec(self, dataset_id: str) -> WatchSpec[StatusSnapshot]:
        path = f"{DC}/datasets/{segment('dataset_id', dataset_id)}/status"
        return self._spec(DATASET, (dataset_id,), path, StatusSnapshot)

    def watch_import(
        self, dataset_id: str, import_id: str, *, poll: PollPolicy | None = None,
    ) -> Watch[DatasetImport]:
        """Stream a V4 import job's status changes until complete or partial."""
        return self._watch(self._import_spec(dataset_id, import_id), poll)

    @watches(DATASET_IMPORT)
    def _import_spec(self, dataset_id: str, import_id: str) -> WatchSpec[DatasetImport]:
        return self._spec(DATASET_IMPORT, (dataset_id, import_id),
                          self._import_path(dataset_id, import_id), DatasetImport)

    async def wait_ready(
        self, dataset_id: str, *, poll: PollPolicy | None = None,
    ) -> Dataset:
        """Wait until the dataset is READY and return it.

        A dataset with nothing uploaded is a `JobNotStarted` at the first poll.
        """
        await self._watch(self._status_spec(dataset_id), poll,
                          expect_started=True).wait()
        return await self.get(dataset_id)

    async def wait_import(
        self, dataset_id: str, import_id: str, *, poll: PollPolicy | None = None,
    ) -> DatasetImport:
        """Wait until a V4 import is complete (or partial) and return it."""
        return await self.watch_import(dataset_id, import_id, poll=poll).wait()
