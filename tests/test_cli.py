"""The ``prolific-async`` commands, in-process, against a fake served from another thread."""

from __future__ import annotations

import csv
import json
import re
import signal
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import prolific_async as pa
from prolific_async.testing import FakeClock

from .cli_support import Served, command, invoke, one_error_line, served, subprocess_env
from .conftest import EXAMPLES
from .helpers import DETAILS, QUESTIONS, write_csv


@pytest.fixture
def fake() -> Iterator[Served]:
    with served() as running:
        yield running


def ready_batch(fake: Served, tmp_path: Path, name: str = "reviews-1") -> pa.Batch:
    """A READY batch with two questions, made through the SDK."""
    data = write_csv(tmp_path, rows=4)

    async def work(client: pa.Prolific) -> pa.Batch:
        ds = await client.datasets.create(name=name, workspace_id=fake.fake.workspace_id)
        await client.datasets.upload(ds.id, data)
        await client.datasets.wait_ready(ds.id)
        batch = await client.batches.create(name=name, workspace_id=fake.fake.workspace_id,
                                            dataset_id=ds.id, task_details=DETAILS)
        await client.instructions.create(batch.id, QUESTIONS)
        await client.batches.setup(batch.id, tasks_per_group=2)
        return await client.batches.wait_ready(batch.id)

    return fake.call(work)


def answered_batch(fake: Served, tmp_path: Path, places: int = 3) -> pa.Batch:
    """A READY batch whose published study has had ``places`` submissions."""
    batch = ready_batch(fake, tmp_path)

    async def work(client: pa.Prolific) -> None:
        study = await client.studies.create(pa.StudyCreate(
            name="Rate", description="Rate", data_collection_id=batch.id, reward=10,
            total_available_places=places, estimated_completion_time=1))
        await client.studies.publish(study.id)

    fake.call(work)
    fake.advance(places * fake.fake.world.submission_interval)
    return batch


def test_batch_reads(fake: Served, tmp_path: Path) -> None:
    batch = ready_batch(fake, tmp_path)

    listed = invoke(fake, "batch", "list")
    assert listed.exit_code == 0, listed.stderr
    assert batch.id in listed.stdout and "READY" in listed.stdout

    as_json = invoke(fake, "--json", "batch", "list")
    [row] = json.loads(as_json.stdout)
    assert (row["id"], row["name"], row["status"]) == (batch.id, "reviews-1", "READY")

    got = json.loads(invoke(fake, "batch", "get", batch.id, "--json").stdout)
    assert got["total_task_count"] == 4 and got["tasks_per_group"] == 2
    human = invoke(fake, "batch", "get", batch.id).stdout
    assert re.search(r"total_task_count\s+4", human)

    assert invoke(fake, "batch", "status", batch.id).stdout == "READY\n"
    assert json.loads(invoke(fake, "batch", "status", batch.id, "--json").stdout) == {
        "id": batch.id, "status": "READY"}


def test_dataset_create_upload_watch(fake: Served, tmp_path: Path) -> None:
    created = invoke(fake, "dataset", "create", "--name", "reviews")
    assert created.exit_code == 0, created.stderr
    dataset_id = created.stdout.strip()
    assert "created dataset 'reviews'" in created.stderr

    uploaded = invoke(fake, "dataset", "upload", dataset_id, str(write_csv(tmp_path)), "--wait")
    assert uploaded.exit_code == 0, uploaded.stderr
    changes = uploaded.stdout.splitlines()
    assert changes[0].endswith("- -> PROCESSING (0.0s)") or "-> PROCESSING" in changes[0]
    assert "PROCESSING -> READY" in changes[-1]

    shown = json.loads(invoke(fake, "dataset", "status", dataset_id, "--json").stdout)
    assert (shown["status"], shown["total_datapoint_count"]) == ("READY", 4)

    watched = invoke(fake, "--json", "dataset", "watch", dataset_id)
    [line] = [json.loads(x) for x in watched.stdout.splitlines()]
    assert (line["kind"], line["id"], line["previous"], line["current"]) == (
        "dataset", dataset_id, None, "READY")


