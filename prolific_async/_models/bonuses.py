"""Bonuses: extra payments to participants, set up in bulk and then paid.

Every amount in the SDK is an integer in the currency's minor unit, like a study's
``reward``: ``25`` is 25 pence or cents. The one place it becomes the decimal the API's
``csv_bonuses`` documents (``0.25``) is `csv_bonuses`; `minor_units` reads an amount back.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from types import MappingProxyType
from typing import Any

import attrs

__all__ = ["DEFAULT_MAX_BONUS", "BonusPayment", "check_amounts", "csv_bonuses", "format_minor"]

#: A single bonus above this (in minor units: 10.00) is refused unless the caller raises
#: ``max_amount``: a slip of a factor of 100 (pounds for pence) must not reach the wallet.
DEFAULT_MAX_BONUS = 1_000

# Participant and submission ids are hex; anything that could break the CSV line (a comma,
# a line break) or smuggle a second entry is refused.
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")

_NO_AMOUNTS: Mapping[str, int] = MappingProxyType({})


def format_minor(amount: int) -> str:
    """An amount in minor units as the API's decimal text: ``25`` -> ``"0.25"``.

    Example::

        format_minor(1250)     # "12.50"
    """
    if type(amount) is not int:
        raise TypeError(f"an amount must be an int in minor units, got {amount!r}")
    sign = "-" if amount < 0 else ""
    whole, cents = divmod(abs(amount), 100)
    return f"{sign}{whole}.{cents:02d}"


def check_amounts(amounts: Any, *, max_amount: int = DEFAULT_MAX_BONUS) -> dict[str, int]:
    """``amounts`` (participant or submission id -> amount in minor units) checked: every id a
    plain id, every amount an ``int`` from 1 to ``max_amount``. A float, a string, a
    `Decimal` or a bool is refused (``TypeError``), as is anything out of range
    (``ValueError``), naming the id.

    Example::

        check_amounts({"60ffe5c8371090c7041d43f8": 25})
    """
    if type(max_amount) is not int or max_amount < 1:
        raise ValueError(f"max_amount must be an int >= 1 (minor units), got {max_amount!r}")
    if not isinstance(amounts, Mapping):
        raise TypeError(f"amounts must be a mapping of participant or submission id to "
                        f"amount, got {type(amounts).__name__}")
    if not amounts:
        raise ValueError("amounts is empty: give at least one id and amount")
    checked: dict[str, int] = {}
    for key, amount in amounts.items():
        if not isinstance(key, str) or not _ID.fullmatch(key):
            raise ValueError(f"amounts has a key that is not a participant or submission id: "
                             f"{key!r}")
        if type(amount) is not int:
            raise TypeError(
                f"amounts[{key!r}] must be an int in minor units (25 is 0.25), got "
                f"{type(amount).__name__} {amount!r}")
        if amount < 1:
            raise ValueError(f"amounts[{key!r}] must be at least 1 (minor units), got {amount}")
        if amount > max_amount:
            raise ValueError(
                f"amounts[{key!r}] = {amount} ({format_minor(amount)}) is above max_amount="
                f"{max_amount} ({format_minor(max_amount)}); pass a higher max_amount if it "
                "is meant")
        checked[key] = amount
    return checked


def csv_bonuses(amounts: Mapping[str, int]) -> str:
    """The ``csv_bonuses`` text of a set-up: one ``<id>,<decimal amount>`` line each, the
    form Prolific's docs and spec example use (``60ffe5c8…,4.25``).

    Example::

        csv_bonuses({"a1": 25, "b2": 1250})     # "a1,0.25\\nb2,12.50"
    """
    return "\n".join(f"{key},{format_minor(amount)}" for key, amount in amounts.items())


def _decimal(value: Any) -> Decimal:
    # Fees come back as fractions of a minor unit (283.34): kept exact, never a float.
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        raise TypeError(f"expected a number, got {value!r}")
    return Decimal(str(value))


@attrs.frozen(kw_only=True)
class BonusPayment:
    """A bonus set-up (Prolific's ``BulkBonus``): not paid until ``bonuses.pay``.

    ``amount``, ``fees``, ``vat`` and ``total_amount`` are in minor units as the API returns
    them (fees may be fractions of a minor unit, so they are `Decimal`); ``total_amount`` is
    what leaves the wallet. ``amounts`` is what was asked per id (known when this SDK made
    the set-up), which is how a lost answer to ``pay`` is settled.

    Example::

        bonus = await client.bonuses.create(study_id, {submission_id: 25})
        print(bonus.total_amount)       # Decimal('33.33')
        await client.bonuses.pay(bonus)
    """

    id: str
    study: str | None = None
    amount: Decimal = attrs.field(default=Decimal(0), converter=_decimal)
    fees: Decimal = attrs.field(default=Decimal(0), converter=_decimal)
    vat: Decimal = attrs.field(default=Decimal(0), converter=_decimal)
    total_amount: Decimal = attrs.field(default=Decimal(0), converter=_decimal)
    amounts: Mapping[str, int] = attrs.field(default=_NO_AMOUNTS, repr=False)
