"""Dispersion rows in Postgres; marking one paid writes DispersionCompleted and its webhook."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, sessionmaker

from paylab.core.db import unit_of_work
from paylab.core.events import Envelope
from paylab.core.outbox import add_event
from paylab.merchant.dispersion import BankAnswer, Payee, Row
from paylab.merchant.models import Dispersion, Merchant, PayoutAccount, WebhookDelivery
from paylab.merchant.settings import MerchantSettings
from paylab.merchant.webhooks import BOGOTA

SOURCE = "paylab.merchant"
# The durable queues too: an SNS push to a service that is down is lost locally (decisions.md).
DESTINATIONS = ["sns:merchant-events", "sqs:notification-ops", "sqs:audit-ops"]


def _row(d: Dispersion) -> Row:
    return Row(
        id=d.id,
        merchant_id=d.merchant_id,
        business_date=d.business_date,
        status=d.status,
        attempt=d.attempt,
        amount=d.amount,
        currency=d.currency,
        wallet_payout_id=d.wallet_payout_id,
        bank_payout_id=d.bank_payout_id,
        bank_status=d.bank_status,
    )


class SqlStore:
    """The `merchant.dispersions` table; each method is one transaction."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        settings: MerchantSettings,
        on_webhook: Callable[[], None] | None = None,
    ) -> None:
        self.sessions, self.settings, self.on_webhook = sessions, settings, on_webhook

    def payees(self, merchant_ids: list[str] | None) -> list[Payee]:
        """Active merchants (all, or those named), with their payout accounts."""
        query = (
            select(Merchant, PayoutAccount)
            .outerjoin(PayoutAccount, PayoutAccount.merchant_id == Merchant.id)
            .where(Merchant.status == "active")
            .order_by(Merchant.created_at, Merchant.id)
        )
        if merchant_ids is not None:
            query = query.where(Merchant.id.in_(merchant_ids))
        with self.sessions() as session:
            rows = session.execute(query).all()
        return [self._payee(m, a) for m, a in rows]

    def _payee(self, m: Merchant, a: PayoutAccount | None) -> Payee:
        return Payee(
            merchant_id=m.id,
            email=m.email,
            minimum=m.payout_minimum or self.settings.payout_minimum_cop,
            doc_type=m.doc_type,
            doc_number=m.doc_number,
            bank_code=a.bank_code if a else None,
            account_type=a.account_type if a else None,
            account_number=a.account_number if a else None,
            holder_name=a.holder_name if a else None,
        )

    def pending(self, merchant_id: str) -> list[Row]:
        """The merchant's pending rows, oldest day first."""
        with self.sessions() as session:
            rows = session.scalars(
                select(Dispersion)
                .where(Dispersion.merchant_id == merchant_id, Dispersion.status == "pending")
                .order_by(Dispersion.business_date)
            ).all()
            return [_row(d) for d in rows]

    def find(self, merchant_id: str, day: date) -> Row | None:
        """The merchant's row for `day`, if any."""
        with self.sessions() as session:
            d = session.scalar(
                select(Dispersion).where(
                    Dispersion.merchant_id == merchant_id, Dispersion.business_date == day
                )
            )
            return _row(d) if d else None

    def claim(self, payee: Payee, day: date, amount: Decimal, currency: str) -> Row | None:
        """A new pending row for the day, or the rejected one reopened with attempt + 1."""
        last4 = (payee.account_number or "")[-4:]
        now = datetime.now(UTC)
        with unit_of_work(self.sessions) as session:
            new_id = session.execute(
                insert(Dispersion)
                .values(
                    id=uuid.uuid4(),
                    merchant_id=payee.merchant_id,
                    business_date=day,
                    status="pending",
                    attempt=1,
                    amount=amount,
                    currency=currency,
                    bank_account_last4=last4,
                )
                .on_conflict_do_nothing(index_elements=["merchant_id", "business_date"])
                .returning(Dispersion.id)
            ).scalar()
            if new_id is not None:
                return _row(_get(session, new_id))
            d = session.scalar(
                select(Dispersion)
                .where(Dispersion.merchant_id == payee.merchant_id, Dispersion.business_date == day)
                .with_for_update()
            )
            if d is None or d.status != "rejected":
                return None
            d.status, d.attempt, d.amount, d.currency = "pending", d.attempt + 1, amount, currency
            d.bank_account_last4, d.updated_at = last4, now
            d.wallet_payout_id = d.wallet_return_id = None
            d.bank_payout_id = d.bank_status = None
            session.flush()
            return _row(d)

    def _update(self, row: Row, **values: Any) -> int:
        """Change the row if it is still this pending attempt; how many rows changed."""
        with unit_of_work(self.sessions) as session:
            result = session.execute(
                update(Dispersion)
                .where(
                    Dispersion.id == row.id,
                    Dispersion.attempt == row.attempt,
                    Dispersion.status == "pending",
                )
                .values(updated_at=func.now(), **values)
            )
            return int(getattr(result, "rowcount", 0) or 0)

    def debited(self, row: Row, payout_id: uuid.UUID) -> None:
        """Record the wallet payout."""
        self._update(row, wallet_payout_id=payout_id, last_error=None)

    def bank_pending(self, row: Row, answer: BankAnswer) -> None:
        """The bank took the payout and settles it later."""
        self._update(row, bank_payout_id=answer.payout_id, bank_status="pending", last_error=None)

    def rejected(self, row: Row, reason: str, return_id: uuid.UUID | None) -> None:
        """Closed for this attempt; a later run may reopen it."""
        self._update(row, status="rejected", wallet_return_id=return_id, last_error=reason)

    def failed(self, row: Row, error: str) -> None:
        """Why the attempt stopped half-way (the row stays pending)."""
        self._update(row, last_error=error)

    def paid(self, row: Row, answer: BankAnswer, payee: Payee) -> None:
        """Paid: the row, DispersionCompleted and the merchant's webhook, in one transaction."""
        now = datetime.now(UTC)
        webhook = False
        with unit_of_work(self.sessions) as session:
            d = session.get(Dispersion, row.id, with_for_update=True)
            if d is None or d.status != "pending" or d.attempt != row.attempt:
                return  # another run finished this attempt (its event is written)
            d.status, d.bank_payout_id, d.bank_status = "paid", answer.payout_id, "paid"
            d.paid_at = d.updated_at = now
            d.last_error = None
            session.flush()
            event = completed_event(d, payee.email, now)
            add_event(session, "merchant", event, DESTINATIONS)
            merchant = session.get(Merchant, d.merchant_id)
            if merchant is not None and merchant.confirmation_url:
                session.add(self._webhook(d, event, merchant.confirmation_url, now))
                webhook = True
        if webhook and self.on_webhook is not None:
            self.on_webhook()  # after the commit: the delivery loop can see the row

    def _webhook(self, d: Dispersion, event: Envelope, url: str, now: datetime) -> WebhookDelivery:
        return WebhookDelivery(
            id=uuid.uuid4(),
            event_id=event.id,
            event_type=event.type,
            merchant_id=d.merchant_id,
            payment_id=str(d.id),  # the subject: here the dispersion
            url=url,
            fields=dispersion_form(d, now, test=self.settings.webhook_test_request),
            status="pending",
            lane=self.settings.delivery_lane,
            attempts=0,
            next_attempt_at=now,
        )

    def list(self, merchant_id: str | None, day: date | None, limit: int = 100) -> list[Dispersion]:
        """Rows, newest day first (detached: read-only views)."""
        query = select(Dispersion).order_by(
            Dispersion.business_date.desc(), Dispersion.created_at.desc()
        )
        if merchant_id is not None:
            query = query.where(Dispersion.merchant_id == merchant_id)
        if day is not None:
            query = query.where(Dispersion.business_date == day)
        with self.sessions() as session:
            rows = list(session.scalars(query.limit(limit)).all())
            session.expunge_all()
            return rows


