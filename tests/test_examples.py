"""The programs under examples/ do what their docstrings say, against the fake server."""

from __future__ import annotations

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

pytest_plugins = ["pytester"]

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


def test_the_fixtures_example_passes_under_pytest(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_with_the_fake=(EXAMPLES / "test_with_the_fake.py").read_text())
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
