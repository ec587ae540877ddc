"""Pins the public surface: a name added or removed here is a decision, not an accident."""

from __future__ import annotations

import prolific_async as pa
import prolific_async.testing as testing


def test_all_names_exist_and_are_unique() -> None:
    assert len(pa.__all__) == len(set(pa.__all__))
    for name in pa.__all__:
        assert hasattr(pa, name), name


def test_public_names() -> None:
    expected = {
        "Prolific", "DEFAULT_BASE_URL", "PollPolicy", "RetryPolicy", "Timeouts", "UNSET",
        "__version__", "Transition", "Category", "StatusSnapshot", "watch_many",
        "Watch", "WatchFailure", "job_started_at",
        "ProlificError", "ConfigurationError", "ClientClosedError", "APIConnectionError",
        "APITimeoutError", "APIStatusError", "BadRequestError", "AuthenticationError",
        "PermissionDeniedError", "NotFoundError", "ConflictError", "UnprocessableEntityError",
        "RateLimitError", "InternalServerError", "StorageError", "PollError", "ResourceFailed",
        "PollTimeout", "BatchItemIssue", "RequestInfo", "UnexpectedResponseError",
        "Answer", "Batch", "BatchColumn", "BatchDatasetRef", "BatchPage", "BatchRow",
        "BatchStatus", "BatchSync", "Collection", "CollectionPage", "ContentFormat",
        "DataCollectionMetadata", "DataCollectionMethod", "Dataset", "DatasetField",
        "DatasetImport", "DatasetSchema", "DatasetStatus", "ExportJob", "ExportStatus",
        "FileUpload", "FreeText", "FreeTextWithUnit", "Image", "ImportRecordError",
        "ImportStatus", "Instruction", "InstructionType", "Item", "MultipleChoice",
        "MultipleChoiceWithFreeText", "Option", "ReportLink", "ResponseBody", "RichText",
        "SchemaField", "Study", "StudyAction", "StudyCreate", "StudyStatus", "SyncStatus",
        "TaskDetails", "TaskResponse", "UnitOption", "UnknownItem", "UploadURL", "Validation",
        # the foundation fixes
        "RequestEvent", "RequestHook", "NotDownloadableError",
        "ClientStats", "OutcomeUnknownError", "JobNotStarted", "to_json", "from_json",
        "AccessDetail", "CompletionAction", "CompletionActionType", "CompletionCode",
        "CompletionCodeType", "StudyFilter", "SubmissionsConfig", "one_page",
        # orchestration
        "BatchPlan", "StudyPlan", "ExistingDataset", "Stage", "EventKind", "PipelineEvent",
        "PlanResult", "Run", "orchestrate", "load_plans", "JournalInUseError",
        "PlanChangedError", "PlanFileError", "PlanCancelled", "DuplicateBatchesError", "StudyCost",
        # getting the data out
        "ExportArchive", "ArchiveError", "ExportInfo", "ExportInstruction", "SubmissionRecord",
        "TaskRecord", "TaskSubmission", "ResponseValue", "FreeTextValue",
        "FreeTextWithUnitValue", "MultipleChoiceValue", "MultipleChoiceWithFreeTextValue",
        "ExplainedChoice", "FileUploadValue", "UploadedFile", "UnknownValue", "ProgressCallback",
        # reviewing and paying
        "Submission", "SubmissionStatus", "RejectionCategory", "BulkApproval", "BonusPayment",
        "Approve", "Reject", "DEFAULT_MAX_BONUS",
        # webhooks
        "HookAnswer", "HookDelivery", "HookDeliveryStatus", "HookEvent", "HookEventType",
        "HookEventTypeInfo", "HookReceiver", "HookSecret", "HookSubscription", "Secret",
        "SignatureError", "verify_signature",
        # V4 datasets and feeds
        "AppendResult", "BatchFeed", "FeedResult", "MigrationStatus", "Rejection",
        "SchemaMigration", "Feed",
        # many workers
        "JournalStatus", "LeaseLostError", "PlanLeasedError", "PlanStatus", "WorkerStatus",
        "journal_status",
        # tracing a run
        "StageHook", "StageOutcome", "StageRun",
    }
    assert set(pa.__all__) == expected


def test_testing_names() -> None:
    assert set(testing.__all__) == {"FakeClock", "FakeProlific", "Fault", "RecordedRequest"}


def test_error_tree() -> None:
    assert issubclass(pa.APITimeoutError, pa.APIConnectionError)
    for error in (pa.BadRequestError, pa.AuthenticationError, pa.PermissionDeniedError,
                  pa.NotFoundError, pa.ConflictError, pa.UnprocessableEntityError,
                  pa.RateLimitError, pa.InternalServerError):
        assert issubclass(error, pa.APIStatusError)
    assert issubclass(pa.OutcomeUnknownError, pa.APIConnectionError)
    assert issubclass(pa.JobNotStarted, pa.PollError)
    assert issubclass(pa.ResourceFailed, pa.PollError)
    assert issubclass(pa.PollTimeout, pa.PollError)
    for error in (pa.APIConnectionError, pa.APIStatusError, pa.PollError, pa.StorageError,
                  pa.ConfigurationError, pa.ClientClosedError, pa.UnexpectedResponseError,
                  pa.ArchiveError):
        assert issubclass(error, pa.ProlificError)
