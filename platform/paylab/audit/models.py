"""The audit log's tables (schema `audit`); the migration audit_0001 is their source of truth."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, LargeBinary, MetaData, SmallInteger, Text, func
from sqlalchemy.dialects.postgresql import TIMESTAMP
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

SCHEMA = "audit"
Timestamp = TIMESTAMP(timezone=True)


class Base(DeclarativeBase):
    metadata = MetaData(schema=SCHEMA)


class Event(Base):
    """One event, stored once; append-only (the service's role may only INSERT and SELECT)."""

    __tablename__ = "events"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    event_id: Mapped[str] = mapped_column(Text, unique=True)
    type: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(Text)
    subject_id: Mapped[str] = mapped_column(Text)
    merchant_id: Mapped[str | None] = mapped_column(Text)
    occurred_at: Mapped[datetime] = mapped_column(Timestamp)
    recorded_at: Mapped[datetime] = mapped_column(Timestamp, server_default=func.now())
    content: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[bytes] = mapped_column(LargeBinary)
    prev_hash: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    row_hash: Mapped[bytes] = mapped_column(LargeBinary, unique=True)


class ChainHead(Base):
    """The single row naming the chain's last link; locking it serializes appends."""

    __tablename__ = "chain_head"

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    row_hash: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime] = mapped_column(Timestamp, server_default=func.now())
