"""The exceptions prolific_async raises.

    ProlificError
    ├── ConfigurationError              no token, bad base URL, ...
    ├── ClientClosedError               the client is not open (outside ``async with``, closed)
    ├── APIConnectionError              the request did not get an HTTP answer
    │   ├── APITimeoutError
    │   └── OutcomeUnknownError         a creating request was sent, its answer lost: the
    │                                   server may have acted (look before creating again)
    ├── APIStatusError                  the API answered with an error status
    │   ├── BadRequestError             400
    │   ├── AuthenticationError         401
    │   ├── PermissionDeniedError       403
    │   ├── NotFoundError               404
    │   ├── ConflictError               409
    │   ├── UnprocessableEntityError    422 (``issues`` holds INVALID_BATCH_ITEMS entries)
    │   ├── RateLimitError              429
    │   └── InternalServerError         5xx
    ├── UnexpectedResponseError         a 2xx answer whose body does not fit the model, is
    │                                   too large, or is nested too deeply
    ├── StorageError                    a presigned upload/download URL answered with an error
    │                                   (or is not https)
    ├── NotDownloadableError            an export or report has no id or URL to follow yet
    ├── ArchiveError                    an export ZIP is damaged or unsafe to extract
    ├── SignatureError                  a webhook delivery is unsigned, badly signed or stale
    ├── PollError
    │   ├── ResourceFailed              the job ended in ERROR / failed
    │   ├── JobNotStarted               the job was never started (no upload, no setup)
    │   └── PollTimeout                 the deadline passed; carries a resume token
    └── (orchestration, prolific_async.orchestration)
        ├── PlanFileError               a plan file cannot be read (names the file, plan, field)
        ├── PlanChangedError            a journal's plan differs from the plan given now
        ├── JournalInUseError           another run holds the journal
        └── PlanCancelled               the plan stopped because its run was cancelled

Timeouts are `APITimeoutError` (one attempt ran past ``Timeouts``) or `PollTimeout` (a
watch's deadline); a retried call raises the error of its last attempt.

Every message is one readable line. Bodies are kept whole on ``.body`` but truncated in messages.
"""

from __future__ import annotations

import json
import re
from typing import Any

import attrs

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "ArchiveError",
    "AuthenticationError",
    "BadRequestError",
    "BatchItemIssue",
    "ClientClosedError",
    "ConfigurationError",
    "ConflictError",
    "InternalServerError",
    "JobNotStarted",
    "NotDownloadableError",
    "NotFoundError",
    "OutcomeUnknownError",
    "PermissionDeniedError",
    "PollError",
    "PollTimeout",
    "ProlificError",
    "RateLimitError",
    "RequestInfo",
    "ResourceFailed",
    "SignatureError",
    "StorageError",
    "UnexpectedResponseError",
    "UnprocessableEntityError",
]

#: The CLI cuts error details at 500 characters (DCT-285); we do the same in messages.
MAX_MESSAGE_DETAIL = 500


class ProlificError(Exception):
    """Base class of every error raised by prolific_async."""


class ConfigurationError(ProlificError, ValueError):
    """The client was configured wrongly (no token, bad URL, ...)."""


class ClientClosedError(ProlificError, RuntimeError):
    """A request was made while the client was not open."""


class SignatureError(ProlificError, ValueError):
    """A webhook delivery failed verification: a signature or timestamp header is missing,
    the signature does not match the body, or the timestamp is outside the tolerance.

    Example::

        try:
            pa.verify_signature(body, timestamp, signature, secret)
        except pa.SignatureError as exc:
            return 401, str(exc)
    """


@attrs.frozen
class RequestInfo:
    """What was asked: method and URL, never headers (they carry the token)."""

    method: str
    url: str

    def __str__(self) -> str:
        return f"{self.method} {self.url}"


class APIConnectionError(ProlificError):
    """The request got no HTTP answer (refused, reset, DNS, TLS ...)."""

    def __init__(self, message: str, *, request: RequestInfo) -> None:
        super().__init__(message)
        self.request = request


class APITimeoutError(APIConnectionError):
    """The request timed out."""


class OutcomeUnknownError(APIConnectionError):
    """A request that creates something was sent, and its answer never came.

    The connection dropped (or timed out) after the request left, so the server may have
    carried it out: the batch, study or dataset may now exist, the study may be published.
    It is not retried, since repeating it could create a second one. Look before acting
    again: find the batch by name (``client.batches.find(name, workspace_id=...)``), the
    study by its batch (``client.studies.list(data_collection_id=...)``), or re-read the
    study before publishing. ``request`` names the call and ``body_summary`` what was sent.

    Example::

        try:
            batch = await client.batches.create(name="reviews-1", ...)
        except prolific_async.OutcomeUnknownError:
            batch = await client.batches.find("reviews-1", workspace_id=WS)
    """

    def __init__(self, message: str, *, request: RequestInfo, body_summary: str = "") -> None:
        super().__init__(message, request=request)
        self.body_summary = body_summary


