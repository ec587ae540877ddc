"""Export jobs: a ZIP of every response, generated out of band."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import attrs

from .common import OpenEnum, mask_url

__all__ = ["ExportJob", "ExportStatus"]


class ExportStatus(OpenEnum):
    """An export job's status: ``generating`` → ``complete`` or ``failed``."""

    GENERATING = "generating"
    COMPLETE = "complete"
    FAILED = "failed"


@attrs.frozen(kw_only=True)
class ExportJob:
    """An export request or its status.

    ``complete`` carries a presigned ``url`` valid until ``expires_at``; polling the job again
    refreshes an expired URL. A ``failed`` job is never retried by the server: request a new one.
    """

    status: ExportStatus
    export_id: str | None = None
    url: str | None = attrs.field(default=None, repr=mask_url)
    expires_at: datetime | None = None
    created_at: datetime | None = None
    filter: dict[str, Any] | None = None
