"""Wallet: when a refund was last attempted, so reconciliation never undoes a live attempt.

A refund request reserves in the wallet, refunds at the bank, then completes. A retry finds
its reservation again (same operation id) and touches `attempted_at`; the reconciliation of
stale reservations (payment/refund_reconcile.py) only looks at refunds not attempted within
its grace period, and cancels one only if it still was not, under the refund's row lock.

Revision ID: wallet_0004
Revises: wallet_0003
Create Date: 2026-12-05
"""

from __future__ import annotations

from alembic import op

revision = "wallet_0004"
down_revision = "wallet_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE wallet.refunds ADD COLUMN attempted_at timestamptz")
    op.execute("UPDATE wallet.refunds SET attempted_at = created_at")
    op.execute("ALTER TABLE wallet.refunds ALTER COLUMN attempted_at SET DEFAULT now()")
    op.execute("ALTER TABLE wallet.refunds ALTER COLUMN attempted_at SET NOT NULL")


def downgrade() -> None:
    op.execute("ALTER TABLE wallet.refunds DROP COLUMN attempted_at")
