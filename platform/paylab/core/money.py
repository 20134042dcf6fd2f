"""Money as Decimal strings: "30000.00", never floats."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field

MONEY_PATTERN = r"^[0-9]{1,13}(\.[0-9]{1,2})?$"
CENT = Decimal("0.01")


def _positive(value: str) -> str:
    try:
        amount = Decimal(value)
    except InvalidOperation as exc:  # the pattern makes this unreachable; keep the message clear
        raise ValueError('must be a decimal string such as "30000.00"') from exc
    if amount <= 0:
        raise ValueError("must be greater than zero")
    return value


def _not_a_number(value: object) -> object:
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError('must be a decimal string such as "30000.00", not a JSON number')
    return value


Money = Annotated[
    str,
    BeforeValidator(_not_a_number),
    Field(
        pattern=MONEY_PATTERN,
        description='Decimal string with up to 2 decimals, e.g. "30000.00"; never a number.',
        examples=["30000.00"],
    ),
    AfterValidator(_positive),
]


def to_decimal(value: str) -> Decimal:
    """Parse a validated money string."""
    return Decimal(value).quantize(CENT)


def fmt(amount: Decimal) -> str:
    """Render an amount the way the API does: two decimals."""
    return f"{amount.quantize(CENT):f}"
