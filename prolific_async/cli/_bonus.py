"""``prolific-async bonus pay``: set up bonuses from a CSV file, show the cost, ask, pay.

The file has one ``id,amount`` line per participant or submission (a header line is
skipped), amounts in whole minor units like every amount of the SDK: ``25`` is 0.25.
"""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal
from pathlib import Path

import click

import prolific_async as pa

from ._confirm import check_can_confirm, confirm
from ._context import App, json_option, pass_app
from ._errors import INPUT, CommandError

__all__ = ["bonus", "read_amounts"]

#: A bonus file larger than this is refused unread (a million lines fit).
MAX_FILE_BYTES = 32 * 1024 * 1024
_WHOLE = re.compile(r"\d+")
_DECIMAL = re.compile(r"\d*\.\d+")


def read_amounts(path: Path) -> dict[str, int]:
    """The ``id -> amount`` lines of a bonus file; a mistake names the file and the line."""
    with path.open("rb") as stream:
        raw = stream.read(MAX_FILE_BYTES + 1)
    if len(raw) > MAX_FILE_BYTES:
        raise CommandError(f"{path}: larger than {MAX_FILE_BYTES} bytes", INPUT)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CommandError(f"{path}: not UTF-8 text", INPUT) from None
    amounts: dict[str, int] = {}
    seen: dict[str, int] = {}
    for number, row in enumerate(csv.reader(io.StringIO(text)), 1):
        cells = [cell.strip() for cell in row]
        if not any(cells):
            continue
        if len(cells) != 2:
            raise CommandError(f"{path}, line {number}: expected id,amount, got {row!r}", INPUT)
        key, amount = cells
        if number == 1 and not _WHOLE.fullmatch(amount) and not _DECIMAL.fullmatch(amount):
            continue  # a header line
        if not _WHOLE.fullmatch(amount):
            hint = (f" ({amount} would be {int(Decimal(amount) * 100)})"
                    if _DECIMAL.fullmatch(amount) else "")
            raise CommandError(f"{path}, line {number}: amount {amount!r} must be a whole "
                               f"number of minor units (pence, cents){hint}", INPUT)
        if key in seen:
            raise CommandError(f"{path}, line {number}: {key} already has a bonus on line "
                               f"{seen[key]}", INPUT)
        seen[key] = number
        amounts[key] = int(amount)
    if not amounts:
        raise CommandError(f"{path}: no id,amount lines", INPUT)
    return amounts


@click.group()
def bonus() -> None:
    """Bonuses: extra payments to participants (amounts in minor units)."""


@bonus.command()
@click.argument("study_id")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--max-amount", type=click.IntRange(min=1), metavar="N",
              help="Refuse any single bonus above N minor units [default: 1000, i.e. 10.00].")
@click.option("--yes", "-y", is_flag=True, help="Do not ask before paying.")
@json_option
@pass_app
def pay(app: App, study_id: str, file: Path, max_amount: int | None, yes: bool) -> None:
    """Pay the bonuses in FILE (id,amount lines): set up, show the total, ask, pay once."""
    amounts = read_amounts(file)
    check_can_confirm(yes, "paying bonuses")

    async def set_up(client: pa.Prolific) -> pa.BonusPayment:
        if max_amount is None:
            return await client.bonuses.create(study_id, amounts)
        return await client.bonuses.create(study_id, amounts, max_amount=max_amount)

    made = app.run(set_up)
    app.output.note(
        f"bonus set-up {made.id}: {len(amounts)} bonus(es), {_money(made.amount)} plus fees "
        f"{_money(made.fees)} and VAT {_money(made.vat)}: total {_money(made.total_amount)}")
    try:
        confirm(yes, f"Pay {_money(made.total_amount)} from the wallet?")
    except click.exceptions.Abort:
        app.output.note(f"not paid: set-up {made.id} is left unpaid (it costs nothing)")
        raise

    async def work(client: pa.Prolific) -> None:
        await client.bonuses.pay(made)

    app.run(work)
    if app.output.as_json:
        app.output.json(made)
    else:
        app.output.note(f"paid: {_money(made.total_amount)} (paid to participants within "
                        "minutes)")
        app.output.line(made.id)


def _money(minor: Decimal) -> str:
    """An amount in minor units as the currency's decimal, for people."""
    return f"{minor / 100:.2f}"
