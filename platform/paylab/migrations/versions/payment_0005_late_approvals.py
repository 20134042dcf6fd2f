"""Payment: late PSE approvals an operator has settled (`paylab payments late-approvals`).

A PSE approval that arrives after the SAGA abandoned or failed the payment is listed until
an operator settles it by hand (credits the merchant or returns the money) and says so.

Revision ID: payment_0005
Revises: payment_0004
Create Date: 2026-12-05
"""

from __future__ import annotations

from alembic import op

revision = "payment_0005"
down_revision = "payment_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
        ALTER TABLE payment.pse_confirmations
            ADD COLUMN IF NOT EXISTS settled_at timestamptz,
            ADD COLUMN IF NOT EXISTS settled_note text""")


def downgrade() -> None:
    op.execute("""
        ALTER TABLE payment.pse_confirmations
            DROP COLUMN IF EXISTS settled_note,
            DROP COLUMN IF EXISTS settled_at""")
