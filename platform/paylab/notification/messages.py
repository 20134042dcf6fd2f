"""Which messages an event produces: channels, recipients, templates (no I/O)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TypeVar

from pydantic import ValidationError

from paylab.core.events import Envelope
from paylab.notification.rendering import local_datetime, long_date, money, render
from paylab.notification.schemas import (
    Channel,
    DailySummaryNotice,
    DayFigures,
    DispersionNotice,
    EmailChangedNotice,
    EventData,
    PaymentNotice,
    PayoutAccountNotice,
    WeeklyReportNotice,
    decimal,
)

PAYMENT_NOTIFICATION = "PaymentNotificationRequested"
DISPERSION_COMPLETED = "DispersionCompleted"
DAILY_SUMMARY = "DailySummaryRequested"
WEEKLY_REPORT = "WeeklyReportReady"
PAYOUT_ACCOUNT_CHANGED = "PayoutAccountChanged"
EMAIL_CHANGED = "MerchantEmailChanged"
REFUNDED = "PaymentRefunded"  # a PaymentNotificationRequested's event_type
HANDLED = frozenset(
    {
        PAYMENT_NOTIFICATION,
        DISPERSION_COMPLETED,
        DAILY_SUMMARY,
        WEEKLY_REPORT,
        PAYOUT_ACCOUNT_CHANGED,
        EMAIL_CHANGED,
    }
)
ACCOUNT_TYPES = {"savings": "de ahorros", "checking": "corriente"}

FAILED_STATUSES = {
    "rejected": ("Rechazada", "la entidad financiera rechazó la transacción"),
    "failed": ("Fallida", "ocurrió un error al procesar la transacción"),
    "abandoned": ("Abandonada", "la transacción no se completó a tiempo"),
    "cancelled": ("Cancelada", "la transacción fue cancelada"),
}
METHODS = {"card": "Tarjeta", "pse": "PSE (débito bancario)", "wallet": "Billetera Paylab"}
# Processor reasons a customer can act on, said plainly.
REASONS = {
    "insufficient_funds": "fondos insuficientes",
    "expired_card": "la tarjeta está vencida",
    "exceeds_limit": "el valor supera el límite de la tarjeta",
    "antifraud": "la transacción no pasó la validación de seguridad",
}

D = TypeVar("D", bound=EventData)
FiguresOf = Callable[[str, date], DayFigures]


class InvalidEvent(ValueError):
    """An event of a type we handle whose data we cannot use: retrying will not help."""


@dataclass(frozen=True)
class Draft:
    """One message to send, identified by (event_id, channel)."""

    event_id: str
    event_type: str
    channel: Channel
    recipient: str
    template: str
    subject: str | None
    body: str
    merchant_id: str
    subject_id: str | None


def compose(
    envelope: Envelope, *, figures: FiguresOf | None = None, country_code: str = "57"
) -> list[Draft]:
    """The messages `envelope` asks for; none for event types this service ignores.

    `figures` gives a merchant's day for the daily summary (the service's own records).
    """
    if envelope.type == PAYMENT_NOTIFICATION:
        return _payment(envelope, parse(PaymentNotice, envelope), country_code)
    if envelope.type == DISPERSION_COMPLETED:
        return [_dispersion(envelope, parse(DispersionNotice, envelope))]
    if envelope.type == DAILY_SUMMARY:
        notice = parse(DailySummaryNotice, envelope)
        if figures is None:
            raise ValueError("a daily summary needs the day's figures")
        return [_summary(envelope, notice, figures(notice.merchant_id, notice.business_date))]
    if envelope.type == WEEKLY_REPORT:
        return [_weekly_report(envelope, parse(WeeklyReportNotice, envelope))]
    if envelope.type == PAYOUT_ACCOUNT_CHANGED:
        return [_payout_account(envelope, parse(PayoutAccountNotice, envelope))]
    if envelope.type == EMAIL_CHANGED:
        return [_email_changed(envelope, parse(EmailChangedNotice, envelope))]
    return []


def parse(model: type[D], envelope: Envelope) -> D:
    """The event's data as `model`; InvalidEvent (with the bad fields) if it does not fit."""
    try:
        return model.model_validate(envelope.data)
    except ValidationError as exc:
        fields = ", ".join(".".join(map(str, e["loc"])) for e in exc.errors())
        raise InvalidEvent(f"{envelope.type} {envelope.id}: invalid data ({fields})") from exc


def phone_number(raw: str, country_code: str) -> str:
    """E.164: numbers without `+` are national (10-digit Colombian mobiles) unless prefixed."""
    digits = raw.lstrip("+")
    if raw.startswith("+"):
        return raw
    if digits.startswith(country_code) and len(digits) > 10:
        return f"+{digits}"
    return f"+{country_code}{digits}"


