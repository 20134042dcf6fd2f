"""Refund posting rules: how much each party gives back, and the entries (pure, no I/O).

A refund undoes (part of) a captured payment. Fee policy (docs/decisions.md): a refund
returns the platform fee in proportion, so a full refund puts payer, merchant, clearing and
fee accounts back exactly where they were before the payment. The merchant's share
(`amount - fee_returned`) is reserved from its available balance first (available -> held),
so a refund can never overdraw it; completing moves that share plus the returned fee to the
payer's wallet (method `wallet`) or to the clearing account the capture came from.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from uuid import UUID

from paylab.wallet.ledger import (
    CENT,
    ZERO,
    Bucket,
    Currency,
    LedgerError,
    Leg,
    Posting,
    PostingKind,
    money,
)


@dataclass(frozen=True)
class Share:
    """Who pays a refund back: the merchant's part and the returned platform fee."""

    amount: Decimal
    fee_returned: Decimal

    @property
    def merchant_part(self) -> Decimal:
        """What leaves the merchant's available balance."""
        return self.amount - self.fee_returned


class RefundTooLarge(Exception):
    """The refunds of a payment would add up to more than it captured."""

    def __init__(self, remaining: Decimal) -> None:
        super().__init__(f"only {remaining} is left to refund")
        self.remaining = remaining


def share(
    amount: Decimal,
    *,
    captured: Decimal,
    fee: Decimal,
    refunded: Decimal,
    fee_returned: Decimal,
    return_fee: bool,
) -> Share:
    """The split of a new refund of `amount`, given what earlier refunds already returned.

    The fee comes back pro rata: after any refund, the fee returned in all is the fee's share
    of everything refunded so far, rounded half-up to the cent (each refund returns the
    difference), so many small refunds cannot drift from it by a cent each; the refund that
    completes the payment returns whatever fee is left.
    """
    amount = money(amount)
    if amount <= 0:
        raise LedgerError(f"refund amount {amount} must be positive")
    remaining = captured - refunded
    if amount > remaining:
        raise RefundTooLarge(remaining)
    if not return_fee:
        return Share(amount, ZERO)
    fee_left = fee - fee_returned
    if amount == remaining:
        part = fee_left
    else:
        due = (fee * (refunded + amount) / captured).quantize(CENT, rounding=ROUND_HALF_UP)
        part = due - fee_returned
    return Share(amount, min(max(part, ZERO), fee_left, amount))


def reserve(currency: Currency, part: Share, *, merchant: UUID) -> Posting | None:
    """Set the merchant's part aside (available -> held); None when it has nothing to give."""
    if part.merchant_part == 0:
        return None
    legs = (
        Leg(merchant, Bucket.AVAILABLE, -part.merchant_part),
        Leg(merchant, Bucket.HELD, part.merchant_part),
    )
    return Posting(PostingKind.REFUND_RESERVE, currency, legs)


def complete(
    currency: Currency, part: Share, *, merchant: UUID, fees: UUID, target: UUID
) -> Posting:
    """The reserved part and the returned fee go to the payer's wallet or the clearing account."""
    legs = []
    if part.merchant_part:
        legs.append(Leg(merchant, Bucket.HELD, -part.merchant_part))
    if part.fee_returned:
        legs.append(Leg(fees, Bucket.AVAILABLE, -part.fee_returned))
    legs.append(Leg(target, Bucket.AVAILABLE, part.amount))
    return Posting(PostingKind.REFUND, currency, tuple(legs))


def cancel(currency: Currency, part: Share, *, merchant: UUID) -> Posting | None:
    """Give the reserved part back to the merchant (the refund did not happen)."""
    if part.merchant_part == 0:
        return None
    legs = (
        Leg(merchant, Bucket.HELD, -part.merchant_part),
        Leg(merchant, Bucket.AVAILABLE, part.merchant_part),
    )
    return Posting(PostingKind.REFUND_CANCEL, currency, legs)
