"""Audit: the append-only, hash-chained event log and its chain head.

The service's role must not be able to rewrite history, so unlike the other services'
tables these belong to the admin (the role migrations run as), and `paylab_audit` gets
only what it needs: INSERT and SELECT on `events`, SELECT and UPDATE on the one-row
`chain_head`. The schema itself moves to the admin too: a schema's owner may DROP any
table in it, whoever owns the table. Triggers refuse UPDATE, DELETE and TRUNCATE of
`events` (even for the owner, unless a DBA disables them) and any move of the head other
than one step forward: a second line of defence behind the grants.

Revision ID: audit_0001
Revises: 0001
Create Date: 2026-12-05
"""

from __future__ import annotations

from alembic import op

from paylab.core.db import role_name

revision = "audit_0001"
down_revision = "0001"
branch_labels = ("audit",)
depends_on = None

ROLE = role_name("audit")
HASH = "bytea NOT NULL CHECK (octet_length({0}) = 32)"


def upgrade() -> None:
    op.execute("ALTER SCHEMA audit OWNER TO CURRENT_USER")
    op.execute(f"GRANT USAGE ON SCHEMA audit TO {ROLE}")
    op.execute(f"""
        CREATE TABLE audit.events (
            seq          bigint PRIMARY KEY CHECK (seq >= 1),
            event_id     text NOT NULL UNIQUE,
            type         text NOT NULL,
            source       text NOT NULL,
            subject_id   text NOT NULL,
            merchant_id  text,
            occurred_at  timestamptz NOT NULL,
            recorded_at  timestamptz NOT NULL DEFAULT now(),
            content      text NOT NULL,
            content_hash {HASH.format("content_hash")},
            -- UNIQUE: two rows after the same row would be a fork, whatever the code does.
            prev_hash    {HASH.format("prev_hash")} UNIQUE,
            row_hash     {HASH.format("row_hash")} UNIQUE
        )""")
    op.execute(
        "CREATE INDEX events_by_subject ON audit.events (merchant_id, subject_id, seq)"
        " WHERE merchant_id IS NOT NULL"
    )
    op.execute(f"""
        CREATE TABLE audit.chain_head (
            id         smallint PRIMARY KEY CHECK (id = 1),
            seq        bigint NOT NULL CHECK (seq >= 0),
            row_hash   {HASH.format("row_hash")},
            updated_at timestamptz NOT NULL DEFAULT now()
        )""")
    # seq 0 and the genesis hash (32 zero bytes): the head before the first event.
    op.execute(
        "INSERT INTO audit.chain_head (id, seq, row_hash)"
        " VALUES (1, 0, decode(repeat('00', 32), 'hex'))"
    )
    _triggers()
    op.execute(f"GRANT SELECT, INSERT ON audit.events TO {ROLE}")
    op.execute(f"GRANT SELECT, UPDATE (seq, row_hash, updated_at) ON audit.chain_head TO {ROLE}")


def _triggers() -> None:
    op.execute("""
        CREATE FUNCTION audit.forbid_change() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'audit.% is append-only (% refused)', TG_TABLE_NAME, TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END $$""")
    op.execute("""
        CREATE FUNCTION audit.head_moves_one_step() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.id <> OLD.id OR NEW.seq <> OLD.seq + 1 THEN
                RAISE EXCEPTION 'the audit chain head only moves forward one row at a time'
                    USING ERRCODE = 'insufficient_privilege';
            END IF;
            RETURN NEW;
        END $$""")
    op.execute("""
        CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON audit.events
        FOR EACH ROW EXECUTE FUNCTION audit.forbid_change()""")
    op.execute("""
        CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON audit.events
        FOR EACH STATEMENT EXECUTE FUNCTION audit.forbid_change()""")
    op.execute("""
        CREATE TRIGGER chain_head_forward BEFORE UPDATE ON audit.chain_head
        FOR EACH ROW EXECUTE FUNCTION audit.head_moves_one_step()""")
    op.execute("""
        CREATE TRIGGER chain_head_kept BEFORE DELETE ON audit.chain_head
        FOR EACH ROW EXECUTE FUNCTION audit.forbid_change()""")
    op.execute("""
        CREATE TRIGGER chain_head_no_truncate BEFORE TRUNCATE ON audit.chain_head
        FOR EACH STATEMENT EXECUTE FUNCTION audit.forbid_change()""")


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS audit.chain_head")
    op.execute("DROP TABLE IF EXISTS audit.events")
    op.execute("DROP FUNCTION IF EXISTS audit.head_moves_one_step()")
    op.execute("DROP FUNCTION IF EXISTS audit.forbid_change()")
    op.execute(f"ALTER SCHEMA audit OWNER TO {ROLE}")
