"""Wallet: a payout the bank refused comes back to the merchant (`payout_return`), once.

Dispersion (issue 7) debits the wallet before paying at the bank, so a crash never pays money
the ledger did not move; when the bank refuses, `payout_return` credits the amount back. The
return posting carries its payout's operation id, unique among returns.

Revision ID: wallet_0003
Revises: wallet_0002
Create Date: 2026-12-05
"""

from __future__ import annotations

from alembic import op

revision = "wallet_0003"
down_revision = "wallet_0002"
branch_labels = None
depends_on = None

KINDS = (
    "topup",
    "reserve",
    "capture",
    "release",
    "payout",
    "refund_reserve",
    "refund",
    "refund_cancel",
)


def _check(kinds: tuple[str, ...]) -> None:
    values = ", ".join(f"'{k}'" for k in kinds)
    op.execute("ALTER TABLE wallet.postings DROP CONSTRAINT postings_kind_check")
    op.execute(
        f"ALTER TABLE wallet.postings ADD CONSTRAINT postings_kind_check CHECK (kind IN ({values}))"
    )


def upgrade() -> None:
    _check((*KINDS, "payout_return"))
    op.execute(
        "ALTER TABLE wallet.postings ADD CONSTRAINT postings_return_has_operation"
        " CHECK (kind <> 'payout_return' OR operation_id IS NOT NULL)"
    )
    op.execute(
        "CREATE UNIQUE INDEX postings_one_payout_return ON wallet.postings (operation_id)"
        " WHERE kind = 'payout_return'"
    )


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS wallet.postings_one_payout_return")
    op.execute(
        "ALTER TABLE wallet.postings DROP CONSTRAINT IF EXISTS postings_return_has_operation"
    )
    _check(KINDS)
