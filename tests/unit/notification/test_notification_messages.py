"""Which messages an event produces (channels, recipients, templates), without I/O."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from paylab.core.events import Envelope
from paylab.notification.messages import InvalidEvent, compose, phone_number
from paylab.notification.schemas import Channel, DayFigures


def payment_event(**data: Any) -> Envelope:
    base: dict[str, Any] = {
        "payment_id": "pay-1",
        "merchant_id": "merchant-1",
        "ref_payco": "100000135",
        "reference": "order-1001",
        "method": "card",
        "amount": "30000.00",
        "currency": "COP",
        "status": "approved",
        "cod_respuesta": 1,
        "reason": None,
        "event_type": "PaymentCompleted",
        "customer_email": "ana@example.com",
        "customer_phone": "+573001234567",
    }
    return Envelope(
        type="PaymentNotificationRequested",
        source="paylab.payment",
        subject_id="pay-1",
        correlation_id="corr-1",
        occurred_at=datetime(2026, 12, 4, 19, 53, tzinfo=UTC),
        data={**base, **data},
    )


def test_an_approved_payment_gets_a_receipt_by_email_and_sms() -> None:
    event = payment_event()
    drafts = {d.channel: d for d in compose(event)}
    assert set(drafts) == {Channel.EMAIL, Channel.SMS}
    email, sms = drafts[Channel.EMAIL], drafts[Channel.SMS]
    assert (email.recipient, email.template) == ("ana@example.com", "payment_receipt")
    assert (sms.recipient, sms.template) == ("+573001234567", "payment_receipt")
    assert email.subject is not None and "$30.000,00 COP" in email.subject
    assert "Fecha: 04/12/2026 14:53" in email.body  # 19:53 UTC is 14:53 in Bogotá
    assert "fue aprobado" in sms.body and "$30.000,00 COP" in sms.body
    for draft in drafts.values():
        assert (draft.event_id, draft.merchant_id, draft.subject_id) == (
            event.id,
            "merchant-1",
            "pay-1",
        )


@pytest.mark.parametrize(
    ("status", "reason", "says"),
    [
        ("rejected", "insufficient_funds", "rechazó la transacción (fondos insuficientes)"),
        ("failed", "processor_error", "ocurrió un error al procesar la transacción."),
        ("abandoned", None, "no se completó a tiempo"),
        ("cancelled", None, "fue cancelada"),
    ],
)
def test_a_payment_that_did_not_go_through_gets_a_failure_message(
    status: str, reason: str | None, says: str
) -> None:
    drafts = compose(payment_event(status=status, reason=reason, event_type="PaymentFailed"))
    assert {d.template for d in drafts} == {"payment_failure"}
    email = next(d for d in drafts if d.channel is Channel.EMAIL)
    assert says in email.body


@pytest.mark.parametrize("status", ["reversed", "pending", "held"])
def test_other_statuses_send_nothing(status: str) -> None:
    assert compose(payment_event(status=status)) == []


@pytest.mark.parametrize("status", ["approved", "reversed"])
def test_refunds_send_nothing_not_even_a_partial_one_that_leaves_it_approved(
    status: str,
) -> None:
    refund = {"refund_id": "rf_1", "refund_amount": "100.00", "refunded_amount": "100.00"}
    assert compose(payment_event(status=status, event_type="PaymentRefunded", **refund)) == []


def test_only_the_channels_with_a_known_recipient() -> None:
    assert [d.channel for d in compose(payment_event(customer_phone=None))] == [Channel.EMAIL]
    assert [d.channel for d in compose(payment_event(customer_email=None))] == [Channel.SMS]
    assert compose(payment_event(customer_email=None, customer_phone=None)) == []


def test_the_customer_name_greets_when_known() -> None:
    email = compose(payment_event(customer_name="Ana Gómez", customer_phone=None))[0]
    assert email.body.startswith("Hola Ana Gómez,")
    assert compose(payment_event(customer_phone=None))[0].body.startswith("Hola,")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+573001234567", "+573001234567"),
        ("3001234567", "+573001234567"),
        ("573001234567", "+573001234567"),
        ("+14155550100", "+14155550100"),
    ],
)
def test_phone_numbers_become_e164(raw: str, expected: str) -> None:
    assert phone_number(raw, "57") == expected


@pytest.mark.parametrize(
    "event_type", ["PaymentCreated", "FundsReserved", "MerchantRegistered", "Unknown"]
)
def test_events_we_do_not_act_on_produce_nothing(event_type: str) -> None:
    event = Envelope(type=event_type, source="x", subject_id="s", correlation_id="c", data={})
    assert compose(event) == []


@pytest.mark.parametrize(
    "bad",
    [{"amount": 30000}, {"amount": "30.000,00"}, {"customer_email": "nope"}, {"payment_id": ""}],
)
def test_unusable_data_of_a_handled_type_is_an_invalid_event(bad: dict[str, Any]) -> None:
    with pytest.raises(InvalidEvent, match="PaymentNotificationRequested"):
        compose(payment_event(**bad))


def test_dispersion_email_to_the_merchant() -> None:
    event = Envelope(
        type="DispersionCompleted",
        source="paylab.merchant",
        subject_id="merchant-1",
        correlation_id="c",
        data={
            "dispersion_id": "6b0f6a3e-0000-4000-8000-000000000001",
            "merchant_id": "merchant-1",
            "business_date": "2026-12-04",
            "amount": "1234567.80",
            "currency": "COP",
            "payout_id": "6b0f6a3e-0000-4000-8000-000000000002",
            "bank_reference": "po_123",
            "bank_account": "****1234",
            "completed_at": "2026-12-05T05:00:03Z",
            "merchant_email": "pagos@tienda.co",
        },
    )
    [draft] = compose(event)
    assert (draft.channel, draft.recipient, draft.template) == (
        Channel.EMAIL,
        "pagos@tienda.co",
        "dispersion",
    )
    assert draft.subject == (
        "Dispersión del 4 de diciembre de 2026: $1.234.567,80 COP transferidos a tu cuenta"
    )
    assert "Referencia bancaria: po_123" in draft.body
    assert draft.subject_id == "6b0f6a3e-0000-4000-8000-000000000001"


def test_a_changed_payout_account_is_mailed_to_the_merchant_masked() -> None:
    event = Envelope(
        type="PayoutAccountChanged",
        source="paylab.merchant",
        subject_id="merchant-1",
        correlation_id="merchant-1",
        data={
            "merchant_id": "merchant-1",
            "merchant_email": "pagos@tienda.co",
            "bank_code": "1007",
            "account_type": "savings",
            "account_last4": "6789",
            "previous_account_last4": "1234",
            "changed_at": "2026-12-05T19:30:00Z",
        },
    )
    [draft] = compose(event)
    assert (draft.channel, draft.recipient, draft.template) == (
        Channel.EMAIL,
        "pagos@tienda.co",
        "payout_account",
    )
    assert draft.subject == "Cambiaste la cuenta donde recibes tus dispersiones"
    assert "de ahorros terminada en 6789 (banco 1007)" in draft.body
    assert "antes era la cuenta terminada en 1234" in draft.body
    assert "05/12/2026 14:30" in draft.body  # Bogotá time
    first = compose(
        Envelope(**{**event.model_dump(), "data": {**event.data, "previous_account_last4": None}})
    )
    assert "antes era ninguna cuenta" in first[0].body


def test_a_changed_email_is_told_to_the_address_it_replaced() -> None:
    event = Envelope(
        type="MerchantEmailChanged",
        source="paylab.merchant",
        subject_id="merchant-1",
        correlation_id="merchant-1",
        data={
            "merchant_id": "merchant-1",
            "previous_email": "pagos@tienda.co",
            "new_email_masked": "at***@evil.example",
            "changed_at": "2026-12-05T19:30:00Z",
        },
    )
    [draft] = compose(event)
    assert (draft.channel, draft.recipient, draft.template) == (
        Channel.EMAIL,
        "pagos@tienda.co",
        "email_changed",
    )
    assert draft.subject == "El correo de tu cuenta Paylab cambió"
    assert "pasó a ser at***@evil.example" in draft.body
    assert "05/12/2026 14:30" in draft.body  # Bogotá time
    unmasked = {**event.data, "new_email_masked": "attacker@evil.example"}
    with pytest.raises(InvalidEvent):  # never an unmasked address in a notice
        compose(Envelope(**{**event.model_dump(), "data": unmasked}))


def test_daily_summary_uses_the_figures_of_that_merchant_and_day() -> None:
    asked: list[tuple[str, date]] = []

    def figures(merchant_id: str, day: date) -> DayFigures:
        asked.append((merchant_id, day))
        return DayFigures(4, {"COP": Decimal("120000.00"), "USD": Decimal("10.00")}, 2, 1)

    event = Envelope(
        type="DailySummaryRequested",
        source="paylab.jobs",
        subject_id="merchant-1",
        correlation_id="c",
        data={
            "merchant_id": "merchant-1",
            "business_date": "2026-12-04",
            "timezone": "America/Bogota",
            "merchant_email": "pagos@tienda.co",
        },
    )
    [draft] = compose(event, figures=figures)
    assert asked == [("merchant-1", date(2026, 12, 4))]
    assert draft.subject == (
        "Resumen del 4 de diciembre de 2026: 4 pagos aprobados por $120.000,00 COP y $10,00 USD"
    )
    assert "Pagos no aprobados: 2" in draft.body
    assert "Pagos reembolsados: 1" in draft.body
