"""``client.batches`` and ``client.instructions`` against the fake, over loopback."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

import prolific_async as pa
from prolific_async._converter import converter
from prolific_async.testing import FakeProlific

from .conftest import example
from .helpers import DETAILS, QUESTIONS, new_batch, published_study, ready_batch, ready_dataset

pytestmark = pytest.mark.anyio


async def test_create_get_list_update(prolific_client: pa.Prolific,
                                      fake_prolific: FakeProlific) -> None:
    client, ws = prolific_client, fake_prolific.workspace_id
    batch = await client.batches.create(name="b1", workspace_id=ws, task_details=DETAILS)
    assert batch.status is pa.BatchStatus.UNINITIALISED
    assert (await client.batches.get(batch.id)).task_details == DETAILS
    assert [b.id for b in await client.batches.list(workspace_id=ws)] == [batch.id]
    renamed = await client.batches.update(batch.id, name="b1-renamed", auto_sync_enabled=True)
    assert renamed.name == "b1-renamed" and renamed.auto_sync_enabled is True
    [patch] = fake_prolific.requests_to("PATCH")
    assert patch.json == {"name": "b1-renamed", "auto_sync_enabled": True}


async def test_update_needs_a_field(prolific_client: pa.Prolific) -> None:
    with pytest.raises(ValueError, match="at least one field"):
        await prolific_client.batches.update("b1")


async def test_update_can_clear_batch_items(prolific_client: pa.Prolific,
                                            fake_prolific: FakeProlific) -> None:
    pages = converter.structure(example("cli-docs-examples/batch-items.json"), list[pa.BatchPage])
    batch = await prolific_client.batches.create(
        name="b", workspace_id=fake_prolific.workspace_id, task_details=DETAILS,
        batch_items=pages)
    [post] = fake_prolific.requests_to("POST", "*/batches")
    assert post.json["batch_items"] == example("cli-docs-examples/batch-items.json")
    assert batch.batch_items is not None
    assert isinstance(batch.batch_items[0].rows[0].columns[0].items[1], pa.MultipleChoice)
    await prolific_client.batches.update(batch.id, batch_items=None)
    assert fake_prolific.requests_to("PATCH")[0].json == {"batch_items": None}


async def test_invalid_batch_items_is_422_with_issues(prolific_client: pa.Prolific,
                                                      fake_prolific: FakeProlific) -> None:
    pages = [pa.BatchPage(display_position="intro", rows=[pa.BatchRow(columns=[
        pa.BatchColumn(items=[pa.FreeText(description="Not allowed on an intro page")])])])]
    with pytest.raises(pa.UnprocessableEntityError) as caught:
        await prolific_client.batches.create(name="b", workspace_id=fake_prolific.workspace_id,
                                             task_details=DETAILS, batch_items=pages)
    [issue] = caught.value.issues
    assert (issue.page, issue.row, issue.column, issue.item) == (0, 0, 0, 0)
    assert "intro" in str(caught.value)


async def test_missing_task_details_field(prolific_client: pa.Prolific,
                                          fake_prolific: FakeProlific) -> None:
    with pytest.raises(pa.BadRequestError,
                       match=r"task_details\.task_steps: This field is required"):
        await prolific_client.batches.create(
            name="b", workspace_id=fake_prolific.workspace_id,
            task_details=pa.TaskDetails(task_name="n", task_introduction="i", task_steps=""))


async def test_instructions_create_get_replace(prolific_client: pa.Prolific,
                                               fake_prolific: FakeProlific) -> None:
    batch = await prolific_client.batches.create(
        name="b", workspace_id=fake_prolific.workspace_id, task_details=DETAILS)
    made = await prolific_client.instructions.create(batch.id, QUESTIONS)
    assert [type(m) for m in made] == [pa.MultipleChoice, pa.FreeText]
    assert all(m.id and m.batch_id == batch.id for m in made if not isinstance(m, pa.UnknownItem))
    assert await prolific_client.instructions.get(batch.id) == made
    [sent] = fake_prolific.requests_to("POST", "*/instructions")
    assert sent.json["instructions"][0] == {
        "type": "multiple_choice", "description": "Which response is better?", "answer_limit": 1,
        "options": [{"label": "A", "value": "a"}, {"label": "B", "value": "b"}],
        "created_by": "prolific_async"}
    replaced = await prolific_client.instructions.replace(batch.id, [pa.FreeText(description="?")])
    assert [m.description for m in replaced if isinstance(m, pa.FreeText)] == ["?"]


async def test_every_instruction_type_is_accepted(prolific_client: pa.Prolific,
                                                  fake_prolific: FakeProlific) -> None:
    batch = await prolific_client.batches.create(
        name="b", workspace_id=fake_prolific.workspace_id, task_details=DETAILS)
    documented = converter.structure(example("cli-docs-examples/batch-instructions.json"),
                                     list[pa.Item])
    made = await prolific_client.instructions.create(batch.id, documented)
    assert [type(m) for m in made] == [type(d) for d in documented]
    [sent] = fake_prolific.requests_to("POST", "*/instructions")
    assert sent.json == {"instructions": example("cli-docs-examples/batch-instructions.json")}


async def test_setup_refused_until_dataset_ready(prolific_client: pa.Prolific,
                                                 fake_prolific: FakeProlific) -> None:
    ds = await prolific_client.datasets.create(name="d", workspace_id=fake_prolific.workspace_id)
    batch = await new_batch(prolific_client, fake_prolific, ds)
    with pytest.raises(pa.BadRequestError, match="not ready"):
        await prolific_client.batches.setup(batch.id)


async def test_setup_watch_and_instructions_refused_after(
    prolific_client: pa.Prolific, fake_prolific: FakeProlific
) -> None:
    ds = await ready_dataset(prolific_client, fake_prolific)
    batch = await new_batch(prolific_client, fake_prolific, ds)
    await prolific_client.batches.setup(batch.id, tasks_per_group=2)
    [setup] = fake_prolific.requests_to("POST", "*/setup")
    assert setup.json == {"tasks_per_group": 2}
    assert await prolific_client.batches.status(batch.id) is pa.BatchStatus.PROCESSING
    with pytest.raises(pa.BadRequestError, match="cannot be edited"):
        await prolific_client.instructions.create(batch.id, QUESTIONS)
    fake_prolific.clock.advance(fake_prolific.world.batch_setup)
    ready = await prolific_client.batches.wait_ready(batch.id)
    assert ready.status is pa.BatchStatus.READY and ready.total_task_count == 1


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
async def test_setup_validates_tasks_per_group(prolific_client: pa.Prolific, bad: object) -> None:
    with pytest.raises(ValueError, match="tasks_per_group"):
        await prolific_client.batches.setup("b1", tasks_per_group=bad)  # type: ignore[arg-type]


async def test_duplicate(prolific_client: pa.Prolific, fake_prolific: FakeProlific) -> None:
    batch = await ready_batch(prolific_client, fake_prolific)
    copy = await prolific_client.batches.duplicate(batch.id)
    assert copy.name == "batch-1 (Copy)" and copy.id != batch.id
    assert copy.datasets == batch.datasets
    named = await prolific_client.batches.duplicate(batch.id, name="again",
                                                    upload_new_dataset=True)
    assert named.name == "again" and named.datasets == []


async def test_responses_after_publishing(prolific_client: pa.Prolific,
                                          fake_prolific: FakeProlific) -> None:
    batch = await ready_batch(prolific_client, fake_prolific)
    assert [r async for r in prolific_client.batches.responses(batch.id)] == []
    study = await published_study(prolific_client, fake_prolific, batch, places=3)
    assert study.status is pa.StudyStatus.ACTIVE
    fake_prolific.clock.advance(2 * fake_prolific.world.submission_interval)
    rows = [r async for r in prolific_client.batches.responses(batch.id)]
    assert len({r.submission_id for r in rows}) == 2
    assert {r.response.type for r in rows} == {pa.InstructionType.MULTIPLE_CHOICE,
                                               pa.InstructionType.FREE_TEXT}
    choice = next(r for r in rows if r.response.type is pa.InstructionType.MULTIPLE_CHOICE)
    assert choice.response.answer[0].value in ("a", "b")
    fake_prolific.clock.advance(fake_prolific.world.submission_interval)
    assert (await prolific_client.studies.get(study.id)).status is pa.StudyStatus.AWAITING_REVIEW


async def test_download_report(prolific_client: pa.Prolific, fake_prolific: FakeProlific,
                               tmp_path: Path) -> None:
    batch = await ready_batch(prolific_client, fake_prolific)
    await published_study(prolific_client, fake_prolific, batch, places=2)
    fake_prolific.clock.advance(5)
    link = await prolific_client.batches.report(batch.id)
    assert link.url is not None and link.http_method == "GET"
    path = await prolific_client.batches.download_report(batch.id, tmp_path)
    assert path.parent == tmp_path and path.name.startswith(f"{batch.id}-report-")
    with path.open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 2
    assert rows[0]["Which response is better?"] in ("a", "b")
    [get] = fake_prolific.requests_to("GET", "/reports/*")
    assert "Authorization" not in get.headers
    assert list(tmp_path.iterdir()) == [path]


async def test_report_link_rejected_as_expired_is_asked_for_again(
    prolific_client: pa.Prolific, fake_prolific: FakeProlific, tmp_path: Path
) -> None:
    batch = await ready_batch(prolific_client, fake_prolific)
    fake_prolific.inject(method="GET", path="/reports/*", status=403, times=1,
                         body="<Error><Code>AccessDenied</Code></Error>")
    path = await prolific_client.batches.download_report(batch.id, tmp_path / "report.csv")
    assert path.read_text().startswith("Prompt,Model response,task_id")
    assert len(fake_prolific.requests_to("GET", "*/report/")) == 2
    assert len(fake_prolific.requests_to("GET", "/reports/*")) == 2
    assert list(tmp_path.iterdir()) == [path]


async def test_sync(prolific_client: pa.Prolific, fake_prolific: FakeProlific) -> None:
    batch = await ready_batch(prolific_client, fake_prolific)
    job = await prolific_client.batches.sync(batch.id)
    assert job.status is pa.SyncStatus.QUEUED and job.sync_id
    fake_prolific.clock.advance(fake_prolific.world.batch_setup)
    done = await prolific_client.batches.sync_status(batch.id, job.sync_id)
    assert done.status is pa.SyncStatus.COMPLETE and done.tasks_created == 0
