"""The bank simulator's records: card accounts, authorizations and payouts, and their codecs."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from paylab.core.money import fmt
from simulators.bank.cards import Behaviour, brand

MESSAGES = {
    "approved": "Approved",
    "insufficient_funds": "Declined: insufficient funds",
    "exceeds_limit": "Declined: amount exceeds the card's limit",
    "expired_card": "Declined: expired card",
    "processor_error": "Failed: processor error, retry later",
    "pending_review": "Pending: the issuer is reviewing the transaction",
}


@dataclass
class CardAccount:
    """Balances and limits behind one card number."""

    number: str
    behaviour: Behaviour
    balance: dict[str, Decimal]
    limit: dict[str, Decimal]


@dataclass(slots=True)
class Authorization:
    """One authorization; amounts are Decimal."""

    id: str
    status: str
    response_code: str
    authorization_code: str | None
    amount: Decimal
    currency: str
    captured: Decimal
    refunded: Decimal
    reference: str
    installments: int
    number: str
    created_at: float
    resolve_at: float | None = None


@dataclass
class Payout:
    """One payout to a bank account."""

    id: str
    status: str
    failure_reason: str | None
    amount: Decimal
    currency: str
    reference: str
    bank_code: str
    account_number: str
    created_at: float
    resolve_at: float | None = None


def pack(auth: Authorization) -> tuple[Any, ...]:
    """The authorization as a tuple of atomic values (what BankState stores)."""
    return tuple(getattr(auth, name) for name in Authorization.__slots__)


def decimals_as_text(value: Any) -> Any:
    """`value` with its Decimals (also inside a dict) as money strings."""
    if isinstance(value, Decimal):
        return fmt(value)
    if isinstance(value, dict):
        return {k: decimals_as_text(v) for k, v in value.items()}
    return value


def summary(number: str) -> dict[str, str]:
    """Brand, BIN and last four digits of a card."""
    return {"brand": brand(number), "last4": number[-4:], "bin": number[:6]}
