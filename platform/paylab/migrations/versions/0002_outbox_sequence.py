"""Outbox rows carry a sequence: rows of one transaction share created_at, order must not.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

from paylab.core.db import SERVICES_WITH_DB

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for schema in SERVICES_WITH_DB:
        op.execute(
            f"ALTER TABLE {schema}.outbox ADD COLUMN seq bigint GENERATED ALWAYS AS IDENTITY"
        )
        op.execute(f"DROP INDEX IF EXISTS {schema}.outbox_unpublished")
        op.execute(
            f"CREATE INDEX outbox_unpublished ON {schema}.outbox (seq) WHERE published_at IS NULL"
        )


def downgrade() -> None:
    for schema in SERVICES_WITH_DB:
        op.execute(f"DROP INDEX IF EXISTS {schema}.outbox_unpublished")
        op.execute(f"ALTER TABLE {schema}.outbox DROP COLUMN seq")
        op.execute(
            f"CREATE INDEX outbox_unpublished ON {schema}.outbox (created_at) "
            "WHERE published_at IS NULL"
        )
