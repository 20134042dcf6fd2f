"""`up` after a LocalStack restart: the service schemas are dropped and built again, empty.

Run on a throwaway database of the stack's Postgres, never on the stack's own.
"""

from __future__ import annotations

import psycopg
import pytest
from psycopg import sql

from paylab.core.db import SERVICES_WITH_DB
from paylab.devstack import database


@pytest.fixture
def scratch_url(scratch_database: tuple[str, str]) -> str:
    return scratch_database[1]


def _count(url: str, table: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.SQL(table))).fetchone()
        assert row is not None
        return int(row[0])


def test_reset_then_prepare_leaves_every_schema_migrated_and_empty(scratch_url: str) -> None:
    database.prepare(scratch_url)
    with psycopg.connect(scratch_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO payment.outbox (id, aggregate_id, event_type, payload, destinations)"
            " VALUES (gen_random_uuid(), 'p-1', 'PaymentCreated', '{}', ARRAY['sqs:audit-ops'])"
        )
    assert _count(scratch_url, "payment.outbox") == 1

    database.reset(scratch_url)
    with psycopg.connect(scratch_url) as conn:
        left = conn.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname = ANY(%s)", (list(SERVICES_WITH_DB),)
        ).fetchall()
    assert left == []

    database.prepare(scratch_url)  # the migrations run again: every table is back, empty
    assert _count(scratch_url, "payment.outbox") == 0
    with psycopg.connect(scratch_url) as conn:
        tables = conn.execute(
            "SELECT table_schema, count(*) FROM information_schema.tables"
            " WHERE table_schema = ANY(%s) GROUP BY table_schema",
            (list(SERVICES_WITH_DB),),
        ).fetchall()
    assert {schema for schema, count in tables if count > 0} == set(SERVICES_WITH_DB)
