"""The fake's S3-style storage host: presigned upload, export and report URLs.

Like S3 it refuses a request that carries an ``Authorization`` header beside the signature,
a bad signature, and an expired URL, each with an XML error body.
"""

from __future__ import annotations

import hashlib
import hmac

from aiohttp import web

from ._clock import FakeClock, iso
from ._server import Plumbing
from ._state import Upload, World

__all__ = ["Storage"]


class Storage:
    """The storage host: signs URLs for the API and serves the bytes behind them."""

    def __init__(self, *, world: World, clock: FakeClock, seed: int) -> None:
        self.world = world
        self.clock = clock
        self.url = ""
        self.uploads: dict[str, Upload] = {}  # by the key of their presigned PUT URL
        self._secret = hashlib.sha256(f"storage:{seed}".encode()).digest()
        world.presign = self.presign

    def app(self, plumbing: Plumbing) -> web.Application:
        app = web.Application(middlewares=[plumbing.middleware("storage")],
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

    async def _export(self, request: web.Request) -> web.Response:
        rejected = self._check_signature(request)
        if rejected is not None:
            return rejected
        owner = self.world.owners[request.match_info["owner_id"]]
        job = owner.exports[request.match_info["export_id"]]
        return web.Response(body=self.world.export_zip(owner, job),
                            content_type="application/zip")

    async def _report(self, request: web.Request) -> web.Response:
        rejected = self._check_signature(request)
        if rejected is not None:
            return rejected
        batch = self.world.owners[request.match_info["batch_id"]]
        return web.Response(text=self.world.report_csv(batch), content_type="text/csv")
