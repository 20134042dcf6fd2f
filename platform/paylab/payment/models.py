"""The payment service's tables (schema `payment`); migration payment_0001 creates them."""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TIMESTAMP

SCHEMA = "payment"
metadata = MetaData(schema=SCHEMA)
Timestamp = TIMESTAMP(timezone=True)

#: The projection of each payment's event stream; `version` is the last event applied.
payments = Table(
    "payments",
    metadata,
    Column("id", Text, primary_key=True),
    Column("merchant_id", Text, nullable=False),
    Column("ref_payco", Text, nullable=False),
    Column("reference", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("method", String(8), nullable=False),
    Column("amount", Numeric(18, 2, asdecimal=True), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("status", String(16), nullable=False),
    Column("cod_respuesta", Integer, nullable=False),
    Column("customer", JSONB, nullable=False),
    Column("idempotency_key", Text, nullable=False),
    Column("request_hash", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", Timestamp, nullable=False),
    Column("updated_at", Timestamp, nullable=False),
    Column("card_token", Text),
    Column("card_brand", Text),
    Column("card_last4", String(4)),
    Column("pse_bank_code", Text),
    Column("pse_transaction_id", Text),
    Column("pse_redirect_url", Text),
    Column("payer_account_id", Text),
    Column("confirmation_url", Text),
    Column("return_url", Text),
    Column("antifraud_decision", Text),
    Column("antifraud_score", Integer),
    Column("processor_outcome", Text),
    Column("processor_reason", Text),
    Column("authorization_id", Text),
    Column("outcome_status", String(16)),
    Column("outcome_reason", Text),
    Column("refund_id", Text),
    # payment_0004: partial refunds; reversed once the refunds add up to the amount.
    Column("refunded_amount", Numeric(18, 2, asdecimal=True), nullable=False),
    Column("refund_ids", ARRAY(Text), nullable=False),
    Column("review_decision", String(8)),
    Column("review_reason", Text),
    # Operational, not part of the payment's state: the SAGA's PSE wait token.
    Column("task_token", Text),
    # ... and its antifraud-review wait token (payment_0002), kept apart so that a repeated
    # review decision can never answer the PSE wait.
    Column("review_task_token", Text),
)

#: The durable side of idempotency: one row per (merchant, key), the first answer once known.
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("merchant_id", Text, primary_key=True),
    Column("idempotency_key", Text, primary_key=True),
    Column("request_hash", Text, nullable=False),
    Column("payment_id", Text, nullable=False),
    Column("response_status", Integer),
    Column("response_body", JSONB),
    Column("created_at", Timestamp, nullable=False, server_default=func.now()),
)

#: The first PSE confirmation per payment; later ones (duplicates, reorders) change nothing.
pse_confirmations = Table(
    "pse_confirmations",
    metadata,
    Column("payment_id", Text, primary_key=True),
    Column("transaction_id", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("event_id", Text),
    Column("received_at", Timestamp, nullable=False, server_default=func.now()),
    # payment_0005: an approval that came after the payment ended otherwise, once settled.
    Column("settled_at", Timestamp),
    Column("settled_note", Text),
)

#: Operator-set processing settings per merchant (payment_0003); no row means the defaults.
merchant_settings = Table(
    "merchant_settings",
    metadata,
    Column("merchant_id", Text, primary_key=True),
    Column("pse_timeout_seconds", Integer),
    Column("updated_at", Timestamp, nullable=False, server_default=func.now()),
)
