"""prolific_async: an async SDK for Prolific's AI Task Builder API.

Example::

    import prolific_async as pa

    async with pa.Prolific() as client:
        batch = await client.batches.wait_ready(batch_id)
"""

from ._client import DEFAULT_BASE_URL, Prolific
from ._config import PollPolicy, RetryPolicy, Timeouts
from ._errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    BatchItemIssue,
    ClientClosedError,
    ConfigurationError,
    ConflictError,
    InternalServerError,
    JobNotStarted,
    NotFoundError,
    OutcomeUnknownError,
    PermissionDeniedError,
    PollError,
    PollTimeout,
    ProlificError,
    RateLimitError,
    RequestInfo,
    ResourceFailed,
    StorageError,
    UnexpectedResponseError,
    UnprocessableEntityError,
)
from ._fanin import WatchFailure, watch_many
from ._jobs import Category
from ._json import from_json, to_json
from ._models import (
    Answer,
    Batch,
    BatchColumn,
    BatchDatasetRef,
    BatchPage,
    BatchRow,
    BatchStatus,
    BatchSync,
    Collection,
    CollectionPage,
    ContentFormat,
    DataCollectionMetadata,
    DataCollectionMethod,
    Dataset,
    DatasetField,
    DatasetImport,
    DatasetSchema,
    DatasetStatus,
    ExportJob,
    ExportStatus,
    FileUpload,
    FreeText,
    FreeTextWithUnit,
    Image,
    ImportRecordError,
    ImportStatus,
    Instruction,
    InstructionType,
    Item,
    MultipleChoice,
    MultipleChoiceWithFreeText,
    Option,
    ReportLink,
    ResponseBody,
    RichText,
    SchemaField,
    StatusSnapshot,
    Study,
    StudyAction,
    StudyCreate,
    StudyStatus,
    SyncStatus,
    TaskDetails,
    TaskResponse,
    UnitOption,
    UnknownItem,
    UploadURL,
    Validation,
)

# -- study sub-structures and the one-page layout helper (models) --
from ._models.batches import one_page
from ._models.studies import (
    AccessDetail,
    CompletionAction,
    CompletionActionType,
    CompletionCode,
    CompletionCodeType,
    StudyCost,
    StudyFilter,
    SubmissionsConfig,
)
from ._stats import ClientStats
from ._types import UNSET
from ._version import __version__
from ._watch import Transition, Watch

# isort: split
# Getting the data out: typed answers, export archives, download progress.
from ._download import ProgressCallback
from ._models.responses import (
    ExplainedChoice,
    ExportInfo,
    ExportInstruction,
    FileUploadValue,
    FreeTextValue,
    FreeTextWithUnitValue,
    MultipleChoiceValue,
    MultipleChoiceWithFreeTextValue,
    ResponseValue,
    SubmissionRecord,
    TaskRecord,
    TaskSubmission,
    UnknownValue,
    UploadedFile,
)
from .archive import ArchiveError, ExportArchive

# -- orchestration (built on the private modules directly; see orchestration/_sdk.py) ----------
from .orchestration import (
    BatchPlan,
    DuplicateBatchesError,
    EventKind,
    ExistingDataset,
    JournalInUseError,
    PipelineEvent,
    PlanCancelled,
    PlanChangedError,
    PlanFileError,
    PlanResult,
    Run,
    Stage,
    StudyPlan,
    load_plans,
    orchestrate,
)

__all__ = [
    # the client and its configuration
    "Prolific", "DEFAULT_BASE_URL", "PollPolicy", "RetryPolicy", "Timeouts", "UNSET",
    "ClientStats", "to_json", "from_json",
    "__version__",
    # watching jobs
    "Transition", "Category", "StatusSnapshot", "Watch", "WatchFailure", "watch_many",
    # errors
    "ProlificError", "ConfigurationError", "ClientClosedError", "APIConnectionError",
    "APITimeoutError", "OutcomeUnknownError", "APIStatusError", "BadRequestError",
    "AuthenticationError",
    "PermissionDeniedError", "NotFoundError", "ConflictError", "UnprocessableEntityError",
    "RateLimitError", "InternalServerError", "StorageError", "PollError", "ResourceFailed",
    "JobNotStarted", "PollTimeout", "BatchItemIssue", "RequestInfo", "UnexpectedResponseError",
    # models
    "Answer", "Batch", "BatchColumn", "BatchDatasetRef", "BatchPage", "BatchRow", "BatchStatus",
    "BatchSync", "Collection", "CollectionPage", "ContentFormat", "DataCollectionMetadata",
    "DataCollectionMethod", "Dataset", "DatasetField", "DatasetImport", "DatasetSchema",
    "DatasetStatus", "ExportJob", "ExportStatus", "FileUpload", "FreeText", "FreeTextWithUnit",
    "Image", "ImportRecordError", "ImportStatus", "Instruction", "InstructionType", "Item",
    "MultipleChoice", "MultipleChoiceWithFreeText", "Option", "ReportLink", "ResponseBody",
    "RichText", "SchemaField", "Study", "StudyAction", "StudyCreate", "StudyStatus",
    "SyncStatus", "TaskDetails", "TaskResponse", "UnitOption", "UnknownItem", "UploadURL",
    "Validation",
    # study sub-structures and the one-page layout helper
    "AccessDetail", "CompletionAction", "CompletionActionType", "CompletionCode",
    "CompletionCodeType", "StudyFilter", "SubmissionsConfig", "one_page",
    # orchestration
    "BatchPlan", "StudyPlan", "ExistingDataset", "Stage", "EventKind", "PipelineEvent",
    "PlanResult", "Run", "orchestrate", "load_plans", "JournalInUseError", "PlanChangedError",
    "PlanFileError", "PlanCancelled",
]

__all__ += [
    # getting the data out: typed answers, export archives, download progress
    "ExportArchive", "ArchiveError", "ExportInfo", "ExportInstruction", "SubmissionRecord",
    "TaskRecord", "TaskSubmission", "ResponseValue", "FreeTextValue", "FreeTextWithUnitValue",
    "MultipleChoiceValue", "MultipleChoiceWithFreeTextValue", "ExplainedChoice",
    "FileUploadValue", "UploadedFile", "UnknownValue", "ProgressCallback",
]

__all__ += ["DuplicateBatchesError", "StudyCost"]

# -- webhooks: verified, deduplicated deliveries that wake the study watches ------------------
from ._errors import SignatureError  # noqa: E402
from ._hooks import HookAnswer, HookReceiver, verify_signature  # noqa: E402
from ._models.hooks import (  # noqa: E402
    HookDelivery,
    HookDeliveryStatus,
    HookEvent,
    HookEventType,
    HookEventTypeInfo,
    HookSecret,
    HookSubscription,
)
from ._secret import Secret  # noqa: E402

__all__ += [
    "HookAnswer", "HookDelivery", "HookDeliveryStatus", "HookEvent", "HookEventType",
    "HookEventTypeInfo", "HookReceiver", "HookSecret", "HookSubscription", "Secret",
    "SignatureError", "verify_signature",
]
