"""Payment schema: the payments projection, idempotency keys, PSE confirmations.

Revision ID: payment_0001
Revises: 0001
Create Date: 2026-12-05
"""

from __future__ import annotations

from alembic import op

from paylab.core.db import role_name

revision = "payment_0001"
down_revision = "0001"
branch_labels = ("payment",)
depends_on = None

ROLE = role_name("payment")


def upgrade() -> None:
    op.execute("""
        CREATE TABLE payment.payments (
            id                  text PRIMARY KEY,
            merchant_id         text NOT NULL,
            ref_payco           text NOT NULL UNIQUE,
            reference           text NOT NULL,
            description         text NOT NULL,
            method              varchar(8) NOT NULL
                                CHECK (method IN ('card', 'pse', 'wallet')),
            amount              numeric(18, 2) NOT NULL CHECK (amount > 0),
            currency            varchar(3) NOT NULL CHECK (currency IN ('COP', 'USD')),
            status              varchar(16) NOT NULL,
            cod_respuesta       integer NOT NULL,
            customer            jsonb NOT NULL,
            idempotency_key     text NOT NULL,
            request_hash        text NOT NULL,
            version             integer NOT NULL CHECK (version >= 1),
            created_at          timestamptz NOT NULL,
            updated_at          timestamptz NOT NULL,
            card_token          text,
            card_brand          text,
            card_last4          varchar(4),
            pse_bank_code       text,
            pse_transaction_id  text,
            pse_redirect_url    text,
            payer_account_id    text,
            confirmation_url    text,
            return_url          text,
            antifraud_decision  text,
            antifraud_score     integer,
            processor_outcome   text,
            processor_reason    text,
            authorization_id    text,
            outcome_status      varchar(16),
            outcome_reason      text,
            refund_id           text,
            task_token          text,
            UNIQUE (merchant_id, idempotency_key)
        )""")
    op.execute("CREATE INDEX payments_by_reference ON payment.payments (merchant_id, reference)")
    op.execute("""
        CREATE TABLE payment.idempotency_keys (
            merchant_id       text NOT NULL,
            idempotency_key   text NOT NULL,
            request_hash      text NOT NULL,
            payment_id        text NOT NULL,
            response_status   integer,
            response_body     jsonb,
            created_at        timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (merchant_id, idempotency_key)
        )""")
    op.execute("""
        CREATE TABLE payment.pse_confirmations (
            payment_id      text PRIMARY KEY,
            transaction_id  text NOT NULL,
            status          varchar(16) NOT NULL,
            event_id        text,
            received_at     timestamptz NOT NULL DEFAULT now()
        )""")
    op.execute("CREATE SEQUENCE payment.ref_payco_seq START WITH 100000001")
    for table in ("payments", "idempotency_keys", "pse_confirmations"):
        op.execute(f"ALTER TABLE payment.{table} OWNER TO {ROLE}")
    op.execute(f"ALTER SEQUENCE payment.ref_payco_seq OWNER TO {ROLE}")


def downgrade() -> None:
    op.execute("DROP SEQUENCE IF EXISTS payment.ref_payco_seq")
    for table in ("pse_confirmations", "idempotency_keys", "payments"):
        op.execute(f"DROP TABLE IF EXISTS payment.{table}")
