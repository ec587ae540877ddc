"""The README's promises: CI runs its test command, and the quickstart runs (the README's
and the docs' programs run in tests/test_doc_examples.py and the tests named beside them)."""

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


def test_quickstart_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import anyio

    from prolific_async import quickstart

    anyio.run(quickstart.main, 2, tmp_path)
    out = capsys.readouterr().out
    assert out.count("answers, export") == 2
    assert len(list(tmp_path.glob("*.zip"))) == 2
