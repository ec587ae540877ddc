"""Orchestration: many `BatchPlan` s driven through their whole lifecycle at once.

`orchestrate` runs the plans (`_run`), each through the table of stages in `_stages` (what
each creates, how it is found on the server, what it can leave behind) driven by the runner
in `_pipeline`, looking first at what the server holds (`_survey`, `_reconcile`), optionally
with a `_journal` that saves requests on a rerun. `load_plans` reads plans from a TOML file
(`_planfile`). An ``on_stage`` hook (`_stage_hook`) runs around each plan and stage (spans).
A journal is a SQLite file or, shared by many workers, PostgreSQL (`_journal_api` says what
every journal does, `_leases` how workers share plans, `_journal_pg` how PostgreSQL does it).
"""

from ._events import EventKind, PipelineEvent, PlanResult, Stage
from ._feeding import Feed
from ._journal import JournalInUseError, PlanChangedError
from ._journal_api import journal_status
from ._leases import JournalStatus, LeaseLostError, PlanLeasedError, PlanStatus, WorkerStatus
from ._pipeline import PlanCancelled
from ._plan import BatchPlan, ExistingDataset, StudyPlan
from ._planfile import PlanFileError, load_plans
from ._run import Run, orchestrate
from ._stage_hook import StageHook, StageOutcome, StageRun
from ._survey import DuplicateBatchesError

__all__ = [
    "BatchPlan", "DuplicateBatchesError", "EventKind", "ExistingDataset", "Feed",
    "JournalInUseError",
    "PipelineEvent",
    "PlanCancelled", "PlanChangedError", "PlanFileError", "PlanResult", "Run", "Stage",
    "StudyPlan", "load_plans", "orchestrate",
    # many workers
    "JournalStatus", "LeaseLostError", "PlanLeasedError", "PlanStatus", "WorkerStatus",
    "journal_status",
    # tracing a run
    "StageHook", "StageOutcome", "StageRun",
]
