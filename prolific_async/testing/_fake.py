"""`FakeProlific`: the AI Task Builder API on loopback, with a presigned-style storage host."""

from __future__ import annotations

import asyncio
import fnmatch
import hashlib
import hmac
import json
import random
import time
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, ClassVar, Literal

import attrs
from aiohttp import web

from ._state import (
    INSTRUCTION_TYPES,
    DatasetRec,
    ExportRec,
    FakeClock,
    OwnerRec,
    StudyRec,
    SyncRec,
    Upload,
    World,
    iso,
)

__all__ = ["Fault", "FakeProlific", "RecordedRequest"]

DC = "/api/v1/data-collection"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@attrs.frozen
class RecordedRequest:
    """One request the fake received, as sent (storage bodies are kept as their size)."""

    server: Literal["api", "storage"]
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    json: Any
    body_size: int
    at: float  # time.monotonic() when it arrived


@attrs.define
class Fault:
    """An injected failure for requests matching ``method`` and the ``path`` glob.

    It fires on every ``every``-th match, or with ``probability`` (from the fake's seeded
    generator), or on each match when neither is set; at most ``times`` times. It answers
    ``status`` with ``body`` (JSON, or text when a string; a short JSON detail by default)
    and ``Retry-After: retry_after`` when set, or drops the connection (``drop=True``), after
    ``latency`` seconds. ``status=None`` with only ``latency`` slows requests down.
    """

    method: str = "*"
    path: str = "*"
    status: int | None = 503
    retry_after: str | None = None
    body: Any = None
    drop: bool = False
    latency: float = 0.0
    every: int | None = None
    probability: float | None = None
    times: int | None = None
    matched: int = 0
    fired: int = 0

    def matches(self, method: str, path: str) -> bool:
        return fnmatch.fnmatchcase(method, self.method) and fnmatch.fnmatchcase(path, self.path)

    def should_fire(self, rng: random.Random) -> bool:
        self.matched += 1
        if self.times is not None and self.fired >= self.times:
            return False
        if self.every is not None:
            hit = self.matched % self.every == 0
        elif self.probability is not None:
            hit = rng.random() < self.probability
        else:
            hit = True
        self.fired += hit
        return hit


    def response(self) -> web.Response:
        assert self.status is not None
        headers = {"Retry-After": self.retry_after} if self.retry_after else {}
        if isinstance(self.body, str):
            return web.Response(status=self.status, text=self.body, content_type="text/html",
                                headers=headers)
        body = self.body if self.body is not None else {"detail": f"injected {self.status}"}
        return web.json_response(body, status=self.status, headers=headers)


def _error(status: int, body: Any) -> web.Response:
    return web.json_response(body, status=status)


def _not_found(what: str) -> web.Response:
    return _error(404, {"detail": f"{what} not found"})


def _bad_request(detail: Any) -> web.Response:
    return _error(400, {"error": {"status": 400, "error_code": 140001, "title": "Bad Request",
                                  "detail": detail}})


def _simple(status: int, detail: str) -> web.Response:
    return _error(status, {"message": web.Response(status=status).reason, "detail": detail})


class _Reject(Exception):
    def __init__(self, response: web.Response) -> None:
        self.response = response


