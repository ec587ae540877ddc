"""The README's promises: its runnable example runs, and CI runs its test command."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text()


def test_ci_runs_the_readme_test_command() -> None:
    commands = re.findall(r"```sh\n(.*?)\n```", README, re.DOTALL)
    test_command = next(c for c in commands if "pytest" in c)
    assert test_command in (ROOT / ".ci" / "run").read_text().splitlines()


def test_watching_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                               capsys: pytest.CaptureFixture[str]) -> None:
    [code] = re.findall(r"<!-- readme-test -->\n```python\n(.*?)```", README, re.DOTALL)
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), {"__name__": "readme"})
    out = capsys.readouterr().out
    assert "20 of 20 batches READY" in out
    assert "resumed: PROCESSING -> READY" in out


def test_quickstart_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import anyio

    from prolific_async import quickstart

    anyio.run(quickstart.main, 2, tmp_path)
    out = capsys.readouterr().out
    assert out.count("answers, export") == 2
    assert len(list(tmp_path.glob("*.zip"))) == 2
