"""``prolific-async run PLAN.toml``: plan files, live progress, journals that resume."""

from __future__ import annotations

import json
import signal
import subprocess
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

import prolific_async as pa
from prolific_async.testing import FakeClock

from .cli_support import Served, command, invoke, one_error_line, served, subprocess_env
from .helpers import write_csv


def plan_file(folder: Path, workspace_id: str, names: list[str], *,
              extra: str = "") -> Path:
    """A plan file in the documented format, with a small CSV per plan."""
    (folder / "data").mkdir(exist_ok=True)
    plans = ""
    for name in names:
        write_csv(folder / "data", rows=4, name=f"{name}.csv")
        plans += f'\n[[plan]]\nname = "{name}"\ndataset = "data/{name}.csv"\n'
    path = folder / "plans.toml"
    path.write_text(textwrap.dedent(f"""\
        [defaults]
        workspace_id = "{workspace_id}"
        tasks_per_group = 2
        export_to = "exports"

        [defaults.task_details]
        task_name = "Label reviews"
        task_introduction = "<p>Read the review.</p>"
        task_steps = "<ol><li>Label it</li></ol>"

        [[defaults.instructions]]
        type = "free_text"
        description = "What is the main point?"

        [defaults.study]
        description = "Label reviews"
        reward = 10
        places = 2
        estimated_minutes = 1
        publish = true
        wait_for = "complete"
        {extra}""") + plans)
    return path


@pytest.fixture
def fake() -> Iterator[Served]:
    with served(fail_names={"broken"}) as running:
        yield running


def test_run_drives_every_plan(fake: Served, tmp_path: Path) -> None:
    plans = plan_file(tmp_path, fake.fake.workspace_id, ["first", "second"])
    result = invoke(fake, "run", str(plans))
    assert result.exit_code == 0, result.stderr
    assert "no --journal" in result.stderr and "second  download  done in" in result.stderr
    assert "2 of 2 batches done" in result.stdout
    assert f"exports in {(tmp_path / 'exports').resolve()}" in result.stdout
    assert len(list((tmp_path / "exports").glob("*.zip"))) == 2


def test_run_json(fake: Served, tmp_path: Path) -> None:
    plans = plan_file(tmp_path, fake.fake.workspace_id, ["only"])
    result = invoke(fake, "--json", "run", str(plans))
    report = json.loads(result.stdout)
    [only] = report["results"]
    assert (only["plan"], only["stage"], only["responses"]) == ("only", "download", 4)
    assert report["tasks"] == {only["batch_id"]: 4}
    assert Path(only["export_path"]).exists()


def test_a_failed_plan_fails_the_run_with_its_reason(fake: Served, tmp_path: Path) -> None:
    plans = plan_file(tmp_path, fake.fake.workspace_id, ["fine", "broken"])
    result = invoke(fake, "run", str(plans))
    assert result.exit_code == 8  # the dataset ended in ERROR
    # Progress lines first, then the one error line.
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith("error: 1 of 2 plans failed; broken: ")
    assert "ERROR" in line and "Traceback" not in result.stderr
    assert "1 of 2 batches done, 1 failed" in result.stdout


def test_under_a_set_up_tracer_provider_run_makes_plan_stage_and_request_spans(
        fake: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # As under `opentelemetry-instrument prolific-async run ...`, which sets the provider up.
    pytest.importorskip("opentelemetry.sdk.trace")
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from prolific_async.cli import _tracing

    monkeypatch.setattr(trace, "get_tracer_provider", trace.ProxyTracerProvider)
    # Not set up (the API alone records nothing): no hook at all, so nothing to pay.
    assert _tracing.request_spans() is None and _tracing.stage_spans() is None

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: provider)
    plans = plan_file(tmp_path, fake.fake.workspace_id, ["traced"])
    result = invoke(fake, "run", str(plans))
    assert result.exit_code == 0, result.stderr
    spans = exporter.get_finished_spans()
    [whole] = [s for s in spans if s.name == "prolific plan"]
    stages = {s.name for s in spans if s.parent and s.parent.span_id == whole.context.span_id}
    assert {f"prolific stage {stage}" for stage in pa.Stage} <= stages
    attributes = whole.attributes or {}
    assert attributes["prolific.outcome"] == "done" and attributes["prolific.batch_id"]
    assert any(s.name == "prolific GET" for s in spans)


def test_missing_plan_file(fake: Served, tmp_path: Path) -> None:
    result = invoke(fake, "run", str(tmp_path / "nope.toml"))
    assert result.exit_code == 6
    assert "nope.toml" in one_error_line(result)


def test_invalid_plan_file_names_line_and_field(fake: Served, tmp_path: Path) -> None:
    plans = plan_file(tmp_path, fake.fake.workspace_id, ["a"], extra="places_left = 3\n")
    result = invoke(fake, "run", str(plans))
    assert result.exit_code == 6
    line = one_error_line(result)
    assert "plans.toml:" in line and "places_left" in line
    assert fake.fake.requests_to("POST") == []


def test_interrupted_run_resumes_from_its_journal(tmp_path: Path) -> None:
    names = ["one", "two", "three", "four"]
    # A clock at 4x real time: long enough to interrupt the run in the middle.
    with served(clock=FakeClock(speed=4), dataset_processing=2, batch_setup=8,
                export_generating=2, submission_interval=1) as fake:
        plans = plan_file(tmp_path, fake.fake.workspace_id, names)
        argv = command("run", str(plans), "--journal", str(tmp_path / "run.db"))
        first = subprocess.Popen(argv, env=subprocess_env(fake), stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
        assert first.stderr is not None
        seen = []
        for line in first.stderr:
            seen.append(line)
            if "batch_ready" in line:  # datasets done, batches being set up
                break
        first.send_signal(signal.SIGINT)
        _, err = first.communicate(timeout=30)
        assert first.returncode == 130, "".join(seen) + err
        assert err.rstrip().splitlines()[-1] == "error: interrupted"
        assert "run the same command again to resume" in err

        async def server(client: pa.Prolific) -> tuple[list[pa.Batch], list[pa.Study]]:
            return (await client.batches.list(workspace_id=fake.fake.workspace_id),
                    await client.studies.list())

        before, _ = fake.call(server)
        assert before, "the first run was interrupted before it created a batch"

        second = subprocess.run(argv, env=subprocess_env(fake), capture_output=True,
                                text=True, timeout=60, check=False)
        assert second.returncode == 0, second.stderr
        assert "4 of 4 batches done" in second.stdout
        batches, studies = fake.call(server)
    # The batches of the first run were carried on, not made again.
    assert {b.id for b in before} <= {b.id for b in batches}
    assert sorted(b.name or "" for b in batches) == sorted(names)
    assert sorted(s.data_collection_id or "" for s in studies) == sorted(b.id for b in batches)
    assert {str(s.status) for s in studies} == {"AWAITING REVIEW"}
    assert len(list((tmp_path / "exports").glob("*.zip"))) == 4
