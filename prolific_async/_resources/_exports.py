"""Export jobs, shared by batches and collections (same contract, different path and kind)."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, ClassVar

import attrs

from .._config import PollPolicy
from .._download import ProgressCallback, download
from .._errors import NotDownloadableError
from .._jobs import JobKind
from .._models.exports import ExportJob, ExportStatus
from .._watch import Watch, WatchSpec
from ._base import Resource, segment

__all__ = ["Exports", "export_job"]

#: A URL this close to expiry is refreshed before the download starts.
EXPIRY_MARGIN = timedelta(seconds=30)


def export_job(name: str) -> JobKind:
    """The export job of batches or collections: the same statuses, another name."""
    return JobKind(
        name, pending={ExportStatus.GENERATING}, done={ExportStatus.COMPLETE},
        failed={ExportStatus.FAILED},
        remedy="a failed export is never retried by the server: request a new export",
    )


class Exports(Resource):
    """Mixin: ``_root(id)`` gives ``…/batches/{id}`` or ``…/collections/{id}``."""

    _export_job: ClassVar[JobKind]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "_export_job" in vars(cls):
            cls._spec_builders = {**cls._spec_builders, cls._export_job.name: "_export_spec"}

    def _root(self, owner_id: str) -> str:
        raise NotImplementedError

    async def request_export(
        self, owner_id: str, *, study_id: str | None = None,
        from_: datetime | None = None, to: datetime | None = None,
    ) -> ExportJob:
        """Start (or join) an export job.

        Accepts both documented answers: 202 ``generating`` with an ``export_id``, and the
        older 200 ``complete`` with a ``url`` (a recent export reused). Safe to retry: the
        server joins an identical job that is still generating.
        """
        params: dict[str, str | int] = {}
        if study_id is not None:
            segment("study_id", study_id)
            params["study_id"] = study_id
        if from_ is not None:
            params["from"] = from_.isoformat()
        if to is not None:
            params["to"] = to.isoformat()
        job: ExportJob = await self._call(
            "POST", f"{self._root(owner_id)}/export", ExportJob, params=params or None
        )
        return job

    def _export_path(self, owner_id: str, export_id: str) -> str:
        return f"{self._root(owner_id)}/export/{segment('export_id', export_id)}"

    async def export_status(self, owner_id: str, export_id: str) -> ExportJob:
        """An export job's status, and its download ``url`` once complete."""
        job: ExportJob = await self._call("GET", self._export_path(owner_id, export_id),
                                          ExportJob)
        return job

    async def list_exports(self, owner_id: str) -> list[ExportJob]:
        """Export jobs, most recent first (the server keeps at most 10; delete to free one)."""
        jobs: list[ExportJob] = await self._call("GET", f"{self._root(owner_id)}/export",
                                                 ExportJob, rows=True)
        return jobs

    async def delete_export(self, owner_id: str, export_id: str) -> None:
        """Delete a finished export job (a generating one answers 409 `ConflictError`)."""
        await self._call("DELETE", self._export_path(owner_id, export_id))

    def watch_export(
        self, owner_id: str, export_id: str, *, poll: PollPolicy | None = None,
    ) -> Watch[ExportJob]:
        """Stream the export job's status changes; ends at ``complete``, raises on ``failed``."""
        return self._watch(self._export_spec(owner_id, export_id), poll)

    def _export_spec(self, owner_id: str, export_id: str) -> WatchSpec[ExportJob]:
        return self._spec(self._export_job, (owner_id, export_id),
                          self._export_path(owner_id, export_id), ExportJob)

    async def wait_export(
        self, owner_id: str, export_id: str, *, poll: PollPolicy | None = None,
    ) -> ExportJob:
        """Wait for a complete export (`ResourceFailed` if it failed, `PollTimeout` at the
        deadline)."""
        return await self.watch_export(owner_id, export_id, poll=poll).wait()

    async def export(
        self, owner_id: str, dest: str | os.PathLike[str] = ".", *,
        poll: PollPolicy | None = None,
        study_id: str | None = None, from_: datetime | None = None, to: datetime | None = None,
        progress: ProgressCallback | None = None,
    ) -> Path:
        """Request an export, wait for it, and download the ZIP to ``dest`` atomically.

        ``dest`` is a folder (the file is named ``<id>-export-<timestamp>.zip``) or a file path.
        An expired download URL is refreshed by polling the job again, as the docs say.
        ``progress(bytes_done, total_or_None)`` is called as the download grows; read the file
        with `ExportArchive`.
        """
        job = await self.request_export(owner_id, study_id=study_id, from_=from_, to=to)
        if job.status != ExportStatus.COMPLETE:
            if job.export_id is None:
                raise NotDownloadableError(
                    f"export of {owner_id} answered {job.status} with no export_id")
            job = await self.wait_export(owner_id, job.export_id, poll=poll)

        async def again() -> ExportJob:
            # The 200 contract gives no job id; asking again returns the reused export's URL.
            return await self.request_export(owner_id, study_id=study_id, from_=from_, to=to)

        return await self._fetch(owner_id, job, dest, progress, again)

    async def download_export(
        self, owner_id: str, export: ExportJob | str, dest: str | os.PathLike[str] = ".", *,
        progress: ProgressCallback | None = None,
    ) -> Path:
        """Download the ZIP of an export job that is already complete, without asking for
        another export: ``export`` is the job (as `wait_export` returned it) or its id.

        Like `export`, it writes atomically, resumes a cut download and refreshes an
        expired URL by reading the job again.

        Example::

            job = await client.batches.request_export(batch_id)
            job = await client.batches.wait_export(batch_id, job.export_id)
            path = await client.batches.download_export(batch_id, job, "out/")
        """
        if isinstance(export, ExportJob):
            job = export
        else:
            job = await self.export_status(owner_id, export)
            if job.export_id is None:
                job = attrs.evolve(job, export_id=export)
        if job.status != ExportStatus.COMPLETE:
            raise NotDownloadableError(f"export {job.export_id} of {owner_id} is {job.status}, not "
                               "complete: wait for it first (wait_export)")

        async def again() -> ExportJob:
            return await self.request_export(owner_id)

        return await self._fetch(owner_id, job, dest, progress, again)

    async def _fetch(
        self, owner_id: str, job: ExportJob, dest: str | os.PathLike[str],
        progress: ProgressCallback | None, again: Callable[[], Awaitable[ExportJob]],
    ) -> Path:
        async def export_url(refresh: bool) -> str:
            nonlocal job
            if refresh or _expired(job):
                job = await (self.export_status(owner_id, job.export_id)
                             if job.export_id is not None else again())
            if job.url is None:
                raise NotDownloadableError(f"export of {owner_id} is complete but has no url")
            return job.url

        return await download(self._transport, export_url, dest, stem=f"{owner_id}-export",
                              suffix=".zip", progress=progress)


def _expired(job: ExportJob) -> bool:
    return job.expires_at is not None and job.expires_at - EXPIRY_MARGIN <= datetime.now(
        timezone.utc
    )
