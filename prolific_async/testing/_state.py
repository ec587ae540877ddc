"""The fake server's world: records of datasets, batches, studies and jobs, and the simulation
that moves them along on the fake clock.

Every status is computed from timestamps when it is read (never by a background task), so the
state is a pure function of what was asked and what the clock says: deterministic in tests.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import random
from collections.abc import Callable
from typing import Any

import attrs

from ._clock import FakeClock, iso

__all__ = ["INSTRUCTION_TYPES", "DatasetRec", "ExportRec", "OwnerRec", "StudyRec", "Upload",
           "World"]

Presign = Callable[[str], "tuple[str, str]"]


def _no_storage(path: str) -> tuple[str, str]:
    raise RuntimeError("the world has no storage host to sign URLs for")


@attrs.define
class Upload:
    """One presigned upload of a file into a dataset (a V4 import job when it has an id)."""

    dataset_id: str
    import_id: str | None
    filename: str
    uploaded_at: float | None = None
    accepted: int = 0
    rejected: int = 0
    error: str | None = None


@attrs.define
class DatasetRec:
    """A dataset as the server keeps it; ``rows`` are the parsed uploaded records."""

    id: str
    name: str
    workspace_id: str
    created_at: float
    schema: dict[str, Any] | None
    rows: list[dict[str, str]] = attrs.Factory(list)
    uploads: dict[str, Upload] = attrs.Factory(dict)
    fail: bool = False


@attrs.define
class ExportRec:
    """An export job: ``requested_at`` on the fake clock, ``deleted`` once DELETEd."""

    id: str
    owner: str
    filter: dict[str, Any] | None
    requested_at: float
    fail: bool = False
    deleted: bool = False
    downloads: int = 0  # complete downloads of its archive served so far


@attrs.define
class OwnerRec:
    """A batch or a collection: anything a study collects responses for."""

    id: str
    kind: str  # "batch" | "collection"
    body: dict[str, Any]
    created_at: float
    instructions: list[dict[str, Any]] = attrs.Factory(list)
    dataset_id: str | None = None
    setup_at: float | None = None
    tasks_per_group: int = 1
    tasks: list[dict[str, Any]] = attrs.Factory(list)
    task_groups: int = 0
    fail: bool = False
    exports: dict[str, ExportRec] = attrs.Factory(dict)


@attrs.define
class StudyRec:
    """A study: ``publishes`` holds the fake-clock time of every accepted PUBLISH (so at
    most one), ``refused_publishes`` counts PUBLISH requests refused because it was already
    published."""

    id: str
    body: dict[str, Any]
    created_at: float
    status: str = "UNPUBLISHED"
    published_at: float | None = None
    publishes: list[float] = attrs.Factory(list)
    refused_publishes: int = 0

    @property
    def publish_count(self) -> int:
        return len(self.publishes)

    @property
    def owner_id(self) -> str:
        """The batch or collection it collects for (``data_collection_id``)."""
        return str(self.body.get("data_collection_id", ""))


INSTRUCTION_TYPES = frozenset({"multiple_choice", "free_text", "multiple_choice_with_free_text",
                               "free_text_with_unit", "file_upload"})


@attrs.define
class World:
    """Everything the fake server knows, and the simulation that moves it along.

    Tests read it to check what the server did, beyond what the API shows:

    - ``datasets``, ``owners`` (batches and collections) and ``studies``: dicts by id;
    - `batches_named`, `datasets_named`: every one created with that name, oldest first;
    - `studies_for`: the studies created for a batch or collection;
    - ``StudyRec.publish_count`` / ``publishes`` / ``refused_publishes``;
    - `exports_for`: every export job of a batch or collection, deleted ones included.

    Example::

        [batch] = fake.world.batches_named("reviews-1")     # exactly one batch
        [study] = fake.world.studies_for(batch.id)           # exactly one study
        assert study.publish_count == 1
    """

    clock: FakeClock
    seed: int
    fail_names: frozenset[str]
    dataset_processing: float
    batch_setup: float
    export_generating: float
    url_ttl: float
    submission_interval: float
    user_id: str = "fake-researcher-0001"
    # Signs a storage path into a presigned URL and its expiry: set by the storage host.
    presign: Presign = _no_storage
    datasets: dict[str, DatasetRec] = attrs.Factory(dict)
    owners: dict[str, OwnerRec] = attrs.Factory(dict)
    studies: dict[str, StudyRec] = attrs.Factory(dict)
    _counter: int = 0
    # Indexes, so that no request scans every record.
    _by_kind: dict[str, dict[str, OwnerRec]] = attrs.Factory(
        lambda: {"batch": {}, "collection": {}})
    _batch_names: dict[str, list[OwnerRec]] = attrs.Factory(dict)
    _dataset_names: dict[str, list[DatasetRec]] = attrs.Factory(dict)
    _studies_by_owner: dict[str, list[StudyRec]] = attrs.Factory(dict)

    # -- records ----------------------------------------------------------------------------

    def add_dataset(self, dataset: DatasetRec) -> None:
        self.datasets[dataset.id] = dataset
        self._dataset_names.setdefault(dataset.name, []).append(dataset)

    def add_owner(self, owner: OwnerRec) -> None:
        self.owners[owner.id] = owner
        self._by_kind[owner.kind][owner.id] = owner
        if owner.kind == "batch":
            self._batch_names.setdefault(owner.body["name"], []).append(owner)

    def rename_batch(self, batch: OwnerRec, name: str) -> None:
        self._batch_names[batch.body["name"]].remove(batch)
        batch.body["name"] = name
        self._batch_names.setdefault(name, []).append(batch)

    def rename_dataset(self, dataset: DatasetRec, name: str) -> None:
        self._dataset_names[dataset.name].remove(dataset)
        dataset.name = name
        self._dataset_names.setdefault(name, []).append(dataset)

    def remove_batch(self, batch_id: str) -> None:
        """Delete a batch, as a teammate in Prolific's app would: gone from lists, 404 after."""
        batch = self.owners.pop(batch_id)
        del self._by_kind["batch"][batch_id]
        self._batch_names[batch.body["name"]].remove(batch)

    def add_study(self, study: StudyRec) -> None:
        self.studies[study.id] = study
        self._studies_by_owner.setdefault(study.owner_id, []).append(study)

    def batches(self) -> list[OwnerRec]:
        """Every batch, oldest first."""
        return list(self._by_kind["batch"].values())

    def collections(self) -> list[OwnerRec]:
        """Every collection, oldest first."""
        return list(self._by_kind["collection"].values())

    def batches_named(self, name: str) -> list[OwnerRec]:
        """The batches now named ``name``, oldest first."""
        return list(self._batch_names.get(name, []))

    def datasets_named(self, name: str) -> list[DatasetRec]:
        """The datasets created with ``name``, oldest first."""
        return list(self._dataset_names.get(name, []))

    def studies_for(self, owner_id: str) -> list[StudyRec]:
        """The studies created for the batch or collection ``owner_id``, oldest first."""
        return list(self._studies_by_owner.get(owner_id, []))

    def exports_for(self, owner_id: str) -> list[ExportRec]:
        """Every export job of a batch or collection, oldest first (deleted ones too)."""
        return list(self.owners[owner_id].exports.values())

    def new_id(self, prefix: str) -> str:
        self._counter += 1
        digest = hashlib.sha256(f"{self.seed}:{prefix}:{self._counter}".encode()).hexdigest()
        return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"

    # -- datasets ---------------------------------------------------------------------------

    def ingest(self, upload: Upload, data: bytes) -> None:
        """Parse an uploaded file; empty or malformed data makes the dataset ERROR."""
        dataset = self.datasets[upload.dataset_id]
        upload.uploaded_at = self.clock.now()
        rows: list[dict[str, str]] = []
        try:
            text = data.decode("utf-8")
            if upload.filename.endswith(".jsonl"):
                rows = [json.loads(line) for line in text.splitlines() if line.strip()]
                if not all(isinstance(row, dict) for row in rows):
                    raise ValueError("every JSONL line must be an object")
            else:
                reader = csv.DictReader(io.StringIO(text))
                rows = list(reader)
                if not reader.fieldnames or any(None in row for row in rows):
                    raise ValueError("malformed CSV")
            if not rows:
                raise ValueError("the file holds no rows")
        except (UnicodeDecodeError, ValueError) as exc:
            upload.error = str(exc)
            return
        upload.accepted = len(rows)
        dataset.rows.extend({k: str(v) for k, v in row.items()} for row in rows)

    def dataset_status(self, dataset: DatasetRec) -> str:
        done = [u for u in dataset.uploads.values() if u.uploaded_at is not None]
        if not done:
            return "UNINITIALISED"
        last = max(u.uploaded_at for u in done if u.uploaded_at is not None)
        if self.clock.now() < last + self.dataset_processing:
            return "PROCESSING"
        if dataset.fail or any(u.error for u in done):
            return "ERROR"
        return "READY"

    def import_status(self, upload: Upload) -> str:
        if upload.uploaded_at is None:
            return "uninitialised"
        elapsed = self.clock.now() - upload.uploaded_at
        if elapsed < self.dataset_processing / 2:
            return "queued"
        if elapsed < self.dataset_processing:
            return "processing"
        if upload.error or self.datasets[upload.dataset_id].fail:
            return "failed"
        return "partial" if upload.rejected else "complete"

    def dataset_json(self, dataset: DatasetRec, *, full: bool = False) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": dataset.id, "name": dataset.name,
            "created_at": iso(self.clock.datetime(dataset.created_at)),
            "created_by": self.user_id, "status": self.dataset_status(dataset),
            # A V4 dataset has no READY: its datapoints count as they are imported or appended.
            "total_datapoint_count": len(dataset.rows)
            if dataset.schema or self.dataset_status(dataset) == "READY" else 0,
            "workspace_id": dataset.workspace_id,
        }
        if full:
            body["schema_version"] = 4 if dataset.schema else 3
            body["schema"] = dataset.schema
            body["imports"] = [self.import_json(u) for u in dataset.uploads.values()
                               if u.import_id]
        return body

    def import_json(self, upload: Upload) -> dict[str, Any]:
        status = self.import_status(upload)
        body: dict[str, Any] = {"dataset_id": upload.dataset_id, "import_id": upload.import_id,
                                "status": status}
        if status in ("complete", "partial", "failed"):
            body.update(accepted_count=upload.accepted, duplicate_count=0,
                        rejected_count=upload.rejected)
        if status == "failed":
            body["reason"] = upload.error or "processing failed"
        return body

    # -- batches ----------------------------------------------------------------------------

    def batch_status(self, batch: OwnerRec) -> str:
        if batch.setup_at is None:
            return "UNINITIALISED"
        if self.clock.now() < batch.setup_at + self.batch_setup:
            return "PROCESSING"
        return "ERROR" if batch.fail else "READY"

    def questions(self, owner: OwnerRec) -> list[dict[str, Any]]:
        """Every instruction participants answer, from /instructions or the page layout."""
        found = list(owner.instructions)
        pages = owner.body.get("batch_items") or owner.body.get("collection_items") or []
        for page in pages:
            items = page.get("page_items") or [
                item for row in page.get("rows", []) for col in row.get("columns", [])
                for item in col.get("items", [])
            ]
            found.extend(item for item in items if item.get("type") in INSTRUCTION_TYPES)
        return found

    def set_up(self, batch: OwnerRec, tasks_per_group: int) -> None:
        dataset = self.datasets[batch.dataset_id] if batch.dataset_id else None
        batch.setup_at = self.clock.now()
        batch.tasks_per_group = tasks_per_group
        rows = dataset.rows if dataset else []
        batch.tasks = [
            {"id": self.new_id(f"task-{batch.id}"), "datapoint": row, "group": i // tasks_per_group}
            for i, row in enumerate(rows)
        ]
        batch.task_groups = len({t["group"] for t in batch.tasks})
        batch.fail = batch.fail or not rows

    def instruction(self, batch: OwnerRec, item: dict[str, Any]) -> dict[str, Any]:
        """A stored instruction: the one sent, with the ids and time the server adds."""
        return {**item, "id": self.new_id("inst"), "batch_id": batch.id,
                "created_by": item.get("created_by", self.user_id),
                "created_at": iso(self.clock.datetime())}

    def batch_json(self, batch: OwnerRec) -> dict[str, Any]:
        status = self.batch_status(batch)
        dataset = self.datasets.get(batch.dataset_id or "")
        ready = status == "READY"
        return {
            "id": batch.id, "name": batch.body["name"],
            "created_at": iso(self.clock.datetime(batch.created_at)),
            "created_by": self.user_id, "status": status,
            "workspace_id": batch.body["workspace_id"],
            "datasets": [{"id": dataset.id, "name": dataset.name,
                          "total_datapoint_count": len(dataset.rows)}] if dataset else [],
            "total_task_count": len(batch.tasks) if ready else 0,
            "total_instruction_count": len(self.questions(batch)),
            "total_task_groups": batch.task_groups if ready else 0,
            "tasks_per_group": batch.tasks_per_group,
            "schema_version": 3,
            "task_details": batch.body.get("task_details"),
            "batch_items": batch.body.get("batch_items"),
            "auto_sync_enabled": bool(batch.body.get("auto_sync_enabled", False)),
        }

    def report_json(self, batch: OwnerRec) -> dict[str, Any]:
        if self.batch_status(batch) != "READY":
            return {"url": None, "expires_at": None, "http_method": "GET"}
        url, expires_at = self.presign(f"/reports/{batch.id}.csv")
        return {"url": url, "expires_at": expires_at, "http_method": "GET"}

    def instructions_json(self, batch: OwnerRec) -> dict[str, Any]:
        return {"results": batch.instructions, "meta": {"count": len(batch.instructions)}}

    # -- collections ------------------------------------------------------------------------

    def collection_json(self, owner: OwnerRec) -> dict[str, Any]:
        return {"id": owner.id, "schema_version": 1,
                "created_at": iso(self.clock.datetime(owner.created_at)),
                "created_by": self.user_id, **owner.body,
                "item_count": sum(len(p.get("page_items", []))
                                  for p in owner.body["collection_items"])}

    # -- participants -----------------------------------------------------------------------

    def submissions(self, owner: OwnerRec, until: float | None = None) -> list[dict[str, Any]]:
        """The submissions made so far by simulated participants, oldest first.

        Submission ``k`` of a published study lands ``(k + 1) * submission_interval`` seconds
        after publishing; each covers one task group and answers every question. Answers are
        drawn from a generator seeded by (seed, study, k): the same run gives the same data.
        """
        now = self.clock.now() if until is None else until
        questions = self.questions(owner)
        tasks = owner.tasks or [{"id": f"{owner.id}-task", "datapoint": {}, "group": 0}]
        groups: dict[int, list[dict[str, Any]]] = {}
        for task in tasks:
            groups.setdefault(task["group"], []).append(task)
        order = sorted(groups)
        out: list[dict[str, Any]] = []
        for study in self.studies_for(owner.id):
            for k in range(self.submission_count(study, now)):
                assert study.published_at is not None
                rng, submission_id, participant_id = self.participant(study, k)
                out.append({
                    "submission_id": submission_id,
                    "study_id": study.id,
                    "participant_id": participant_id,
                    "created_at": study.published_at + (k + 1) * self.submission_interval,
                    "tasks": groups[order[k % len(order)]],
                    "answers": {q["id"]: _answer(q, rng) for q in questions},
                })
        return out

    def participant(self, study: StudyRec, k: int) -> tuple[random.Random, str, str]:
        """The ``k``-th participant of ``study``: the generator of their answers (already
        past the draw of their id), their submission id and their participant id."""
        rng = random.Random(f"{self.seed}:{study.id}:{k}")
        return rng, f"sub-{study.id[:8]}-{k:04d}", f"part-{rng.getrandbits(48):012x}"

    def submission_count(self, study: StudyRec, now: float | None = None) -> int:
        """How many submissions ``study`` has had by ``now``, without building them."""
        if study.published_at is None:
            return 0
        now = self.clock.now() if now is None else now
        places = int(study.body.get("total_available_places") or 0)
        count = max(0, min(places, int((now - study.published_at) / self.submission_interval)))
        # The same float comparison as the submission times themselves, at the edges.
        while count < places and self._lands_by(study, count, now):
            count += 1
        while count > 0 and not self._lands_by(study, count - 1, now):
            count -= 1
        return count

    def _lands_by(self, study: StudyRec, k: int, now: float) -> bool:
        assert study.published_at is not None
        return study.published_at + (k + 1) * self.submission_interval <= now

    def responses_json(self, owner: OwnerRec) -> list[dict[str, Any]]:
        questions = {q["id"]: q for q in self.questions(owner)}
        results = []
        for sub in self.submissions(owner):
            for task in sub["tasks"]:
                for qid, answer in sub["answers"].items():
                    results.append({
                        "id": f"resp-{sub['submission_id']}-{task['id'][:8]}-{qid[:8]}",
                        "batch_id": owner.id, "participant_id": sub["participant_id"],
                        "task_id": task["id"], "correlation_id": task["id"],
                        "submission_id": sub["submission_id"], "metadata": task["datapoint"],
                        "response": {"instruction_id": qid, "type": questions[qid]["type"],
                                     "answer": answer},
                        "created_at": iso(self.clock.datetime(sub["created_at"])),
                        "schema_version": 2,
                    })
        return results

    def study_status(self, study: StudyRec) -> str:
        if study.status != "ACTIVE":
            return study.status
        places = int(study.body.get("total_available_places") or 0)
        return "AWAITING REVIEW" if self.submission_count(study) >= places else "ACTIVE"

    def study_json(self, study: StudyRec) -> dict[str, Any]:
        body = dict(study.body)
        body.update(id=study.id, status=self.study_status(study),
                    date_created=iso(self.clock.datetime(study.created_at)))
        if study.published_at is not None:
            body["published_at"] = iso(self.clock.datetime(study.published_at))
            body["places_taken"] = self.submission_count(study)
        return body

    def studies_json(self, states: set[str] | None = None) -> list[dict[str, Any]]:
        """Every study (oldest first), or those whose status is in ``states``."""
        bodies = (self.study_json(study) for study in self.studies.values())
        return [b for b in bodies if states is None or b["status"] in states]

    def responses_page_json(self, owner: OwnerRec) -> dict[str, Any]:
        results = self.responses_json(owner)
        return {"results": results, "meta": {"count": len(results)}}

    # -- exports ----------------------------------------------------------------------------

    def export_status(self, job: ExportRec) -> str:
        if self.clock.now() < job.requested_at + self.export_generating:
            return "generating"
        return "failed" if job.fail else "complete"

    def export_json(self, owner: OwnerRec, job: ExportRec) -> dict[str, Any]:
        status = self.export_status(job)
        body: dict[str, Any] = {"status": status, "export_id": job.id}
        if status == "complete":
            body["url"], body["expires_at"] = self.presign(f"/exports/{owner.id}/{job.id}.zip")
        return body

    def export_list_json(self, owner: OwnerRec) -> dict[str, Any]:
        jobs = sorted((j for j in owner.exports.values() if not j.deleted),
                      key=lambda j: j.requested_at, reverse=True)
        return {"results": [
            {"export_id": j.id, "filter": j.filter, "status": self.export_status(j),
             "created_at": iso(self.clock.datetime(j.requested_at))} for j in jobs]}

    def report_csv(self, batch: OwnerRec) -> str:
        """The dataset's columns plus one column per question, one row per task answered."""
        questions = self.questions(batch)
        columns = list(batch.tasks[0]["datapoint"]) if batch.tasks else []
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow([*columns, "task_id", "participant_id", "submission_id",
                         *(q.get("description") or q["id"] for q in questions)])
        for sub in self.submissions(batch):
            for task in sub["tasks"]:
                writer.writerow([
                    *(task["datapoint"].get(c, "") for c in columns), task["id"],
                    sub["participant_id"], sub["submission_id"],
                    *("|".join(str(a.get("value", a.get("file_name", ""))) for a in
                               sub["answers"][q["id"]]) for q in questions),
                ])
        return out.getvalue()


_CONTENT_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png",
                  ".heic": "image/heic", ".pdf": "application/pdf"}


