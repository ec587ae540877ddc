"""The SDK's public names that orchestration uses, imported from the modules that define
them (not from the package face, which imports orchestration: no import-order tricks).

Orchestration is written against the public API, as a user's program would be, so every
name here must also be exported by ``prolific_async`` (``tests/test_import_graph.py``
checks it). The modules say ``from . import _sdk as pa`` and read like user code.
"""

from .._client import Prolific
from .._config import PollPolicy
from .._errors import (
    ConfigurationError,
    InternalServerError,
    NotDownloadableError,
    NotFoundError,
    OutcomeUnknownError,
    ProlificError,
    RequestInfo,
)
from .._hooks import HookReceiver
from .._models.batches import Batch, BatchPage, BatchStatus, one_page
from .._models.bonuses import DEFAULT_MAX_BONUS, BonusPayment
from .._models.common import TaskDetails
from .._models.datasets import DatasetSchema, DatasetStatus
from .._models.exports import ExportJob, ExportStatus
from .._models.instructions import (
    DatasetField,
    FileUpload,
    FreeText,
    FreeTextWithUnit,
    Image,
    Item,
    MultipleChoice,
    MultipleChoiceWithFreeText,
    RichText,
)
from .._models.responses import TaskResponse
from .._models.studies import (
    CompletionCode,
    CompletionCodeType,
    DataCollectionMetadata,
    Study,
    StudyCreate,
    StudyFilter,
    StudyStatus,
)
from .._models.submissions import Approve, Reject, Submission, SubmissionStatus
from .._watch import Transition, Watch, job_started_at

__all__ = [
    "Batch", "BatchPage", "BatchStatus", "CompletionCode", "CompletionCodeType",
    "ConfigurationError", "DataCollectionMetadata", "DatasetField", "DatasetSchema",
    "DatasetStatus", "ExportJob", "ExportStatus", "FileUpload", "FreeText", "FreeTextWithUnit",
    "HookReceiver", "Image", "InternalServerError", "Item", "MultipleChoice",
    "MultipleChoiceWithFreeText",
    "NotDownloadableError", "NotFoundError", "OutcomeUnknownError", "PollPolicy", "Prolific",
    "ProlificError",
    "RequestInfo", "RichText", "Study", "StudyCreate", "StudyFilter",
    "StudyStatus", "TaskDetails", "Transition", "Watch", "one_page",
    "Approve", "BonusPayment", "DEFAULT_MAX_BONUS", "Reject", "Submission", "SubmissionStatus",
    "TaskResponse", "job_started_at",
]
