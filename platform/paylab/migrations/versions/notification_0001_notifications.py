"""notification: every message sent (or being sent), once per event and channel; outcomes.

A row is written as `sending` before the provider is called and becomes `sent` or `failed`
after it answers; UNIQUE (event_id, channel) is what makes redeliveries send nothing twice.
`payment_outcomes` keeps each payment's last outcome for the merchants' daily summaries.

Revision ID: notification_0001
Revises: 0001
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

from paylab.core.db import role_name

revision = "notification_0001"
down_revision = "0001"
branch_labels = ("notification",)
depends_on = None

ROLE = role_name("notification")
TABLES = ("notifications", "payment_outcomes")


def upgrade() -> None:
    op.execute("""
        CREATE TABLE notification.notifications (
            id                   uuid PRIMARY KEY,
            seq                  bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
            event_id             text NOT NULL,
            event_type           text NOT NULL,
            channel              varchar(8) NOT NULL CHECK (channel IN ('email', 'sms')),
            recipient            text NOT NULL,
            template             text NOT NULL,
            subject              text,
            body                 text NOT NULL,
            status               varchar(8) NOT NULL
                                 CHECK (status IN ('sending', 'sent', 'failed')),
            provider_message_id  text,
            error                text,
            attempts             integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
            merchant_id          text NOT NULL,
            subject_id           text,
            created_at           timestamptz NOT NULL DEFAULT now(),
            updated_at           timestamptz NOT NULL DEFAULT now(),
            sent_at              timestamptz,
            UNIQUE (event_id, channel),
            CONSTRAINT notifications_sent_has_id CHECK (
                (status = 'sent') = (sent_at IS NOT NULL AND provider_message_id IS NOT NULL)
            ),
            CONSTRAINT notifications_email_has_subject
                CHECK (channel <> 'email' OR subject IS NOT NULL)
        )""")
    # The merchant's list, newest first, optionally by payment (subject_id).
    op.execute(
        "CREATE INDEX notifications_by_merchant ON notification.notifications "
        "(merchant_id, seq DESC)"
    )
    op.execute(
        "CREATE INDEX notifications_by_subject ON notification.notifications "
        "(merchant_id, subject_id, seq DESC)"
    )
    op.execute("""
        CREATE TABLE notification.payment_outcomes (
            payment_id   text PRIMARY KEY,
            merchant_id  text NOT NULL,
            status       varchar(16) NOT NULL,
            amount       numeric(18, 2) NOT NULL,
            currency     varchar(3) NOT NULL,
            occurred_at  timestamptz NOT NULL,
            event_id     text NOT NULL
        )""")
    op.execute(
        "CREATE INDEX payment_outcomes_by_day ON notification.payment_outcomes "
        "(merchant_id, occurred_at)"
    )
    for table in TABLES:
        op.execute(f"ALTER TABLE notification.{table} OWNER TO {ROLE}")


def downgrade() -> None:
    for table in TABLES:
        op.execute(f"DROP TABLE IF EXISTS notification.{table}")
