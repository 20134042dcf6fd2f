"""`reads` runs its statements outside a transaction; the pooled connection comes back as it was."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from psycopg.pq import TransactionStatus
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from paylab.core.db import reads, service_engine, session_factory, unit_of_work


@pytest.fixture
def engine() -> Iterator[Engine]:
    engine = service_engine("auth", pool_size=1, max_overflow=0)  # one connection, reused
    yield engine
    engine.dispose()


def _status(session: Session) -> TransactionStatus:
    raw = session.connection().connection.dbapi_connection
    assert raw is not None
    return TransactionStatus(raw.info.transaction_status)


def test_a_read_opens_no_transaction_and_leaves_the_connection_transactional(
    engine: Engine,
) -> None:
    factory = session_factory(engine)
    with reads(factory) as session:
        pid = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
        assert _status(session) == TransactionStatus.IDLE  # no BEGIN was sent
    with unit_of_work(factory) as session:
        assert session.execute(text("SELECT pg_backend_pid()")).scalar_one() == pid
        assert _status(session) == TransactionStatus.INTRANS  # the same connection, in BEGIN