@attrs.frozen
class BatchItemIssue:
    """One entry of an ``INVALID_BATCH_ITEMS`` error (indices are zero-based)."""

    page: int | None = None
    row: int | None = None
    column: int | None = None
    item: int | None = None
    type: str | None = None
    field: str | None = None
    message: str = ""

    def __str__(self) -> str:
        where = ", ".join(
            f"{label} {value}"
            for label, value in (
                ("Page", self.page),
                ("Row", self.row),
                ("Column", self.column),
                ("Item", self.item),
            )
            if value is not None
        )
        kind = f" ({self.type})" if self.type else ""
        field = f' "{self.field}"' if self.field else ""
        return f"{where}{kind}{field}: {self.message}"


class APIStatusError(ProlificError):
    """The API answered with a status of 400 or more.

    ``status_code``, the parsed ``body`` (or the text when it was not JSON), a one-line
    ``detail`` and the ``request`` that was made are all available::

        try:
            await client.batches.get(batch_id)
        except prolific_async.NotFoundError as exc:
            print(exc.status_code, exc.detail)
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        body: Any,
        detail: str,
        request: RequestInfo,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.body = body
        self.detail = detail
        self.request = request
        self.headers: dict[str, str] = headers or {}

    #: The server's ``Retry-After``, in seconds, when it sent one.
    retry_after: float | None = None


class BadRequestError(APIStatusError):
    """400: the request was malformed or a field is invalid (``detail`` says which)."""


class AuthenticationError(APIStatusError):
    """401: no token, or a wrong one (check ``PROLIFIC_TOKEN``)."""


class PermissionDeniedError(APIStatusError):
    """403: the token may not do this (another workspace, a role)."""


class NotFoundError(APIStatusError):
    """404: no such batch, dataset, study ... (check the id)."""


class ConflictError(APIStatusError):
    """409: the resource is in a state that forbids this (e.g. a generating export)."""


class UnprocessableEntityError(APIStatusError):
    """422; for an ``INVALID_BATCH_ITEMS`` body, ``issues`` lists what is wrong and where."""

    @property
    def issues(self) -> list[BatchItemIssue]:
        return _batch_item_issues(self.body) or []


class RateLimitError(APIStatusError):
    """429; ``retry_after`` is the server's hint in seconds, when it gave one."""


class InternalServerError(APIStatusError):
    """5xx: the server failed; retried for you when that is safe."""


class UnexpectedResponseError(ProlificError):
    """The API answered 2xx with a body this SDK cannot read as the documented model.

    ``body`` is what came back; the message names the call and what did not fit.
    """

    def __init__(self, message: str, *, body: Any, request: RequestInfo) -> None:
        super().__init__(message)
        self.body = body
        self.request = request


class StorageError(ProlificError):
    """A presigned storage URL (upload, export, report) answered with an error, or was
    refused before sending (not https). ``retry_after`` is the storage host's hint."""

    def __init__(self, message: str, *, status_code: int | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.retry_after = retry_after


class NotDownloadableError(ProlificError):
    """There is nothing to download yet: an export job with no id to follow or no URL, an
    export not complete, a batch with no report. Not a storage answer: nothing was sent to
    storage.

    Example::

        try:
            await client.batches.download_export(batch_id, export_id, "out/")
        except pa.NotDownloadableError:
            await client.batches.wait_export(batch_id, export_id)
    """


class ArchiveError(ProlificError):
    """An export archive could not be read, or could not be extracted safely.

    ``member`` and ``line`` (1-based) say where, when it is about one member::

        try:
            records = list(archive.submissions())
        except pa.ArchiveError as exc:
            print(exc.member, exc.line, exc)
    """

    def __init__(self, message: str, *, member: str | None = None,
                 line: int | None = None) -> None:
        super().__init__(message)
        self.member = member
        self.line = line


class PollError(ProlificError):
    """Base class of errors raised while watching an asynchronous job."""


class ResourceFailed(PollError):
    """The watched job ended in ERROR / failed. ``snapshot`` is the last thing the API said."""

    def __init__(self, message: str, *, kind: str, resource_id: str, status: str, snapshot: Any):
        super().__init__(message)
        self.kind = kind
        self.resource_id = resource_id
        self.status = status
        self.snapshot = snapshot


class JobNotStarted(PollError):
    """A watch found a job that was never started: waiting would not help.

    A dataset with nothing uploaded, a batch never set up. The message names the missing
    call (``client.datasets.upload``, ``client.batches.setup``).
    """

    def __init__(self, message: str, *, kind: str, resource_id: str, status: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.resource_id = resource_id
        self.status = status


class PollTimeout(PollError, TimeoutError):
    """The deadline passed before the job finished.

    ``last_status`` is the last status seen, ``resume_token`` a small JSON-serialisable dict
    that ``client.resume(token)`` turns back into a watch, in this process or another.
    """

    def __init__(
        self, message: str, *, kind: str, resource_id: str, last_status: str | None,
        resume_token: dict[str, Any],
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.resource_id = resource_id
        self.last_status = last_status
        self.resume_token = resume_token


_BY_STATUS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}

#: Answers worth asking again: the server was overloaded or a proxy failed.
TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})


