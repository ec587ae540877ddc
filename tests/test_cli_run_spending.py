"""``prolific-async run``: --dry-run, and no publishing on the real API without a yes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from prolific_async.cli import _run as run_command
from prolific_async.cli._app import cli

from .cli_support import Served, invoke, one_error_line, served
from .test_cli_run import plan_file


@pytest.fixture
def fake() -> Iterator[Served]:
    with served() as running:
        yield running


def test_dry_run_sends_only_reads_and_the_cost_calculator(fake: Served, tmp_path: Path) -> None:
    plans = plan_file(tmp_path, fake.fake.workspace_id, ["first", "second"])
    result = invoke(fake, "run", str(plans), "--dry-run")
    assert result.exit_code == 0, result.stderr
    sent = {(r.method, r.path) for r in fake.fake.requests if r.method != "GET"}
    assert sent == {("POST", "/api/v1/study-cost-calculator/")}
    assert "first  batch_create  would create a batch named after the plan" in result.stdout
    # 2 places at 10 cents, a third in fees with VAT on them: 0.28 a study.
    assert "2 studies would be published: 0.56 in total" in result.stdout
    assert not (tmp_path / "exports").exists()


def test_without_a_terminal_the_real_api_is_not_published_to_without_yes(
        tmp_path: Path) -> None:
    plans = plan_file(tmp_path, "6745ab669112d10b9b3afb48", ["paid"])
    journal = str(tmp_path / "run.db")
    result = invoke(None, "run", str(plans), "--journal", journal, env={
        "PROLIFIC_URL": "https://api.example.invalid", "PROLIFIC_TOKEN": "t0ken"})
    assert result.exit_code == 9
    line = one_error_line(result)
    assert "would publish studies on https://api.example.invalid" in line
    assert "--dry-run" in line and "--yes" in line


def test_on_a_terminal_the_cost_is_shown_and_no_declines(
        fake: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The fake stands in for the real API here, as a user's terminal does for stdin.
    monkeypatch.setattr(run_command, "_spends_money", lambda url: True)
    monkeypatch.setattr(run_command, "_on_terminal", lambda: True)
    plans = plan_file(tmp_path, fake.fake.workspace_id, ["asked"])
    result = CliRunner().invoke(cli, ["run", str(plans)], env=fake.env, input="n\n",
                                catch_exceptions=False)
    assert result.exit_code == 9, result.stderr
    assert "1 study would be published: 0.28 in total" in result.stderr
    assert "Publish them? [y/N]" in result.stderr
    assert "declined: nothing was created" in result.stderr
    sent = {(r.method, r.path) for r in fake.fake.requests if r.method != "GET"}
    assert sent == {("POST", "/api/v1/study-cost-calculator/")}


def test_a_plan_exporting_before_its_responses_is_warned_about(
        fake: Served, tmp_path: Path) -> None:
    plans = plan_file(tmp_path, fake.fake.workspace_id, ["early"])
    plans.write_text(plans.read_text().replace('wait_for = "complete"\n', ""))
    result = invoke(fake, "run", str(plans))
    assert result.exit_code == 0, result.stderr
    assert "early  warning: publishes and exports without wait_for" in result.stderr