def _answer(question: dict[str, Any], rng: random.Random) -> list[dict[str, Any]]:
    """One participant's answer to ``question``, as the responses endpoint shows it."""
    kind = question["type"]
    options = [o["value"] for o in question.get("options") or []] or ["yes", "no"]
    if kind == "multiple_choice":
        limit = int(question.get("answer_limit") or 1)
        if limit == 1:
            return [{"value": rng.choice(options)}]
        # answer_limit -1 means "any number of options".
        count = rng.randint(1, len(options) if limit < 1 else min(limit, len(options)))
        return [{"value": value} for value in rng.sample(options, count)]
    if kind == "multiple_choice_with_free_text":
        return [{"value": rng.choice(options), "explanation": f"because {rng.randint(1, 99)}"}]
    if kind == "free_text_with_unit":
        units = [u["value"] for u in question.get("unit_options") or []] or ["unit"]
        return [{"value": str(rng.randint(1, 100)), "unit": rng.choice(units)}]
    if kind == "file_upload":
        low = int(question.get("min_file_count") or 1)
        count = rng.randint(low, max(low, int(question.get("max_file_count") or 1)))
        types = [t if t.startswith(".") else f".{t}"
                 for t in question.get("accepted_file_types") or []] or [".jpg"]
        files = []
        for index in range(count):
            ext = rng.choice(types).lower()
            files.append({"file_key": f"uploads/{rng.getrandbits(32):08x}{ext}",
                          "file_name": f"photo-{index + 1}{ext}", "file_size_mb": 0.01,
                          "content_type": _CONTENT_TYPES.get(ext, "application/octet-stream")})
        return files
    return [{"value": rng.choice(["Clear and accurate.", "Too vague.", "Mostly right."])}]