def _get(session: Session, dispersion_id: uuid.UUID) -> Dispersion:
    d = session.get(Dispersion, dispersion_id)
    assert d is not None  # just inserted in this transaction
    return d


def completed_event(d: Dispersion, email: str, now: datetime) -> Envelope:
    """DispersionCompleted for a paid row (contracts/events/DispersionCompleted.schema.json)."""
    assert d.wallet_payout_id is not None and d.bank_payout_id is not None
    return Envelope(
        type="DispersionCompleted",
        source=SOURCE,
        subject_id=str(d.id),
        correlation_id=str(d.id),
        data={
            "dispersion_id": str(d.id),
            "merchant_id": d.merchant_id,
            "merchant_email": email,
            "business_date": d.business_date.isoformat(),
            "amount": f"{d.amount:.2f}",
            "currency": d.currency,
            "attempt": d.attempt,
            "payout_id": str(d.wallet_payout_id),
            "bank_reference": d.bank_payout_id,
            "bank_account": "*" * 4 + d.bank_account_last4,
            "completed_at": now.astimezone(UTC).isoformat(),
        },
    )


def dispersion_form(d: Dispersion, now: datetime, *, test: bool) -> dict[str, str]:
    """The webhook's form: ePayco's fields, so the same x_signature check verifies it.

    `x_type=dispersion` tells it apart from payment confirmations; `x_ref_payco` is the
    dispersion id, so a merchant deduplicating on x_ref_payco + x_cod_response sees it once.
    """
    return {
        "x_type": "dispersion",
        "x_ref_payco": str(d.id),
        "x_transaction_id": str(d.bank_payout_id),
        "x_id_invoice": f"dispersion-{d.business_date.isoformat()}",
        "x_amount": f"{d.amount:.2f}",
        "x_amount_ok": f"{d.amount:.2f}",
        "x_currency_code": d.currency,
        "x_description": f"Dispersión del {d.business_date.isoformat()}",
        "x_business_date": d.business_date.isoformat(),
        "x_bank_account": "*" * 4 + d.bank_account_last4,
        "x_cod_response": "1",
        "x_response": "Aceptada",
        "x_cod_transaction_state": "1",
        "x_transaction_state": "Aceptada",
        "x_response_reason_text": "Dispersión pagada",
        "x_transaction_date": now.astimezone(BOGOTA).strftime("%Y-%m-%d %H:%M:%S"),
        "x_test_request": "TRUE" if test else "FALSE",
    }
