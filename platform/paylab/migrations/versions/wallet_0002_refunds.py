"""Wallet: refunds (reserve, then complete or cancel) and holds closed by payment id.

A refund moves money back out of a captured payment in two steps: the merchant's share is
first reserved (available -> held), then completed (held -> the payer's wallet or the
clearing account the capture came from) or cancelled (held -> available). The database keeps
the same guarantees as for holds: one reserve and at most one resolution per refund.

`hold_tombstones` record that a payment's hold was released before any hold existed (the
SAGA lost ReserveFunds' answer and compensated by payment id): a late reserve is refused.

Revision ID: wallet_0002
Revises: wallet_0001
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

revision = "wallet_0002"
down_revision = "wallet_0001"
branch_labels = None
depends_on = None

ROLE = "paylab_wallet"
KINDS = ("topup", "reserve", "capture", "release", "payout")
REFUND_KINDS = ("refund_reserve", "refund", "refund_cancel")


def _in(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


def upgrade() -> None:
    op.execute("""
        CREATE TABLE wallet.refunds (
            id                  uuid PRIMARY KEY,
            operation_id        text NOT NULL UNIQUE,
            hold_id             uuid NOT NULL REFERENCES wallet.holds (id),
            payment_id          text NOT NULL,
            merchant_id         text NOT NULL,
            amount              numeric(18,2) NOT NULL CHECK (amount > 0),
            fee_returned        numeric(18,2) NOT NULL
                                CHECK (fee_returned >= 0 AND fee_returned <= amount),
            currency            text NOT NULL CHECK (currency IN ('COP', 'USD')),
            merchant_account_id uuid NOT NULL,
            target_account_id   uuid NOT NULL,
            status              text NOT NULL
                                CHECK (status IN ('reserved', 'refunded', 'cancelled')),
            reference           text,
            cancel_reason       text,
            created_at          timestamptz NOT NULL DEFAULT now(),
            resolved_at         timestamptz,
            FOREIGN KEY (merchant_account_id, currency) REFERENCES wallet.accounts (id, currency),
            FOREIGN KEY (target_account_id, currency) REFERENCES wallet.accounts (id, currency),
            CONSTRAINT refunds_resolved_iff_not_reserved
                CHECK ((status = 'reserved') = (resolved_at IS NULL))
        )""")
    op.execute("CREATE INDEX refunds_by_hold ON wallet.refunds (hold_id)")
    op.execute(
        "CREATE INDEX refunds_open ON wallet.refunds (merchant_id) WHERE status = 'reserved'"
    )
    op.execute("""
        CREATE TABLE wallet.hold_tombstones (
            payment_id   text PRIMARY KEY,
            operation_id text NOT NULL,
            reason       text NOT NULL,
            created_at   timestamptz NOT NULL DEFAULT now()
        )""")
    op.execute("ALTER TABLE wallet.postings DROP CONSTRAINT postings_kind_check")
    op.execute(
        "ALTER TABLE wallet.postings ADD CONSTRAINT postings_kind_check "
        f"CHECK (kind IN ({_in(KINDS + REFUND_KINDS)}))"
    )
    op.execute(
        "ALTER TABLE wallet.postings ADD COLUMN refund_id uuid REFERENCES wallet.refunds (id)"
    )
    op.execute(
        "ALTER TABLE wallet.postings ADD CONSTRAINT postings_refund_kinds "
        f"CHECK ((kind IN ({_in(REFUND_KINDS)})) = (refund_id IS NOT NULL))"
    )
    # Exactly once, in the database: one reserve per refund, and one completion OR one cancel.
    op.execute(
        "CREATE UNIQUE INDEX postings_one_refund_reserve ON wallet.postings (refund_id)"
        " WHERE kind = 'refund_reserve'"
    )
    op.execute(
        "CREATE UNIQUE INDEX postings_one_refund_resolution ON wallet.postings (refund_id)"
        " WHERE kind IN ('refund', 'refund_cancel')"
    )
    for table in ("refunds", "hold_tombstones"):
        op.execute(f"ALTER TABLE wallet.{table} OWNER TO {ROLE}")


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS wallet.postings_one_refund_resolution")
    op.execute("DROP INDEX IF EXISTS wallet.postings_one_refund_reserve")
    op.execute("ALTER TABLE wallet.postings DROP CONSTRAINT IF EXISTS postings_refund_kinds")
    op.execute("ALTER TABLE wallet.postings DROP COLUMN IF EXISTS refund_id")
    op.execute("ALTER TABLE wallet.postings DROP CONSTRAINT postings_kind_check")
    op.execute(
        "ALTER TABLE wallet.postings ADD CONSTRAINT postings_kind_check "
        f"CHECK (kind IN ({_in(KINDS)}))"
    )
    op.execute("DROP TABLE IF EXISTS wallet.hold_tombstones")
    op.execute("DROP TABLE IF EXISTS wallet.refunds")
