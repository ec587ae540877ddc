"""The command line at its edges: a closed pipe, narrow terminals, the workspace given once,
listing studies, finding a batch by name, and what a failed run says at the end."""

from __future__ import annotations

import io
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

import prolific_async as pa
from prolific_async.cli._output import Output

from .cli_support import Served, command, invoke, one_error_line, served, subprocess_env
from .helpers import published_study, ready_batch
from .test_cli_run import plan_file


@pytest.fixture
def fake() -> Iterator[Served]:
    with served(fail_names={"broken"}) as running:
        yield running


def test_a_closed_stdout_ends_the_command_quietly_with_the_sigpipe_status(
        fake: Served) -> None:
    fake.call(lambda client: client.batches.create(
        name="b", workspace_id=fake.fake.workspace_id,
        task_details=pa.TaskDetails(task_name="n", task_introduction="i", task_steps="s")))
    child = subprocess.Popen(command("--json", "batch", "list"), env=subprocess_env(fake),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert child.stdout is not None and child.stderr is not None
    child.stdout.close()  # the reader is gone before the first line, as `| head -0` would be
    stderr = child.stderr.read().decode()
    child.stderr.close()
    assert child.wait(timeout=60) == 141
    assert stderr == ""


def test_the_workspace_may_be_given_once_before_the_command(fake: Served) -> None:
    ws = fake.fake.workspace_id
    fake.call(lambda client: client.batches.create(
        name="found", workspace_id=ws,
        task_details=pa.TaskDetails(task_name="n", task_introduction="i", task_steps="s")))
    no_env = {"PROLIFIC_WORKSPACE": None}
    before = invoke(fake, "--workspace", ws, "batch", "list", env=no_env)
    assert before.exit_code == 0 and "found" in before.stdout
    # The subcommand's own option wins over the root's.
    after = invoke(fake, "--workspace", "elsewhere", "batch", "list", "-w", ws, env=no_env)
    assert after.exit_code == 0 and "found" in after.stdout
    missing = invoke(fake, "batch", "list", env=no_env)
    assert missing.exit_code == 2
    assert "--workspace" in missing.stderr and "PROLIFIC_WORKSPACE" in missing.stderr


def test_batch_find_prints_the_id_of_the_batch_with_that_name(fake: Served) -> None:
    ws = fake.fake.workspace_id
    details = pa.TaskDetails(task_name="n", task_introduction="i", task_steps="s")

    async def make(client: pa.Prolific) -> list[str]:
        return [(await client.batches.create(name=name, workspace_id=ws,
                                             task_details=details)).id
                for name in ("alpha", "beta", "beta")]

    alpha, beta_1, beta_2 = fake.call(make)
    found = invoke(fake, "batch", "find", "alpha")
    assert (found.exit_code, found.stdout) == (0, f"{alpha}\n")
    twice = invoke(fake, "batch", "find", "beta")
    assert twice.exit_code == 0 and "2 batches are named 'beta'" in twice.stderr
    assert beta_1 in twice.stdout and beta_2 in twice.stdout
    missing = invoke(fake, "batch", "find", "gamma")
    assert missing.exit_code == 5
    assert "no batch named 'gamma'" in one_error_line(missing)


def test_study_list_filters_by_batch_and_state(fake: Served) -> None:
    async def make(client: pa.Prolific) -> tuple[str, str, str]:
        first = await ready_batch(client, fake.fake, name="first")
        second = await ready_batch(client, fake.fake, name="second")
        published = await published_study(client, fake.fake, first)
        draft = await client.studies.create(pa.StudyCreate(
            name="Draft", description="d", data_collection_id=second.id, reward=10,
            total_available_places=1, estimated_completion_time=1))
        return first.id, published.id, draft.id

    first, published, draft = fake.call(make)
    everything = invoke(fake, "study", "list")
    assert everything.exit_code == 0
    assert published in everything.stdout and draft in everything.stdout
    of_batch = invoke(fake, "study", "list", "--batch", first)
    assert published in of_batch.stdout and draft not in of_batch.stdout
    unpublished = invoke(fake, "--json", "study", "list", "--state", "UNPUBLISHED")
    assert [s["id"] for s in json.loads(unpublished.stdout)] == [draft]
    none = invoke(fake, "study", "list", "--batch", first, "--state", "unpublished")
    assert none.exit_code == 0 and none.stdout == ""
    assert f"no studies of batch {first} in UNPUBLISHED" in none.stderr


def test_tables_keep_plan_names_whole_at_80_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    names = [f"reviews-2026-12-batch-{n:02d}" for n in range(1, 13)]
    out = io.StringIO()
    Output(as_json=False, stdout=out).table(
        ("batch", "dataset", "tasks", "responses", "dataset s", "batch s", "study s",
         "export s", "export"),
        [(name, "0fb89ea8…", 8, 16, 0.5, 0.5, 0.4, 0.3,
          f"e164666f-877d-4012-7f42-11bd7cb55cb1-export-{n}.zip")
         for n, name in enumerate(names)])
    lines = out.getvalue().splitlines()
    assert all(len(line) <= 80 for line in lines)
    assert [n for n in names if any(line.startswith(n) for line in lines)] == names


def test_a_failed_run_says_only_what_happened(fake: Served, tmp_path: Path) -> None:
    plans = plan_file(tmp_path, fake.fake.workspace_id, ["broken"])
    result = invoke(fake, "run", str(plans))
    assert result.exit_code == 8
    assert "0 of 1 batches done, 1 failed" in result.stdout
    assert "exports in" not in result.stdout  # nothing was exported


def test_a_changed_plan_is_not_told_to_rerun_with_the_same_journal(
        fake: Served, tmp_path: Path) -> None:
    journal = tmp_path / "run.db"
    plans = plan_file(tmp_path, fake.fake.workspace_id, ["one"])
    assert invoke(fake, "run", str(plans), "--journal", str(journal)).exit_code == 0
    plans.write_text(plans.read_text().replace("tasks_per_group = 2", "tasks_per_group = 1"))
    changed = invoke(fake, "run", str(plans), "--journal", str(journal))
    assert changed.exit_code == 6, changed.stderr
    last = changed.stderr.strip().splitlines()[-1]
    assert last.startswith("error: 1 of 1 plans failed; one: ")
    assert "rerun with --journal" not in last
    assert "exports in" not in changed.stdout
