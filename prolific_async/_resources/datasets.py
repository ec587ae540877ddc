"""``client.datasets``: create, upload, watch."""

from __future__ import annotations

import mimetypes
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import BinaryIO

import anyio

from .._config import PollPolicy
from .._converter import converter
from .._models.common import StatusSnapshot
from .._models.datasets import Dataset, DatasetImport, DatasetSchema, DatasetStatus, UploadURL
from .._polling import Watch, WatchSpec
from ._base import DC, Resource, required, segment

__all__ = ["Datasets"]


class Datasets(Resource):
    """Datasets hold the data tasks are made from.

    Example::

        ds = await client.datasets.create(name="reviews", workspace_id=WS)
        await client.datasets.upload(ds.id, "reviews.csv")
        ds = await client.datasets.wait_ready(ds.id)
    """

    async def create(
        self, *, name: str, workspace_id: str, schema: DatasetSchema | None = None
    ) -> Dataset:
        """Create a dataset; with a ``schema`` it is a V4 dataset (imports instead of READY)."""
        body: dict[str, object] = {"name": required("name", name),
                                   "workspace_id": required("workspace_id", workspace_id)}
        if schema is not None:
            body["schema"] = converter.unstructure(schema)
        # Creates something: retried only when the server provably did not act.
        dataset: Dataset = await self._call(
            "POST", f"{DC}/datasets", Dataset, json_body=body, retry="unsent"
        )
        return dataset

    async def get(self, dataset_id: str) -> Dataset:
        dataset: Dataset = await self._call(
            "GET", f"{DC}/datasets/{segment('dataset_id', dataset_id)}", Dataset
        )
        return dataset

    async def status(self, dataset_id: str) -> DatasetStatus:
        snapshot: StatusSnapshot = await self._call(
            "GET", f"{DC}/datasets/{segment('dataset_id', dataset_id)}/status", StatusSnapshot
        )
        return DatasetStatus(snapshot.status)

    async def upload_url(self, dataset_id: str, filename: str) -> UploadURL:
        path = (f"{DC}/datasets/{segment('dataset_id', dataset_id)}"
                f"/upload-url/{segment('filename', filename)}")
        url: UploadURL = await self._call("GET", path, UploadURL)
        return url

    async def upload(
        self, dataset_id: str, path: str | os.PathLike[str], *,
        filename: str | None = None, content_type: str | None = None,
    ) -> UploadURL:
        """Upload a CSV / JSONL / ZIP file: get a presigned URL, then PUT the file to it.

        The file is streamed from disk in chunks, never read whole, and the storage request
        carries no ``Authorization`` header. Returns the upload URL answer, whose ``import_id``
        identifies the import job of a V4 dataset.
        """
        source = anyio.Path(path)
        name = filename or source.name
        segment("filename", name)
        if not await source.is_file():
            raise FileNotFoundError(f"no such file to upload: {os.fspath(path)!r}")
        size = (await source.stat()).st_size
        target = await self.upload_url(dataset_id, name)
        kind = (content_type or target.content_type or mimetypes.guess_type(name)[0]
                or "application/octet-stream")

        @asynccontextmanager
        async def opened() -> AsyncIterator[BinaryIO]:
            # aiohttp reads a file object in its executor, chunk by chunk: streamed from disk.
            stream = await anyio.to_thread.run_sync(Path(os.fspath(path)).open, "rb")
            try:
                yield stream
            finally:
                stream.close()

        await self._transport.transfer(
            "PUT", target.upload_url, body=opened,
            headers={"Content-Type": kind, "Content-Length": str(size)},
        )
        return target

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
        self, dataset_id: str, *, policy: PollPolicy | None = None
    ) -> Watch[StatusSnapshot]:
        """Stream a V3 dataset's status changes until READY (or `ResourceFailed` on ERROR)."""
        return self._client._watch(self._status_spec(dataset_id), policy)

    def _status_spec(self, dataset_id: str) -> WatchSpec[StatusSnapshot]:
        path = f"{DC}/datasets/{segment('dataset_id', dataset_id)}/status"
        return self._spec("dataset", (dataset_id,), path, StatusSnapshot, _status)

    def watch_import(
        self, dataset_id: str, import_id: str, *, policy: PollPolicy | None = None
    ) -> Watch[DatasetImport]:
        """Stream a V4 import job's status changes until complete or partial."""
        return self._client._watch(self._import_spec(dataset_id, import_id), policy)

    def _import_spec(self, dataset_id: str, import_id: str) -> WatchSpec[DatasetImport]:
        return self._spec("dataset_import", (dataset_id, import_id),
                          self._import_path(dataset_id, import_id), DatasetImport, _status)

    async def wait_ready(self, dataset_id: str, *, policy: PollPolicy | None = None) -> Dataset:
        """Wait until the dataset is READY and return it."""
        await self.watch(dataset_id, policy=policy).wait()
        return await self.get(dataset_id)

    async def wait_import(
        self, dataset_id: str, import_id: str, *, policy: PollPolicy | None = None
    ) -> DatasetImport:
        """Wait until a V4 import is complete (or partial) and return it."""
        return await self.watch_import(dataset_id, import_id, policy=policy).wait()


def _status(snapshot: StatusSnapshot | DatasetImport) -> str:
    return str(snapshot.status)
