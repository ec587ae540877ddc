"""The fake's API host: routes, token check, request validation with the documented error
bodies, and handlers that change the `World` and answer with the bodies it builds."""

from __future__ import annotations

import hmac
import json
from typing import Any, ClassVar, Literal

from aiohttp import web

from ._clock import FakeClock
from ._server import Handler, Plumbing, Reject
from ._spec import SpecValidator, spec_middleware
from ._state import (
    INSTRUCTION_TYPES,
    DatasetRec,
    ExportRec,
    OwnerRec,
    StudyRec,
    Upload,
    World,
)
from ._storage import Storage
from ._v4 import V4

__all__ = ["Api"]

DC = "/api/v1/data-collection"


def _error(status: int, body: Any) -> web.Response:
    return web.json_response(body, status=status)


def _not_found(what: str) -> Reject:
    return Reject(_error(404, {"detail": f"{what} not found"}))


def _bad_request(detail: Any) -> Reject:
    return Reject(_error(400, {"error": {"status": 400, "error_code": 140001,
                                         "title": "Bad Request", "detail": detail}}))


def _simple(status: int, detail: str) -> Reject:
    return Reject(_error(status, {"message": web.Response(status=status).reason,
                                  "detail": detail}))


class Api:
    """The API host's handlers, over one `World` and the storage host that signs its URLs."""

    _DEPRECATED: ClassVar[dict[str, str]] = {
        "Deprecation": "true", "Sunset": "Tue, 01 Sep 2026 23:59:59 GMT"}

    def __init__(self, *, world: World, storage: Storage, clock: FakeClock, token: str,
                 workspace_id: str, export_contract: Literal["200", "202"],
                 max_export_jobs: int, spec: SpecValidator | None = None) -> None:
        self.world = world
        self.storage = storage
        self.clock = clock
        self.token = token
        self.workspace_id = workspace_id
        self.export_contract = export_contract
        self.max_export_jobs = max_export_jobs
        self.spec = spec
        self.v4: V4 = V4(world=world, clock=clock)

    def app(self, plumbing: Plumbing) -> web.Application:
        checks = [spec_middleware(self.spec)] if self.spec is not None else []
        app = web.Application(middlewares=[plumbing.middleware("api"), self._authenticate,
                                           *checks], client_max_size=16 << 20)
        routes: list[tuple[str, str, Handler]] = [
            ("GET", "/batches", self._list_batches),
            ("POST", "/batches", self._create_batch),
            ("GET", "/batches/{batch_id}", self._get_batch),
            ("PATCH", "/batches/{batch_id}", self._update_batch),
            ("GET", "/batches/{batch_id}/status", self._batch_status),
            ("POST", "/batches/{batch_id}/setup", self._setup_batch),
            ("GET", "/batches/{batch_id}/report", self._report),
            ("POST", "/batches/{batch_id}/duplicate", self._duplicate_batch),
            ("GET", "/batches/{batch_id}/instructions", self._get_instructions),
            ("POST", "/batches/{batch_id}/instructions", self._create_instructions),
            ("PUT", "/batches/{batch_id}/instructions", self._replace_instructions),
            ("POST", "/datasets", self._create_dataset),
            ("GET", "/datasets/{dataset_id}", self._get_dataset),
            ("GET", "/datasets/{dataset_id}/status", self._dataset_status),
            ("GET", "/datasets/{dataset_id}/upload-url/{filename}", self._upload_url),
            ("GET", "/datasets/{dataset_id}/imports/{import_id}", self._import_status),
            ("GET", "/collections", self._list_collections),
            ("POST", "/collections", self._create_collection),
            ("GET", "/collections/{collection_id}", self._get_collection),
            ("PUT", "/collections/{collection_id}", self._update_collection),
            *self.v4.routes(),
        ]
        for owner in ("batches/{batch_id}", "collections/{collection_id}"):
            routes += [
                ("GET", f"/{owner}/responses", self._responses),
                ("POST", f"/{owner}/export", self._request_export),
                ("GET", f"/{owner}/export", self._list_exports),
                ("GET", f"/{owner}/export/{{export_id}}", self._export_status),
                ("DELETE", f"/{owner}/export/{{export_id}}", self._delete_export),
            ]
        full = [(m, DC + p, h) for m, p, h in routes] + [
            ("GET", "/api/v1/studies", self._list_studies),
            ("POST", "/api/v1/studies", self._create_study),
            ("GET", "/api/v1/studies/{study_id}", self._get_study),
            ("POST", "/api/v1/studies/{study_id}/transition", self._transition_study),
            ("POST", "/api/v1/study-cost-calculator", self._study_cost),
        ]
        for method, path, handler in full:
            # The API accepts paths with and without the trailing slash.
            app.router.add_route(method, path, handler)
            app.router.add_route(method, path + "/", handler)
        return app

    @web.middleware
    async def _authenticate(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        self.clock.advance(self.clock.per_request)
        given = request.headers.get("Authorization")
        if given is None:
            return _error(401, {"detail": "Authentication credentials were not provided."})
        if not hmac.compare_digest(given.encode(), f"Token {self.token}".encode()):
            return _error(401, {"detail": "Invalid token."})
        return await handler(request)

    # -- request parsing --------------------------------------------------------------------

    async def _body(self, request: web.Request, empty: Any = None) -> Any:
        """The request's JSON body (``empty`` when there is none); bad JSON is a 400."""
        raw = await request.read()
        try:
            return json.loads(raw) if raw else empty
        except ValueError:
            raise _bad_request("request body is not valid JSON") from None

    async def _json(self, request: web.Request) -> dict[str, Any]:
        data = await self._body(request, empty={})
        if not isinstance(data, dict):
            raise _bad_request("request body must be a JSON object")
        return data

    def _require(self, data: dict[str, Any], *fields: str) -> None:
        missing = {f: ["This field is required."] for f in fields if data.get(f) in (None, "")}
        if missing:
            raise _bad_request(missing)

    def _workspace(self, workspace_id: Any) -> None:
        if workspace_id != self.workspace_id:
            raise _not_found("workspace")

    def _owner(self, request: web.Request) -> OwnerRec:
        key = "batch_id" if "batch_id" in request.match_info else "collection_id"
        owner = self.world.owners.get(request.match_info[key])
        kind = "batch" if key == "batch_id" else "collection"
        if owner is None or owner.kind != kind:
            raise _not_found(kind)
        return owner

    def _dataset(self, dataset_id: str) -> DatasetRec:
        dataset = self.world.datasets.get(dataset_id)
        if dataset is None:
            raise _not_found("dataset")
        return dataset

    # -- datasets ---------------------------------------------------------------------------

    async def _create_dataset(self, request: web.Request) -> web.Response:
        data = await self._json(request)
        self._require(data, "name", "workspace_id")
        self._workspace(data["workspace_id"])
        schema = data.get("schema")
        if schema is not None and not isinstance(schema.get("fields") if isinstance(schema, dict)
                                                 else None, dict):
            raise _bad_request({"schema": ["schema.fields must be an object"]})
        dataset = DatasetRec(id=self.world.new_id("dataset"), name=str(data["name"]),
                             workspace_id=self.workspace_id, created_at=self.clock.now(),
                             schema=schema, fail=data["name"] in self.world.fail_names)
        self.world.add_dataset(dataset)
        return web.json_response(self.world.dataset_json(dataset), status=201)

    async def _get_dataset(self, request: web.Request) -> web.Response:
        dataset = self._dataset(request.match_info["dataset_id"])
        return web.json_response(self.world.dataset_json(dataset, full=True))

    async def _dataset_status(self, request: web.Request) -> web.Response:
        dataset = self._dataset(request.match_info["dataset_id"])
        return web.json_response({"status": self.world.dataset_status(dataset)})

    async def _upload_url(self, request: web.Request) -> web.Response:
        dataset = self._dataset(request.match_info["dataset_id"])
        filename = request.match_info["filename"]
        allowed = (".csv", ".jsonl") if dataset.schema else (".csv", ".zip")
        if not filename.endswith(allowed):
            raise _bad_request({"filename": [f"must end with one of {allowed}"]})
        key = self.world.new_id("upload")
        import_id = self.world.new_id("import") if dataset.schema else None
        upload = Upload(dataset_id=dataset.id, import_id=import_id, filename=filename)
        self.storage.uploads[key] = upload
        if import_id:
            dataset.uploads[import_id] = upload
        url, expires_at = self.storage.presign(f"/uploads/{key}")
        content_type = "application/x-ndjson" if filename.endswith(".jsonl") else "text/csv"
        body = {"dataset_id": dataset.id, "upload_url": url, "http_method": "PUT",
                "expires_at": expires_at, "content_type": content_type,
                "file_key": f"{dataset.id}/{filename}"}
        if import_id:
            body["import_id"] = import_id
        # The CLI expects 201 for this GET.
        return web.json_response(body, status=201)

    async def _import_status(self, request: web.Request) -> web.Response:
        dataset = self._dataset(request.match_info["dataset_id"])
        upload = dataset.uploads.get(request.match_info["import_id"])
        if upload is None:
            raise _not_found("import")
        return web.json_response(self.world.import_json(upload))

    # -- batches ----------------------------------------------------------------------------

    def _check_task_details(self, data: dict[str, Any]) -> None:
        details = data.get("task_details")
        if not isinstance(details, dict):
            raise _bad_request({"task_details": ["This field is required."]})
        missing = [f for f in ("task_name", "task_introduction", "task_steps")
                   if not details.get(f)]
        if missing:
            raise _bad_request({f"task_details.{f}": ["This field is required."]
                                for f in missing})

    def _check_batch_items(self, pages: Any, dataset_id: str | None) -> list[dict[str, Any]]:
        """Validate a layout like the real API: a 422 INVALID_BATCH_ITEMS naming the place."""
        if not isinstance(pages, list):
            raise _bad_request({"batch_items": ["must be a list of pages"]})
        dataset = self.world.datasets.get(dataset_id or "")
        schema = dataset.schema if dataset is not None else None
        issues = []
        for p, page in enumerate(pages):
            rows = page.get("rows", []) if isinstance(page, dict) else []
            for r, row in enumerate(rows):
                for c, column in enumerate(row.get("columns", [])):
                    for i, item in enumerate(column.get("items", [])):
                        where = {"page": p, "row": r, "column": c, "item": i,
                                 "type": item.get("type")}
                        if page.get("display_position") in ("intro", "outro") and \
                                item.get("type") not in ("rich_text", "image"):
                            issues.append({**where, "message": 'Pages with display_position '
                                           '"intro" or "outro" may only contain image or '
                                           'rich_text content blocks'})
                        elif item.get("type") in INSTRUCTION_TYPES and not item.get("description"):
                            issues.append({**where, "message": "description is required"})
                        elif item.get("type") == "dataset_field" and schema is not None and \
                                item.get("field") not in schema.get("fields", {}):
                            issues.append({**where, "field": item.get("field"),
                                           "message": "Field does not exist in the dataset schema"})
                        if item.get("type") in INSTRUCTION_TYPES:
                            item.setdefault("id", self.world.new_id("item"))
        if issues:
            raise Reject(_error(422, {"type": "INVALID_BATCH_ITEMS", "issues": issues}))
        return pages

    async def _list_batches(self, request: web.Request) -> web.Response:
        self._workspace(request.query.get("workspace_id"))
        for batch in self.world.batches():
            self.v4.settle(batch)
        return web.json_response({"results": [self.world.batch_json(b)
                                              for b in self.world.batches()]})

    async def _create_batch(self, request: web.Request) -> web.Response:
        data = await self._json(request)
        self._require(data, "name", "workspace_id")
        self._check_task_details(data)
        self._workspace(data["workspace_id"])
        dataset_id = data.get("dataset_id")
        if dataset_id is not None:
            self._dataset(dataset_id)
        if data.get("batch_items") is not None:
            data["batch_items"] = self._check_batch_items(data["batch_items"], dataset_id)
        batch = OwnerRec(id=self.world.new_id("batch"), kind="batch", body=data,
                         created_at=self.clock.now(), dataset_id=dataset_id,
                         fail=data["name"] in self.world.fail_names)
        self.world.add_owner(batch)
        return web.json_response(self.world.batch_json(batch), status=201)

    async def _get_batch(self, request: web.Request) -> web.Response:
        batch = self._owner(request)
        self.v4.settle(batch)
        return web.json_response(self.world.batch_json(batch))

    async def _update_batch(self, request: web.Request) -> web.Response:
        batch = self._owner(request)
        data = await self._json(request)
        if "task_details" in data:
            self._check_task_details(data)
        if data.get("dataset_id") is not None:
            self._dataset(data["dataset_id"])
            batch.dataset_id = data["dataset_id"]
        if data.get("batch_items") is not None:
            if batch.setup_at is not None:
                raise _simple(400, "instructions cannot be edited once the batch has been set up")
            data["batch_items"] = self._check_batch_items(data["batch_items"], batch.dataset_id)
        if data.get("name") and data["name"] != batch.body["name"]:
            self.world.rename_batch(batch, data["name"])
        batch.body.update({k: v for k, v in data.items() if k != "workspace_id"})
        return web.json_response(self.world.batch_json(batch))

    async def _batch_status(self, request: web.Request) -> web.Response:
        return web.json_response({"status": self.world.batch_status(self._owner(request))})

    async def _setup_batch(self, request: web.Request) -> web.Response:
        batch = self._owner(request)
        data = await self._json(request)
        tasks_per_group = data.get("tasks_per_group", 1)
        if not isinstance(tasks_per_group, int) or isinstance(tasks_per_group, bool) or \
                tasks_per_group < 1:
            raise _bad_request({"tasks_per_group": ["Must be an integer >= 1."]})
        dataset_id = data.get("dataset_id") or batch.dataset_id
        if dataset_id is None:
            raise _simple(400, "the batch has no dataset: pass dataset_id")
        dataset = self._dataset(dataset_id)
        if batch.setup_at is not None:
            # A repeated setup (a retry) with the same dataset is accepted and changes nothing.
            if dataset_id == batch.dataset_id:
                return web.Response(status=202)
            raise _simple(400, "the batch is already set up")
        ready = (self.world.dataset_status(dataset) == "READY" if dataset.schema is None
                 else any(self.world.import_status(u) == "complete"
                          for u in dataset.uploads.values()) or self.v4.has_appended(dataset))
        if not ready:
            raise _simple(400, "the dataset is not ready: wait for READY before setup")
        batch.dataset_id = dataset_id
        self.world.set_up(batch, tasks_per_group)
        return web.Response(status=202)

    async def _responses(self, request: web.Request) -> web.Response:
        return web.json_response(self.world.responses_page_json(self._owner(request)))

    async def _report(self, request: web.Request) -> web.Response:
        return web.json_response(self.world.report_json(self._owner(request)))

    async def _duplicate_batch(self, request: web.Request) -> web.Response:
        source = self._owner(request)
        data = await self._json(request)
        body = json.loads(json.dumps(source.body))
        body["name"] = data.get("name") or f"{source.body['name']} (Copy)"
        copy = OwnerRec(id=self.world.new_id("batch"), kind="batch", body=body,
                        created_at=self.clock.now(), dataset_id=source.dataset_id,
                        instructions=[{**i, "id": self.world.new_id("inst")}
                                      for i in source.instructions])
        if data.get("upload_new_dataset"):
            copy.dataset_id = None
        self.world.add_owner(copy)
        return web.json_response(self.world.batch_json(copy), status=201)

    # -- instructions (deprecated endpoints) ------------------------------------------------

    async def _get_instructions(self, request: web.Request) -> web.Response:
        return web.json_response(self.world.instructions_json(self._owner(request)),
                                 headers=self._DEPRECATED)

    def _parse_instructions(self, batch: OwnerRec, data: Any) -> list[dict[str, Any]]:
        if batch.setup_at is not None:
            raise _simple(400, "instructions cannot be edited once the batch has been set up")
        if batch.body.get("batch_items"):
            raise _simple(400, "this batch uses batch_items; instructions are refused")
        if not isinstance(data, list) or not data:
            raise _bad_request({"instructions": ["Must be a non-empty list."]})
        made = []
        for index, item in enumerate(data):
            if not isinstance(item, dict) or item.get("type") not in INSTRUCTION_TYPES:
                raise _bad_request({f"instructions[{index}].type": ["Invalid type."]})
            if not item.get("description"):
                raise _bad_request({f"instructions[{index}].description":
                                    ["This field is required."]})
            if item["type"].startswith("multiple_choice") and not item.get("options"):
                raise _bad_request({f"instructions[{index}].options":
                                    ["This field is required."]})
            made.append(self.world.instruction(batch, item))
        return made

    async def _create_instructions(self, request: web.Request) -> web.Response:
        batch = self._owner(request)
        data = await self._json(request)
        made = self._parse_instructions(batch, data.get("instructions"))
        batch.instructions.extend(made)
        return web.json_response(made, status=201, headers=self._DEPRECATED)

    async def _replace_instructions(self, request: web.Request) -> web.Response:
        # Unlike POST, the PUT body is the bare array (SPEC2025).
        batch = self._owner(request)
        batch.instructions = self._parse_instructions(batch, await self._body(request))
        return web.json_response(batch.instructions, headers=self._DEPRECATED)

    # -- exports ----------------------------------------------------------------------------

    async def _request_export(self, request: web.Request) -> web.Response:
        owner = self._owner(request)
        filters = {k: request.query[k] for k in ("study_id", "from", "to") if k in request.query}
        jobs = [j for j in owner.exports.values()
                if not j.deleted and j.filter == (filters or None)]
        for job in reversed(jobs):
            status = self.world.export_status(job)
            if status == "generating":
                return web.json_response({"status": "generating", "export_id": job.id},
                                         status=202)
            if status == "complete" and self.export_contract == "200":
                body = self.world.export_json(owner, job)
                del body["export_id"]  # the older contract answers without the job id
                return web.json_response(body, status=200)
        if sum(not j.deleted for j in owner.exports.values()) >= self.max_export_jobs:
            raise _simple(409, f"at most {self.max_export_jobs} export jobs: delete one")
        job = ExportRec(id=self.world.new_id("export"), owner=owner.id, filter=filters or None,
                        requested_at=self.clock.now())
        owner.exports[job.id] = job
        return web.json_response({"status": "generating", "export_id": job.id}, status=202)

    def _export(self, request: web.Request) -> tuple[OwnerRec, ExportRec]:
        owner = self._owner(request)
        job = owner.exports.get(request.match_info["export_id"])
        if job is None or job.deleted:
            raise _not_found("export")
        return owner, job

    async def _export_status(self, request: web.Request) -> web.Response:
        return web.json_response(self.world.export_json(*self._export(request)))

    async def _list_exports(self, request: web.Request) -> web.Response:
        return web.json_response(self.world.export_list_json(self._owner(request)))

    async def _delete_export(self, request: web.Request) -> web.Response:
        _, job = self._export(request)
        if self.world.export_status(job) == "generating":
            raise _simple(409, "the export is still generating")
        job.deleted = True
        return web.Response(status=204)

    # -- collections ------------------------------------------------------------------------

    def _check_collection(self, data: dict[str, Any]) -> None:
        self._require(data, "name", "collection_items")
        self._check_task_details(data)
        pages = data["collection_items"]
        if not isinstance(pages, list) or not all(isinstance(p, dict) for p in pages):
            raise _bad_request({"collection_items": ["Must be a list of pages."]})
        for page in pages:
            page.setdefault("id", self.world.new_id("page"))
            for item in page.get("page_items", []):
                item.setdefault("id", self.world.new_id("item"))

    async def _list_collections(self, request: web.Request) -> web.Response:
        self._workspace(request.query.get("workspace_id"))
        rows = [self.world.collection_json(c) for c in self.world.collections()]
        offset = int(request.query.get("offset", 0))
        limit = int(request.query.get("limit", 200))
        return web.json_response({"results": rows[offset:offset + limit],
                                  "meta": {"count": len(rows)}})

    async def _create_collection(self, request: web.Request) -> web.Response:
        data = await self._json(request)
        self._require(data, "workspace_id")
        self._workspace(data["workspace_id"])
        self._check_collection(data)
        owner = OwnerRec(id=self.world.new_id("collection"), kind="collection", body=data,
                         created_at=self.clock.now())
        self.world.add_owner(owner)
        return web.json_response(self.world.collection_json(owner), status=201)

    async def _get_collection(self, request: web.Request) -> web.Response:
        return web.json_response(self.world.collection_json(self._owner(request)))

    async def _update_collection(self, request: web.Request) -> web.Response:
        owner = self._owner(request)
        data = await self._json(request)
        self._check_collection(data)
        data["workspace_id"] = owner.body["workspace_id"]
        owner.body = data
        return web.json_response(self.world.collection_json(owner))

    # -- studies ----------------------------------------------------------------------------

    async def _create_study(self, request: web.Request) -> web.Response:
        data = await self._json(request)
        self._require(data, "name", "description", "data_collection_method",
                      "data_collection_id")
        method = data["data_collection_method"]
        owner = self.world.owners.get(data["data_collection_id"])
        if method in ("AI_TASK_BUILDER_BATCH", "DC_TOOL"):
            if owner is None or owner.kind != "batch":
                raise _not_found("batch")
            if self.world.batch_status(owner) != "READY":
                raise _bad_request("the batch must be READY before it is attached to a study")
        elif method == "AI_TASK_BUILDER_COLLECTION":
            if owner is None or owner.kind != "collection":
                raise _not_found("collection")
        else:
            raise _bad_request({"data_collection_method": [f"Invalid value {method!r}."]})
        study = StudyRec(id=self.world.new_id("study").replace("-", "")[:24], body=data,
                         created_at=self.clock.now())
        self.world.add_study(study)
        return web.json_response(self.world.study_json(study), status=201)

    async def _study_cost(self, request: web.Request) -> web.Response:
        data = await self._json(request)
        self._require(data, "reward", "total_available_places")
        reward, places = data["reward"], data["total_available_places"]
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0
                   for v in (reward, places)):
            raise _bad_request({"reward": ["A valid number is required."]})
        # The fake's account: a 33.3% service fee, then 20% VAT on the fee.
        fee = reward * places / 3
        return web.json_response({"total_cost": round(reward * places + fee * 1.2, 2)})

    async def _list_studies(self, request: web.Request) -> web.Response:
        # `state` is one status or several as a regex-like group: `(UNPUBLISHED|ACTIVE)`.
        # Other query parameters (data_collection_id...) are not filters the API documents:
        # they are ignored, as it would.
        state = request.query.get("state")
        wanted = set(state.strip("()").split("|")) if state else None
        return web.json_response({"results": self.world.studies_json(wanted)})

    def _study(self, request: web.Request) -> StudyRec:
        study = self.world.studies.get(request.match_info["study_id"])
        if study is None:
            raise _not_found("study")
        return study

    async def _get_study(self, request: web.Request) -> web.Response:
        return web.json_response(self.world.study_json(self._study(request)))

    async def _transition_study(self, request: web.Request) -> web.Response:
        study = self._study(request)
        action = (await self._json(request)).get("action")
        moves = {"PUBLISH": ("UNPUBLISHED", "ACTIVE"), "PAUSE": ("ACTIVE", "PAUSED"),
                 "START": ("PAUSED", "ACTIVE"), "STOP": (None, "COMPLETED")}
        if action not in moves:
            raise _bad_request({"action": [f"Invalid action {action!r}."]})
        source, target = moves[action]
        if source is not None and study.status != source:
            if action == "PUBLISH":
                study.refused_publishes += 1
            # The study API refuses a transition from the wrong state with a 400 (its
            # documented error answer for this endpoint is "4XX" with the `error` body).
            raise _bad_request(f"cannot {action} a study that is {study.status}")
        study.status = target
        if action == "PUBLISH":
            study.published_at = self.clock.now()
            study.publishes.append(study.published_at)
        return web.json_response(self.world.study_json(study))
