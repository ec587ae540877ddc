"""``prolific-async submissions …`` and ``bonus pay``, in-process, against a served fake:
money moves only after a yes (or --yes), and bad input is refused before anything is sent."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

import prolific_async as pa
from prolific_async.cli._app import cli

from .cli_support import Served, invoke, one_error_line, served
from .test_cli import answered_batch
from .test_submissions import REASON


@pytest.fixture
def fake() -> Iterator[Served]:
    with served() as running:
        yield running


def study_with_submissions(fake: Served, tmp_path: Path, places: int = 3) -> tuple[str, list[str]]:
    batch = answered_batch(fake, tmp_path, places=places)

    async def work(client: pa.Prolific) -> tuple[str, list[str]]:
        [study] = await client.studies.list(data_collection_id=batch.id)
        return study.id, [s.id async for s in client.submissions.list(study.id)]

    return fake.call(work)


def money_requests(fake: Served) -> list[str]:
    return [r.path for r in fake.fake.requests_to("POST", "/api/v1/*")
            if "submissions" in r.path or "bonus" in r.path]


def test_list_approve_all_and_reject(fake: Served, tmp_path: Path) -> None:
    study_id, ids = study_with_submissions(fake, tmp_path, places=3)

    rejected = invoke(fake, "submissions", "reject", ids[0], "--message", REASON,
                      "--category", "LOW_EFFORT")
    assert (rejected.exit_code, rejected.stdout) == (0, "REJECTED\n")
    refused = invoke(fake, "submissions", "approve", study_id, "--all")
    assert refused.exit_code == 2 and "--yes" in one_error_line(refused)
    approved = invoke(fake, "submissions", "approve", study_id, "--all", "--yes")
    assert approved.exit_code == 0, approved.stderr
    assert "approved 2 of 2 submission(s) in 1 request(s)" in approved.stderr

    listed = json.loads(invoke(fake, "submissions", "list", study_id, "--json").stdout)
    assert {s["id"]: s["status"] for s in listed} == {
        ids[0]: "REJECTED", ids[1]: "APPROVED", ids[2]: "APPROVED"}
    table = invoke(fake, "submissions", "list", study_id, "--status", "APPROVED")
    assert ids[1] in table.stdout and ids[0] not in table.stdout
    nothing = invoke(fake, "submissions", "approve", study_id, "--all", "--yes")
    assert nothing.exit_code == 0 and "no submissions" in nothing.stderr


def test_approve_named_ids_prints_the_outcome_as_json(fake: Served, tmp_path: Path) -> None:
    study_id, ids = study_with_submissions(fake, tmp_path, places=3)
    result = invoke(fake, "submissions", "approve", study_id, ids[1], ids[2], "--yes", "--json")
    assert result.exit_code == 0, result.stderr
    shown = json.loads(result.stdout)
    assert sorted(shown["approved"]) == sorted(ids[1:]) and shown["requests"] == 1
    both = invoke(fake, "submissions", "approve", study_id, ids[0], "--all", "--yes")
    assert both.exit_code == 2 and "not both" in one_error_line(both)


def test_a_short_rejection_is_refused_before_sending(fake: Served, tmp_path: Path) -> None:
    _, ids = study_with_submissions(fake, tmp_path, places=1)
    result = invoke(fake, "submissions", "reject", ids[0], "--message", "Bad.", "--category",
                    "LOW_EFFORT")
    assert result.exit_code == 2 and "at least 100 characters" in one_error_line(result)
    assert money_requests(fake) == []


def test_bonus_pay_shows_the_total_and_pays_once(fake: Served, tmp_path: Path) -> None:
    study_id, ids = study_with_submissions(fake, tmp_path, places=2)
    sheet = tmp_path / "bonuses.csv"
    sheet.write_text(f"id,amount\n{ids[0]},425\n{ids[1]},425\n")

    refused = invoke(fake, "bonus", "pay", study_id, str(sheet))
    assert refused.exit_code == 2 and "--yes" in one_error_line(refused)
    assert money_requests(fake) == []

    paid = invoke(fake, "bonus", "pay", study_id, str(sheet), "--yes")
    assert paid.exit_code == 0, paid.stderr
    assert "2 bonus(es), 8.50 plus fees 2.83 and VAT 0.00: total 11.33" in paid.stderr
    [bonus] = fake.fake.money.bonuses.values()
    assert paid.stdout == f"{bonus.id}\n" and len(bonus.pays) == 1
    assert [fake.fake.money.paid_to(i) for i in ids] == [[425], [425]]


def test_a_no_at_the_question_leaves_the_set_up_unpaid(fake: Served, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    study_id, ids = study_with_submissions(fake, tmp_path, places=1)
    sheet = tmp_path / "bonuses.csv"
    sheet.write_text(f"{ids[0]},25\n")
    monkeypatch.setattr("prolific_async.cli._confirm._interactive", lambda: True)

    result = CliRunner().invoke(cli, ["bonus", "pay", study_id, str(sheet)], input="n\n",
                                env=fake.env)

    assert result.exit_code == 1
    assert "Pay 0.33 from the wallet? [y/N]" in result.stderr
    [bonus] = fake.fake.money.bonuses.values()
    assert f"not paid: set-up {bonus.id} is left unpaid (it costs nothing)" in result.stderr
    assert bonus.pays == [] and fake.fake.money.payments == []


@pytest.mark.parametrize(("content", "says"), [
    ("id,amount\nabc,4.25\n", "line 2: amount '4.25' must be a whole number of minor units "
                              "(pence, cents) (4.25 would be 425)"),
    ("abc,25\nabc,30\n", "line 2: abc already has a bonus on line 1"),
    ("abc,25,1\n", "line 1: expected id,amount"),
    ("id,amount\n", "no id,amount lines"),
])
def test_a_bad_bonus_file_is_refused_before_sending(fake: Served, tmp_path: Path,
                                                    content: str, says: str) -> None:
    sheet = tmp_path / "bonuses.csv"
    sheet.write_text(content)
    result = invoke(fake, "bonus", "pay", "60f6acb180a7b59ac0621f9e", str(sheet), "--yes")
    assert result.exit_code == 6 and says in one_error_line(result)
    assert fake.fake.requests == []


def test_a_bonus_above_the_ceiling_is_refused_unless_raised(fake: Served,
                                                            tmp_path: Path) -> None:
    study_id, ids = study_with_submissions(fake, tmp_path, places=1)
    sheet = tmp_path / "bonuses.csv"
    sheet.write_text(f"{ids[0]},2500\n")

    refused = invoke(fake, "bonus", "pay", study_id, str(sheet), "--yes")
    assert refused.exit_code == 2 and "above max_amount=1000" in one_error_line(refused)
    assert money_requests(fake) == []
    paid = invoke(fake, "bonus", "pay", study_id, str(sheet), "--yes", "--max-amount", "2500")
    assert paid.exit_code == 0 and fake.fake.money.paid_to(ids[0]) == [2500]
