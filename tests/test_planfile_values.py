"""Plan values are typed strictly, in plan files and in Python: a wrong type is an error
naming the file, line and field before anything is sent, never a converted value."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

import prolific_async as pa

from .test_planfile import HEAD, line_of, write

ONE = '''
    [[plan]]
    name = "one"
    dataset = "one.csv"
'''


@pytest.mark.parametrize(("setting", "field", "message"), [
    ('publish = "false"', "study.publish", "publish must be true or false, got 'false'"),
    ('device_compatibility = "desktop"', "study.device_compatibility",
     "device_compatibility must be a list of text, not one text ('desktop')"),
    ("wait_deadline = nan", "study.wait_deadline", "wait_deadline must be a finite number"),
    ("wait_deadline = inf", "study.wait_deadline", "wait_deadline must be a finite number"),
    ("title = 5", "study.title", "title must be text, got int 5"),
    ("reward = 1.5", "study.reward", "reward must be an integer >= 1, got 1.5"),
    ("places = true", "study.places", "places must be an integer >= 1, got True"),
    ('prolific_id_option = "ask"', "study.prolific_id_option",
     "prolific_id_option must be one of question, url_parameters, not_required"),
])
def test_a_study_value_of_the_wrong_type_names_file_line_and_field(
    tmp_path: Path, setting: str, field: str, message: str,
) -> None:
    path = write(tmp_path, ONE + f"\n    [plan.study]\n    {setting}\n")
    with pytest.raises(pa.PlanFileError) as caught:
        pa.load_plans(path)
    error = caught.value
    assert (error.path, error.field, error.line) == (path, field, line_of(path, setting))
    assert message in str(error)


@pytest.mark.parametrize(("given", "setting", "field", "message"), [
    ('task_name = "Compare"', "task_name = 5", "task_details.task_name",
     "must be text, got int 5"),
    ("answer_limit = 1", "answer_limit = 1.5", "instructions[0].answer_limit",
     "must be an integer, got float 1.5"),
    ('options = [{label = "A"', 'options = "A"\n# [{label = "A"', "instructions[0].options",
     "must be a list, got text 'A'"),
])
def test_a_nested_value_of_the_wrong_type_names_its_path(
    tmp_path: Path, given: str, setting: str, field: str, message: str,
) -> None:
    path = write(tmp_path, ONE, head=HEAD.replace(given, setting, 1))
    with pytest.raises(pa.PlanFileError) as caught:
        pa.load_plans(path)
    assert caught.value.field == field
    assert caught.value.line == line_of(path, setting.split("\n")[0])
    assert message in str(caught.value)


def test_an_option_value_keeps_its_toml_type(tmp_path: Path) -> None:
    head = HEAD.replace('{label = "B", value = "b"}', '{label = "B", value = true}')
    [plan] = pa.load_plans(write(tmp_path, ONE, head=head))
    assert plan.instructions is not None
    question = plan.instructions[0]
    assert isinstance(question, pa.MultipleChoice)
    assert [o.value for o in question.options] == ["a", True]


def test_a_file_that_is_not_utf8_names_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "plans.toml"
    path.write_bytes(HEAD.encode() + b'\n[[plan]]\nname = "caf\xe9"\n')
    with pytest.raises(pa.PlanFileError, match="not UTF-8 text: byte 0xe9") as caught:
        pa.load_plans(path)
    assert (caught.value.path, caught.value.line) == (path, HEAD.count("\n") + 3)


def test_deeply_nested_values_are_a_plan_file_error(tmp_path: Path) -> None:
    path = tmp_path / "plans.toml"
    path.write_text("x = " + "[" * 100_000 + "]" * 100_000 + "\n")
    with pytest.raises(pa.PlanFileError, match="nested too deeply") as caught:
        pa.load_plans(path)
    assert caught.value.path == path


@pytest.mark.parametrize(("body", "message"), [
    ("plan = [1, 2]\n", "plan #1 must be a table"),
    ("plan = 5\n", "no plans"),
    ("defaults = 5\n[[plan]]\nname = 'x'\n", "defaults must be a table"),
])
def test_tables_of_the_wrong_type_are_plan_file_errors(tmp_path: Path, body: str,
                                                       message: str) -> None:
    path = tmp_path / "plans.toml"
    path.write_text(body)
    with pytest.raises(pa.PlanFileError, match=message):
        pa.load_plans(path)


def test_a_plan_file_too_large_is_refused_before_it_is_parsed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from prolific_async.orchestration import _planfile

    monkeypatch.setattr(_planfile, "MAX_PLAN_FILE_BYTES", 1024)
    path = write(tmp_path, ONE + "# " + "x" * 2000 + "\n")
    with pytest.raises(pa.PlanFileError, match="larger than"):
        pa.load_plans(path)


def test_plans_take_the_workspace_from_prolific_workspace_when_the_file_has_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PROLIFIC_WORKSPACE", "ws-from-env")
    head = HEAD.replace('workspace_id = "ws-1"\n', "")
    path = write(tmp_path, ONE + '''
        [[plan]]
        name = "two"
        dataset = "two.csv"
        workspace_id = "ws-own"
    ''', head=head)
    assert [p.workspace_id for p in pa.load_plans(path)] == ["ws-from-env", "ws-own"]
    # [defaults] wins over the environment.
    assert [p.workspace_id for p in pa.load_plans(write(tmp_path, ONE))] == ["ws-1"]


@pytest.mark.parametrize(("build", "message"), [
    (lambda: pa.StudyPlan(description="d", reward=1, places=1, estimated_minutes=1,
                          publish="false"), "publish must be true or false"),  # type: ignore
    (lambda: pa.StudyPlan(description="d", reward=1, places=1, estimated_minutes=1,
                          device_compatibility="desktop"), "must be a list of text"),
    (lambda: pa.StudyPlan(description="d", reward=1, places=1, estimated_minutes=1,
                          wait_deadline=math.nan), "finite number"),
    (lambda: pa.StudyPlan(description="d", reward=1, places=1, estimated_minutes=1,
                          title=5), "title must be text"),  # type: ignore
    (lambda: pa.StudyPlan(description=5, reward=1, places=1,  # type: ignore
                          estimated_minutes=1), "description must be text"),
    (lambda: pa.StudyPlan(description="d", reward=1, places=1, estimated_minutes=1,
                          device_compatibility=["desktop", 3]),  # type: ignore
     r"device_compatibility\[1\] must be text"),
])
def test_study_plan_values_are_typed_strictly_in_python(build: object, message: str) -> None:
    with pytest.raises((TypeError, ValueError), match=message):
        build()  # type: ignore[operator]
