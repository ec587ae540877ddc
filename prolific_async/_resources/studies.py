"""``client.studies``: the study endpoints used with AI Task Builder."""

from __future__ import annotations

from .._config import PollPolicy
from .._converter import converter
from .._jobs import JobKind
from .._models.studies import Study, StudyAction, StudyCreate, StudyStatus
from .._watch import Watch, WatchSpec
from ._base import Resource, segment, watches

__all__ = ["STUDY", "Studies"]

_STUDIES = "/api/v1/studies"

STUDY = JobKind(
    "study",
    pending={StudyStatus.UNPUBLISHED, StudyStatus.SCHEDULED, StudyStatus.ACTIVE,
             StudyStatus.PAUSED},
    # Data collection is over once the study awaits review (or is completed).
    done={StudyStatus.AWAITING_REVIEW, StudyStatus.COMPLETED},
    failed=(),
)


class Studies(Resource):
    """Studies put a batch in front of participants. Publishing spends real money.

    Example::

        study = await client.studies.create(pa.StudyCreate(
            name="Rate responses", description="…", data_collection_id=batch.id,
            reward=100, total_available_places=20, estimated_completion_time=5))
        await client.studies.publish(study.id)
    """

    async def create(self, study: StudyCreate) -> Study:
        """Create a study (UNPUBLISHED) for a READY batch or a collection.

        Not repeated after a lost answer (`OutcomeUnknownError`): look for the study with
        ``list(data_collection_id=...)`` before creating another.
        """
        if not isinstance(study, StudyCreate):
            raise TypeError(f"study must be a StudyCreate, got {type(study).__name__}")
        if study.data_collection_id is not None:
            segment("data_collection_id", study.data_collection_id)
        created: Study = await self._call(
            "POST", f"{_STUDIES}/", Study, json_body=converter.unstructure(study),
            idempotent=False,
        )
        return created

    async def get(self, study_id: str) -> Study:
        """A study, with its current ``status``."""
        study: Study = await self._call("GET", f"{_STUDIES}/{segment('study_id', study_id)}/",
                                        Study)
        return study

    async def list(
        self, *, data_collection_id: str | None = None, state: str | None = None,
    ) -> list[Study]:
        """Your studies; ``state`` filters on the server (e.g. ``"(UNPUBLISHED|ACTIVE)"``),
        ``data_collection_id`` keeps those of one batch or collection.

        The API has no query parameter for the batch, so that filter is applied here; this
        is how to find the study of a batch whose create answer was lost.

        Example::

            [study] = await client.studies.list(data_collection_id=batch.id)
        """
        if data_collection_id is not None:
            segment("data_collection_id", data_collection_id)
        studies: list[Study] = await self._call(
            "GET", f"{_STUDIES}/", Study, rows=True,
            params={"state": state} if state is not None else None,
        )
        if data_collection_id is None:
            return studies
        return [s for s in studies if s.data_collection_id == data_collection_id]

    async def transition(self, study_id: str, action: StudyAction | str) -> Study:
        """PUBLISH, PAUSE, START or STOP a study.

        Not repeated after a lost answer (`OutcomeUnknownError`): publishing twice is not
        harmless, so re-read the study with `get` first.
        """
        value = StudyAction(action)
        if not value.known:
            raise ValueError(f"action must be one of PUBLISH, PAUSE, START, STOP, got {action!r}")
        study: Study = await self._call(
            "POST", f"{_STUDIES}/{segment('study_id', study_id)}/transition/", Study,
            json_body={"action": value.value}, idempotent=False,
        )
        return study

    async def publish(self, study_id: str) -> Study:
        """Publish a study: participants start, and money is spent on the real API."""
        return await self.transition(study_id, StudyAction.PUBLISH)

    def watch(
        self, study_id: str, *, poll: PollPolicy | None = None,
    ) -> Watch[Study]:
        """Stream a study's status changes until it is AWAITING REVIEW or COMPLETED.

        Participants take minutes to days: give a ``poll`` policy with a long ``deadline``
        and a ceiling of a minute or more on the real API.
        """
        return self._watch(self._study_spec(study_id), poll)

    @watches(STUDY)
    def _study_spec(self, study_id: str) -> WatchSpec[Study]:
        return self._spec(STUDY, (study_id,), f"{_STUDIES}/{segment('study_id', study_id)}/",
                          Study)
