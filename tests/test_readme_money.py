"""The README's "Reviewing and paying" example runs as printed, against the fake."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

# The program moved from the README to the review guide, marker and all.
README = (Path(__file__).parent.parent / "docs" / "guides" / "review-and-pay.md").read_text()


def test_review_and_pay_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    [code] = re.findall(r"<!-- readme-test: review -->\n```python\n(.*?)```", README, re.DOTALL)
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), {"__name__": "readme"})
    out = capsys.readouterr().out
    assert "3 approved in 1 request" in out
    assert "bonuses cost 100.0 minor units, fees included" in out
    assert "'APPROVED': 3" in out and "'REJECTED': 1" in out
