"""``client.studies``: the study endpoints used with AI Task Builder."""

from __future__ import annotations

from .._config import PollPolicy
from .._converter import converter
from .._models.studies import Study, StudyAction, StudyCreate
from .._polling import Watch, WatchSpec
from ._base import Resource, segment

__all__ = ["Studies"]

_STUDIES = "/api/v1/studies"


class Studies(Resource):
    """Publishing a study spends real money on the real API.

    Example::

        study = await client.studies.create(pa.StudyCreate(
            name="Rate responses", description="…", data_collection_id=batch.id,
            reward=100, total_available_places=20, estimated_completion_time=5))
        await client.studies.publish(study.id)
    """

    async def create(self, study: StudyCreate) -> Study:
        if not isinstance(study, StudyCreate):
            raise TypeError(f"study must be a StudyCreate, got {type(study).__name__}")
        if study.data_collection_id is not None:
            segment("data_collection_id", study.data_collection_id)
        created: Study = await self._call(
            "POST", f"{_STUDIES}/", Study, json_body=converter.unstructure(study),
            retry="unsent",
        )
        return created

    async def get(self, study_id: str) -> Study:
        study: Study = await self._call("GET", f"{_STUDIES}/{segment('study_id', study_id)}/",
                                        Study)
        return study

    async def transition(self, study_id: str, action: StudyAction | str) -> Study:
        """PUBLISH, PAUSE, START or STOP a study."""
        value = StudyAction(action)
        if not value.known:
            raise ValueError(f"action must be one of PUBLISH, PAUSE, START, STOP, got {action!r}")
        # Not retried after an ambiguous failure: publishing twice is not harmless.
        study: Study = await self._call(
            "POST", f"{_STUDIES}/{segment('study_id', study_id)}/transition/", Study,
            json_body={"action": value.value}, retry="unsent",
        )
        return study

    async def publish(self, study_id: str) -> Study:
        return await self.transition(study_id, StudyAction.PUBLISH)

    def watch(self, study_id: str, *, policy: PollPolicy | None = None) -> Watch[Study]:
        """Stream a study's status changes until it is AWAITING REVIEW or COMPLETED.

        Participants take minutes to days: give a ``policy`` with a long ``deadline`` and a
        ceiling of a minute or more on the real API.
        """
        return self._client._watch(self._study_spec(study_id), policy)

    def _study_spec(self, study_id: str) -> WatchSpec[Study]:
        return self._spec("study", (study_id,), f"{_STUDIES}/{segment('study_id', study_id)}/",
                          Study, lambda study: str(study.status))
