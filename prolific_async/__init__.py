"""prolific_async: an async SDK for Prolific's AI Task Builder API.

Example::

    import prolific_async as pa

    async with pa.Prolific() as client:
        batch = await client.batches.wait_ready(batch_id)
"""

# The core: each module's ``__all__`` is its public part, re-exported whole (as httpx does), so
# a public name is declared once, where it is defined.
from . import (
    _client,
    _config,
    _errors,
    _fanin,
    _jobs,
    _json,
    _observe,
    _stats,
    _types,
    _version,
    _watch,
)
from ._client import *
from ._config import *
from ._errors import *
from ._fanin import *
from ._jobs import *
from ._json import *
from ._observe import *
from ._stats import *
from ._types import *
from ._version import *
from ._watch import *

# isort: split
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
from .archive import ExportArchive

# isort: split
# Reviewing and paying: submissions, approvals, bonuses (amounts in minor units).
from ._models.bonuses import DEFAULT_MAX_BONUS, BonusPayment
from ._models.submissions import (
    Approve,
    BulkApproval,
    Reject,
    RejectionCategory,
    Submission,
    SubmissionStatus,
)

# isort: split
# V4 datasets: records as they come, schema migrations, a continuous feed into a live batch.
from ._feed import BatchFeed
from ._models.appends import (
    AppendResult,
    FeedResult,
    MigrationStatus,
    Rejection,
    SchemaMigration,
)

# -- orchestration (built on the private modules directly; see orchestration/_sdk.py) ----------
from .orchestration import (
    BatchPlan,
    DuplicateBatchesError,
    EventKind,
    ExistingDataset,
    Feed,
    JournalInUseError,
    JournalStatus,
    LeaseLostError,
    PipelineEvent,
    PlanCancelled,
    PlanChangedError,
    PlanFileError,
    PlanLeasedError,
    PlanResult,
    PlanStatus,
    Run,
    Stage,
    StageHook,
    StageOutcome,
    StageRun,
    StudyPlan,
    WorkerStatus,
    journal_status,
    load_plans,
    orchestrate,
)

__all__: list[str] = []
__all__ += _client.__all__
__all__ += _config.__all__
__all__ += _errors.__all__
__all__ += _fanin.__all__
__all__ += _jobs.__all__
__all__ += _json.__all__
__all__ += _observe.__all__
__all__ += _stats.__all__
__all__ += _types.__all__
__all__ += _version.__all__
__all__ += _watch.__all__
__all__ += [
    "StatusSnapshot",
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
    "PlanFileError", "PlanCancelled", "StageHook", "StageOutcome", "StageRun",
]

__all__ += [
    # getting the data out: typed answers, export archives, download progress
    "ExportArchive", "ExportInfo", "ExportInstruction", "SubmissionRecord",
    "TaskRecord", "TaskSubmission", "ResponseValue", "FreeTextValue", "FreeTextWithUnitValue",
    "MultipleChoiceValue", "MultipleChoiceWithFreeTextValue", "ExplainedChoice",
    "FileUploadValue", "UploadedFile", "UnknownValue", "ProgressCallback",
]

__all__ += ["DuplicateBatchesError", "StudyCost"]

__all__ += [
    # reviewing and paying
    "Submission", "SubmissionStatus", "RejectionCategory", "BulkApproval", "BonusPayment",
    "Approve", "Reject", "DEFAULT_MAX_BONUS",
]

# -- webhooks: verified, deduplicated deliveries that wake the study watches ------------------
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
    "verify_signature",  # SignatureError comes with the _errors module's names
]

__all__ += [
    # V4 datasets: records as they come, schema migrations, a continuous feed
    "AppendResult", "BatchFeed", "FeedResult", "MigrationStatus", "Rejection", "SchemaMigration",
    "Feed",
]

__all__ += [
    # many workers sharing a run through a PostgreSQL journal
    "JournalStatus", "LeaseLostError", "PlanLeasedError", "PlanStatus", "WorkerStatus",
    "journal_status",
]
