"""What the service reads (event data) and answers (the notifications API)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Text = Annotated[str, StringConstraints(min_length=1, max_length=200)]
# Amounts travel as decimal strings ("30000.00"); a JSON number is refused, like everywhere.
AmountText = Annotated[str, StringConstraints(pattern=r"^-?[0-9]{1,15}(\.[0-9]{1,2})?$")]
Email = Annotated[str, StringConstraints(pattern=r"^[^@\s]{1,64}@[^@\s]{1,190}$")]


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"


class Status(StrEnum):
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


class EventData(BaseModel):
    """Event payloads: extra fields are fine (producers add to them), missing ones are not."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class PaymentNotice(EventData):
    """`PaymentNotificationRequested.data`: the payment view plus who to tell."""

    payment_id: Text
    merchant_id: Text
    ref_payco: Text
    reference: Text
    method: Text
    amount: AmountText
    currency: Text
    status: Text
    cod_respuesta: int
    event_type: str | None = None  # PaymentCompleted, PaymentFailed or PaymentRefunded
    reason: str | None = None
    customer_email: Email | None = None
    customer_phone: Annotated[str, StringConstraints(pattern=r"^\+?[0-9]{7,15}$")] | None = None
    customer_name: Annotated[str, StringConstraints(max_length=100)] | None = None


class DispersionNotice(EventData):
    """`DispersionCompleted.data` (issue 7): a payout of the merchant's available balance."""

    dispersion_id: Text
    merchant_id: Text
    business_date: date
    amount: AmountText
    currency: Text
    merchant_email: Email
    bank_account: Annotated[str, StringConstraints(max_length=40)] | None = None
    bank_reference: Text | None = None


class PayoutAccountNotice(EventData):
    """`PayoutAccountChanged.data`: where the merchant's payouts go now (masked)."""

    merchant_id: Text
    merchant_email: Email
    bank_code: Annotated[str, StringConstraints(pattern=r"^[0-9]{4}$")]
    account_type: Text
    account_last4: Annotated[str, StringConstraints(pattern=r"^[0-9]{4}$")]
    previous_account_last4: Annotated[str, StringConstraints(pattern=r"^[0-9]{4}$")] | None = None
    changed_at: datetime


class EmailChangedNotice(EventData):
    """`MerchantEmailChanged.data`: the address replaced is told where notices go now (masked)."""

    merchant_id: Text
    previous_email: Email
    new_email_masked: Annotated[
        str, StringConstraints(max_length=254, pattern=r"^[^@\s]{1,2}\*\*\*@[^@\s]+$")
    ]
    changed_at: datetime


class DailySummaryNotice(EventData):
    """`DailySummaryRequested.data` (issue 7): whose day to sum up; the figures are ours."""

    merchant_id: Text
    business_date: date
    merchant_email: Email


class WeeklyReportNotice(EventData):
    """`WeeklyReportReady.data` (issue 7): a merchant's weekly CSV and its download link."""

    merchant_id: Text
    merchant_email: Email
    week: Text
    period_start: date
    period_end: date
    payments: int
    url: Annotated[str, StringConstraints(min_length=1, max_length=4096)]
    url_expires_at: datetime


@dataclass(frozen=True)
class DayFigures:
    """One merchant's payments whose outcome fell on one Bogotá day."""

    approved_count: int
    approved_amounts: Mapping[str, Decimal]  # per currency; none when nothing was approved
    declined_count: int
    refunded_count: int


def decimal(value: str) -> Decimal:
    """An AmountText as a Decimal."""
    return Decimal(value)


class NotificationOut(BaseModel):
    """One message: what was sent, to whom, and whether the provider took it."""

    id: UUID
    event_id: str
    event_type: str
    channel: Channel
    recipient: str
    template: str
    subject: str | None
    body: str
    status: Status = Field(description="`sending` until the provider answers; then sent/failed.")
    provider_message_id: str | None
    error: str | None
    attempts: int
    merchant_id: str
    subject_id: str | None = Field(description="What the message is about, e.g. a payment id.")
    created_at: datetime
    sent_at: datetime | None


class NotificationList(BaseModel):
    """A page of notifications, newest first."""

    items: list[NotificationOut]
    next_cursor: str | None = Field(description="Pass as `cursor` to get older notifications.")
