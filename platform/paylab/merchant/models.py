"""The merchant service's tables (schema `merchant`); the migration merchant_0001 creates them."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Date,
    FetchedValue,
    ForeignKey,
    Integer,
    MetaData,
    Numeric,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB, TIMESTAMP
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

SCHEMA = "merchant"
Timestamp = TIMESTAMP(timezone=True)


class Base(DeclarativeBase):
    metadata = MetaData(schema=SCHEMA)


class Merchant(Base):
    """A merchant: profile, signature pair, where its money and webhooks go."""

    __tablename__ = "merchants"

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    status: Mapped[str] = mapped_column(Text)
    name: Mapped[str] = mapped_column(Text)
    email: Mapped[str] = mapped_column(Text)
    phone: Mapped[str] = mapped_column(Text)
    doc_type: Mapped[str] = mapped_column(Text)
    doc_number: Mapped[str] = mapped_column(Text)
    registration_key: Mapped[str] = mapped_column(Text)
    request_hash: Mapped[str] = mapped_column(Text)
    cust_id: Mapped[int] = mapped_column(BigInteger, server_default=FetchedValue())
    p_key: Mapped[str] = mapped_column(Text)
    p_key_rotated_at: Mapped[datetime | None] = mapped_column(Timestamp)
    wallet_account_id: Mapped[uuid.UUID | None] = mapped_column()
    api_public_key: Mapped[str | None] = mapped_column(Text)
    confirmation_url: Mapped[str | None] = mapped_column(Text)
    payout_minimum: Mapped[Decimal | None] = mapped_column(Numeric(18, 2, asdecimal=True))
    created_at: Mapped[datetime] = mapped_column(Timestamp, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(Timestamp, server_default=func.now())
    activated_at: Mapped[datetime | None] = mapped_column(Timestamp)


class PayoutAccount(Base):
    """The bank account dispersions pay into."""

    __tablename__ = "payout_accounts"

    merchant_id: Mapped[str] = mapped_column(ForeignKey(Merchant.id), primary_key=True)
    bank_code: Mapped[str] = mapped_column(Text)
    account_type: Mapped[str] = mapped_column(Text)
    account_number: Mapped[str] = mapped_column(Text)
    holder_name: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(Timestamp, server_default=func.now())


class WebhookDelivery(Base):
    """One confirmation webhook (one per payment event), retried until delivered or failed."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(Text)
    event_type: Mapped[str] = mapped_column(Text)
    merchant_id: Mapped[str] = mapped_column(ForeignKey(Merchant.id))
    payment_id: Mapped[str] = mapped_column(Text)
    url: Mapped[str] = mapped_column(Text)
    fields: Mapped[dict[str, Any]] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(Text)
    lane: Mapped[str] = mapped_column(Text, default="default")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(Timestamp)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(Timestamp, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(Timestamp, server_default=func.now())
    finished_at: Mapped[datetime | None] = mapped_column(Timestamp)


class WebhookAttempt(Base):
    """One POST of a delivery and what the merchant's endpoint answered."""

    __tablename__ = "webhook_attempts"

    delivery_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(WebhookDelivery.id), primary_key=True)
    attempt: Mapped[int] = mapped_column(Integer, primary_key=True)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(Timestamp, server_default=func.now())


class Dispersion(Base):
    """One merchant's payout for one business day (migration merchant_0003)."""

    __tablename__ = "dispersions"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey(Merchant.id))
    business_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(Text)
    attempt: Mapped[int] = mapped_column(Integer)
    amount: Mapped[Decimal] = mapped_column(Numeric(18, 2, asdecimal=True))
    currency: Mapped[str] = mapped_column(Text)
    bank_account_last4: Mapped[str] = mapped_column(Text)
    wallet_payout_id: Mapped[uuid.UUID | None] = mapped_column()
    wallet_return_id: Mapped[uuid.UUID | None] = mapped_column()
    bank_payout_id: Mapped[str | None] = mapped_column(Text)
    bank_status: Mapped[str | None] = mapped_column(Text)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(Timestamp, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(Timestamp, server_default=func.now())
    paid_at: Mapped[datetime | None] = mapped_column(Timestamp)
