"""Payment: partial refunds. `refunded_amount` adds up the refunds, `refund_ids` lists them.

A payment stays `approved` until its refunds add up to its amount, then it is `reversed`.
Payments reversed before this revision had one refund, of the whole amount: the backfill
gives their rows what the fold of their events now gives.

Revision ID: payment_0004
Revises: payment_0003
Create Date: 2026-12-05
"""

from __future__ import annotations

from alembic import op

revision = "payment_0004"
down_revision = "payment_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
        ALTER TABLE payment.payments
            ADD COLUMN IF NOT EXISTS refunded_amount numeric(18, 2) NOT NULL DEFAULT 0
                CHECK (refunded_amount >= 0 AND refunded_amount <= amount),
            ADD COLUMN IF NOT EXISTS refund_ids text[] NOT NULL DEFAULT '{}'""")
    op.execute("""
        UPDATE payment.payments SET refunded_amount = amount, refund_ids = ARRAY[refund_id]
        WHERE status = 'reversed' AND refund_id IS NOT NULL""")


def downgrade() -> None:
    op.execute("""
        ALTER TABLE payment.payments
            DROP COLUMN IF EXISTS refund_ids,
            DROP COLUMN IF EXISTS refunded_amount""")