class FakeProlific:
    """A stateful fake of the Prolific AI Task Builder API, served on 127.0.0.1.

    Example::

        async with FakeProlific(clock=FakeClock(speed=0)) as fake:
            async with Prolific(fake.token, base_url=fake.url) as client:
                ds = await client.datasets.create(name="d", workspace_id=fake.workspace_id)
                ...
                fake.clock.advance(10)       # let processing finish

    Datasets take ``dataset_processing`` seconds of fake time after an upload, batches
    ``batch_setup`` after setup, exports ``export_generating``; a dataset or batch whose name
    is in ``fail_names`` ends in ERROR (as does an empty or malformed file). After a study is
    published, a simulated participant submits every ``submission_interval`` seconds.
    ``export_contract="200"`` makes a repeated export request reuse a complete export (the
    older documented contract); ``"202"`` always starts or joins a job (the newer one).
    Every request is kept in ``requests`` (unless ``record=False``, for long runs);
    `inject` adds faults.
    """

    def __init__(
        self,
        *,
        token: str = "fake-prolific-token",
        workspace_id: str = "6745ab669112d10b9b3afb48",
        clock: FakeClock | None = None,
        seed: int = 0,
        fail_names: frozenset[str] | set[str] = frozenset(),
        dataset_processing: float = 2.0,
        batch_setup: float = 2.0,
        export_generating: float = 1.0,
        url_ttl: float = 3600.0,
        submission_interval: float = 1.0,
        export_contract: Literal["200", "202"] = "202",
        max_export_jobs: int = 10,
        record: bool = True,
    ) -> None:
        self.token = token
        self.workspace_id = workspace_id
        self.clock = clock or FakeClock()
        self.export_contract = export_contract
        self.max_export_jobs = max_export_jobs
        self.world = World(
            clock=self.clock, seed=seed, fail_names=frozenset(fail_names),
            dataset_processing=dataset_processing, batch_setup=batch_setup,
            export_generating=export_generating, url_ttl=url_ttl,
            submission_interval=submission_interval,
        )
        self.record = record
        self.requests: list[RecordedRequest] = []
        self.faults: list[Fault] = []
        self._rng = random.Random(seed)
        self._secret = hashlib.sha256(f"storage:{seed}".encode()).digest()
        self._uploads: dict[str, Upload] = {}
        self._runners: list[web.AppRunner] = []
        self.url = ""
        self.storage_url = ""

    # -- lifecycle --------------------------------------------------------------------------

    async def __aenter__(self) -> FakeProlific:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()

    async def start(self) -> None:
        self.url = await self._serve(self._api_app())
        self.storage_url = await self._serve(self._storage_app())

    async def close(self) -> None:
        runners, self._runners = self._runners, []
        for runner in runners:
            await runner.cleanup()

    async def _serve(self, app: web.Application) -> str:
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self._runners.append(runner)
        server = site._server
        assert server is not None
        assert isinstance(server, asyncio.base_events.Server)
        port = server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    # -- test helpers -----------------------------------------------------------------------

    def inject(self, **fault: Any) -> Fault:
        """Add a `Fault` (same keyword arguments) and return it."""
        added = Fault(**fault)
        self.faults.append(added)
        return added

    def requests_to(self, method: str = "*", path: str = "*") -> list[RecordedRequest]:
        """The recorded requests whose method and path match these globs."""
        return [r for r in self.requests
                if fnmatch.fnmatchcase(r.method, method) and fnmatch.fnmatchcase(r.path, path)]

    def fail_export(self, owner_id: str, export_id: str) -> None:
        """Make a (generating) export job end ``failed``."""
        self.world.owners[owner_id].exports[export_id].fail = True

    # -- plumbing ---------------------------------------------------------------------------

    def _api_app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware("api")], client_max_size=16 << 20)
        routes: list[tuple[str, str, Handler]] = [
            ("GET", "/batches", self._list_batches),
            ("POST", "/batches", self._create_batch),
            ("GET", "/batches/{batch_id}", self._get_batch),
            ("PATCH", "/batches/{batch_id}", self._update_batch),
            ("GET", "/batches/{batch_id}/status", self._batch_status),
            ("POST", "/batches/{batch_id}/setup", self._setup_batch),
            ("GET", "/batches/{batch_id}/responses", self._responses),
            ("GET", "/batches/{batch_id}/report", self._report),
            ("POST", "/batches/{batch_id}/duplicate", self._duplicate_batch),
            ("GET", "/batches/{batch_id}/instructions", self._get_instructions),
            ("POST", "/batches/{batch_id}/instructions", self._create_instructions),
            ("PUT", "/batches/{batch_id}/instructions", self._replace_instructions),
            ("POST", "/batches/{batch_id}/sync", self._sync),
            ("GET", "/batches/{batch_id}/syncs/{sync_id}", self._sync_status),
            ("POST", "/datasets", self._create_dataset),
            ("GET", "/datasets/{dataset_id}", self._get_dataset),
            ("GET", "/datasets/{dataset_id}/status", self._dataset_status),
            ("GET", "/datasets/{dataset_id}/upload-url/{filename}", self._upload_url),
            ("GET", "/datasets/{dataset_id}/imports/{import_id}", self._import_status),
            ("GET", "/collections", self._list_collections),
            ("POST", "/collections", self._create_collection),
            ("GET", "/collections/{collection_id}", self._get_collection),
            ("PUT", "/collections/{collection_id}", self._update_collection),
            ("GET", "/collections/{collection_id}/responses", self._collection_responses),
        ]
        for owner in ("batches/{batch_id}", "collections/{collection_id}"):
            routes += [
                ("POST", f"/{owner}/export", self._request_export),
                ("GET", f"/{owner}/export", self._list_exports),
                ("GET", f"/{owner}/export/{{export_id}}", self._export_status),
                ("DELETE", f"/{owner}/export/{{export_id}}", self._delete_export),
            ]
        full = [(m, DC + p, h) for m, p, h in routes] + [
            ("POST", "/api/v1/studies", self._create_study),
            ("GET", "/api/v1/studies/{study_id}", self._get_study),
            ("POST", "/api/v1/studies/{study_id}/transition", self._transition_study),
        ]
        for method, path, handler in full:
            # The API accepts paths with and without the trailing slash.
            app.router.add_route(method, path, handler)
            app.router.add_route(method, path + "/", handler)
        return app

    def _storage_app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware("storage")],
                              client_max_size=1 << 30)
        app.router.add_put("/uploads/{key}", self._storage_put)
        app.router.add_get("/exports/{owner_id}/{export_id}.zip", self._storage_export)
        app.router.add_get("/reports/{batch_id}.csv", self._storage_report)
        return app

    def _middleware(self, server: Literal["api", "storage"]) -> Any:
        @web.middleware
        async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
            if self.record:
                self._record(server, request, b"" if server == "storage" else await request.read())
            for fault in self.faults:
                if fault.matches(request.method, request.path) and fault.should_fire(self._rng):
                    if fault.latency:
                        await asyncio.sleep(fault.latency)
                    if fault.drop:
                        assert request.transport is not None
                        request.transport.abort()
                        return web.Response(status=500)
                    if fault.status is not None:
                        return fault.response()
            if server == "api":
                self.clock.advance(self.clock.per_request)
                expected = f"Token {self.token}"
                given = request.headers.get("Authorization")
                if given is None:
                    return _error(401, {"detail": "Authentication credentials were not provided."})
                if not hmac.compare_digest(given.encode(), expected.encode()):
                    return _error(401, {"detail": "Invalid token."})
            try:
                return await handler(request)
            except _Reject as rejected:
                return rejected.response

        return middleware

    def _record(self, server: Literal["api", "storage"], request: web.Request,
                body: bytes) -> None:
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = None
        self.requests.append(RecordedRequest(
            server=server, method=request.method, path=request.path,
            query=dict(request.query), headers=dict(request.headers), json=parsed,
            body_size=request.content_length or len(body), at=time.monotonic(),
        ))

    async def _json(self, request: web.Request) -> dict[str, Any]:
        try:
            data = await request.json() if await request.read() else {}
        except ValueError:
            raise _Reject(_bad_request("request body is not valid JSON")) from None
        if not isinstance(data, dict):
            raise _Reject(_bad_request("request body must be a JSON object"))
        return data

    def _require(self, data: dict[str, Any], *fields: str) -> None:
        missing = {f: ["This field is required."] for f in fields if data.get(f) in (None, "")}
        if missing:
            raise _Reject(_bad_request(missing))

    def _workspace(self, workspace_id: Any) -> None:
        if workspace_id != self.workspace_id:
            raise _Reject(_not_found("workspace"))

    def _owner(self, request: web.Request) -> OwnerRec:
        key = "batch_id" if "batch_id" in request.match_info else "collection_id"
        owner = self.world.owners.get(request.match_info[key])
        kind = "batch" if key == "batch_id" else "collection"
        if owner is None or owner.kind != kind:
            raise _Reject(_not_found(kind))
        return owner

    def _dataset(self, dataset_id: str) -> DatasetRec:
        dataset = self.world.datasets.get(dataset_id)
        if dataset is None:
            raise _Reject(_not_found("dataset"))
        return dataset

    def _sign(self, path: str, expires: float) -> str:
        message = f"{path}:{expires:.3f}".encode()
        signature = hmac.new(self._secret, message, hashlib.sha256).hexdigest()
        return f"{self.storage_url}{path}?X-Amz-Expires={expires:.3f}&X-Amz-Signature={signature}"

    def _presigned(self, path: str) -> tuple[str, str]:
        expires = self.clock.now() + self.world.url_ttl
        return self._sign(path, expires), iso(self.clock.datetime(expires))

    def _check_signature(self, request: web.Request) -> web.Response | None:
        """Answer like S3: a token beside the signature, a bad signature, or expiry fail."""
        if "Authorization" in request.headers:
            return web.Response(status=400, content_type="application/xml", text=(
                "<Error><Code>InvalidArgument</Code><Message>Only one auth mechanism allowed; "
                "only the X-Amz-Algorithm query parameter, Signature query string parameter or "
                "the Authorization header should be specified</Message></Error>"))
        try:
            expires = float(request.query["X-Amz-Expires"])
            given = request.query["X-Amz-Signature"]
        except (KeyError, ValueError):
            given, expires = "", 0.0
        expected = self._sign(request.path, expires).rsplit("=", 1)[1]
        if not hmac.compare_digest(given, expected):
            return web.Response(status=403, content_type="application/xml", text=(
                "<Error><Code>SignatureDoesNotMatch</Code></Error>"))
        if self.clock.now() > expires:
            return web.Response(status=403, content_type="application/xml", text=(
                "<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>"))
        return None

    # -- datasets ---------------------------------------------------------------------------

    async def _create_dataset(self, request: web.Request) -> web.Response:
        data = await self._json(request)
        self._require(data, "name", "workspace_id")
        self._workspace(data["workspace_id"])
        schema = data.get("schema")
        if schema is not None and not isinstance(schema.get("fields") if isinstance(schema, dict)
                                                 else None, dict):
            raise _Reject(_bad_request({"schema": ["schema.fields must be an object"]}))
        dataset = DatasetRec(id=self.world.new_id("dataset"), name=str(data["name"]),
                             workspace_id=self.workspace_id, created_at=self.clock.now(),
                             schema=schema, fail=data["name"] in self.world.fail_names)
        self.world.datasets[dataset.id] = dataset
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
            raise _Reject(_bad_request({"filename": [f"must end with one of {allowed}"]}))
        key = self.world.new_id("upload")
        import_id = self.world.new_id("import") if dataset.schema else None
        upload = Upload(dataset_id=dataset.id, import_id=import_id, filename=filename)
        self._uploads[key] = upload
        if import_id:
            dataset.uploads[import_id] = upload
        url, expires_at = self._presigned(f"/uploads/{key}")
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
            raise _Reject(_not_found("import"))
        return web.json_response(self.world.import_json(upload))

    async def _storage_put(self, request: web.Request) -> web.Response:
        rejected = self._check_signature(request)
        if rejected is not None:
            return rejected
        upload = self._uploads.get(request.match_info["key"])
        if upload is None:
            return web.Response(status=404, text="<Error><Code>NoSuchUpload</Code></Error>")
        if request.content_length is None:
            # Presigned PUTs need a length: S3 answers 411 to chunked uploads.
            return web.Response(status=411, text="<Error><Code>MissingContentLength</Code></Error>")
        data = await request.read()
        dataset = self.world.datasets[upload.dataset_id]
        dataset.uploads.setdefault(upload.import_id or request.match_info["key"], upload)
        self.world.ingest(upload, data)
        return web.Response(status=200, headers={"ETag": hashlib.md5(data).hexdigest()})

    # -- batches ----------------------------------------------------------------------------

    def _check_task_details(self, data: dict[str, Any]) -> None:
        details = data.get("task_details")
        if not isinstance(details, dict):
            raise _Reject(_bad_request({"task_details": ["This field is required."]}))
        missing = [f for f in ("task_name", "task_introduction", "task_steps")
                   if not details.get(f)]
        if missing:
            raise _Reject(_bad_request({f"task_details.{f}": ["This field is required."]
                                        for f in missing}))

    def _check_batch_items(self, pages: Any, dataset_id: str | None) -> list[dict[str, Any]]:
        """Validate a layout like the real API: a 422 INVALID_BATCH_ITEMS naming the place."""
        if not isinstance(pages, list):
            raise _Reject(_bad_request({"batch_items": ["must be a list of pages"]}))
        schema = self.world.datasets[dataset_id].schema if dataset_id in self.world.datasets \
            else None
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
            raise _Reject(_error(422, {"type": "INVALID_BATCH_ITEMS", "issues": issues}))
        return pages

    async def _list_batches(self, request: web.Request) -> web.Response:
        self._workspace(request.query.get("workspace_id"))
        batches = [self.world.batch_json(b) for b in self.world.owners.values()
                   if b.kind == "batch"]
        return web.json_response({"results": batches})

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
        self.world.owners[batch.id] = batch
        return web.json_response(self.world.batch_json(batch), status=201)

    async def _get_batch(self, request: web.Request) -> web.Response:
        return web.json_response(self.world.batch_json(self._owner(request)))

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
                raise _Reject(_simple(400, "instructions cannot be edited once the batch has "
                                           "been set up"))
            data["batch_items"] = self._check_batch_items(data["batch_items"], batch.dataset_id)
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
            raise _Reject(_bad_request({"tasks_per_group": ["Must be an integer >= 1."]}))
        dataset_id = data.get("dataset_id") or batch.dataset_id
        if dataset_id is None:
            raise _Reject(_simple(400, "the batch has no dataset: pass dataset_id"))
        dataset = self._dataset(dataset_id)
        if batch.setup_at is not None:
            # A repeated setup (a retry) with the same dataset is accepted and changes nothing.
            if dataset_id == batch.dataset_id:
                return web.Response(status=202)
            raise _Reject(_simple(400, "the batch is already set up"))
        ready = (self.world.dataset_status(dataset) == "READY" if dataset.schema is None
                 else any(self.world.import_status(u) == "complete"
                          for u in dataset.uploads.values()))
        if not ready:
            raise _Reject(_simple(400, "the dataset is not ready: wait for READY before setup"))
        batch.dataset_id = dataset_id
        self.world.set_up(batch, tasks_per_group)
        return web.Response(status=202)

    async def _responses(self, request: web.Request) -> web.Response:
        results = self.world.responses_json(self._owner(request))
        return web.json_response({"results": results, "meta": {"count": len(results)}})

    async def _collection_responses(self, request: web.Request) -> web.Response:
        owner = self._owner(request)
        results = self.world.responses_json(owner)
        return web.json_response({"results": results, "meta": {"count": len(results)}})

    async def _report(self, request: web.Request) -> web.Response:
        batch = self._owner(request)
        if self.world.batch_status(batch) != "READY":
            return web.json_response({"url": None, "expires_at": None, "http_method": "GET"})
        url, expires_at = self._presigned(f"/reports/{batch.id}.csv")
        return web.json_response({"url": url, "expires_at": expires_at, "http_method": "GET"})

    async def _storage_report(self, request: web.Request) -> web.Response:
        rejected = self._check_signature(request)
        if rejected is not None:
            return rejected
        batch = self.world.owners[request.match_info["batch_id"]]
        return web.Response(text=self.world.report_csv(batch), content_type="text/csv")

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
        self.world.owners[copy.id] = copy
        return web.json_response(self.world.batch_json(copy), status=201)

    # -- instructions -----------------------------------------------------------------------

    _DEPRECATED: ClassVar[dict[str, str]] = {
        "Deprecation": "true", "Sunset": "Tue, 01 Sep 2026 23:59:59 GMT"}

    async def _get_instructions(self, request: web.Request) -> web.Response:
        batch = self._owner(request)
        return web.json_response({"results": batch.instructions,
                                  "meta": {"count": len(batch.instructions)}},
                                 headers=self._DEPRECATED)

    def _parse_instructions(self, batch: OwnerRec, data: Any) -> list[dict[str, Any]]:
        if batch.setup_at is not None:
            raise _Reject(_simple(400, "instructions cannot be edited once the batch has been "
                                       "set up"))
        if batch.body.get("batch_items"):
            raise _Reject(_simple(400, "this batch uses batch_items; instructions are refused"))
        if not isinstance(data, list) or not data:
            raise _Reject(_bad_request({"instructions": ["Must be a non-empty list."]}))
        made = []
        for index, item in enumerate(data):
            if not isinstance(item, dict) or item.get("type") not in INSTRUCTION_TYPES:
                raise _Reject(_bad_request({f"instructions[{index}].type": ["Invalid type."]}))
            if not item.get("description"):
                raise _Reject(_bad_request({f"instructions[{index}].description":
                                            ["This field is required."]}))
            if item["type"].startswith("multiple_choice") and not item.get("options"):
                raise _Reject(_bad_request({f"instructions[{index}].options":
                                            ["This field is required."]}))
            made.append({**item, "id": self.world.new_id("inst"), "batch_id": batch.id,
                         "created_by": item.get("created_by", self.world.user_id),
                         "created_at": iso(self.clock.datetime())})
        return made

    async def _create_instructions(self, request: web.Request) -> web.Response:
        batch = self._owner(request)
        data = await self._json(request)
        made = self._parse_instructions(batch, data.get("instructions"))
        batch.instructions.extend(made)
        return web.json_response(made, status=201, headers=self._DEPRECATED)

    async def _replace_instructions(self, request: web.Request) -> web.Response:
        batch = self._owner(request)
        try:
            data = await request.json()
        except ValueError:
            raise _Reject(_bad_request("request body is not valid JSON")) from None
        batch.instructions = self._parse_instructions(batch, data)
        return web.json_response(batch.instructions, headers=self._DEPRECATED)

    # -- syncs ------------------------------------------------------------------------------

    async def _sync(self, request: web.Request) -> web.Response:
        batch = self._owner(request)
        if self.world.batch_status(batch) != "READY":
            raise _Reject(_simple(400, "the batch must be READY to sync"))
        job = SyncRec(id=self.world.new_id("sync"), batch_id=batch.id,
                      requested_at=self.clock.now())
        batch.syncs[job.id] = job
        return web.json_response({"batch_id": batch.id, "dataset_id": batch.dataset_id,
                                  "sync_id": job.id, "status": "queued",
                                  "created_at": iso(self.clock.datetime())}, status=202)

    async def _sync_status(self, request: web.Request) -> web.Response:
        batch = self._owner(request)
        job = batch.syncs.get(request.match_info["sync_id"])
        if job is None:
            raise _Reject(_not_found("sync"))
        elapsed = self.clock.now() - job.requested_at
        if elapsed < self.world.batch_setup / 2:
            return web.json_response({"status": "queued", "sync_id": job.id})
        if elapsed < self.world.batch_setup:
            return web.json_response({"status": "processing", "sync_id": job.id})
        return web.json_response({"status": "complete", "sync_id": job.id, "tasks_created": 0,
                                  "datapoints_processed": 0, "groups_created": 0,
                                  "groups_expanded": 0})

    # -- exports ----------------------------------------------------------------------------

    def _export_json(self, owner: OwnerRec, job: ExportRec) -> dict[str, Any]:
        status = self.world.export_status(job)
        body: dict[str, Any] = {"status": status, "export_id": job.id}
        if status == "complete":
            body["url"], body["expires_at"] = self._presigned(f"/exports/{owner.id}/{job.id}.zip")
        return body

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
                body = self._export_json(owner, job)
                del body["export_id"]  # the older contract answers without the job id
                return web.json_response(body, status=200)
        if sum(not j.deleted for j in owner.exports.values()) >= self.max_export_jobs:
            raise _Reject(_simple(409, f"at most {self.max_export_jobs} export jobs: delete one"))
        job = ExportRec(id=self.world.new_id("export"), owner=owner.id, filter=filters or None,
                        requested_at=self.clock.now())
        owner.exports[job.id] = job
        return web.json_response({"status": "generating", "export_id": job.id}, status=202)

    def _export(self, request: web.Request) -> tuple[OwnerRec, ExportRec]:
        owner = self._owner(request)
        job = owner.exports.get(request.match_info["export_id"])
        if job is None or job.deleted:
            raise _Reject(_not_found("export"))
        return owner, job

    async def _export_status(self, request: web.Request) -> web.Response:
        return web.json_response(self._export_json(*self._export(request)))

    async def _list_exports(self, request: web.Request) -> web.Response:
        owner = self._owner(request)
        jobs = sorted((j for j in owner.exports.values() if not j.deleted),
                      key=lambda j: j.requested_at, reverse=True)
        return web.json_response({"results": [
            {"export_id": j.id, "filter": j.filter, "status": self.world.export_status(j),
             "created_at": iso(self.clock.datetime(j.requested_at))} for j in jobs]})

    async def _delete_export(self, request: web.Request) -> web.Response:
        _, job = self._export(request)
        if self.world.export_status(job) == "generating":
            raise _Reject(_simple(409, "the export is still generating"))
        job.deleted = True
        return web.Response(status=204)

    async def _storage_export(self, request: web.Request) -> web.Response:
        rejected = self._check_signature(request)
        if rejected is not None:
            return rejected
        owner = self.world.owners[request.match_info["owner_id"]]
        job = owner.exports[request.match_info["export_id"]]
        return web.Response(body=self.world.export_zip(owner, job),
                            content_type="application/zip")

    # -- collections ------------------------------------------------------------------------

    def _collection_json(self, owner: OwnerRec) -> dict[str, Any]:
        return {"id": owner.id, "schema_version": 1,
                "created_at": iso(self.clock.datetime(owner.created_at)),
                "created_by": self.world.user_id, **owner.body,
                "item_count": sum(len(p.get("page_items", []))
                                  for p in owner.body["collection_items"])}

    def _check_collection(self, data: dict[str, Any]) -> None:
        self._require(data, "name", "collection_items")
        self._check_task_details(data)
        pages = data["collection_items"]
        if not isinstance(pages, list) or not all(isinstance(p, dict) for p in pages):
            raise _Reject(_bad_request({"collection_items": ["Must be a list of pages."]}))
        for page in pages:
            page.setdefault("id", self.world.new_id("page"))
            for item in page.get("page_items", []):
                item.setdefault("id", self.world.new_id("item"))

    async def _list_collections(self, request: web.Request) -> web.Response:
        self._workspace(request.query.get("workspace_id"))
        rows = [self._collection_json(c) for c in self.world.owners.values()
                if c.kind == "collection"]
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
        self.world.owners[owner.id] = owner
        return web.json_response(self._collection_json(owner), status=201)

    async def _get_collection(self, request: web.Request) -> web.Response:
        return web.json_response(self._collection_json(self._owner(request)))

    async def _update_collection(self, request: web.Request) -> web.Response:
        owner = self._owner(request)
        data = await self._json(request)
        self._check_collection(data)
        data["workspace_id"] = owner.body["workspace_id"]
        owner.body = data
        return web.json_response(self._collection_json(owner))

    # -- studies ----------------------------------------------------------------------------

    def _study_json(self, study: StudyRec) -> dict[str, Any]:
        body = {k: v for k, v in study.body.items()}
        body.update(id=study.id, status=self.world.study_status(study),
                    date_created=iso(self.clock.datetime(study.created_at)))
        if study.published_at is not None:
            body["published_at"] = iso(self.clock.datetime(study.published_at))
            owner = self.world.owners.get(study.body.get("data_collection_id", ""))
            body["places_taken"] = len(self.world.submissions(owner)) if owner else 0
        return body

    async def _create_study(self, request: web.Request) -> web.Response:
        data = await self._json(request)
        self._require(data, "name", "description", "data_collection_method",
                      "data_collection_id")
        method = data["data_collection_method"]
        owner = self.world.owners.get(data["data_collection_id"])
        if method in ("AI_TASK_BUILDER_BATCH", "DC_TOOL"):
            if owner is None or owner.kind != "batch":
                raise _Reject(_not_found("batch"))
            if self.world.batch_status(owner) != "READY":
                raise _Reject(_bad_request(
                    "the batch must be READY before it is attached to a study"))
        elif method == "AI_TASK_BUILDER_COLLECTION":
            if owner is None or owner.kind != "collection":
                raise _Reject(_not_found("collection"))
        else:
            raise _Reject(_bad_request({"data_collection_method": [f"Invalid value {method!r}."]}))
        study = StudyRec(id=self.world.new_id("study").replace("-", "")[:24], body=data,
                         created_at=self.clock.now())
        self.world.studies[study.id] = study
        return web.json_response(self._study_json(study), status=201)

    def _study(self, request: web.Request) -> StudyRec:
        study = self.world.studies.get(request.match_info["study_id"])
        if study is None:
            raise _Reject(_not_found("study"))
        return study

    async def _get_study(self, request: web.Request) -> web.Response:
        return web.json_response(self._study_json(self._study(request)))

    async def _transition_study(self, request: web.Request) -> web.Response:
        study = self._study(request)
        action = (await self._json(request)).get("action")
        moves = {"PUBLISH": ("UNPUBLISHED", "ACTIVE"), "PAUSE": ("ACTIVE", "PAUSED"),
                 "START": ("PAUSED", "ACTIVE"), "STOP": (None, "COMPLETED")}
        if action not in moves:
            raise _Reject(_bad_request({"action": [f"Invalid action {action!r}."]}))
        source, target = moves[action]
        if source is not None and study.status != source:
            raise _Reject(_bad_request(f"cannot {action} a study that is {study.status}"))
        study.status = target
        if action == "PUBLISH":
            study.published_at = self.clock.now()
        return web.json_response(self._study_json(study))
