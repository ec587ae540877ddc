"""``prolific-async demo`` end to end, in a subprocess, as a newcomer runs it."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from .cli_support import run


def test_demo_runs_every_batch_to_its_export(tmp_path: Path) -> None:
    # --speed only makes the fake's jobs shorter; everything else is the default demo.
    result = run("demo", "--batches", "3", "--out", str(tmp_path), "--speed", "200")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split()[:4] == ["batch", "dataset", "tasks", "responses"]
    rows = [line.split() for line in lines[1:4]]
    assert [row[0] for row in rows] == ["reviews-01", "reviews-02", "reviews-03"]
    # 8 reviews in groups of 2; 4 participants each answer one group's 2 tasks x 2 questions.
    assert all(row[2:4] == ["8", "16"] for row in rows)
    assert lines[4].startswith("3 of 3 batches done; ")
    assert "requests sent" in lines[4] and "wall time" in lines[4]
    assert "nothing created twice" in result.stdout
    # Every submission approved (4 a study) and paid its bonus, each once.
    assert "money: 12 submissions approved and 12 bonuses of 0.25 paid, each once" in (
        result.stdout)
    assert lines[-1] == f"exports in {(tmp_path / 'exports').resolve()}"

    zips = sorted((tmp_path / "exports").glob("*-export-*.zip"))
    assert len(zips) == 3 and {z.name for z in zips} == {row[-1] for row in rows}
    for path in zips:
        with zipfile.ZipFile(path) as archive:
            first = archive.read("responses-by-submission.jsonl").splitlines()[0]
            assert json.loads(first)["responses"]
    # Progress went to stderr, one line per change since it is not a terminal.
    assert "reviews-02  download  done in" in result.stderr
    assert "\x1b[" not in result.stdout + result.stderr


def test_demo_with_faults_absorbs_them_and_duplicates_nothing(tmp_path: Path) -> None:
    result = run("--json", "demo", "--batches", "6", "--out", str(tmp_path), "--seed", "4",
                 "--speed", "200", "--faults")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert [r["stage"] for r in report["results"]] == ["download"] * 6
    assert all("error" not in r for r in report["results"])
    assert sum(report["faults"].values()) > 0 and report["retries"] > 0
    assert report["created_twice"] == []
    assert len(list((tmp_path / "exports").glob("*.zip"))) == 6
