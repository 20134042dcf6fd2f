"""Payment: antifraud review (held, cod 7) and the operator's decision.

`review_decision` / `review_reason` are part of the payment's state (the fold of
PaymentReviewed); `review_task_token` is operational, like `task_token`: the SAGA's wait for
the decision, kept apart from the PSE wait so that an answer meant for one never reaches
the other.

Revision ID: payment_0002
Revises: payment_0001
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "payment_0002"
down_revision = "payment_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
        ALTER TABLE payment.payments
            ADD COLUMN IF NOT EXISTS review_decision varchar(8)
                CHECK (review_decision IN ('approve', 'reject')),
            ADD COLUMN IF NOT EXISTS review_reason text,
            ADD COLUMN IF NOT EXISTS review_task_token text""")


def downgrade() -> None:
    op.execute("""
        ALTER TABLE payment.payments
            DROP COLUMN IF EXISTS review_task_token,
            DROP COLUMN IF EXISTS review_reason,
            DROP COLUMN IF EXISTS review_decision""")
