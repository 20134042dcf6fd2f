"""Card rules: Luhn, brand, expiry, CVC; ePayco's published test cards."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

Behaviour = Literal["normal", "reject", "fail", "pending"]


@dataclass(frozen=True, slots=True)
class TestCard:
    """A magic card whose outcome is fixed, as in ePayco's sandbox."""

    number: str
    behaviour: Behaviour
    response_code: str
    note: str


#: ePayco's published test cards (https://docs.epayco.com, "tarjetas de prueba").
TEST_CARDS: dict[str, TestCard] = {
    c.number: c
    for c in (
        TestCard("4575623182290326", "normal", "approved", "approved while funds last"),
        TestCard("4151611527583283", "reject", "insufficient_funds", "rejected: no funds"),
        TestCard("5170394490379427", "fail", "processor_error", "failed: processor error"),
        TestCard("373118856457642", "pending", "pending_review", "pending, then approved"),
    )
}


_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)


def luhn_ok(number: str) -> bool:
    """True when the number (ASCII digits) passes the Luhn checksum."""
    digits = number.encode()[::-1]
    total = sum(digits[0::2]) - 48 * len(digits[0::2])
    total += sum(_DOUBLED[d - 48] for d in digits[1::2])
    return total % 10 == 0


def brand(number: str) -> str:
    """Card brand from the IIN ranges."""
    if number.startswith(("34", "37")):
        return "amex"
    if number.startswith("4"):
        return "visa"
    if number[:2] in {"51", "52", "53", "54", "55"} or "2221" <= number[:4] <= "2720":
        return "mastercard"
    if number.startswith(("36", "38", "300", "301", "302", "303", "304", "305")):
        return "diners"
    if number.startswith(("6011", "65")):
        return "discover"
    return "unknown"


def card_errors(
    number: str, exp_month: int, exp_year: int, cvc: str | None
) -> list[dict[str, str]]:
    """Structural problems with a card, as field errors (empty when fine)."""
    errors: list[dict[str, str]] = []
    b = brand(number)
    if not luhn_ok(number):
        errors.append({"field": "body.card.number", "message": "fails the Luhn check"})
    elif b == "amex" and len(number) != 15:
        errors.append(
            {"field": "body.card.number", "message": "American Express numbers have 15 digits"}
        )
    if cvc is not None:
        want = 4 if b == "amex" else 3
        if len(cvc) != want:
            errors.append({"field": "body.card.cvc", "message": f"must have {want} digits for {b}"})
    return errors


def is_expired(exp_month: int, exp_year: int, today: date) -> bool:
    """A card is valid through the last day of its expiry month."""
    return (exp_year, exp_month) < (today.year, today.month)
