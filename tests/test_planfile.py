"""load_plans: TOML plan files with shared defaults; every mistake names its field and line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

import prolific_async as pa

HEAD = '''\
[defaults]
workspace_id = "ws-1"
tasks_per_group = 2
export_to = "exports"

[defaults.task_details]
task_name = "Compare"
task_introduction = "<p>Read</p>"
task_steps = "<ol><li>Choose</li></ol>"

[[defaults.instructions]]
type = "multiple_choice"
description = "Which is better?"
answer_limit = 1
options = [{label = "A", value = "a"}, {label = "B", value = "b"}]

[defaults.study]
description = "Compare two answers"
reward = 50
places = 10
estimated_minutes = 3
'''


def write(tmp_path: Path, body: str, head: str = HEAD) -> Path:
    path = tmp_path / "plans.toml"
    path.write_text(head + textwrap.dedent(body))
    return path


def line_of(path: Path, text: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def test_plans_take_the_defaults(tmp_path: Path) -> None:
    path = write(tmp_path, '''
        [[plan]]
        name = "one"
        dataset = "data/one.csv"

        [[plan]]
        name = "two"
        dataset_id = "ds-existing"
        tasks_per_group = 1
        study = {places = 20, publish = true, wait_for = "complete"}

        [[plan]]
        name = "three"
        dataset = "three.jsonl"
        dataset_schema = {fields = {prompt = {type = "text"}}}

        [[plan.layout]]
        [[plan.layout.rows]]
        [[plan.layout.rows.columns]]
        items = [{type = "rich_text", content = "<p>Hi</p>"},
                 {type = "free_text", description = "Why?"}]
    ''')
    one, two, three = pa.load_plans(path)
    assert one.name == "one" and one.workspace_id == "ws-1" and one.tasks_per_group == 2
    assert one.dataset == tmp_path / "data" / "one.csv"
    assert one.export_to == tmp_path / "exports"
    assert one.task_details == pa.TaskDetails(task_name="Compare",
                                              task_introduction="<p>Read</p>",
                                              task_steps="<ol><li>Choose</li></ol>")
    [question] = one.instructions or []
    assert isinstance(question, pa.MultipleChoice) and question.options[1].value == "b"
    assert one.study == pa.StudyPlan(description="Compare two answers", reward=50, places=10,
                                     estimated_minutes=3)
    assert two.dataset == pa.ExistingDataset("ds-existing") and two.tasks_per_group == 1
    assert two.study is not None and (two.study.places, two.study.reward) == (20, 50)
    assert two.study.publish and two.study.wait_for == "complete"
    assert three.is_v4 and three.instructions is None
    [page] = three.layout or []
    items = page.rows[0].columns[0].items
    assert isinstance(items[0], pa.RichText) and isinstance(items[1], pa.FreeText)


@pytest.mark.parametrize(("body", "field", "marker", "message"), [
    ('''
        [[plan]]
        name = "one"
        dataset = "one.csv"
        colour = "blue"
     ''', "colour", "colour =", "colour is not a plan field"),
    ('''
        [[plan]]
        name = "one"
        dataset = "one.csv"

        [[plan]]
        name = "two"
        dataset = "two.csv"
        tasks_per_group = 0
     ''', "tasks_per_group", "tasks_per_group = 0", "tasks_per_group must be an integer >= 1"),
    ('''
        [[plan]]
        name = "one"
        dataset = "one.csv"
        study = {reward = -5}
     ''', "study.reward", "study = {reward", "plan #1 ('one'): study: reward must be"),
    ('''
        [[plan]]
        name = "one"
        dataset = "one.csv"

        [[plan.instructions]]
        type = "free_txt"
        description = "Why?"
     ''', "instructions[0]", "[[plan.instructions]]", "unknown item type 'free_txt'"),
    ('''
        [[plan]]
        name = "one"
        dataset = "one.csv"

        [[plan.instructions]]
        type = "multiple_choice"
        description = "Pick"
     ''', "instructions[0].options", "[[plan.instructions]]", "required field missing"),
    ('''
        [[plan]]
        name = "one"
        dataset = "one.csv"
        dataset_id = "abc"
     ''', "dataset", 'dataset = "one.csv"', "exactly one of dataset"),
    ('''
        [[plan]]
        name = "one"
        dataset = "one.jsonl"
     ''', "dataset", 'dataset = "one.jsonl"', "a JSONL dataset needs dataset_schema"),
    ('''
        [[plan]]
        name = 7
        dataset = "one.csv"
     ''', "name", "name = 7", "name must be a string"),
])
def test_mistakes_name_the_field_and_line(tmp_path: Path, body: str, field: str, marker: str,
                                          message: str) -> None:
    path = write(tmp_path, body)
    with pytest.raises(pa.PlanFileError) as caught:
        pa.load_plans(path)
    error = caught.value
    assert error.field == field
    assert error.line == line_of(path, marker), str(error)
    assert message in str(error)
    assert str(error).startswith(f"{path}:{error.line}: ")


def test_a_mistake_in_the_defaults_names_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, '''
        [[plan]]
        name = "one"
        dataset = "one.csv"
    ''', head=HEAD.replace("reward = 50", 'reward = "fifty"'))
    with pytest.raises(pa.PlanFileError) as caught:
        pa.load_plans(path)
    assert caught.value.line == line_of(path, 'reward = "fifty"')


def test_required_fields_may_come_from_either_place(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROLIFIC_WORKSPACE", raising=False)
    path = write(tmp_path, '''
        [[plan]]
        name = "one"
        dataset = "one.csv"
    ''', head="")
    with pytest.raises(pa.PlanFileError, match=r"plan #1 \('one'\): workspace_id is required "
                                               r"\(in the plan or in \[defaults\], or set "
                                               r"PROLIFIC_WORKSPACE\)"):
        pa.load_plans(path)


def test_broken_toml_names_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, '''
        [[plan]]
        name = "one
    ''')
    with pytest.raises(pa.PlanFileError, match="not valid TOML") as caught:
        pa.load_plans(path)
    assert caught.value.line == line_of(path, 'name = "one')


def test_a_file_without_plans(tmp_path: Path) -> None:
    with pytest.raises(pa.PlanFileError, match=r"no plans: add at least one \[\[plan\]\]"):
        pa.load_plans(write(tmp_path, ""))
    with pytest.raises(pa.PlanFileError, match="cannot read the plan file"):
        pa.load_plans(tmp_path / "missing.toml")
    path = write(tmp_path, "[plans]\nname = 'x'\n")
    with pytest.raises(pa.PlanFileError, match="unknown table 'plans'") as caught:
        pa.load_plans(path)
    assert caught.value.line == line_of(path, "[plans]")
