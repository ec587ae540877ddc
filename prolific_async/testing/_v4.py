"""The fake's V4 dataset API: datapoints appended as they come, schema changes and their
migration jobs, and batch syncs that turn new datapoints into tasks.

What the docs say, and the fake does (REFERENCE §1c, §10e): an append is NDJSON of at most
1,000 records, answered at once with counts and per-record ``errors``; re-appending an
identical record is a duplicate, not a second datapoint; ``409`` while an import or a schema
migration runs. A schema change on a dataset that has one starts a migration that checks
every record again. Syncs of one batch run one after the other, each turning the datapoints
added since the last one into tasks. Like the rest of the fake, every status is computed
from the fake clock when it is read.

What tests read here (``fake.world`` has the rest): ``append_sizes`` (records per append
request), ``conflicts`` (409 answers), ``overlapping_syncs`` (syncs asked for while one of
the same batch still ran) and `syncs_of`.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

import attrs
from aiohttp import web

from ._clock import FakeClock, iso
from ._server import Handler, Reject
from ._state import DatasetRec, OwnerRec, World

__all__ = ["MAX_APPEND_RECORDS", "V4", "V4Sync"]

#: The API's limit on records in one append request.
MAX_APPEND_RECORDS = 1000
_MEDIA = ("image_url", "audio_url", "video_url")
_REQUIRED = ("text", *_MEDIA)


def _refuse(status: int, detail: str) -> Reject:
    return Reject(web.json_response({"message": web.Response(status=status).reason,
                                     "detail": detail}, status=status))


@attrs.define
class Migration:
    """A schema migration job; its outcome is decided when it starts, shown when it ends."""

    id: str
    dataset_id: str
    started_at: float
    ends_at: float
    reprocessed: int
    errors: list[dict[str, Any]]


@attrs.define
class V4Sync:
    """A batch sync: it runs from ``starts_at`` (after the batch's previous sync) to
    ``ends_at`` and turns the dataset's rows ``[first, last)`` into tasks."""

    id: str
    batch_id: str
    dataset_id: str | None
    requested_at: float
    starts_at: float
    ends_at: float
    first: int
    last: int
    groups_created: int = 0
    applied: bool = False


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _digest(record: dict[str, Any]) -> bytes:
    """What makes two records identical: their JSON with sorted keys."""
    return hashlib.blake2b(_CANONICAL.encode(record).encode(), digest_size=16).digest()


def record_problem(record: Any, schema: dict[str, Any]) -> tuple[str | None, str] | None:
    """Why ``record`` does not fit ``schema`` (the field and the reason), or None."""
    if not isinstance(record, dict):
        return None, "a record must be a JSON object"
    fields: dict[str, Any] = schema.get("fields") or {}
    if schema.get("strict"):
        for key in record:
            if key not in fields:
                return key, "field is not in the dataset schema"
    for name, spec in fields.items():
        kind = spec.get("type") if isinstance(spec, dict) else None
        value = record.get(name)
        if kind in _REQUIRED and (value is None or value == ""):
            return name, "missing value"
        if kind == "text" and not isinstance(value, str):
            return name, "must be text"
        if kind in _MEDIA and not (isinstance(value, str)
                                   and value.startswith(("https://", "http://"))):
            return name, "must be an http(s) URL"
    return None


class V4:
    """The V4 routes and their state, over the fake's `World`."""

    def __init__(self, *, world: World, clock: FakeClock) -> None:
        self.world = world
        self.clock = clock
        self.append_sizes: list[int] = []
        self.conflicts: int = 0
        self.overlapping_syncs: int = 0
        self._digests: dict[str, set[bytes]] = {}
        self._appended: set[str] = set()
        self._migrations: dict[str, Migration] = {}
        self._syncs: dict[str, list[V4Sync]] = {}
        self._covered: dict[str, int] = {}  # rows each batch has tasks for or syncs queued

    def routes(self) -> list[tuple[str, str, Handler]]:
        return [
            ("PATCH", "/datasets/{dataset_id}", self._update_dataset),
            ("POST", "/datasets/{dataset_id}/datapoints", self._append),
            ("GET", "/datasets/{dataset_id}/schema-migrations/{job_id}", self._migration),
            ("POST", "/batches/{batch_id}/sync", self._sync),
            ("GET", "/batches/{batch_id}/syncs/{sync_id}", self._sync_status),
        ]

    def syncs_of(self, batch_id: str) -> list[V4Sync]:
        """Every sync of a batch, oldest first."""
        return list(self._syncs.get(batch_id, []))

    def has_appended(self, dataset: DatasetRec) -> bool:
        """Whether records were appended to ``dataset`` (a V4 dataset fed only by appends
        can be set up, like one with a complete import)."""
        return dataset.id in self._appended

    # -- lookups ----------------------------------------------------------------------------

    def _dataset(self, request: web.Request) -> DatasetRec:
        dataset = self.world.datasets.get(request.match_info["dataset_id"])
        if dataset is None:
            raise Reject(web.json_response({"detail": "dataset not found"}, status=404))
        return dataset

    def _batch(self, request: web.Request) -> OwnerRec:
        batch = self.world.owners.get(request.match_info["batch_id"])
        if batch is None or batch.kind != "batch":
            raise Reject(web.json_response({"detail": "batch not found"}, status=404))
        return batch

    def _busy(self, dataset: DatasetRec) -> str | None:
        """What makes the dataset refuse appends now: a running import or migration."""
        if any(self.world.import_status(u) in ("queued", "processing")
               for u in dataset.uploads.values()):
            return "an import is in progress on this dataset"
        now = self.clock.now()
        if any(m.dataset_id == dataset.id and now < m.ends_at
               for m in self._migrations.values()):
            return "a schema migration is in progress on this dataset"
        return None

    # -- appends ----------------------------------------------------------------------------

    async def _append(self, request: web.Request) -> web.Response:
        dataset = self._dataset(request)
        if dataset.schema is None:
            raise _refuse(400, "datapoints can only be appended to a V4 dataset (one created "
                               "with a schema)")
        if request.content_type != "application/x-ndjson":
            raise _refuse(415, "the body must be application/x-ndjson")
        lines = [line for line in (await request.read()).splitlines() if line.strip()]
        if not lines:
            raise _refuse(400, "the body holds no records")
        if len(lines) > MAX_APPEND_RECORDS:
            raise _refuse(400, f"at most {MAX_APPEND_RECORDS} records a request, got "
                               f"{len(lines)}")
        busy = self._busy(dataset)
        if busy:
            self.conflicts += 1
            raise _refuse(409, f"{busy}: try again when it completes")
        self.append_sizes.append(len(lines))
        seen = self._digests.setdefault(dataset.id, set())
        accepted = duplicates = 0
        errors = []
        for index, line in enumerate(lines):
            try:
                record = json.loads(line)
            except ValueError:
                errors.append({"record_index": index, "field": None,
                               "reason": "not valid JSON"})
                continue
            problem = record_problem(record, dataset.schema)
            if problem is not None:
                errors.append({"record_index": index, "field": problem[0],
                               "reason": problem[1]})
                continue
            digest = _digest(record)
            if digest in seen:
                duplicates += 1
                continue
            seen.add(digest)
            dataset.rows.append(record)
            accepted += 1
        if accepted:
            self._appended.add(dataset.id)
            self._auto_sync(dataset)
        return web.json_response({"dataset_id": dataset.id, "accepted_count": accepted,
                                  "duplicate_count": duplicates, "rejected_count": len(errors),
                                  "errors": errors})

    def _auto_sync(self, dataset: DatasetRec) -> None:
        """Batches with ``auto_sync_enabled`` sync after each append that added records."""
        for batch in self.world.batches():
            if batch.dataset_id == dataset.id and batch.body.get("auto_sync_enabled") and \
                    self.world.batch_status(batch) == "READY":
                self._start_sync(batch)

    # -- schema changes ---------------------------------------------------------------------

    async def _update_dataset(self, request: web.Request) -> web.Response:
        dataset = self._dataset(request)
        try:
            data = json.loads(await request.read() or b"{}")
        except ValueError:
            raise _refuse(400, "request body is not valid JSON") from None
        if not isinstance(data, dict):
            raise _refuse(400, "request body must be a JSON object")
        body: dict[str, Any] = {}
        schema = data.get("schema")
        if schema is not None:
            body["migration_job_id"] = self._change_schema(dataset, schema)
        if data.get("name"):
            self.world.rename_dataset(dataset, str(data["name"]))
        return web.json_response({**self.world.dataset_json(dataset, full=True), **body})

    def _change_schema(self, dataset: DatasetRec, schema: Any) -> str | None:
        if dataset.schema is None:
            raise _refuse(400, "a V3 dataset has no schema: create a V4 dataset instead")
        if not isinstance(schema, dict) or not isinstance(schema.get("fields"), dict) or \
                not schema["fields"]:
            raise _refuse(400, "schema.fields must be a non-empty object")
        if dataset.rows and _group_field(schema) != _group_field(dataset.schema):
            raise _refuse(400, "the task_group_id field cannot change once the dataset has "
                               "data")
        busy = self._busy(dataset)
        if busy:
            raise _refuse(409, f"{busy}: try again when it completes")
        dataset.schema = schema
        now = self.clock.now()
        errors = []
        for index, row in enumerate(dataset.rows):
            problem = record_problem(row, schema)
            if problem is not None:
                errors.append({"record_index": index, "field": problem[0],
                               "reason": problem[1]})
        job = Migration(id=self.world.new_id("migration"), dataset_id=dataset.id,
                        started_at=now, ends_at=now + self.world.dataset_processing,
                        reprocessed=len(dataset.rows) - len(errors), errors=errors)
        self._migrations[job.id] = job
        return job.id

    async def _migration(self, request: web.Request) -> web.Response:
        dataset = self._dataset(request)
        job = self._migrations.get(request.match_info["job_id"])
        if job is None or job.dataset_id != dataset.id:
            raise Reject(web.json_response({"detail": "migration not found"}, status=404))
        body: dict[str, Any] = {"job_id": job.id, "dataset_id": dataset.id}
        if self.clock.now() < job.ends_at:
            return web.json_response({**body, "status": "processing"})
        if job.errors and not job.reprocessed:
            return web.json_response({**body, "status": "failed",
                                      "reason": "no record fits the new schema"})
        if job.errors:
            return web.json_response({**body, "status": "partial",
                                      "reprocessed_count": job.reprocessed,
                                      "failed_count": len(job.errors), "errors": job.errors})
        return web.json_response({**body, "status": "complete",
                                  "reprocessed_count": job.reprocessed})

    # -- syncs ------------------------------------------------------------------------------

    def _start_sync(self, batch: OwnerRec) -> V4Sync:
        now = self.clock.now()
        history = self._syncs.setdefault(batch.id, [])
        previous_end = history[-1].ends_at if history else now
        if previous_end > now:
            self.overlapping_syncs += 1
        dataset = self.world.datasets.get(batch.dataset_id or "")
        first = self._covered.setdefault(batch.id, len(batch.tasks))
        last = len(dataset.rows) if dataset is not None else first
        self._covered[batch.id] = last
        starts_at = max(now, previous_end)
        job = V4Sync(id=self.world.new_id("sync"), batch_id=batch.id,
                     dataset_id=batch.dataset_id, requested_at=now, starts_at=starts_at,
                     ends_at=starts_at + self.world.batch_setup, first=first, last=last)
        history.append(job)
        return job

    def settle(self, batch: OwnerRec) -> None:
        """Add the tasks of the batch's finished syncs (called before the batch is read)."""
        now = self.clock.now()
        for job in self._syncs.get(batch.id, ()):
            if job.applied or now < job.ends_at:
                continue
            job.applied = True
            dataset = self.world.datasets.get(job.dataset_id or "")
            rows = dataset.rows[job.first:job.last] if dataset is not None else []
            size = batch.tasks_per_group
            group = batch.task_groups
            for offset, row in enumerate(rows):
                batch.tasks.append({"id": self.world.new_id(f"task-{batch.id}"),
                                    "datapoint": row, "group": group + offset // size})
            job.groups_created = math.ceil(len(rows) / size)
            batch.task_groups += job.groups_created

    async def _sync(self, request: web.Request) -> web.Response:
        batch = self._batch(request)
        if self.world.batch_status(batch) != "READY":
            raise _refuse(400, "the batch must be READY to sync")
        job = self._start_sync(batch)
        return web.json_response({"batch_id": batch.id, "dataset_id": batch.dataset_id,
                                  "sync_id": job.id, "status": "queued",
                                  "created_at": iso(self.clock.datetime(job.requested_at))},
                                 status=202)

    async def _sync_status(self, request: web.Request) -> web.Response:
        batch = self._batch(request)
        job = next((j for j in self._syncs.get(batch.id, ())
                    if j.id == request.match_info["sync_id"]), None)
        if job is None:
            raise Reject(web.json_response({"detail": "sync not found"}, status=404))
        now = self.clock.now()
        # Queued behind the batch's previous sync, and for the first half of its own run.
        if now < job.starts_at + (job.ends_at - job.starts_at) / 2:
            return web.json_response({"status": "queued", "sync_id": job.id})
        if now < job.ends_at:
            return web.json_response({"status": "processing", "sync_id": job.id})
        self.settle(batch)
        count = job.last - job.first
        return web.json_response({"status": "complete", "sync_id": job.id,
                                  "tasks_created": count, "datapoints_processed": count,
                                  "groups_created": job.groups_created,
                                  "groups_expanded": 0})


def _group_field(schema: dict[str, Any]) -> str | None:
    fields = schema.get("fields") or {}
    return next((name for name, spec in fields.items()
                 if isinstance(spec, dict) and spec.get("type") == "task_group_id"), None)
