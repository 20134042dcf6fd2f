"""Payment: operator-set processing settings per merchant (how long the SAGA waits for PSE).

A merchant without a row uses the service's defaults (PAYLAB_PAYMENT_*). The row is read when
a payment's SAGA starts, so a change applies to the merchant's next payments without a restart.

Revision ID: payment_0003
Revises: payment_0002
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

from paylab.core.db import role_name

revision = "payment_0003"
down_revision = "payment_0002"
branch_labels = None
depends_on = None

ROLE = role_name("payment")


def upgrade() -> None:
    op.execute("""
        CREATE TABLE payment.merchant_settings (
            merchant_id          text PRIMARY KEY,
            pse_timeout_seconds  integer CHECK (pse_timeout_seconds BETWEEN 1 AND 86400),
            updated_at           timestamptz NOT NULL DEFAULT now()
        )""")
    op.execute(f"ALTER TABLE payment.merchant_settings OWNER TO {ROLE}")


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS payment.merchant_settings")
