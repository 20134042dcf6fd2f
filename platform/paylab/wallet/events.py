"""The wallet's events (ARCHITECTURE §3), queued in the outbox of the use case's transaction."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from paylab.core import outbox
from paylab.core.events import Envelope
from paylab.core.money import fmt
from paylab.wallet import ledger
from paylab.wallet.models import Account

SOURCE = "paylab.wallet"
# The topic is the published contract (ARCHITECTURE §3; no subscriber of ours today); audit
# reads them from its queue: an SNS push to a service that is down is lost (decisions.md,
# "Audit and merchant read their queues").
WALLET_EVENTS = ("sns:wallet-events", "sqs:audit-ops")
BUS = ("events:paylab",)


def _emit(
    session: Session,
    type_: str,
    subject_id: str,
    correlation_id: str,
    data: dict[str, Any],
    destinations: tuple[str, ...],
) -> None:
    event = Envelope(
        type=type_,
        source=SOURCE,
        subject_id=subject_id,
        correlation_id=correlation_id,
        data=data,
    )
    outbox.add_event(session, "wallet", event, destinations)


def funds(
    session: Session, type_: str, hold: dict[str, Any], operation_id: str, correlation_id: str
) -> None:
    """FundsReserved / FundsCaptured / FundsReleased: the hold as the API shows it."""
    data = {**hold, "hold_id": hold["id"], "operation_id": operation_id}
    _emit(session, type_, str(hold["payment_id"]), correlation_id, data, WALLET_EVENTS)


def balances_changed(
    session: Session,
    before: Mapping[uuid.UUID, ledger.Balance],
    after: Mapping[uuid.UUID, ledger.Balance],
    *,
    posting_id: uuid.UUID,
    posting: ledger.Posting,
    payment_id: str | None,
    thresholds: Mapping[ledger.Currency, Decimal],
    correlation_id: str,
) -> None:
    """BalanceUpdated for each customer or merchant account touched; LowBalanceAlert on a drop."""
    ids = list(ledger.changed(before, after))
    if not ids:
        return
    owners, kinds = {}, {}
    # One read for both columns: this runs for every posting, on the payment path.
    found = session.execute(
        select(Account.id, Account.merchant_id, Account.kind).where(Account.id.in_(ids))
    ).all()
    for account_id, merchant_id, kind in found:
        owners[account_id], kinds[account_id] = merchant_id, kind
    for account_id in ids:
        new = after[account_id]
        common = {
            "account_id": str(account_id),
            "merchant_id": owners[account_id],
            "kind": kinds[account_id],
            "currency": posting.currency.value,
            "available": fmt(new.available),
        }
        data = {
            **common,
            "held": fmt(new.held),
            "pending": fmt(new.pending),
            "posting_id": str(posting_id),
            "posting_kind": posting.kind.value,
            "payment_id": payment_id,
        }
        _emit(session, "BalanceUpdated", str(account_id), correlation_id, data, WALLET_EVENTS)
        threshold = thresholds[posting.currency]
        if ledger.dropped_below(before[account_id], new, threshold):
            alert = {**common, "threshold": fmt(threshold), "posting_id": str(posting_id)}
            _emit(session, "LowBalanceAlert", str(account_id), correlation_id, alert, BUS)
