"""Dispersions: one payout per merchant and business day, with the ids that make it resumable.

The database holds what must never break even with a bug in the code: one row per (merchant,
business_date), so two runs can never create two payouts for the same day; a paid row has
its wallet debit and its bank payout; a row is claimed again only from `rejected`, with a
higher attempt number (new wallet operation id and bank Idempotency-Key).

Revision ID: merchant_0003
Revises: merchant_0002
Create Date: 2026-12-05
"""

from __future__ import annotations

from alembic import op

from paylab.core.db import role_name

revision = "merchant_0003"
down_revision = "merchant_0002"
branch_labels = None
depends_on = None

ROLE = role_name("merchant")


def upgrade() -> None:
    op.execute("""
        CREATE TABLE merchant.dispersions (
            id                 uuid PRIMARY KEY,
            merchant_id        text NOT NULL REFERENCES merchant.merchants (id),
            business_date      date NOT NULL,
            status             text NOT NULL CHECK (status IN ('pending', 'paid', 'rejected')),
            attempt            integer NOT NULL CHECK (attempt >= 1),
            amount             numeric(18,2) NOT NULL CHECK (amount > 0),
            currency           text NOT NULL CHECK (currency IN ('COP', 'USD')),
            bank_account_last4 text NOT NULL,
            wallet_payout_id   uuid,
            wallet_return_id   uuid,
            bank_payout_id     text,
            bank_status        text CHECK (bank_status IN ('pending', 'paid', 'rejected')),
            last_error         text,
            created_at         timestamptz NOT NULL DEFAULT now(),
            updated_at         timestamptz NOT NULL DEFAULT now(),
            paid_at            timestamptz,
            UNIQUE (merchant_id, business_date),
            CONSTRAINT dispersions_paid_complete CHECK (
                (status = 'paid') = (paid_at IS NOT NULL)
                AND (status <> 'paid' OR (wallet_payout_id IS NOT NULL
                     AND bank_payout_id IS NOT NULL AND bank_status = 'paid'))
            ),
            -- A debited payout the bank refused is only closed once the money came back.
            CONSTRAINT dispersions_rejected_returned CHECK (
                status <> 'rejected' OR wallet_payout_id IS NULL OR wallet_return_id IS NOT NULL
            )
        )""")
    op.execute(
        "CREATE INDEX dispersions_open ON merchant.dispersions (merchant_id)"
        " WHERE status = 'pending'"
    )
    op.execute(f"ALTER TABLE merchant.dispersions OWNER TO {ROLE}")


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS merchant.dispersions")