def is_transient(error: BaseException) -> bool:
    """Whether asking again later may succeed: no answer at all, 429, or a failing server
    (the API's or storage's). A lost answer to a create (`OutcomeUnknownError`) is not:
    asking again could create twice.

    The one definition the retries of API calls and transfers and the pollers' tolerance use.
    """
    if isinstance(error, APIConnectionError):
        return not isinstance(error, OutcomeUnknownError)
    return (isinstance(error, (APIStatusError, StorageError))
            and error.status_code in TRANSIENT_STATUSES)


def is_paced_refusal(error: BaseException) -> bool:
    """Whether ``error`` is a 429 that says when to come back (``Retry-After``): the server
    provably did not act, and it sets the pace. Retrying it spends no retry budget and a poll
    does not count it as an error in a row (the budget and that count are there against
    retry storms and failing servers; the client's paced gate prevents the storm)."""
    return (isinstance(error, APIStatusError) and error.status_code == 429
            and error.retry_after is not None)


_TAG = re.compile(r"<(script|style)\b.*?</\1>|<[^>]+>", re.IGNORECASE | re.DOTALL)
_SPACE = re.compile(r"\s+")


def truncate(text: str, limit: int = MAX_MESSAGE_DETAIL) -> str:
    text = _SPACE.sub(" ", text).strip()
    if len(text) <= limit:
        return text
    return text[: limit - 1] + "…"


def _batch_item_issues(body: Any) -> list[BatchItemIssue] | None:
    if not (isinstance(body, dict) and body.get("type") == "INVALID_BATCH_ITEMS"):
        return None
    issues = []
    for raw in body.get("issues") or []:
        if isinstance(raw, dict):
            fields = attrs.fields_dict(BatchItemIssue)
            issues.append(BatchItemIssue(**{k: v for k, v in raw.items() if k in fields}))
    return issues


def _flatten(detail: Any) -> str:
    """A ``detail`` may be a string, a list of strings or ``{field: [messages]}``."""
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list):
        return "; ".join(_flatten(d) for d in detail)
    if isinstance(detail, dict):
        return "; ".join(f"{key}: {_flatten(value)}" for key, value in detail.items())
    return json.dumps(detail)


def describe_body(body: Any) -> str:
    """One readable line for any of the documented error-body shapes (REFERENCE §6)."""
    if isinstance(body, dict):
        issues = _batch_item_issues(body)
        if issues is not None:
            return "invalid batch items: " + "; ".join(str(i) for i in issues)
        error = body.get("error")
        if isinstance(error, dict):
            parts = [str(error["title"])] if error.get("title") else []
            if error.get("detail") not in (None, ""):
                parts.append(_flatten(error["detail"]))
            if error.get("additional_information"):
                parts.append(str(error["additional_information"]))
            return ": ".join(parts) or json.dumps(error)
        if "message" in body and "detail" in body:
            return f"{body['message']}: {_flatten(body['detail'])}"
        if "detail" in body:
            return _flatten(body["detail"])
        if "message" in body:
            prefix = f"{body['type']}: " if isinstance(body.get("type"), str) else ""
            return prefix + _flatten(body["message"])
        return json.dumps(body)
    if isinstance(body, str):
        return _TAG.sub(" ", body)
    return "" if body is None else json.dumps(body)


def error_for_status(
    status_code: int,
    reason: str,
    body: Any,
    request: RequestInfo,
    headers: dict[str, str] | None = None,
) -> APIStatusError:
    """Build the right `APIStatusError` subclass for an error answer."""
    cls = _BY_STATUS.get(status_code)
    if cls is None:
        cls = InternalServerError if status_code >= 500 else APIStatusError
    detail = truncate(describe_body(body)) or reason
    # A body whose title is the reason again ("Bad Request: ...") must not read it twice.
    said = detail if detail.lower().startswith(reason.lower()) else f"{reason}: {detail}"
    message = f"{status_code} {said} ({request})"
    return cls(
        message, status_code=status_code, body=body, detail=detail, request=request,
        headers=headers,
    )
