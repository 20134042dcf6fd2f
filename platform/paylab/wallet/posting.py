"""Record one posting: lock, apply the rules, enforce limits, write, and announce it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.orm import Session

from paylab.core.money import fmt
from paylab.wallet import events, ledger, store
from paylab.wallet.operations import WalletError
from paylab.wallet.settings import WalletSettings

#: Postings that bring money in by someone's choice, and may be refused for the balance
#: limit. The others settle money already in the books (a capture the bank approved, a
#: release, a returned payout or cancelled refund): refusing them would strand it.
LIMITED = frozenset({ledger.PostingKind.TOPUP, ledger.PostingKind.REFUND})


@dataclass(frozen=True)
class Posted:
    posting_id: uuid.UUID
    after: dict[uuid.UUID, ledger.Balance]


def post(
    session: Session,
    settings: WalletSettings,
    posting: ledger.Posting,
    *,
    correlation_id: str,
    hold_id: uuid.UUID | None = None,
    payment_id: str | None = None,
    operation_id: str | None = None,
    refund_id: uuid.UUID | None = None,
) -> Posted:
    """Apply `posting` under row locks; 409 when it would overdraw an account."""
    before = store.lock_balances(session, posting.account_ids())
    try:
        after = ledger.apply(before, posting)
    except ledger.InsufficientFunds as short:
        raise WalletError(
            409,
            "insufficient-funds",
            f"Account {short.account_id} has {fmt(short.balance)} {posting.currency} "
            f"{short.bucket.value}; {fmt(short.needed)} is needed.",
            final=True,
        ) from None
    for account_id, balance in after.items():
        if (
            posting.kind in LIMITED
            and not balance.system
            and balance.available > settings.max_balance
            and balance.available > before[account_id].available
        ):
            raise WalletError(
                422,
                "balance-limit",
                f"Account {account_id} would exceed the maximum balance of "
                f"{fmt(settings.max_balance)} {posting.currency}.",
                final=True,
            )
    posting_id = store.write_posting(
        session,
        posting,
        before,
        after,
        hold_id=hold_id,
        payment_id=payment_id,
        operation_id=operation_id,
        refund_id=refund_id,
    )
    events.balances_changed(
        session,
        before,
        after,
        posting_id=posting_id,
        posting=posting,
        payment_id=payment_id,
        thresholds=settings.low_balance_threshold,
        correlation_id=correlation_id,
    )
    return Posted(posting_id, after)