def test_instructions_from_the_documented_file(fake: Served, tmp_path: Path) -> None:
    source = EXAMPLES / "cli-docs-examples" / "batch-instructions.json"

    async def new_batch(client: pa.Prolific) -> pa.Batch:
        return await client.batches.create(name="b", workspace_id=fake.fake.workspace_id,
                                           task_details=DETAILS)

    batch = fake.call(new_batch)
    created = invoke(fake, "instructions", "create", batch.id, str(source))
    assert created.exit_code == 0, created.stderr
    expected = json.loads(source.read_text())
    assert len(created.stdout.split()) == len(expected)

    got = json.loads(invoke(fake, "instructions", "get", batch.id, "--json").stdout)
    assert [(i["type"], i["description"]) for i in got] == [
        (i["type"], i["description"]) for i in expected]
    assert "multiple_choice" in invoke(fake, "instructions", "get", batch.id).stdout


def test_setup_and_watch_a_batch(fake: Served, tmp_path: Path) -> None:
    data = write_csv(tmp_path)

    async def unset(client: pa.Prolific) -> pa.Batch:
        ds = await client.datasets.create(name="d", workspace_id=fake.fake.workspace_id)
        await client.datasets.upload(ds.id, data)
        await client.datasets.wait_ready(ds.id)
        batch = await client.batches.create(name="b", workspace_id=fake.fake.workspace_id,
                                            dataset_id=ds.id, task_details=DETAILS)
        await client.instructions.create(batch.id, QUESTIONS)
        return batch

    batch = fake.call(unset)
    set_up = invoke(fake, "batch", "setup", batch.id, "--tasks-per-group", "2", "--wait")
    assert set_up.exit_code == 0, set_up.stderr
    assert "set-up started" in set_up.stderr
    assert "PROCESSING -> READY" in set_up.stdout.splitlines()[-1]

    watched = invoke(fake, "batch", "watch", batch.id)
    assert watched.exit_code == 0
    assert watched.stdout.rstrip().endswith("- -> READY (0.0s)")


def test_study_create_publish_and_responses(fake: Served, tmp_path: Path) -> None:
    batch = ready_batch(fake, tmp_path)
    created = invoke(fake, "study", "create", "--batch", batch.id, "--name", "Label",
                     "--description", "Label reviews", "--reward", "50", "--places", "2",
                     "--minutes", "3", "--annotators-per-task", "1")
    assert created.exit_code == 0, created.stderr
    study_id = created.stdout.strip()

    refused = invoke(fake, "study", "publish", study_id)
    assert refused.exit_code == 2
    assert "--yes" in one_error_line(refused)

    published = invoke(fake, "study", "publish", study_id, "--yes")
    assert (published.exit_code, published.stdout) == (0, "ACTIVE\n")
    fake.advance(2 * fake.fake.world.submission_interval)

    shown = json.loads(invoke(fake, "study", "get", study_id, "--json").stdout)
    assert shown["data_collection_id"] == batch.id
    assert shown["data_collection_metadata"] == {"annotators_per_task": 1}

    lines = invoke(fake, "batch", "responses", batch.id, "--json").stdout.splitlines()
    rows = [json.loads(line) for line in lines]
    # Two submissions, each of one group of two tasks, each answering two questions.
    assert len(rows) == 2 * 2 * 2
    assert {r["response"]["type"] for r in rows} == {"multiple_choice", "free_text"}
    table = invoke(fake, "batch", "responses", batch.id)
    assert "8 responses" in table.stderr and "multiple_choice" in table.stdout


