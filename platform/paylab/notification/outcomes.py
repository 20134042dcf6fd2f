"""Payment outcomes as notification saw them, summed up per merchant and Bogotá day."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from paylab.notification.messages import FAILED_STATUSES
from paylab.notification.models import PaymentOutcome
from paylab.notification.rendering import BOGOTA
from paylab.notification.schemas import DayFigures, PaymentNotice


def record(session: Session, notice: PaymentNotice, occurred_at: datetime, event_id: str) -> None:
    """Keep the payment's newest outcome; the same event again changes nothing."""
    values = {
        "payment_id": notice.payment_id,
        "merchant_id": notice.merchant_id,
        "status": notice.status,
        "amount": Decimal(notice.amount),
        "currency": notice.currency,
        "occurred_at": occurred_at,
        "event_id": event_id,
    }
    stmt = insert(PaymentOutcome).values(**values)
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["payment_id"],
            set_={k: stmt.excluded[k] for k in ("status", "occurred_at", "event_id")},
            # Events may arrive out of order (SNS/SQS retries): an older outcome never wins.
            where=PaymentOutcome.occurred_at <= stmt.excluded.occurred_at,
        )
    )


def day_figures(session: Session, merchant_id: str, day: date) -> DayFigures:
    """Counts and approved amounts of the merchant's outcomes within `day` (Bogotá time)."""
    start = datetime.combine(day, time.min, tzinfo=BOGOTA)
    rows = session.execute(
        select(
            PaymentOutcome.status,
            PaymentOutcome.currency,
            func.count(),
            func.coalesce(func.sum(PaymentOutcome.amount), 0),
        )
        .where(
            PaymentOutcome.merchant_id == merchant_id,
            PaymentOutcome.occurred_at >= start,
            PaymentOutcome.occurred_at < start + timedelta(days=1),
        )
        .group_by(PaymentOutcome.status, PaymentOutcome.currency)
    ).all()
    counts: dict[str, int] = defaultdict(int)
    approved: dict[str, Decimal] = {}
    for status, currency, count, total in rows:
        counts[status] += count
        if status == "approved":
            approved[currency] = Decimal(total)
    return DayFigures(
        approved_count=counts["approved"],
        approved_amounts=approved,
        declined_count=sum(counts[s] for s in FAILED_STATUSES),
        refunded_count=counts["reversed"],
    )
