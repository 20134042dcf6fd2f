"""Engines check pooled connections before use, and let idle connections idle out."""

from __future__ import annotations

from sqlalchemy.pool import QueuePool

from paylab.core.db import make_engine


def test_engines_reuse_the_newest_connection_and_ping_only_when_in_doubt() -> None:
    engine = make_engine("postgresql://127.0.0.1:1/db", schema="wallet")  # never connects
    pool = engine.pool
    assert isinstance(pool, QueuePool)
    # The checkout hook pings only a connection with input waiting or idle for long
    # (tests/integration/test_idle_sessions.py); a ping per checkout was 1 statement in 6.
    assert not pool._pre_ping
    assert engine.pool.dispatch.checkout
    # FIFO would hand out every pooled connection in turn: none would ever be idle long.
    assert pool._pool.use_lifo  # type: ignore[attr-defined]
