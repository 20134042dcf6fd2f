"""Every service schema gets an outbox (events leave with the change) and an inbox (idempotency).

Revision ID: 0001
Revises:
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

from paylab.core.db import SERVICES_WITH_DB, role_name

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    for schema in SERVICES_WITH_DB:
        role = role_name(schema)
        # STYLE rule 2: the outbox row is written in the same transaction as the change.
        op.execute(f"""
            CREATE TABLE {schema}.outbox (
                id            uuid PRIMARY KEY,
                aggregate_id  text NOT NULL,
                event_type    text NOT NULL,
                payload       jsonb NOT NULL,
                destinations  text[] NOT NULL,
                created_at    timestamptz NOT NULL DEFAULT now(),
                published_at  timestamptz
            )""")
        op.execute(
            f"CREATE INDEX outbox_unpublished ON {schema}.outbox (created_at) "
            "WHERE published_at IS NULL"
        )
        # STYLE rule 3: a consumer stores the message id with its effect, in one transaction.
        op.execute(f"""
            CREATE TABLE {schema}.processed_messages (
                consumer      text NOT NULL,
                message_id    text NOT NULL,
                processed_at  timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (consumer, message_id)
            )""")
        for table in ("outbox", "processed_messages"):
            op.execute(f"ALTER TABLE {schema}.{table} OWNER TO {role}")


def downgrade() -> None:
    for schema in SERVICES_WITH_DB:
        op.execute(f"DROP TABLE IF EXISTS {schema}.processed_messages")
        op.execute(f"DROP TABLE IF EXISTS {schema}.outbox")
