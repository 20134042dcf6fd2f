"""The notification service's table (schema `notification`); migration notification_0001 rules."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, Identity, Integer, MetaData, Numeric, String, Text, func
from sqlalchemy.dialects.postgresql import TIMESTAMP
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

SCHEMA = "notification"
Timestamp = TIMESTAMP(timezone=True)


class Base(DeclarativeBase):
    metadata = MetaData(schema=SCHEMA)


class Notification(Base):
    """One message to one recipient on one channel, for one event (UNIQUE event_id, channel)."""

    __tablename__ = "notifications"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    # Insertion order: newest first and the list's cursor, where uuids have no order.
    seq: Mapped[int] = mapped_column(BigInteger, Identity(always=True), unique=True)
    event_id: Mapped[str] = mapped_column(Text)
    event_type: Mapped[str] = mapped_column(Text)
    channel: Mapped[str] = mapped_column(String(8))
    recipient: Mapped[str] = mapped_column(Text)
    template: Mapped[str] = mapped_column(Text)
    subject: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(8))
    provider_message_id: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    merchant_id: Mapped[str] = mapped_column(Text)
    subject_id: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(Timestamp, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(Timestamp, server_default=func.now())
    sent_at: Mapped[datetime | None] = mapped_column(Timestamp)


class PaymentOutcome(Base):
    """The last known outcome of each payment: the daily summary's figures come from here."""

    __tablename__ = "payment_outcomes"

    payment_id: Mapped[str] = mapped_column(Text, primary_key=True)
    merchant_id: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    amount: Mapped[Decimal] = mapped_column(Numeric(18, 2, asdecimal=True))
    currency: Mapped[str] = mapped_column(String(3))
    occurred_at: Mapped[datetime] = mapped_column(Timestamp)
    event_id: Mapped[str] = mapped_column(Text)
