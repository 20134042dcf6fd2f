"""PSE approvals at odds with the payment's end: the payer paid, the SAGA had given up.

A PSE payment is abandoned when its confirmation does not come within the SAGA's wait (the
merchant's `pse_timeout_seconds`, or the default), and fails when a step after the bank page
does. If PSE then confirms `approved`, the payer's bank has paid while the hold was released
and the merchant never credited. PSE has no refund call: an operator settles each one (credit
the merchant, or return the money by bank transfer). Nothing is lost meanwhile: the first
decision PSE sends is kept in `pse_confirmations`; the service logs an error when such an
approval arrives or such an outcome is recorded, and `paylab payments late-approvals` lists
the ones not settled yet (exit 1 while any is listed); `--settle ID --note TEXT` records
that an operator dealt with one.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import structlog
from sqlalchemy import func, select

from paylab.core.db import unit_of_work
from paylab.core.money import fmt
from paylab.payment.domain import PaymentState, Status
from paylab.payment.models import payments, pse_confirmations
from paylab.payment.wiring import Services

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class LateApproval:
    """One payment PSE approved after the SAGA ended it otherwise."""

    payment_id: str
    merchant_id: str
    amount: Decimal
    currency: str
    outcome: str
    pse_transaction_id: str
    confirmed_at: datetime

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: money as a string, times in ISO 8601."""
        out = asdict(self)
        out["amount"], out["confirmed_at"] = fmt(self.amount), self.confirmed_at.isoformat()
        return out


def _late() -> Any:
    """PSE approvals whose payment ended otherwise and that no operator has settled yet."""
    return (
        select(
            payments.c.id,
            payments.c.merchant_id,
            payments.c.amount,
            payments.c.currency,
            payments.c.outcome_status,
            pse_confirmations.c.transaction_id,
            pse_confirmations.c.received_at,
        )
        .join(pse_confirmations, pse_confirmations.c.payment_id == payments.c.id)
        .where(
            pse_confirmations.c.status == "approved",
            pse_confirmations.c.settled_at.is_(None),
            payments.c.outcome_status.is_not(None),
            payments.c.outcome_status != Status.APPROVED.value,
        )
    )


def _approval(row: Any) -> LateApproval:
    return LateApproval(
        str(row[0]), str(row[1]), row[2], str(row[3]), str(row[4]), str(row[5]), row[6]
    )


def late_approvals(svc: Services) -> list[LateApproval]:
    """Every unsettled PSE approval whose payment ended otherwise, oldest first."""
    query = _late().order_by(pse_confirmations.c.received_at, payments.c.id)
    with svc.sessions() as session:
        return [_approval(r) for r in session.execute(query).all()]


class NotLate(LookupError):
    """The payment has no unsettled late PSE approval (none, or already settled)."""


def settle(svc: Services, payment_id: str, note: str) -> LateApproval:
    """Record that an operator settled the payment's late approval (once)."""
    with unit_of_work(svc.sessions) as session:
        row = session.execute(
            _late().where(payments.c.id == payment_id).with_for_update(of=pse_confirmations)
        ).first()
        if row is None:
            raise NotLate(f"payment {payment_id} has no unsettled late PSE approval")
        session.execute(
            pse_confirmations.update()
            .where(pse_confirmations.c.payment_id == payment_id)
            .values(settled_at=func.now(), settled_note=note)
        )
    log.info("late PSE approval settled", payment_id=payment_id, note=note)
    return _approval(row)


def warn_if_late(state: PaymentState, pse_status: str | None) -> None:
    """Log an error when PSE approved a payment that ended otherwise (operators settle it)."""
    ended = state.outcome_status
    if pse_status == "approved" and ended is not None and ended is not Status.APPROVED:
        log.error(
            "PSE approved a payment the SAGA had ended: settle it by hand "
            "(paylab payments late-approvals)",
            payment_id=state.id,
            merchant_id=state.merchant_id,
            outcome=ended.value,
        )
