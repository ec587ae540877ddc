"""``prolific-async dataset append``: JSON lines from a file or stdin into a V4 dataset."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

import prolific_async as pa
from prolific_async.cli._app import cli

from .cli_support import Served, invoke, served

SCHEMA = pa.DatasetSchema(fields={"prompt": pa.SchemaField(type="text")})


@pytest.fixture
def fake() -> Iterator[Served]:
    with served() as running:
        yield running


def v4_dataset(fake: Served) -> str:
    async def work(client: pa.Prolific) -> str:
        ds = await client.datasets.create(name="stream", workspace_id=fake.fake.workspace_id,
                                          schema=SCHEMA)
        return ds.id

    return fake.call(work)


def test_append_a_file_prints_the_counts_and_each_rejected_line(
        fake: Served, tmp_path: Path) -> None:
    dataset_id = v4_dataset(fake)
    lines = [json.dumps({"prompt": f"p{i}"}) for i in range(1500)]
    lines[3] = json.dumps({"prompt": 3})           # line 4: not text
    lines.append(json.dumps({"prompt": "p0"}))     # a duplicate
    data = tmp_path / "records.jsonl"
    data.write_text("\n".join(lines) + "\n")

    result = invoke(fake, "dataset", "append", dataset_id, str(data))

    assert result.exit_code == 6, result.stderr     # a record was rejected
    assert result.stdout.splitlines() == ["accepted 1499, duplicates 1, rejected 1",
                                          "line 4: prompt: must be text"]
    assert sorted(fake.fake.v4.append_sizes) == [501, 1000]


def test_append_reads_stdin_and_prints_json(fake: Served) -> None:
    dataset_id = v4_dataset(fake)
    text = "".join(json.dumps({"prompt": f"p{i}"}) + "\n" for i in range(3))
    result = CliRunner().invoke(cli, ["--json", "dataset", "append", dataset_id, "-"],
                                input=text, env=fake.env, catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    shown = json.loads(result.stdout)
    assert (shown["accepted"], shown["duplicates"], shown["rejected"]) == (3, 0, 0)


def test_a_line_that_is_not_an_object_is_named(fake: Served, tmp_path: Path) -> None:
    data = tmp_path / "bad.jsonl"
    data.write_text('{"prompt": "a"}\n[1, 2]\n')
    result = invoke(fake, "dataset", "append", v4_dataset(fake), str(data))
    assert result.exit_code == 6
    assert "line 2 is not a JSON object" in result.stderr
    assert fake.fake.v4.append_sizes == []