def _payment(envelope: Envelope, notice: PaymentNotice, country_code: str) -> list[Draft]:
    if notice.event_type == REFUNDED:  # refunds (a partial one leaves it approved): no message
        return []
    if notice.status == "approved":
        template, extra = "payment_receipt", {}
    elif notice.status in FAILED_STATUSES:
        label, outcome = FAILED_STATUSES[notice.status]
        reason = REASONS.get(notice.reason or "")
        extra = {"status_label": label, "outcome": f"{outcome} ({reason})" if reason else outcome}
        template = "payment_failure"
    else:  # pending, reversed, held...: nothing to tell the customer here
        return []
    values = {
        "greeting": f" {notice.customer_name}" if notice.customer_name else "",
        "amount": money(decimal(notice.amount), notice.currency),
        "ref_payco": notice.ref_payco,
        "reference": notice.reference,
        "method": METHODS.get(notice.method, notice.method),
        "cod_respuesta": str(notice.cod_respuesta),
        "date": local_datetime(envelope.occurred_at),
        **extra,
    }
    recipients = {
        Channel.EMAIL: notice.customer_email,
        Channel.SMS: phone_number(notice.customer_phone, country_code)
        if notice.customer_phone
        else None,
    }
    return [
        _draft(
            envelope, channel, recipient, template, values, notice.merchant_id, notice.payment_id
        )
        for channel, recipient in recipients.items()
        if recipient is not None
    ]


def _draft(
    envelope: Envelope,
    channel: Channel,
    recipient: str,
    template: str,
    values: dict[str, str],
    merchant_id: str,
    subject_id: str | None,
) -> Draft:
    rendered = render(template, channel.value, values)
    return Draft(
        event_id=envelope.id,
        event_type=envelope.type,
        channel=channel,
        recipient=recipient,
        template=template,
        subject=rendered.subject,
        body=rendered.body,
        merchant_id=merchant_id,
        subject_id=subject_id,
    )


def _dispersion(envelope: Envelope, notice: DispersionNotice) -> Draft:
    values = {
        "amount": money(decimal(notice.amount), notice.currency),
        "date": long_date(notice.business_date),
        "merchant_id": notice.merchant_id,
        "account": f"terminada en {notice.bank_account[-4:]}"
        if notice.bank_account
        else "registrada",
        "reference": notice.bank_reference or notice.dispersion_id,
    }
    return _draft(
        envelope,
        Channel.EMAIL,
        notice.merchant_email,
        "dispersion",
        values,
        notice.merchant_id,
        notice.dispersion_id,
    )


def _payout_account(envelope: Envelope, notice: PayoutAccountNotice) -> Draft:
    previous = notice.previous_account_last4
    values = {
        "merchant_id": notice.merchant_id,
        "account": f"{ACCOUNT_TYPES.get(notice.account_type, notice.account_type)} terminada en "
        f"{notice.account_last4} (banco {notice.bank_code})",
        "previous": "ninguna cuenta"
        if previous is None
        else "la misma cuenta, con otros datos"
        if previous == notice.account_last4
        else f"la cuenta terminada en {previous}",
        "when": local_datetime(notice.changed_at),
    }
    return _about_the_merchant(
        envelope, notice.merchant_email, "payout_account", values, notice.merchant_id
    )


def _email_changed(envelope: Envelope, notice: EmailChangedNotice) -> Draft:
    values = {
        "merchant_id": notice.merchant_id,
        "new_email": notice.new_email_masked,
        "when": local_datetime(notice.changed_at),
    }
    return _about_the_merchant(
        envelope, notice.previous_email, "email_changed", values, notice.merchant_id
    )


def _about_the_merchant(
    envelope: Envelope, to: str, template: str, values: dict[str, str], merchant_id: str
) -> Draft:
    """An e-mail about the merchant's own account (its subject is the merchant)."""
    return _draft(envelope, Channel.EMAIL, to, template, values, merchant_id, merchant_id)


def _summary(envelope: Envelope, notice: DailySummaryNotice, day: DayFigures) -> Draft:
    amounts = [money(amount, currency) for currency, amount in sorted(day.approved_amounts.items())]
    values = {
        "date": long_date(notice.business_date),
        "approved_count": str(day.approved_count),
        "approved_amount": " y ".join(amounts) or money(Decimal(0), "COP"),
        "declined_count": str(day.declined_count),
        "refunded_count": str(day.refunded_count),
        "merchant_id": notice.merchant_id,
    }
    return _draft(
        envelope,
        Channel.EMAIL,
        notice.merchant_email,
        "daily_summary",
        values,
        notice.merchant_id,
        envelope.subject_id,
    )


def _weekly_report(envelope: Envelope, notice: WeeklyReportNotice) -> Draft:
    values = {
        "period": f"{long_date(notice.period_start)} al {long_date(notice.period_end)}",
        "week": notice.week,
        "payments": str(notice.payments),
        "merchant_id": notice.merchant_id,
        "url": notice.url,
        "expires": local_datetime(notice.url_expires_at),
    }
    return _draft(
        envelope,
        Channel.EMAIL,
        notice.merchant_email,
        "weekly_report",
        values,
        notice.merchant_id,
        envelope.subject_id,
    )
