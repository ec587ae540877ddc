"""Orchestration: many `BatchPlan` s driven through their whole lifecycle at once.

`orchestrate` runs the plans (`_run`), each through the stages of `_pipeline` (whose
docstring says what each stage can leave behind after a crash, and why), optionally with a
`_journal` that makes a rerun resume. `load_plans` reads plans from a TOML file (`_planfile`).
"""

from ._events import EventKind, PipelineEvent, PlanResult, Stage
from ._journal import JournalInUseError, PlanChangedError
from ._pipeline import PlanCancelled
from ._plan import BatchPlan, ExistingDataset, StudyPlan
from ._planfile import PlanFileError, load_plans
from ._run import Run, orchestrate

__all__ = [
    "BatchPlan", "EventKind", "ExistingDataset", "JournalInUseError", "PipelineEvent",
    "PlanCancelled", "PlanChangedError", "PlanFileError", "PlanResult", "Run", "Stage",
    "StudyPlan", "load_plans", "orchestrate",
]
