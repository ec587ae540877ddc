"""The structure hooks written per model (`_model_hooks`) read every answer exactly as cattrs'
own generated hooks did: equal instances, same repr, still frozen, the same error
for a missing required field."""

from __future__ import annotations

import copy
from typing import Any

import attrs
import pytest
from cattrs.gen import make_dict_structure_fn

import prolific_async as pa
from prolific_async._converter import converter, structure_fn
from tests.conftest import example

BATCH = example("cli-tests-transcribed/batch_get_200.json")
LAYOUT = example("cli-docs-examples/batch-items.json")

CASES: list[tuple[type[Any], dict[str, Any]]] = [
    (pa.Batch, BATCH),
    (pa.Batch, {**BATCH, "batch_items": LAYOUT, "unknown_key": 1}),
    (pa.Batch, {"id": "b1"}),  # every optional field missing
    (pa.Batch, {"id": "b1", "status": "ARCHIVED", "created_at": "2024-01-02T03:04:05",
                "total_task_count": "7", "name": None, "auto_sync_enabled": True}),
    (pa.Dataset, example("cli-tests-transcribed/dataset_create_201.json")),
    (pa.DatasetImport, example("cli-tests-transcribed/dataset_import_complete.json")),
    (pa.ExportJob, example("cli-tests-transcribed/batch_export_get_complete.json")),
    (pa.Collection, example("cli-tests-transcribed/collection_get_200.json")),
    (pa.BonusPayment, {"id": "x", "amount": "1.25", "fees": 0.3, "amounts": {"s1": 125}}),
    (pa.TaskDetails, {"task_name": "n", "task_introduction": "i", "task_steps": "s",
                      "new_field": [1]}),
]


def cattrs_hook(cls: type[Any]) -> Any:
    """What cattrs itself generates for ``cls``, with the same converter's field hooks."""
    return make_dict_structure_fn(cls, converter)


@pytest.mark.parametrize(("cls", "data"), CASES,
                         ids=[f"{cls.__name__}-{n}" for n, (cls, _) in enumerate(CASES)])
def test_a_model_reads_as_cattrs_generated_hook_read_it(cls: type[Any],
                                                        data: dict[str, Any]) -> None:
    ours = structure_fn(cls)(data)
    assert type(ours) is cls  # built as a subclass with plain slot stores, then made a cls
    if attrs.fields_dict(cls).get("extra") is None:
        theirs = cattrs_hook(cls)(data, cls)
        assert ours == theirs
        assert repr(ours) == repr(theirs)
    else:  # a request model keeps the keys it does not model
        assert ours.extra == {key: value for key, value in data.items()
                              if key not in attrs.fields_dict(cls)}
    assert copy.copy(ours) == ours
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        ours.id = "other"  # type: ignore[misc]


def test_a_status_the_sdk_does_not_know_is_kept() -> None:
    batch = structure_fn(pa.Batch)({"id": "b1", "status": "ARCHIVED"})
    assert batch.status == "ARCHIVED" and not batch.status.known


def test_a_missing_required_field_is_named() -> None:
    with pytest.raises(KeyError, match="'id'"):
        structure_fn(pa.Batch)({"name": "no id"})
    with pytest.raises(ValueError, match="missing required field 'id'"):
        pa.from_json(pa.Batch, {"name": "no id"})


def test_a_request_model_without_unknown_keys_equals_the_one_its_init_builds() -> None:
    data = {"task_name": "n", "task_introduction": "i", "task_steps": "s"}
    read = structure_fn(pa.TaskDetails)(data)
    built = pa.TaskDetails(task_name="n", task_introduction="i", task_steps="s")
    assert read == built and repr(read) == repr(built)
    assert pa.to_json(read) == data


def test_a_model_read_without_extra_keys_pickles_and_hashes() -> None:
    import pickle

    batch = structure_fn(pa.Batch)({**BATCH, "datasets": None, "batch_items": None})
    assert batch.task_details is not None and batch.task_details.extra == {}
    again = pickle.loads(pickle.dumps(batch))
    assert again == batch and hash(again) == hash(batch)
    assert again.task_details.extra is batch.task_details.extra  # the one shared default
    with pytest.raises(TypeError):
        batch.task_details.extra["x"] = 1  # type: ignore[index]
