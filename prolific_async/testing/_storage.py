"""The fake's S3-style storage host: presigned upload, export and report URLs.

Like S3 it refuses a request that carries an ``Authorization`` header beside the signature,
a bad signature, and an expired URL, each with an XML error body. Downloads are streamed,
honour ``Range: bytes=...`` (206 with ``Content-Range``; 416 when unsatisfiable) and carry
an ``ETag``, so an interrupted download can be resumed.
"""

from __future__ import annotations

import hashlib
import hmac

from aiohttp import web

from ._archive import MAX_PADDING, Blob, build_export
from ._clock import FakeClock, iso
from ._server import Plumbing, cut
from ._state import Upload, World

__all__ = ["Storage"]


class Storage:
    """The storage host: signs URLs for the API and serves the bytes behind them."""

    def __init__(self, *, world: World, clock: FakeClock, plumbing: Plumbing, seed: int,
                 export_padding_bytes: int = 0) -> None:
        self.world = world
        self.clock = clock
        self.url = ""
        self.uploads: dict[str, Upload] = {}  # by the key of their presigned PUT URL
        if not 0 <= export_padding_bytes <= MAX_PADDING:
            raise ValueError(f"export_padding_bytes must be in [0, {MAX_PADDING}] (no ZIP64)")
        self.export_padding_bytes = export_padding_bytes
        self._plumbing = plumbing
        self._secret = hashlib.sha256(f"storage:{seed}".encode()).digest()
        # A complete export never changes: built once, served for every (range) request.
        self._archives: dict[str, Blob] = {}
        world.presign = self.presign

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._plumbing.middleware("storage")],
                              client_max_size=1 << 30)
        app.router.add_put("/uploads/{key}", self._put)
        app.router.add_get("/exports/{owner_id}/{export_id}.zip", self._export)
        app.router.add_get("/reports/{batch_id}.csv", self._report)
        return app

    # -- signing ----------------------------------------------------------------------------

    def _sign(self, path: str, expires: float) -> str:
        message = f"{path}:{expires:.3f}".encode()
        signature = hmac.new(self._secret, message, hashlib.sha256).hexdigest()
        return f"{self.url}{path}?X-Amz-Expires={expires:.3f}&X-Amz-Signature={signature}"

    def presign(self, path: str) -> tuple[str, str]:
        """A URL for ``path`` valid for the world's ``url_ttl``, and its expiry (ISO 8601)."""
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

    # -- handlers ---------------------------------------------------------------------------

    async def _put(self, request: web.Request) -> web.Response:
        rejected = self._check_signature(request)
        if rejected is not None:
            return rejected
        upload = self.uploads.get(request.match_info["key"])
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

    async def _export(self, request: web.Request) -> web.StreamResponse:
        rejected = self._check_signature(request)
        if rejected is not None:
            return rejected
        owner = self.world.owners[request.match_info["owner_id"]]
        job = owner.exports[request.match_info["export_id"]]
        blob = self._archives.get(job.id)
        if blob is None:
            blob = self._archives[job.id] = build_export(self.world, owner, job,
                                                         self.export_padding_bytes)
        return await self._send(request, blob, "application/zip", etag=job.id)

    async def _report(self, request: web.Request) -> web.StreamResponse:
        rejected = self._check_signature(request)
        if rejected is not None:
            return rejected
        batch = self.world.owners[request.match_info["batch_id"]]
        data = self.world.report_csv(batch).encode()
        return await self._send(request, Blob(data), "text/csv",
                                etag=hashlib.md5(data).hexdigest())

    async def _send(self, request: web.Request, blob: Blob, content_type: str, *,
                    etag: str) -> web.StreamResponse:
        """Stream ``blob`` (or the range asked for), then cut the connection early when a
        truncating fault fired on this request."""
        size = blob.size
        start, stop, status = 0, size, 200
        if "Range" in request.headers:
            wanted = _byte_range(request.headers["Range"], size)
            if wanted is None:
                return web.Response(status=416, content_type="application/xml",
                                    headers={"Content-Range": f"bytes */{size}"},
                                    text="<Error><Code>InvalidRange</Code></Error>")
            (start, stop), status = wanted, 206
        response = web.StreamResponse(status=status, headers={
            "Content-Type": content_type, "Accept-Ranges": "bytes", "ETag": f'"{etag}"'})
        if status == 206:
            response.headers["Content-Range"] = f"bytes {start}-{stop - 1}/{size}"
        response.content_length = stop - start
        await self._plumbing.hold(request)
        limit = self._plumbing.truncate_after(request)
        await response.prepare(request)
        sent = 0
        for chunk in blob.chunks(start, stop):
            if limit is not None and sent + len(chunk) >= limit:
                await response.write(chunk[:limit - sent])
                cut(request)
                return response
            await response.write(chunk)
            sent += len(chunk)
        await response.write_eof()
        return response


def _byte_range(header: str, size: int) -> tuple[int, int] | None:
    """``[start, stop)`` for one ``bytes=`` range (``a-b``, ``a-`` or ``-n``), or ``None``
    when it cannot be satisfied. Several ranges at once are not supported (S3 neither)."""
    unit, _, spec = header.partition("=")
    first, dash, last = spec.strip().partition("-")
    if unit.strip() != "bytes" or not dash or "," in spec:
        return None
    try:
        if not first:
            start, stop = max(0, size - int(last)), size
        else:
            start = int(first)
            stop = min(size, int(last) + 1) if last else size
    except ValueError:
        return None
    return (start, stop) if 0 <= start < stop else None
