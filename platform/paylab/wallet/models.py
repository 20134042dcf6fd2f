"""The wallet's tables (schema `wallet`); migrations wallet_0001/0002 are their source of truth."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB, TIMESTAMP
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

SCHEMA = "wallet"
Amount = Numeric(18, 2, asdecimal=True)
Timestamp = TIMESTAMP(timezone=True)


class Base(DeclarativeBase):
    metadata = MetaData(schema=SCHEMA)


class Account(Base):
    """A payer wallet or merchant account (owned by `merchant_id`), or a system account."""

    __tablename__ = "accounts"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    merchant_id: Mapped[str | None] = mapped_column(Text)
    code: Mapped[str | None] = mapped_column(Text)
    currency: Mapped[str] = mapped_column(String(3))
    reference: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(Timestamp, server_default=func.now())


class Balance(Base):
    """The running balance of one account: what entries add up to, kept for reads and locks."""

    __tablename__ = "balances"

    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(Account.id), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3))
    kind: Mapped[str] = mapped_column(String(16))
    available: Mapped[Decimal] = mapped_column(Amount, default=Decimal("0.00"))
    held: Mapped[Decimal] = mapped_column(Amount, default=Decimal("0.00"))
    pending: Mapped[Decimal] = mapped_column(Amount, default=Decimal("0.00"))
    updated_at: Mapped[datetime] = mapped_column(Timestamp, server_default=func.now())


class Posting(Base):
    """One balanced money movement; its entries sum to zero (checked at commit)."""

    __tablename__ = "postings"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    currency: Mapped[str] = mapped_column(String(3))
    hold_id: Mapped[uuid.UUID | None] = mapped_column()
    payment_id: Mapped[str | None] = mapped_column(Text)
    operation_id: Mapped[str | None] = mapped_column(Text)
    refund_id: Mapped[uuid.UUID | None] = mapped_column()  # wallet_0002
    created_at: Mapped[datetime] = mapped_column(Timestamp, server_default=func.now())


class Entry(Base):
    """One leg of a posting; append-only."""

    __tablename__ = "entries"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    posting_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(Posting.id))
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(Account.id))
    bucket: Mapped[str] = mapped_column(String(16))
    amount: Mapped[Decimal] = mapped_column(Amount)
    currency: Mapped[str] = mapped_column(String(3))
    balance_after: Mapped[Decimal] = mapped_column(Amount)
    created_at: Mapped[datetime] = mapped_column(Timestamp, server_default=func.now())


class Hold(Base):
    """A payment's reserved amount; captured or released exactly once."""

    __tablename__ = "holds"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    payment_id: Mapped[str] = mapped_column(Text)
    merchant_id: Mapped[str] = mapped_column(Text)
    method: Mapped[str] = mapped_column(String(16))
    amount: Mapped[Decimal] = mapped_column(Amount)
    fee: Mapped[Decimal] = mapped_column(Amount)
    currency: Mapped[str] = mapped_column(String(3))
    payer_account_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey(Account.id))
    merchant_account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(Account.id))
    status: Mapped[str] = mapped_column(String(16))
    release_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(Timestamp, server_default=func.now())
    resolved_at: Mapped[datetime | None] = mapped_column(Timestamp)


class Refund(Base):
    """Money going back out of a captured hold: reserved, then refunded or cancelled once."""

    __tablename__ = "refunds"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    operation_id: Mapped[str] = mapped_column(Text)
    hold_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(Hold.id))
    payment_id: Mapped[str] = mapped_column(Text)
    merchant_id: Mapped[str] = mapped_column(Text)
    amount: Mapped[Decimal] = mapped_column(Amount)
    fee_returned: Mapped[Decimal] = mapped_column(Amount)
    currency: Mapped[str] = mapped_column(String(3))
    merchant_account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(Account.id))
    target_account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(Account.id))
    status: Mapped[str] = mapped_column(String(16))
    reference: Mapped[str | None] = mapped_column(Text)
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(Timestamp, server_default=func.now())
    resolved_at: Mapped[datetime | None] = mapped_column(Timestamp)
    #: The last reserve call for it (the first, or a retry that found it again).
    attempted_at: Mapped[datetime] = mapped_column(Timestamp, server_default=func.now())


class HoldTombstone(Base):
    """A payment released before any hold existed: a late ReserveFunds is refused."""

    __tablename__ = "hold_tombstones"

    payment_id: Mapped[str] = mapped_column(Text, primary_key=True)
    operation_id: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(Timestamp, server_default=func.now())


class Operation(Base):
    """An idempotent request: the first answer, replayed for the same key and request."""

    __tablename__ = "operations"

    scope: Mapped[str] = mapped_column(Text, primary_key=True)
    key: Mapped[str] = mapped_column(Text, primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer)
    response: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(Timestamp, server_default=func.now())
