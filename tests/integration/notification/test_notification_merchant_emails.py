"""Emails to merchants: the dispersion notice and the daily summary built from our records."""

from __future__ import annotations

from datetime import UTC, datetime

from paylab.core.events import Envelope
from paylab.notification.service import NotificationService

from .conftest import emails_to, payment_event, uid


def test_daily_summary_counts_that_merchants_day_in_bogota_time(
    service: NotificationService,
) -> None:
    merchant, email = uid("merchant"), f"{uid('shop')}@example.com"
    # 4 December in Bogotá runs from 05:00 UTC on the 4th to 05:00 UTC on the 5th.
    in_day = datetime(2026, 12, 4, 5, 0, tzinfo=UTC)
    late = datetime(2026, 12, 5, 4, 59, tzinfo=UTC)
    next_day = datetime(2026, 12, 5, 5, 0, tzinfo=UTC)
    for status, amount, at in [
        ("approved", "30000.00", in_day),
        ("approved", "12500.50", late),
        ("rejected", "99000.00", in_day),
        ("approved", "70000.00", next_day),
    ]:
        event = payment_event(
            merchant, email=None, phone=None, status=status, amount=amount, occurred_at=at
        )
        service.notify(event)
        service.notify(event)  # redelivered: counted once
    other = payment_event(uid("merchant"), email=None, phone=None, occurred_at=in_day)
    service.notify(other)

    summary = Envelope(
        type="DailySummaryRequested",
        source="paylab.jobs",
        subject_id=merchant,
        correlation_id=uid("corr"),
        data={
            "merchant_id": merchant,
            "business_date": "2026-12-04",
            "timezone": "America/Bogota",
            "merchant_email": email,
        },
    )
    service.notify(summary)
    service.notify(summary)

    [sent] = emails_to(email)
    assert sent["Subject"] == (
        "Resumen del 4 de diciembre de 2026: 2 pagos aprobados por $42.500,50 COP"
    )
    assert "Pagos no aprobados: 1" in sent["Body"]["text_part"]


def test_dispersion_completed_emails_the_merchant_once(service: NotificationService) -> None:
    merchant, email = uid("merchant"), f"{uid('shop')}@example.com"
    event = Envelope(
        type="DispersionCompleted",
        source="paylab.merchant",
        subject_id=merchant,
        correlation_id=uid("corr"),
        data={
            "dispersion_id": "0d7c5a52-4a4e-4b59-9d55-6f1e2c3b4a59",
            "merchant_id": merchant,
            "business_date": "2026-12-04",
            "amount": "28203.00",
            "currency": "COP",
            "payout_id": "5e3f1c1a-2b2b-4c4c-8d8d-9e9e0f0f1a1a",
            "bank_reference": "po_77",
            "bank_account": "****1234",
            "completed_at": "2026-12-05T05:00:03Z",
            "merchant_email": email,
        },
    )
    service.notify(event)
    service.notify(event)
    [sent] = emails_to(email)
    assert sent["Subject"] == (
        "Dispersión del 4 de diciembre de 2026: $28.203,00 COP transferidos a tu cuenta"
    )
    assert "terminada en 1234" in sent["Body"]["text_part"]
