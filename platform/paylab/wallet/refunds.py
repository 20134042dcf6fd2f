"""Refunds of captured payments: reserve the merchant's part, then complete or cancel it.

Idempotency is natural here rather than a stored first answer: `operation_id` is unique per
refund and a repeat returns the refund as it is now. A refusal (insufficient funds, more than
is left to refund) stores nothing, so the payment service may retry the same operation once
the merchant has the money. Locks follow the wallet's one order: the payment's hold row,
then the refund row, then balance rows by account id.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, literal, select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from paylab.core.db import unit_of_work
from paylab.core.money import fmt, to_decimal
from paylab.wallet import ledger, refund_rules, schemas, store
from paylab.wallet.models import Hold, Refund
from paylab.wallet.operations import Outcome, WalletError, invalid, not_found
from paylab.wallet.posting import post
from paylab.wallet.settings import WalletSettings


def refund_body(refund: Refund, method: str) -> dict[str, Any]:
    """The refund as the API shows it."""
    return schemas.Refund(
        id=refund.id,
        operation_id=refund.operation_id,
        payment_id=refund.payment_id,
        hold_id=refund.hold_id,
        merchant_id=refund.merchant_id,
        method=ledger.Method(method),
        amount=fmt(refund.amount),
        fee_returned=fmt(refund.fee_returned),
        merchant_part=fmt(refund.amount - refund.fee_returned),
        currency=ledger.Currency(refund.currency),
        merchant_account_id=refund.merchant_account_id,
        target_account_id=refund.target_account_id,
        status=refund.status,  # type: ignore[arg-type]  # the table's CHECK allows only these
        reference=refund.reference,
        cancel_reason=refund.cancel_reason,
        created_at=refund.created_at,
        resolved_at=refund.resolved_at,
        attempted_at=refund.attempted_at,
    ).model_dump(mode="json")


def _key_reused(operation_id: str) -> WalletError:
    return WalletError(
        409,
        "idempotency-key-reused",
        f"Operation {operation_id!r} already reserved a different refund; use a new id.",
    )


class RefundService:
    """Reserve, complete and cancel refunds, one transaction each (events in it)."""

    def __init__(self, sessions: sessionmaker[Session], settings: WalletSettings) -> None:
        self._sessions = sessions
        self.settings = settings

    def reserve(self, req: schemas.RefundCreate, correlation_id: str) -> Outcome:
        """Set the merchant's part of a refund aside; 409 when its available balance is short."""
        amount = to_decimal(req.amount)
        with unit_of_work(self._sessions) as session:
            hold = session.scalar(
                select(Hold).where(Hold.payment_id == req.payment_id).with_for_update()
            )
            if hold is None or hold.merchant_id != req.merchant_id:
                raise not_found("payment hold")
            existing = session.scalar(select(Refund).where(Refund.operation_id == req.operation_id))
            if existing is not None:
                if (existing.payment_id, existing.amount) != (req.payment_id, amount):
                    raise _key_reused(req.operation_id)
                if existing.status == "reserved":  # a retry: reconciliation must wait for it
                    existing.attempted_at = func.now()
                    session.flush()  # reloaded from the row when the answer reads it
                return Outcome(200, refund_body(existing, hold.method), replayed=True)
            if hold.status != "captured":
                raise WalletError(
                    409,
                    "payment-not-captured",
                    f"Payment {hold.payment_id} is {hold.status} in the wallet; only captured "
                    "payments can be refunded.",
                )
            refund = self._new_refund(session, hold, req, amount)
            currency = ledger.Currency(hold.currency)
            part = refund_rules.Share(refund.amount, refund.fee_returned)
            posting = refund_rules.reserve(currency, part, merchant=hold.merchant_account_id)
            if posting is not None:
                self._post(session, posting, refund, req.operation_id, correlation_id)
            session.refresh(refund)
            return Outcome(201, refund_body(refund, hold.method))

    def _new_refund(
        self, session: Session, hold: Hold, req: schemas.RefundCreate, amount: Decimal
    ) -> Refund:
        refunded, fee_returned = session.execute(
            select(
                func.coalesce(func.sum(Refund.amount), 0),
                func.coalesce(func.sum(Refund.fee_returned), 0),
            ).where(Refund.hold_id == hold.id, Refund.status != "cancelled")
        ).one()
        try:
            part = refund_rules.share(
                amount,
                captured=Decimal(hold.amount),
                fee=Decimal(hold.fee),
                refunded=Decimal(refunded),
                fee_returned=Decimal(fee_returned),
                return_fee=self.settings.refund_returns_fee,
            )
        except refund_rules.RefundTooLarge as exc:
            raise WalletError(
                409,
                "refund-exceeds-payment",
                f"Payment {hold.payment_id} captured {fmt(hold.amount)} {hold.currency}; only "
                f"{fmt(exc.remaining)} is left to refund, not {fmt(amount)}.",
            ) from None
        currency = ledger.Currency(hold.currency)
        method = ledger.Method(hold.method)
        clearing = ledger.CLEARING.get(method)
        target = (
            hold.payer_account_id if clearing is None else store.system_account(clearing, currency)
        )
        assert target is not None  # the holds table requires a payer for wallet payments
        refund = Refund(
            id=uuid.uuid4(),
            operation_id=req.operation_id,
            hold_id=hold.id,
            payment_id=hold.payment_id,
            merchant_id=hold.merchant_id,
            amount=part.amount,
            fee_returned=part.fee_returned,
            currency=hold.currency,
            merchant_account_id=hold.merchant_account_id,
            target_account_id=target,
            status="reserved",
        )
        try:
            with session.begin_nested():
                session.add(refund)
                session.flush()
        except IntegrityError:
            # The same operation id, racing for another payment (whose hold we do not lock).
            raise _key_reused(req.operation_id) from None
        return refund

    def complete(
        self, refund_id: uuid.UUID, req: schemas.RefundComplete, correlation_id: str
    ) -> Outcome:
        """The reserved part and the returned fee reach the payer or the clearing account."""
        return self._resolve(refund_id, "refunded", req.operation_id, correlation_id, req.reference)

    def cancel(
        self, refund_id: uuid.UUID, req: schemas.RefundCancel, correlation_id: str
    ) -> Outcome:
        """The merchant gets its reserved part back; nothing was refunded."""
        return self._resolve(
            refund_id,
            "cancelled",
            req.operation_id,
            correlation_id,
            req.reason,
            idle_since=req.if_not_attempted_since,
        )

    def get(self, refund_id: uuid.UUID) -> schemas.Refund:
        """A refund's current state."""
        with self._sessions() as session:
            refund = session.get(Refund, refund_id)
            if refund is None:
                raise not_found("refund")
            hold = session.get(Hold, refund.hold_id)
            assert hold is not None
            return schemas.Refund.model_validate(refund_body(refund, hold.method))

    def search(
        self,
        *,
        payment_id: str | None,
        status: str | None,
        attempted_before: datetime | None,
        limit: int,
        after: uuid.UUID | None = None,
    ) -> schemas.RefundList:
        """Refunds matching every filter given, oldest first; after `after` in that order."""
        query = select(Refund, Hold.method).join(Hold, Hold.id == Refund.hold_id)
        if payment_id is not None:
            query = query.where(Hold.payment_id == payment_id)
        if status is not None:
            query = query.where(Refund.status == status)
        if attempted_before is not None:
            query = query.where(Refund.attempted_at < attempted_before)
        with self._sessions() as session:
            if after is not None:
                anchor = session.get(Refund, after)
                if anchor is None:
                    raise invalid("query.after", "no such refund")
                # Keyset paging: stable while earlier pages' refunds change state.
                key = tuple_(Refund.created_at, Refund.id)
                query = query.where(key > tuple_(literal(anchor.created_at), literal(anchor.id)))
            query = query.order_by(Refund.created_at, Refund.id).limit(limit)
            rows = session.execute(query).all()
            return schemas.RefundList(
                refunds=[schemas.Refund.model_validate(refund_body(r, m)) for r, m in rows]
            )

    def _resolve(
        self,
        refund_id: uuid.UUID,
        wanted: str,
        operation_id: str,
        correlation_id: str,
        note: str | None,
        idle_since: datetime | None = None,
    ) -> Outcome:
        with unit_of_work(self._sessions) as session:
            refund = session.scalar(select(Refund).where(Refund.id == refund_id).with_for_update())
            if refund is None:
                raise not_found("refund")
            hold = session.get(Hold, refund.hold_id)
            assert hold is not None
            if refund.status == wanted:
                return Outcome(200, refund_body(refund, hold.method), replayed=True)
            if refund.status != "reserved":
                raise WalletError(
                    409,
                    f"refund-already-{refund.status}",
                    f"Refund {refund.id} of payment {refund.payment_id} was already "
                    f"{refund.status}; it cannot be {wanted} as well, so nothing changed.",
                )
            if idle_since is not None and refund.attempted_at >= idle_since:
                raise WalletError(
                    409,
                    "refund-in-flight",
                    f"Refund {refund.id} was attempted again at {refund.attempted_at.isoformat()}; "
                    "a live request may be at the bank, so it was not cancelled.",
                )
            currency = ledger.Currency(refund.currency)
            part = refund_rules.Share(Decimal(refund.amount), Decimal(refund.fee_returned))
            merchant = refund.merchant_account_id
            posting: ledger.Posting | None
            if wanted == "refunded":
                fees = store.system_account(ledger.SystemAccount.FEES, currency)
                posting = refund_rules.complete(
                    currency, part, merchant=merchant, fees=fees, target=refund.target_account_id
                )
                refund.reference = note
            else:
                posting = refund_rules.cancel(currency, part, merchant=merchant)
                refund.cancel_reason = note
            if posting is not None:
                self._post(session, posting, refund, operation_id, correlation_id)
            resolved_at = session.scalar(select(func.now()))  # before the change: autoflush
            refund.status = wanted
            refund.resolved_at = resolved_at
            session.flush()
            return Outcome(200, refund_body(refund, hold.method))

    def _post(
        self,
        session: Session,
        posting: ledger.Posting,
        refund: Refund,
        operation_id: str,
        correlation_id: str,
    ) -> None:
        post(
            session,
            self.settings,
            posting,
            correlation_id=correlation_id,
            payment_id=refund.payment_id,
            operation_id=operation_id,
            refund_id=refund.id,
        )
