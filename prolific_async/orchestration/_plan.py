"""What one batch should become, end to end: `BatchPlan`, `StudyPlan`, `ExistingDataset`.

A plan is plain data (frozen attrs), checked when it is built so that a mistake is a
`ValueError` naming the field before anything is sent, never a half-created batch.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, get_args

import anyio
import attrs

from . import _sdk as pa
from ._feeding import Feed
from ._shared_reads import SharedReads

__all__ = ["BatchPlan", "DatasetSource", "ExistingDataset", "StudyPlan", "fingerprint"]


@attrs.frozen
class ExistingDataset:
    """Use a dataset that already exists (no create, no upload) instead of a file or rows.

    Example::

        pa.BatchPlan(name="reviews-2", dataset=pa.ExistingDataset("0192…"), ...)
    """

    id: str = attrs.field()

    @id.validator
    def _check(self, attribute: attrs.Attribute[str], value: str) -> None:
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"ExistingDataset id must be a non-empty string, got {value!r}")


#: A CSV or JSONL file, rows given in Python, a dataset that already exists, or a `Feed`.
DatasetSource = str | os.PathLike[str] | Sequence[Mapping[str, Any]] | ExistingDataset | Feed

#: What `StudyPlan.extra` may not hold: it is for fields this SDK does not model.
_STUDY_FIELDS = frozenset(a.name for a in attrs.fields(pa.StudyCreate)) - {"extra"}


def _items(value: Any) -> Any:
    # A string or a table is left as it is, for `_list_of` to refuse by name: tuple("desktop")
    # would quietly be seven one-letter values.
    if value is None or isinstance(value, (str, bytes, Mapping)):
        return value
    return tuple(value)


def _listed(value: Sequence[Any] | None) -> list[Any] | None:
    return None if value is None else list(value)


def _positive_int(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                              or value < 1):
        raise ValueError(f"{attribute.name} must be an integer >= 1, got {value!r}")


def _type_name(value: Any) -> str:
    return "text" if isinstance(value, str) else type(value).__name__


def _flag(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    # A string "false" is truthy: taking it would publish (money) when told not to.
    if not isinstance(value, bool):
        raise TypeError(f"{attribute.name} must be true or false, got {value!r}")


def _text(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and not isinstance(value, str):
        raise TypeError(f"{attribute.name} must be text, got {_type_name(value)} {value!r}")


def _finite_positive(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{attribute.name} must be a finite number > 0, got {value!r}")


def _list_of(kind: type[Any] | tuple[type[Any], ...], what: str) -> Any:
    def check(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value is None:
            return
        if not isinstance(value, tuple):
            raise TypeError(f"{attribute.name} must be a list of {what}, not one "
                            f"{_type_name(value)} ({value!r})")
        for index, item in enumerate(value):
            if not isinstance(item, kind):
                raise TypeError(f"{attribute.name}[{index}] must be {what}, got "
                                f"{_type_name(item)} {item!r}")
    return check


#: The spec's values of ``prolific_id_option``.
_ID_OPTIONS = ("question", "url_parameters", "not_required")


def _id_option(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and value not in _ID_OPTIONS:
        raise ValueError(f"{attribute.name} must be one of {', '.join(_ID_OPTIONS)}, "
                         f"got {value!r}")


def _check_extra(_: object, attribute: attrs.Attribute[Any], value: Mapping[str, Any]) -> None:
    for key in value:
        if key in _STUDY_FIELDS:
            raise ValueError(f"extra[{key!r}] is a field the SDK models: set it with a "
                             "StudyPlan field (or it is set by the plan itself)")


def _check_wait_for(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is None or value == "complete":
        return
    _positive_int(_, attribute, value)


#: Review: decide one submission from its task responses (None: leave it for a person).
ReviewFn = Callable[[pa.Submission, "list[pa.TaskResponse]"],
                    Awaitable["pa.Approve | pa.Reject | None"]]
#: Bonus: the amount for one approved submission, in minor units (None: no bonus).
BonusFn = Callable[[pa.Submission, "list[pa.TaskResponse]"], Awaitable["int | None"]]


def _check_decider(name: str, value: Any, *, allow_all: bool) -> None:
    if value is None or (allow_all and value == "all") or callable(value):
        return
    what = ('None, "all" or an async callable' if allow_all
            else "None, an int in minor units or an async callable")
    raise ValueError(f"StudyPlan.{name} must be {what}, got {value!r}")


@attrs.frozen(kw_only=True)
class StudyPlan:
    """The study that puts a plan's batch in front of participants.

    ``publish`` is False by default because publishing spends money on the real API. The
    study's internal name is the plan's name (so it is found in Prolific's app); ``title`` is
    what participants see (the plan's name when not given). ``extra`` carries fields this
    SDK does not model, merged into the study's body as they are.

    ``wait_for`` makes the run wait, after publishing, until that many participants have
    submitted (``places_taken``), or until the study is done collecting (``"complete"``:
    AWAITING REVIEW or COMPLETED), at most ``wait_deadline`` seconds.

    Then, and only when asked (the defaults never spend): ``approve="all"`` approves every
    submission awaiting review, or ``approve=<async callable(submission, responses)>``
    decides each one (``pa.Approve()``, ``pa.Reject(message, category)``, or None to leave
    it for a person; asked once per submission, its decision journaled). ``bonus`` gives
    each approved submission a bonus: an int in minor units (``25``: 0.25, the same for
    all), or ``<async callable(submission, responses)>`` returning one (None: no bonus).
    Any bonus above ``max_bonus`` (`DEFAULT_MAX_BONUS`: 1,000) is refused. The bonuses are
    set up and paid once.

    Attributes:
        description: What participants read about the study before they take part.
        reward: What each participant is paid, in the minor unit of the workspace's currency
            (pence or cents: 50 is £0.50 or $0.50).
        places: How many participants may take part (the study's
            ``total_available_places``).
        estimated_minutes: How long one submission takes, in minutes; Prolific shows the
            reward per hour from it.
        title: The study's name as participants see it; the plan's name when not given.
        annotators_per_task: How many participants answer each task
            (``data_collection_metadata.annotators_per_task``).
        completion_codes: The study's completion codes and what each one does.
        filters: Who may take part: Prolific's participant filters.
        prolific_id_option: How the study asks for a participant's Prolific id.
        device_compatibility: The devices the study can be taken on (``desktop``,
            ``mobile``, ``tablet``).
        maximum_allowed_time: The most minutes a participant may take before timing out.
        project: The Prolific project the study belongs to.
        extra: Study fields this SDK does not model, sent as they are.
        publish: Publish the study once it is created. Publishing spends money.
        wait_for: After publishing, wait until this many participants have submitted, or
            ``"complete"`` until the study stops collecting; not at all when not given.
        wait_deadline: The longest wait for ``wait_for``, in seconds (a day by default).
        approve: ``"all"`` approves every submission awaiting review; an async callable
            decides each one; not at all when not given (needs ``wait_for``). Approving pays
            the reward.
        bonus: A bonus for each approved submission, in minor units, or an async callable
            returning one; none when not given (needs ``approve``). Paying spends money.
        max_bonus: The largest bonus accepted, in minor units: anything above is refused.

    Example::

        pa.StudyPlan(description="Compare two AI answers", reward=100, places=20,
                     estimated_minutes=5, publish=True, wait_for="complete",
                     completion_codes=[pa.CompletionCode(
                         code="DONE", code_type=pa.CompletionCodeType.COMPLETED, actions=[])])
    """

    description: str = attrs.field(validator=_text)
    reward: int = attrs.field(validator=_positive_int)
    places: int = attrs.field(validator=_positive_int)
    estimated_minutes: int = attrs.field(validator=_positive_int)
    title: str | None = attrs.field(default=None, validator=_text)
    annotators_per_task: int | None = attrs.field(default=None, validator=_positive_int)
    completion_codes: Sequence[pa.CompletionCode] | None = attrs.field(
        default=None, converter=_items, validator=_list_of(pa.CompletionCode,
                                                           "pa.CompletionCode"))
    filters: Sequence[pa.StudyFilter] | None = attrs.field(
        default=None, converter=_items, validator=_list_of(pa.StudyFilter, "pa.StudyFilter"))
    prolific_id_option: str | None = attrs.field(default=None, validator=_id_option)
    device_compatibility: Sequence[str] | None = attrs.field(
        default=None, converter=_items, validator=_list_of(str, "text"))
    maximum_allowed_time: int | None = attrs.field(default=None, validator=_positive_int)
    project: str | None = attrs.field(default=None, validator=_text)
    extra: Mapping[str, Any] = attrs.field(factory=dict, converter=dict, validator=_check_extra)
    publish: bool = attrs.field(default=False, validator=_flag)
    wait_for: int | Literal["complete"] | None = attrs.field(default=None,
                                                              validator=_check_wait_for)
    wait_deadline: float = attrs.field(default=24 * 3600.0, validator=_finite_positive)
    approve: Literal["all"] | ReviewFn | None = None
    bonus: int | BonusFn | None = None
    max_bonus: int = attrs.field(default=pa.DEFAULT_MAX_BONUS, validator=_positive_int)

    def __attrs_post_init__(self) -> None:
        if not self.description.strip():
            raise ValueError("StudyPlan.description must be a non-empty string")
        _check_decider("approve", self.approve, allow_all=True)
        if isinstance(self.bonus, int) and not isinstance(self.bonus, bool):
            if not 1 <= self.bonus <= self.max_bonus:
                raise ValueError(f"StudyPlan.bonus must be from 1 to max_bonus "
                                 f"({self.max_bonus}) minor units, got {self.bonus}")
        else:
            _check_decider("bonus", self.bonus, allow_all=False)
        if self.approve is not None and self.wait_for is None:
            raise ValueError("StudyPlan.approve needs wait_for: submissions are reviewed once "
                             "the run has waited for them")
        if self.bonus is not None and self.approve is None:
            raise ValueError("StudyPlan.bonus needs approve: bonuses go to approved submissions")
        if self.wait_for is not None and not self.publish:
            raise ValueError("StudyPlan.wait_for needs publish=True: an unpublished study gets "
                             "no responses")

    @property
    def most_bonus(self) -> int:
        """The most one bonus of this plan can be, in minor units (0: no bonuses)."""
        if self.bonus is None:
            return 0
        return self.bonus if isinstance(self.bonus, int) else self.max_bonus

    def create_body(self, plan_name: str, batch_id: str) -> pa.StudyCreate:
        """The `StudyCreate` for the batch ``batch_id`` of the plan ``plan_name``."""
        metadata = (pa.DataCollectionMetadata(annotators_per_task=self.annotators_per_task)
                    if self.annotators_per_task is not None else None)
        body = pa.StudyCreate(
            name=self.title or plan_name, internal_name=plan_name,
            description=self.description, data_collection_id=batch_id,
            data_collection_metadata=metadata, reward=self.reward,
            total_available_places=self.places, estimated_completion_time=self.estimated_minutes,
            completion_codes=_listed(self.completion_codes), filters=_listed(self.filters),
            device_compatibility=_listed(self.device_compatibility),
            maximum_allowed_time=self.maximum_allowed_time, project=self.project,
            extra=dict(self.extra),
        )
        # None leaves StudyCreate's AI Task Builder default in place.
        if self.prolific_id_option is None:
            return body
        return attrs.evolve(body, prolific_id_option=self.prolific_id_option)


#: Every item model a layout may hold (`pa.Item` is a union, not a class).
_ITEM_CLASSES: tuple[type[Any], ...] = get_args(pa.Item)


def _folder(value: Any) -> Path | None:
    if value is None or isinstance(value, Path):
        return value
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"export_to must be a folder path, got {_type_name(value)} {value!r}")
    return Path(value)


def _dataset(value: Any) -> Any:
    if isinstance(value, (ExistingDataset, Feed)):
        return value
    if isinstance(value, (str, os.PathLike)):
        return Path(value)
    if isinstance(value, Sequence) and not isinstance(value, (bytes, bytearray)):
        return tuple(dict(row) if isinstance(row, Mapping) else row for row in value)
    return value


@attrs.frozen(kw_only=True)
class BatchPlan:
    """One batch, end to end: its data, layout, setup, optional study and export.

    ``dataset`` is a CSV path (a V3 dataset), a JSONL path (needs ``dataset_schema``: a V4
    dataset), rows given in Python (sent as CSV, or as JSONL with ``dataset_schema``), an
    `ExistingDataset`, or a `Feed` of records that keep coming (a V4 dataset with the
    feed's schema, fed to the live batch). The layout is either ``instructions`` (the SDK's
    item models, sent as one page of ``batch_items``) or a full ``layout``. The dataset, batch
    and study are named after the plan, so ``name`` must be unique in its workspace.
    ``export_to`` is a folder the batch's export ZIP is downloaded to.

    Attributes:
        name: The plan's key: the dataset, batch and study are named after it, so it must be
            unique in its workspace.
        workspace_id: The Prolific workspace everything is created in.
        dataset: The data to annotate: a ``.csv`` or ``.jsonl`` path, rows given in Python,
            an `ExistingDataset`, or a `Feed` of records that keep coming.
        task_details: The task's name, introduction and steps, shown to participants.
        instructions: The questions, sent as one page of ``batch_items``; give this or
            ``layout``.
        layout: A full layout of pages (`BatchPage`); give this or ``instructions``.
        tasks_per_group: How many tasks one participant does in one submission.
        dataset_schema: The fields of a V4 dataset; needed for a JSONL dataset.
        study: The study to create for the batch (`StudyPlan`); none when not given.
        export_to: A folder to download the batch's export ZIP to when the run is done; no
            export when not given.

    Example::

        plan = pa.BatchPlan(
            name="reviews-1", workspace_id=WS, dataset="reviews-1.csv",
            task_details=pa.TaskDetails(task_name="Rate", task_introduction="<p>…</p>",
                                        task_steps="<ol>…</ol>"),
            instructions=[pa.FreeText(description="Why?")], tasks_per_group=5,
            study=pa.StudyPlan(description="Rate answers", reward=100, places=10,
                               estimated_minutes=5),
            export_to="exports/")
    """

    name: str
    workspace_id: str
    dataset: DatasetSource = attrs.field(converter=_dataset)
    task_details: pa.TaskDetails
    instructions: Sequence[pa.Item] | None = attrs.field(
        default=None, converter=_items, validator=_list_of(_ITEM_CLASSES, "an item model"))
    layout: Sequence[pa.BatchPage] | None = attrs.field(
        default=None, converter=_items, validator=_list_of(pa.BatchPage, "pa.BatchPage"))
    tasks_per_group: int = attrs.field(default=1, validator=_positive_int)
    dataset_schema: pa.DatasetSchema | None = attrs.field(
        default=None, validator=attrs.validators.optional(
            attrs.validators.instance_of(pa.DatasetSchema)))
    study: StudyPlan | None = None
    export_to: Path | None = attrs.field(default=None, converter=_folder)

    def __attrs_post_init__(self) -> None:
        for field in ("name", "workspace_id"):
            value = getattr(self, field)
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"BatchPlan.{field} must be a non-empty string, got {value!r}")
        if not isinstance(self.task_details, pa.TaskDetails):
            raise TypeError("BatchPlan.task_details must be a pa.TaskDetails, got "
                            f"{type(self.task_details).__name__}")
        if (self.instructions is None) == (self.layout is None):
            raise ValueError(f"plan {self.name!r}: give exactly one of instructions= (one page) "
                             "or layout= (full batch_items)")
        if self.instructions is not None and not self.instructions:
            raise ValueError(f"plan {self.name!r}: instructions must not be empty")
        if self.study is not None and not isinstance(self.study, StudyPlan):
            raise TypeError(f"plan {self.name!r}: study must be a pa.StudyPlan")
        source = self.dataset
        if isinstance(source, Path):
            suffix = source.suffix.lower()
            if suffix not in (".csv", ".jsonl"):
                raise ValueError(f"plan {self.name!r}: dataset must be a .csv or .jsonl file, "
                                 f"got {str(source)!r}")
            if suffix == ".jsonl" and self.dataset_schema is None:
                raise ValueError(f"plan {self.name!r}: a JSONL dataset needs dataset_schema "
                                 "(Prolific reads JSONL into V4 datasets only)")
        elif isinstance(source, tuple):
            if not source or not all(isinstance(row, dict) and row for row in source):
                raise ValueError(f"plan {self.name!r}: dataset rows must be a non-empty list "
                                 "of non-empty dicts")
        elif isinstance(source, Feed):
            if self.dataset_schema is not None:
                raise ValueError(f"plan {self.name!r}: a Feed carries its own schema: give it "
                                 "as pa.Feed(records, schema=...), not dataset_schema")
        elif not isinstance(source, ExistingDataset):
            raise TypeError(f"plan {self.name!r}: dataset must be a path, a list of rows, "
                            f"pa.ExistingDataset or pa.Feed, got {type(source).__name__}")
        if isinstance(source, ExistingDataset) and self.dataset_schema is not None:
            raise ValueError(f"plan {self.name!r}: dataset_schema applies to a new dataset, "
                             "not to an ExistingDataset")

    @property
    def is_v4(self) -> bool:
        """A V4 dataset (a schema, import jobs) rather than V3 (a CSV, READY when done)."""
        return self.dataset_schema is not None or isinstance(self.dataset, Feed)

    @property
    def new_dataset_schema(self) -> pa.DatasetSchema | None:
        """The schema the plan's dataset is created with (a feed's, or ``dataset_schema``)."""
        return self.dataset.schema if isinstance(self.dataset, Feed) else self.dataset_schema

    def batch_items(self) -> list[pa.BatchPage]:
        """The layout sent with the batch: ``layout``, or the instructions on one page."""
        if self.layout is not None:
            return list(self.layout)
        assert self.instructions is not None
        return pa.one_page(self.instructions)


def _plain(value: Any) -> Any:
    """A JSON-able form of plan inputs, for hashing."""
    names = _field_names(value.__class__)
    if names is not None:
        return {"__type__": type(value).__name__,
                **{name: _plain(getattr(value, name)) for name in names}}
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


@functools.cache
def _field_names(cls: type) -> tuple[str, ...] | None:
    """An attrs class's field names (looked up once: a plan's fingerprint reads ~50 values);
    None for any other class."""
    return tuple(a.name for a in attrs.fields(cls)) if attrs.has(cls) else None


def _digest(value: Any) -> str:
    text = json.dumps(_plain(value), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _file_digest(path: Path) -> str:
    hasher = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            hasher.update(chunk)
    return hasher.hexdigest()[:16]


def file_data(path: Path) -> str:
    """The fingerprint of a data file: its digest, or that it is missing (blocking)."""
    return f"file:{_file_digest(path)}" if path.exists() else f"missing:{path}"


class FileDigests:
    """Each data file's `file_data`, and its upload check, once per run: a thousand plans
    often share one file, and each read is a trip to a worker thread (a thousand of them at
    a run's start kept the plans from sending anything for a quarter of a second).

    Example::

        digests = FileDigests()
        parts = fingerprint(plan, await digests.of(plan.dataset))
        await digests.check(client, plan.dataset, "data.csv")
    """

    def __init__(self) -> None:
        self._known: dict[Path, str] = {}
        self._checked: set[tuple[Path, str]] = set()
        self._reads = SharedReads()

    async def check(self, client: pa.Prolific, path: Path, filename: str) -> None:
        """``client.datasets.check_upload(path, filename=filename)``, once per run for each
        file and name that passes; a file refused is checked again by each plan, which
        reports its own error. (Each upload still checks the file it sends.)"""
        key = (path, filename)
        if key in self._checked:
            return

        async def read() -> None:
            await client.datasets.check_upload(path, filename=filename)
            self._checked.add(key)

        await self._reads.run(("check", path, filename), read, fresh=False)

    async def of(self, path: Path) -> str:
        if path not in self._known:
            async def read() -> None:
                self._known[path] = await anyio.to_thread.run_sync(file_data, path)

            await self._reads.run(("digest", path), read, fresh=False)
        return self._known[path]


def fingerprint(plan: BatchPlan, data_file: str | None = None) -> dict[str, str]:
    """A digest per input that shapes something the plan creates (blocking when the plan's
    data is a file and ``data_file``, its `file_data`, is not given: it reads the file).

    What only steers the run (``publish``, ``wait_for``, ``wait_deadline``, ``approve``,
    ``bonus``, ``max_bonus``, ``export_to``) is left out, so a rerun may go on to publish or
    export what an earlier run only created.
    """
    source = plan.dataset
    if isinstance(source, Path):
        data = data_file if data_file is not None else file_data(source)
    elif isinstance(source, ExistingDataset):
        data = f"existing:{source.id}"
    elif isinstance(source, Feed):
        # Records that keep coming cannot be hashed; feeding them again is harmless.
        data = f"feed:{_digest(source.schema)}"
    else:
        data = f"rows:{_digest(source)}"
    parts = {
        "workspace_id": _digest(plan.workspace_id),
        "dataset": data,
        "dataset_schema": _digest(plan.dataset_schema),
        "task_details": _digest(plan.task_details),
        "layout": _digest(plan.batch_items()),
        "tasks_per_group": _digest(plan.tasks_per_group),
    }
    if plan.study is not None:
        # What only steers the run is left out, callables too (their repr changes per run).
        study = attrs.evolve(plan.study, publish=False, wait_for=None, wait_deadline=1.0,
                             approve=None, bonus=None, max_bonus=pa.DEFAULT_MAX_BONUS)
        parts["study"] = _digest(study)
    return parts
