"""Webhook deliveries carry a lane: a delivery loop claims only its own lane's rows.

The stack's merchant service works the `default` lane; a test's own copy of the service (fast
retries) works a lane of its own, so the two never claim each other's deliveries.

Revision ID: merchant_0002
Revises: merchant_0001
Create Date: 2026-12-05
"""

from __future__ import annotations

from alembic import op

revision = "merchant_0002"
down_revision = "merchant_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "ALTER TABLE merchant.webhook_deliveries"
        " ADD COLUMN lane text NOT NULL DEFAULT 'default' CHECK (length(lane) BETWEEN 1 AND 40)"
    )
    op.execute("DROP INDEX merchant.deliveries_due")
    op.execute(
        "CREATE INDEX deliveries_due ON merchant.webhook_deliveries (lane, next_attempt_at)"
        " WHERE status = 'pending'"
    )


def downgrade() -> None:
    op.execute("DROP INDEX merchant.deliveries_due")
    op.execute("ALTER TABLE merchant.webhook_deliveries DROP COLUMN lane")
    op.execute(
        "CREATE INDEX deliveries_due ON merchant.webhook_deliveries (next_attempt_at)"
        " WHERE status = 'pending'"
    )
