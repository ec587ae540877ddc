"""``client.studies``: the study endpoints used with AI Task Builder."""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from .._config import PollPolicy
from .._converter import converter
from .._jobs import Category, JobKind
from .._models.studies import Study, StudyAction, StudyCost, StudyCreate, StudyStatus
from .._watch import Watch, WatchSpec
from ._base import Resource, segment, watches

if TYPE_CHECKING:
    from .._hooks import HookReceiver

__all__ = ["STUDY", "STUDY_SUBMISSIONS", "Studies"]

_STUDIES = "/api/v1/studies"

STUDY = JobKind(
    "study",
    pending={StudyStatus.UNPUBLISHED, StudyStatus.SCHEDULED, StudyStatus.ACTIVE,
             StudyStatus.PAUSED},
    # Data collection is over once the study awaits review (or is completed).
    done={StudyStatus.AWAITING_REVIEW, StudyStatus.COMPLETED},
    failed=(),
)


@attrs.frozen
class _Submissions(JobKind):
    """A study's submissions counted up to a target: each status reads ``"ACTIVE: 3 of 5
    submitted"`` (the target travels in the status, so one kind serves every target), and
    the job is done at the target or once the study stops collecting."""

    def categorize(self, status: str) -> Category:
        if status in STUDY.done:
            return Category.DONE
        study_status, _, progress = status.partition(": ")
        counts = progress.removesuffix(" submitted").split(" of ")
        if len(counts) != 2 or not all(c.isdigit() for c in counts):
            return Category.UNKNOWN
        if int(counts[0]) >= int(counts[1]):
            return Category.DONE
        return STUDY.categorize(study_status)


STUDY_SUBMISSIONS = _Submissions("study_submissions", pending=(), done=(), failed=())


def _progress(study: Study, at_least: int) -> str:
    if study.status in STUDY.done:
        return str(study.status)
    return f"{study.status}: {study.places_taken or 0} of {at_least} submitted"


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

    async def cost(self, *, reward: int, total_available_places: int) -> StudyCost:
        """What a study paying ``reward`` cents to each of ``total_available_places``
        participants would cost, fees and VAT included (Prolific's cost calculator: a read,
        nothing is created).

        Example::

            cost = await client.studies.cost(reward=100, total_available_places=20)
            print(f"{cost.total_cost / 100:.2f}")
        """
        for name, value in (("reward", reward), ("total_available_places",
                                                 total_available_places)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        found: StudyCost = await self._call(
            "POST", "/api/v1/study-cost-calculator/", StudyCost,
            json_body={"reward": reward, "total_available_places": total_available_places})
        return found

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
        events: HookReceiver | None = None,
    ) -> Watch[Study]:
        """Stream a study's status changes until it is AWAITING REVIEW or COMPLETED.

        Participants take minutes to days: give a ``poll`` policy with a long ``deadline``
        and a ceiling of a minute or more on the real API. With ``events`` (a
        `HookReceiver` subscribed to ``study.status.change``) each event about the study
        re-reads it at once, and polling drops to the receiver's safety net
        (``safety_poll``, 5 minutes) unless ``poll`` is given.

        Example::

            study = await client.studies.watch(study.id, events=receiver).wait()
        """
        return self._watch(self._study_spec(study_id), poll, events=events)

    def watch_submissions(
        self, study_id: str, *, at_least: int, poll: PollPolicy | None = None,
        events: HookReceiver | None = None,
    ) -> Watch[Study]:
        """Stream a study's progress until ``at_least`` participants have submitted
        (``places_taken``) or it stops collecting (AWAITING REVIEW, COMPLETED).

        A transition comes with each change of status or of the count, its ``current``
        reading like ``"ACTIVE: 3 of 5 submitted"`` and its ``snapshot`` the `Study`. It
        polls like every watch (the client's ``max_poll_rate``, jitter, error tolerance, the
        policy's deadline, a `PollTimeout` whose resume token continues it) and shares its
        request with a `watch` of the same study. With ``events`` (a `HookReceiver`
        subscribed to ``study.progress.change`` and ``study.status.change``) each event about
        the study re-reads it at once, as for `watch`.

        Example::

            await client.studies.publish(study.id)
            study = await client.studies.watch_submissions(study.id, at_least=10).wait()
        """
        if isinstance(at_least, bool) or not isinstance(at_least, int) or at_least < 1:
            raise ValueError(f"at_least must be an integer >= 1, got {at_least!r}")
        return self._watch(self._submissions_spec(str(at_least), study_id), poll,
                           events=events)

    @watches(STUDY_SUBMISSIONS)
    def _submissions_spec(self, at_least: str, study_id: str) -> WatchSpec[Study]:
        # The target goes first in the ids: the study is the resource watched.
        target = int(at_least)
        spec = self._study_spec(study_id)
        return WatchSpec(job=STUDY_SUBMISSIONS, ids=(at_least, study_id), fetch=spec.fetch,
                         status_of=lambda study: _progress(study, target),
                         channel_key=spec.key)

    @watches(STUDY)
    def _study_spec(self, study_id: str) -> WatchSpec[Study]:
        return self._spec(STUDY, (study_id,), f"{_STUDIES}/{segment('study_id', study_id)}/",
                          Study)
