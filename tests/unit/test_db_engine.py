"""Engines survive Postgres closing idle sessions, and let idle connections idle out."""

from __future__ import annotations

from sqlalchemy.pool import QueuePool

from paylab.core.db import make_engine


def test_engines_pre_ping_and_reuse_the_newest_connection() -> None:
    engine = make_engine("postgresql://127.0.0.1:1/db", schema="wallet")  # never connects
    pool = engine.pool
    assert isinstance(pool, QueuePool)
    # Without pre-ping a request after `idle_session_timeout` fails (test_idle_sessions.py).
    assert pool._pre_ping
    # FIFO would hand out every pooled connection in turn: none would ever be idle long.
    assert pool._pool.use_lifo  # type: ignore[attr-defined]
