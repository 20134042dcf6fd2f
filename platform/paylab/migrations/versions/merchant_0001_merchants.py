"""Merchant schema: merchants, payout accounts, confirmation webhooks and their attempts.

The database holds what must never break even with a bug in the code: one registration per
Idempotency-Key and per document, one webhook delivery per event, attempts counted up from 1.
Dispersion (issue 7, later) reads `payout_accounts` and `merchants.payout_minimum`.

Revision ID: merchant_0001
Revises: 0001
Create Date: 2026-12-05
"""

from __future__ import annotations

from alembic import op

from paylab.core.db import role_name

revision = "merchant_0001"
down_revision = "0001"
branch_labels = ("merchant",)
depends_on = None

ROLE = role_name("merchant")
TABLES = ("merchants", "payout_accounts", "webhook_deliveries", "webhook_attempts")


def upgrade() -> None:
    # ePayco's p_cust_id_cliente is a number; ours start well above any demo fixture.
    op.execute("CREATE SEQUENCE merchant.cust_id_seq START WITH 500001")
    op.execute("""
        CREATE TABLE merchant.merchants (
            id                text PRIMARY KEY,
            status            text NOT NULL CHECK (status IN ('registering', 'active')),
            name              text NOT NULL,
            email             text NOT NULL,
            phone             text NOT NULL,
            doc_type          text NOT NULL CHECK (doc_type IN ('NIT', 'CC', 'CE', 'PPN')),
            doc_number        text NOT NULL,
            registration_key  text NOT NULL UNIQUE,
            request_hash      text NOT NULL,
            cust_id           bigint NOT NULL UNIQUE DEFAULT nextval('merchant.cust_id_seq'),
            p_key             text NOT NULL,
            p_key_rotated_at  timestamptz,
            wallet_account_id uuid,
            api_public_key    text,
            confirmation_url  text,
            payout_minimum    numeric(18,2) CHECK (payout_minimum IS NULL OR payout_minimum > 0),
            created_at        timestamptz NOT NULL DEFAULT now(),
            updated_at        timestamptz NOT NULL DEFAULT now(),
            activated_at      timestamptz,
            UNIQUE (doc_type, doc_number),
            CONSTRAINT merchants_active_complete CHECK (
                status = 'registering'
                OR (wallet_account_id IS NOT NULL AND api_public_key IS NOT NULL
                    AND activated_at IS NOT NULL)
            )
        )""")
    op.execute("""
        CREATE TABLE merchant.payout_accounts (
            merchant_id    text PRIMARY KEY REFERENCES merchant.merchants (id),
            bank_code      text NOT NULL,
            account_type   text NOT NULL CHECK (account_type IN ('savings', 'checking')),
            account_number text NOT NULL,
            holder_name    text NOT NULL,
            updated_at     timestamptz NOT NULL DEFAULT now()
        )""")
    op.execute("""
        CREATE TABLE merchant.webhook_deliveries (
            id               uuid PRIMARY KEY,
            event_id         text NOT NULL UNIQUE,
            event_type       text NOT NULL,
            merchant_id      text NOT NULL REFERENCES merchant.merchants (id),
            payment_id       text NOT NULL,
            url              text NOT NULL,
            fields           jsonb NOT NULL,
            status           text NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
            attempts         integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
            next_attempt_at  timestamptz,
            last_status_code integer,
            last_error       text,
            created_at       timestamptz NOT NULL DEFAULT now(),
            updated_at       timestamptz NOT NULL DEFAULT now(),
            finished_at      timestamptz,
            CONSTRAINT deliveries_due_iff_pending
                CHECK ((status = 'pending') = (next_attempt_at IS NOT NULL)),
            CONSTRAINT deliveries_finished_iff_not_pending
                CHECK ((status = 'pending') = (finished_at IS NULL))
        )""")
    # The delivery loop's only query: due rows, oldest first.
    op.execute(
        "CREATE INDEX deliveries_due ON merchant.webhook_deliveries (next_attempt_at)"
        " WHERE status = 'pending'"
    )
    op.execute(
        "CREATE INDEX deliveries_by_merchant ON merchant.webhook_deliveries"
        " (merchant_id, created_at DESC)"
    )
    op.execute("""
        CREATE TABLE merchant.webhook_attempts (
            delivery_id  uuid NOT NULL REFERENCES merchant.webhook_deliveries (id),
            attempt      integer NOT NULL CHECK (attempt >= 1),
            status_code  integer,
            error        text,
            duration_ms  integer NOT NULL,
            at           timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (delivery_id, attempt)
        )""")
    for table in TABLES:
        op.execute(f"ALTER TABLE merchant.{table} OWNER TO {ROLE}")
    op.execute(f"ALTER SEQUENCE merchant.cust_id_seq OWNER TO {ROLE}")


def downgrade() -> None:
    for table in reversed(TABLES):
        op.execute(f"DROP TABLE IF EXISTS merchant.{table}")
    op.execute("DROP SEQUENCE IF EXISTS merchant.cust_id_seq")
