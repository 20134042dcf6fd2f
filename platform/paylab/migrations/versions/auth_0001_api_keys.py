"""auth: merchants' API keys (public key + SHA-256 of the private key), revocable.

Revision ID: auth_0001
Revises: 0001
Create Date: 2026-12-05
"""

from __future__ import annotations

from alembic import op

revision = "auth_0001"
down_revision = "0001"
branch_labels = ("auth",)
depends_on = None


def upgrade() -> None:
    op.execute("""
        CREATE TABLE auth.api_keys (
            id                  uuid PRIMARY KEY,
            merchant_id         varchar(64) NOT NULL,
            public_key          varchar(64) NOT NULL UNIQUE,
            private_key_sha256  bytea NOT NULL CHECK (octet_length(private_key_sha256) = 32),
            created_at          timestamptz NOT NULL DEFAULT now(),
            last_used_at        timestamptz,
            revoked_at          timestamptz
        )""")
    # Active keys of one merchant: the rotation limit and the merchant's key list.
    op.execute(
        "CREATE INDEX api_keys_merchant_active ON auth.api_keys (merchant_id) "
        "WHERE revoked_at IS NULL"
    )
    op.execute("CREATE INDEX api_keys_merchant ON auth.api_keys (merchant_id)")
    op.execute("ALTER TABLE auth.api_keys OWNER TO paylab_auth")


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS auth.api_keys")