def test_report_and_export(fake: Served, tmp_path: Path,
                           monkeypatch: pytest.MonkeyPatch) -> None:
    batch = answered_batch(fake, tmp_path)
    monkeypatch.chdir(tmp_path)

    exported = invoke(fake, "batch", "export", batch.id)
    assert exported.exit_code == 0, exported.stderr
    path = Path(exported.stdout.strip())
    # The name Prolific's own CLI gives, in the current folder.
    assert re.fullmatch(rf"{batch.id}-export-\d{{8}}-\d{{6}}\.zip", path.name)
    assert path.parent == Path(".")
    with zipfile.ZipFile(path) as archive:
        assert "responses-by-submission.jsonl" in archive.namelist()

    # On a terminal, a bar follows the download, byte by byte.
    shown = invoke(fake, "batch", "export", batch.id, "-o", "bar/",
                   env={"NO_COLOR": None, "FORCE_COLOR": "1", "COLUMNS": "200"})
    plain = re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", shown.stderr)
    size = (tmp_path / shown.stdout.strip()).stat().st_size
    assert f"downloading batch {batch.id}" in plain
    assert f"{size / 1000:.1f}/{size / 1000:.1f} kB" in plain

    chosen = invoke(fake, "--json", "batch", "export", batch.id, "-o", "out/answers.zip")
    assert json.loads(chosen.stdout)["path"] == "out/answers.zip"
    assert zipfile.is_zipfile(tmp_path / "out" / "answers.zip")

    reported = invoke(fake, "batch", "report", batch.id, "-o", "reports/")
    report = Path(reported.stdout.strip())
    assert report.parent == Path("reports")
    with report.open() as text:
        rows = list(csv.DictReader(text))
    assert len(rows) == 3 * 2 and "Why?" in rows[0]


def test_collections(fake: Served, tmp_path: Path) -> None:
    body = json.loads((EXAMPLES / "cli-docs-examples" / "collection.json").read_text())
    pages = [pa.CollectionPage(order=0, page_items=[
        pa.FreeText(order=0, description=body["collection_items"][0]["page_items"][1]
                    ["description"])])]

    async def make(client: pa.Prolific) -> pa.Collection:
        return await client.collections.create(
            name="survey", workspace_id=fake.fake.workspace_id, task_details=DETAILS,
            collection_items=pages)

    made = fake.call(make)
    [listed] = json.loads(invoke(fake, "collection", "list", "--json").stdout)
    assert (listed["id"], listed["name"]) == (made.id, "survey")
    assert "survey" in invoke(fake, "collection", "get", made.id).stdout

    exported = invoke(fake, "collection", "export", made.id, "-o", str(tmp_path))
    assert exported.exit_code == 0, exported.stderr
    with zipfile.ZipFile(exported.stdout.strip()) as archive:
        assert "collection.json" in archive.namelist()


def test_empty_lists_say_so_on_stderr(fake: Served) -> None:
    listed = invoke(fake, "batch", "list")
    assert (listed.exit_code, listed.stdout) == (0, "")
    assert "no batches in workspace" in listed.stderr
    assert json.loads(invoke(fake, "batch", "list", "--json").stdout) == []


# -- failures: one line on stderr, a documented exit code ----------------------------------


def test_no_token(fake: Served) -> None:
    result = invoke(fake, "batch", "get", "x", env={"PROLIFIC_TOKEN": None})
    assert result.exit_code == 3
    assert "PROLIFIC_TOKEN" in one_error_line(result)


def test_wrong_token(fake: Served) -> None:
    result = invoke(fake, "batch", "list", env={"PROLIFIC_TOKEN": "not-the-token"})
    assert result.exit_code == 4
    line = one_error_line(result)
    assert "refused the token" in line and "not-the-token" not in result.output


def test_unknown_id(fake: Served) -> None:
    result = invoke(fake, "batch", "get", "no-such-batch")
    assert result.exit_code == 5
    assert "404" in one_error_line(result)


def test_bad_id_is_refused_before_sending(fake: Served) -> None:
    result = invoke(fake, "batch", "get", "../datasets")
    assert result.exit_code == 2
    assert "not a valid path segment" in one_error_line(result)
    assert fake.fake.requests_to("GET", "*/datasets*") == []


