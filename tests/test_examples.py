"""The programs under examples/ do what their docstrings say, against the fake server.

(examples/test_with_the_fake.py is itself a test file: pytest collects it from examples/.)
"""

from __future__ import annotations

import csv
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import aiohttp
import pytest
from aiohttp import web

import prolific_async as pa
from prolific_async.testing import FakeClock, FakeProlific

EXAMPLES = Path(__file__).parent.parent / "examples"


def _load(name: str) -> ModuleType:
    # examples/ is a folder of scripts, not a package: load one by its path.
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


sse_backend = _load("sse_backend")


async def _serve(fake: FakeProlific) -> web.AppRunner:
    app = sse_backend.make_app(pa.Prolific(fake.token, base_url=fake.url), fake.workspace_id)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()  # a free port: tests may run in parallel
    return runner


async def _events(url: str, body: object) -> list[tuple[str, Any]]:
    """The server-sent events of one POST, read as a browser's EventSource would."""
    events = []
    timeout = aiohttp.ClientTimeout(total=60)  # a safety net only
    async with aiohttp.ClientSession(timeout=timeout) as session:
        async with session.post(url, json=body) as response:
            assert response.status == 200
            assert response.headers["Content-Type"] == "text/event-stream"
            name = None
            async for raw in response.content:
                line = raw.decode().rstrip("\n")
                if line.startswith("event: "):
                    name = line.removeprefix("event: ")
                elif line.startswith("data: "):
                    events.append((name, json.loads(line.removeprefix("data: "))))
    return events


@pytest.mark.anyio
async def test_the_backend_streams_every_stage_then_each_plans_result() -> None:
    async with FakeProlific(clock=FakeClock(speed=200)) as fake:
        runner = await _serve(fake)
        try:
            [(host, port)] = [address[:2] for address in runner.addresses]
            body = {"batches": [{"name": f"labels-{n}", "rows": [{"text": "good"},
                                                                  {"text": "bad"}]}
                                for n in range(3)]}
            events = await _events(f"http://{host}:{port}/runs", body)
        finally:
            await runner.cleanup()
        stages = [data for name, data in events if name == "stage"]
        for n in range(3):
            mine = [(e["stage"], e["kind"]) for e in stages if e["plan"] == f"labels-{n}"]
            assert mine[0] == ("dataset_create", "started")
            assert ("batch_ready", "finished") in mine
            assert ("study_create", "finished") in mine
            assert ("study_publish", "skipped") in mine  # the example never spends money
        assert any(e["kind"] == "transition" and e["status"] == "READY" for e in stages)
        name, results = events[-1]
        assert name == "done"
        assert [r["plan"] for r in results] == ["labels-0", "labels-1", "labels-2"]
        assert all(r["ok"] for r in results)
        for result in results:
            [batch] = fake.world.batches_named(result["plan"])
            assert batch.id == result["batch_id"]


@pytest.mark.anyio
async def test_the_backend_refuses_a_bad_body_before_creating_anything() -> None:
    async with FakeProlific(clock=FakeClock(speed=0)) as fake:
        runner = await _serve(fake)
        try:
            [(host, port)] = [address[:2] for address in runner.addresses]
            async with aiohttp.ClientSession() as session:
                async with session.post(f"http://{host}:{port}/runs",
                                        json={"batches": [{"name": "x", "rows": []}]}) as answer:
                    status, text = answer.status, await answer.text()
        finally:
            await runner.cleanup()
        assert status == 400
        assert text.startswith("batches[0]: plan 'x': dataset rows must be a non-empty list")
        assert fake.requests == []


merge_exports = _load("merge_exports")


@pytest.mark.anyio
async def test_the_merge_script_writes_every_answer_of_the_matching_batches(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    async with FakeProlific(clock=FakeClock(speed=200)) as fake:
        def plan(name: str, study: bool) -> pa.BatchPlan:
            return pa.BatchPlan(
                name=name, workspace_id=fake.workspace_id,
                dataset=[{"text": "one"}, {"text": "two"}],
                task_details=sse_backend.DETAILS, instructions=[sse_backend.QUESTION],
                tasks_per_group=2,
                study=pa.StudyPlan(description="Label", reward=20, places=2,
                                   estimated_minutes=1, publish=True, wait_for="complete")
                if study else None)

        plans = [plan("compare-0", True), plan("compare-1", True), plan("other-0", True)]
        async with pa.Prolific(fake.token, base_url=fake.url) as client:
            async with pa.orchestrate(client, plans) as run:
                async for _ in run:
                    pass
        assert all(result.ok for result in run.results)
        wanted = {r.batch_id for r in run.results if r.plan.startswith("compare-")}

        monkeypatch.setenv("PROLIFIC_TOKEN", fake.token)
        monkeypatch.setenv("PROLIFIC_URL", fake.url)
        dest = tmp_path / "answers.csv"
        await merge_exports.main([str(dest), "--workspace", fake.workspace_id,
                                  "--prefix", "compare-", "--keep", str(tmp_path / "zips")])

    # Two participants each answered one question on both tasks of two batches.
    assert capsys.readouterr().out == f"2 batches, 8 answers -> {dest}\n"
    with dest.open(newline="") as table:
        rows = list(csv.DictReader(table))
    assert {row["batch_id"] for row in rows} == wanted
    assert {row["value"] for row in rows} <= {"yes", "no"}
    assert len(list((tmp_path / "zips").glob("*.zip"))) == 2
