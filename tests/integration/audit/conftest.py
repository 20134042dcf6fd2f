"""Audit fixtures: the service on the running stack's Postgres, an admin engine, event factories.

The real chain is append-only for everyone, so tests never delete what they append: each
event has a unique id and subject (`uid`), and tampering happens on a private copy of the
tables (`chain_copy`), never on the shared chain.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from paylab.audit.app import create
from paylab.audit.service import AuditService
from paylab.audit.settings import AuditSettings
from paylab.core.db import make_engine, service_engine
from paylab.core.events import Envelope
from paylab.core.internal_auth import MERCHANT_HEADER
from paylab.core.settings import get_settings
from paylab.devstack.postgres import ADMIN_USER, DATABASE

from ..internal_caller import as_internal_caller

SETTINGS = AuditSettings(verify_batch_size=50)  # small batches: the walk crosses many


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def event(subject_id: str, merchant_id: str | None, type_: str = "PaymentCreated") -> Envelope:
    """A new payment-like event (unique id) about `subject_id`, owned by `merchant_id`."""
    data: dict[str, Any] = {"payment_id": subject_id, "amount": "30000.00", "currency": "COP"}
    if merchant_id is not None:
        data["merchant_id"] = merchant_id
    return Envelope(
        type=type_,
        source="paylab.payment",
        subject_id=subject_id,
        correlation_id=uid("corr"),
        data=data,
    )


def admin_url() -> str:
    """The Postgres superuser (the DBA): DATABASE_URL when set, else the local stack's admin."""
    settings = get_settings()
    if settings.database_url:
        return settings.database_url
    password = (settings.state_dir / "postgres" / "admin-password").read_text().strip()
    return f"postgresql://{ADMIN_USER}:{password}@127.0.0.1:{settings.postgres_port}/{DATABASE}"


@pytest.fixture(scope="session")
def engine() -> Iterator[Engine]:
    # Room for the concurrency tests' threads, each holding a connection.
    engine = service_engine("audit", pool_size=20)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def admin() -> Iterator[Engine]:
    engine = make_engine(admin_url(), pool_size=2)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def service(engine: Engine) -> AuditService:
    return AuditService(engine, SETTINGS)


@pytest.fixture(scope="session")
def client(engine: Engine) -> Iterator[TestClient]:
    """The app as the gateway calls it (internal credential; merchant header per request)."""
    with TestClient(create(engine=engine, settings=SETTINGS)) as test_client:
        yield as_internal_caller(test_client)


def as_merchant(merchant_id: str) -> dict[str, str]:
    return {MERCHANT_HEADER: merchant_id}


@dataclass
class ChainCopy:
    """Private copies of audit's tables in a schema of their own, and a service over them."""

    schema: str
    engine: Engine
    service: AuditService

    def execute(self, admin: Engine, sql: str, **params: Any) -> None:
        with admin.begin() as conn:
            conn.execute(text(sql.replace("{s}", self.schema)), params)


@pytest.fixture
def chain_copy(admin: Engine) -> Iterator[ChainCopy]:
    """Tables like audit's (constraints, indexes, the same triggers), dropped afterwards.

    The service runs on them unchanged: its statements name schema `audit`, which the
    engine's schema_translate_map points at the copy.
    """
    schema = f"audit_copy_{uuid.uuid4().hex[:10]}"
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
        for table in ("events", "chain_head"):
            conn.execute(text(f"CREATE TABLE {schema}.{table} (LIKE audit.{table} INCLUDING ALL)"))
        conn.execute(
            text(
                f"INSERT INTO {schema}.chain_head (id, seq, row_hash)"
                " VALUES (1, 0, decode(repeat('00', 32), 'hex'))"
            )
        )
        conn.execute(
            text(
                f"CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON {schema}.events"
                " FOR EACH ROW EXECUTE FUNCTION audit.forbid_change()"
            )
        )
    copy_engine = make_engine(admin_url(), pool_size=8).execution_options(
        schema_translate_map={"audit": schema}
    )
    try:
        yield ChainCopy(schema, copy_engine, AuditService(copy_engine, SETTINGS))
    finally:
        copy_engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))


@pytest.fixture
def appended(service: AuditService) -> Callable[..., list[Envelope]]:
    """appended(subject, merchant, n) -> n new events about `subject`, stored in the real chain."""

    def append(subject_id: str, merchant_id: str | None, n: int = 1) -> list[Envelope]:
        events = [event(subject_id, merchant_id) for _ in range(n)]
        for e in events:
            assert service.record(e)
        return events

    return append
