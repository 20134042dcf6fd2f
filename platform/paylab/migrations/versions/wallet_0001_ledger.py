"""Wallet: accounts, a double-entry ledger (postings + entries), balances, holds, operations.

The database enforces what must never break even if the code has a bug: entries of a
posting sum to zero (checked at commit), entries and postings are append-only, balances
of payer wallets and merchant accounts never go negative, each entry's currency is its
account's and its posting's, and a hold is reserved once and resolved (captured or
released) at most once.

Revision ID: wallet_0001
Revises: 0001
Create Date: 2026-12-04
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from alembic import op

revision = "wallet_0001"
down_revision = "0001"
branch_labels = ("wallet",)
depends_on = None

ROLE = "paylab_wallet"
TABLES = ("accounts", "balances", "holds", "postings", "entries", "operations")
CURRENCIES = ("COP", "USD")
SYSTEM_ACCOUNTS = (
    "platform:fees",
    "world:topups",
    "world:payouts",
    "clearing:card",
    "clearing:pse",
)
# Fixed ids for the system accounts, the same in every environment.
SYSTEM_NAMESPACE = uuid.UUID("5b0c7f4e-7a43-4b8e-9d0e-3f6f0c9e2a11")
CURRENCY_CHECK = "CHECK (currency IN ('COP', 'USD'))"


def upgrade() -> None:
    op.execute(f"""
        CREATE TABLE wallet.accounts (
            id          uuid PRIMARY KEY,
            kind        text NOT NULL CHECK (kind IN ('payer', 'merchant', 'system')),
            merchant_id text,
            code        text,
            currency    text NOT NULL {CURRENCY_CHECK},
            reference   text,
            created_at  timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT accounts_owned CHECK ((kind = 'system') = (merchant_id IS NULL)),
            CONSTRAINT accounts_coded CHECK ((kind = 'system') = (code IS NOT NULL)),
            UNIQUE (id, currency),
            UNIQUE (id, currency, kind)
        )""")
    op.execute(
        "CREATE UNIQUE INDEX accounts_one_per_merchant ON wallet.accounts (merchant_id, currency)"
        " WHERE kind = 'merchant'"
    )
    op.execute(
        "CREATE UNIQUE INDEX accounts_one_per_code ON wallet.accounts (code, currency)"
        " WHERE kind = 'system'"
    )
    op.execute("CREATE INDEX accounts_by_merchant ON wallet.accounts (merchant_id)")
    op.execute("""
        CREATE TABLE wallet.balances (
            account_id  uuid PRIMARY KEY,
            currency    text NOT NULL,
            kind        text NOT NULL,
            available   numeric(18,2) NOT NULL DEFAULT 0,
            held        numeric(18,2) NOT NULL DEFAULT 0,
            pending     numeric(18,2) NOT NULL DEFAULT 0,
            updated_at  timestamptz NOT NULL DEFAULT now(),
            FOREIGN KEY (account_id, currency, kind)
                REFERENCES wallet.accounts (id, currency, kind),
            CONSTRAINT balances_never_negative CHECK (
                kind = 'system' OR (available >= 0 AND held >= 0 AND pending >= 0)
            )
        )""")
    op.execute(f"""
        CREATE TABLE wallet.holds (
            id                  uuid PRIMARY KEY,
            payment_id          text NOT NULL UNIQUE,
            merchant_id         text NOT NULL,
            method              text NOT NULL CHECK (method IN ('wallet', 'card', 'pse')),
            amount              numeric(18,2) NOT NULL CHECK (amount > 0),
            fee                 numeric(18,2) NOT NULL CHECK (fee >= 0 AND fee <= amount),
            currency            text NOT NULL {CURRENCY_CHECK},
            payer_account_id    uuid,
            merchant_account_id uuid NOT NULL,
            status              text NOT NULL CHECK (status IN ('held', 'captured', 'released')),
            release_reason      text,
            created_at          timestamptz NOT NULL DEFAULT now(),
            resolved_at         timestamptz,
            FOREIGN KEY (payer_account_id, currency) REFERENCES wallet.accounts (id, currency),
            FOREIGN KEY (merchant_account_id, currency) REFERENCES wallet.accounts (id, currency),
            CONSTRAINT holds_payer_iff_wallet
                CHECK ((method = 'wallet') = (payer_account_id IS NOT NULL)),
            CONSTRAINT holds_resolved_iff_not_held
                CHECK ((status = 'held') = (resolved_at IS NULL))
        )""")
    op.execute("CREATE INDEX holds_open ON wallet.holds (merchant_id) WHERE status = 'held'")
    op.execute(f"""
        CREATE TABLE wallet.postings (
            id           uuid PRIMARY KEY,
            kind         text NOT NULL
                         CHECK (kind IN ('topup', 'reserve', 'capture', 'release', 'payout')),
            currency     text NOT NULL {CURRENCY_CHECK},
            hold_id      uuid REFERENCES wallet.holds (id),
            payment_id   text,
            operation_id text,
            created_at   timestamptz NOT NULL DEFAULT now(),
            UNIQUE (id, currency),
            CONSTRAINT postings_hold_kinds CHECK (
                (kind IN ('reserve', 'capture', 'release')) = (hold_id IS NOT NULL)
            )
        )""")
    # Exactly once, in the database: one reserve per hold, and one capture OR one release.
    op.execute(
        "CREATE UNIQUE INDEX postings_one_reserve ON wallet.postings (hold_id)"
        " WHERE kind = 'reserve'"
    )
    op.execute(
        "CREATE UNIQUE INDEX postings_one_resolution ON wallet.postings (hold_id)"
        " WHERE kind IN ('capture', 'release')"
    )
    op.execute("""
        CREATE TABLE wallet.entries (
            id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            posting_id    uuid NOT NULL,
            account_id    uuid NOT NULL,
            bucket        text NOT NULL CHECK (bucket IN ('available', 'held', 'pending')),
            amount        numeric(18,2) NOT NULL CHECK (amount <> 0),
            currency      text NOT NULL,
            balance_after numeric(18,2) NOT NULL,
            created_at    timestamptz NOT NULL DEFAULT now(),
            FOREIGN KEY (posting_id, currency) REFERENCES wallet.postings (id, currency),
            FOREIGN KEY (account_id, currency) REFERENCES wallet.accounts (id, currency)
        )""")
    op.execute("CREATE INDEX entries_by_account ON wallet.entries (account_id, id DESC)")
    op.execute("CREATE INDEX entries_by_posting ON wallet.entries (posting_id)")
    op.execute("""
        CREATE TABLE wallet.operations (
            scope        text NOT NULL,
            key          text NOT NULL,
            request_hash text NOT NULL,
            status_code  integer,
            response     jsonb,
            created_at   timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (scope, key)
        )""")
    _ledger_triggers()
    for table in TABLES:
        op.execute(f"ALTER TABLE wallet.{table} OWNER TO {ROLE}")
    _system_accounts()


def _ledger_triggers() -> None:
    op.execute("""
        CREATE FUNCTION wallet.assert_posting_balanced(pid uuid) RETURNS void
        LANGUAGE plpgsql AS $$
        DECLARE
            total numeric;
            n     integer;
        BEGIN
            SELECT coalesce(sum(amount), 0), count(*) INTO total, n
              FROM wallet.entries WHERE posting_id = pid;
            IF total <> 0 OR n < 2 THEN
                RAISE EXCEPTION 'posting % is unbalanced: % entries summing to %', pid, n, total
                    USING ERRCODE = 'check_violation';
            END IF;
        END $$""")
    op.execute("""
        CREATE FUNCTION wallet.check_entry_posting() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM wallet.assert_posting_balanced(NEW.posting_id);
            RETURN NULL;
        END $$""")
    op.execute("""
        CREATE FUNCTION wallet.check_new_posting() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM wallet.assert_posting_balanced(NEW.id);
            RETURN NULL;
        END $$""")
    op.execute("""
        CREATE FUNCTION wallet.forbid_change() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'wallet.% is append-only', TG_TABLE_NAME
                USING ERRCODE = 'insufficient_privilege';
        END $$""")
    # Deferred: a posting is checked at commit, once all of its entries are in.
    op.execute("""
        CREATE CONSTRAINT TRIGGER entries_balanced AFTER INSERT ON wallet.entries
        DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
        EXECUTE FUNCTION wallet.check_entry_posting()""")
    op.execute("""
        CREATE CONSTRAINT TRIGGER postings_balanced AFTER INSERT ON wallet.postings
        DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
        EXECUTE FUNCTION wallet.check_new_posting()""")
    for table in ("entries", "postings"):
        op.execute(f"""
            CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON wallet.{table}
            FOR EACH ROW EXECUTE FUNCTION wallet.forbid_change()""")
        op.execute(f"""
            CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON wallet.{table}
            FOR EACH STATEMENT EXECUTE FUNCTION wallet.forbid_change()""")
    for function in (
        "assert_posting_balanced(uuid)",
        "check_entry_posting()",
        "check_new_posting()",
        "forbid_change()",
    ):
        op.execute(f"ALTER FUNCTION wallet.{function} OWNER TO {ROLE}")


def _system_accounts() -> None:
    bind = op.get_bind()
    for code in SYSTEM_ACCOUNTS:
        for currency in CURRENCIES:
            account_id = uuid.uuid5(SYSTEM_NAMESPACE, f"{code}:{currency}")
            params = {"id": account_id, "code": code, "currency": currency}
            bind.execute(
                sa.text(
                    "INSERT INTO wallet.accounts (id, kind, code, currency) "
                    "VALUES (:id, 'system', :code, :currency)"
                ),
                params,
            )
            bind.execute(
                sa.text(
                    "INSERT INTO wallet.balances (account_id, currency, kind) "
                    "VALUES (:id, :currency, 'system')"
                ),
                params,
            )


def downgrade() -> None:
    for table in ("entries", "postings", "holds", "balances", "operations", "accounts"):
        op.execute(f"DROP TABLE IF EXISTS wallet.{table}")
    for function in (
        "check_entry_posting()",
        "check_new_posting()",
        "assert_posting_balanced(uuid)",
        "forbid_change()",
    ):
        op.execute(f"DROP FUNCTION IF EXISTS wallet.{function}")
