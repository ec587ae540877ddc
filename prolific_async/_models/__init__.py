"""attrs models of the AI Task Builder API, one module per area."""

from .batches import (
    Batch,
    BatchColumn,
    BatchDatasetRef,
    BatchPage,
    BatchRow,
    BatchStatus,
    BatchSync,
    ReportLink,
    SyncStatus,
    one_page,
)
from .bonuses import BonusPayment
from .collections import Collection, CollectionPage
from .common import OpenEnum, StatusSnapshot, TaskDetails
from .datasets import (
    Dataset,
    DatasetImport,
    DatasetSchema,
    DatasetStatus,
    ImportRecordError,
    ImportStatus,
    SchemaField,
    UploadURL,
)
from .exports import ExportJob, ExportStatus
from .instructions import (
    ITEM_TYPES,
    ContentFormat,
    DatasetField,
    FileUpload,
    FreeText,
    FreeTextWithUnit,
    Image,
    Instruction,
    InstructionType,
    Item,
    MultipleChoice,
    MultipleChoiceWithFreeText,
    Option,
    RichText,
    UnitOption,
    UnknownItem,
    Validation,
)
from .responses import Answer, AnswerValue, ResponseBody, TaskResponse
from .studies import (
    AccessDetail,
    CompletionAction,
    CompletionActionType,
    CompletionCode,
    CompletionCodeType,
    DataCollectionMetadata,
    DataCollectionMethod,
    Study,
    StudyAction,
    StudyCreate,
    StudyFilter,
    StudyStatus,
    SubmissionsConfig,
)
from .submissions import BulkApproval, RejectionCategory, Submission, SubmissionStatus

__all__ = [
    "Answer", "AnswerValue", "Batch", "BatchColumn", "BatchDatasetRef", "BatchPage", "BatchRow",
    "BatchStatus", "BatchSync", "Collection", "CollectionPage", "ContentFormat",
    "DataCollectionMetadata", "DataCollectionMethod", "Dataset", "DatasetField", "DatasetImport",
    "DatasetSchema", "DatasetStatus", "ExportJob", "ExportStatus", "FileUpload", "FreeText",
    "FreeTextWithUnit", "ITEM_TYPES", "Image", "ImportRecordError", "ImportStatus",
    "Instruction", "InstructionType", "Item", "MultipleChoice", "MultipleChoiceWithFreeText",
    "OpenEnum", "Option", "ReportLink", "ResponseBody", "RichText", "SchemaField",
    "StatusSnapshot", "Study", "StudyAction", "StudyCreate", "StudyStatus", "SyncStatus",
    "TaskDetails", "TaskResponse",
    "UnitOption", "UnknownItem", "UploadURL", "Validation",
    "AccessDetail", "CompletionAction", "CompletionActionType", "CompletionCode",
    "CompletionCodeType", "StudyFilter", "SubmissionsConfig", "one_page",
    "BonusPayment", "BulkApproval", "RejectionCategory", "Submission", "SubmissionStatus",
]