def test_missing_file(fake: Served, tmp_path: Path) -> None:
    result = invoke(fake, "dataset", "upload", "some-dataset", str(tmp_path / "nope.csv"))
    assert result.exit_code == 6
    assert "nope.csv" in one_error_line(result)


@pytest.mark.parametrize(("content", "says"), [
    ("{not json", "not valid JSON"),
    ('{"instructions": []}', "non-empty list"),
    ('[{"type": "essay", "description": "?"}]', "instruction 0: type must be one of"),
    ('[{"type": "free_text", "descripton": "?"}]',
     "missing required field 'description' (fields it does not have: 'descripton')"),
])
def test_bad_instructions_file(fake: Served, tmp_path: Path, content: str, says: str) -> None:
    path = tmp_path / "questions.json"
    path.write_text(content)
    result = invoke(fake, "instructions", "create", "some-batch", str(path))
    assert result.exit_code == 6
    assert says in one_error_line(result)
    assert fake.fake.requests_to("POST") == []


def test_network_down(tmp_path: Path) -> None:
    result = invoke(None, "--retries", "0", "batch", "get", "x",
                    env={"PROLIFIC_URL": "http://127.0.0.1:9", "PROLIFIC_TOKEN": "t"})
    assert result.exit_code == 7
    assert "could not reach the API at http://127.0.0.1:9" in one_error_line(result)


def test_failed_job(tmp_path: Path) -> None:
    with served(fail_names={"broken"}) as fake:
        async def work(client: pa.Prolific) -> str:
            ds = await client.datasets.create(name="broken",
                                              workspace_id=fake.fake.workspace_id)
            await client.datasets.upload(ds.id, write_csv(tmp_path))
            return ds.id

        result = invoke(fake, "dataset", "watch", fake.call(work))
    assert result.exit_code == 8
    assert "ERROR" in one_error_line(result)
    # The transitions seen before the failure were printed as they came.
    assert result.stdout.splitlines()[0].endswith("-> PROCESSING (0.0s)")


def test_debug_shows_the_traceback(fake: Served) -> None:
    result = invoke(fake, "--debug", "batch", "get", "no-such-batch")
    assert result.exit_code == 5
    assert "Traceback" in result.stderr and "NotFoundError" in result.stderr
    assert result.stderr.rstrip().splitlines()[-1].startswith("error: 404")
    assert fake.fake.token not in result.stderr


def test_no_colour_unless_a_terminal_allows_it(fake: Served) -> None:
    forced = invoke(fake, "batch", "get", "nope", env={"NO_COLOR": None, "FORCE_COLOR": "1"})
    assert "\x1b[" in forced.stderr
    for env in ({"NO_COLOR": "1", "FORCE_COLOR": "1"}, {"NO_COLOR": None}):
        plain = invoke(fake, "batch", "get", "nope", env=env)
        assert "\x1b[" not in plain.stderr, env


def test_ctrl_c_stops_a_watch_with_130(tmp_path: Path) -> None:
    # A stopped clock: the dataset stays PROCESSING until the watch is interrupted.
    with served(clock=FakeClock(speed=0)) as fake:
        async def processing(client: pa.Prolific) -> str:
            ds = await client.datasets.create(name="d", workspace_id=fake.fake.workspace_id)
            await client.datasets.upload(ds.id, write_csv(tmp_path))
            return ds.id

        watch = subprocess.Popen(command("dataset", "watch", fake.call(processing)),
                                 env=subprocess_env(fake), stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
        assert watch.stdout is not None
        assert watch.stdout.readline().endswith("- -> PROCESSING (0.0s)\n")
        watch.send_signal(signal.SIGINT)
        _, err = watch.communicate(timeout=20)
    assert watch.returncode == 130
    assert err == "error: interrupted\n"
