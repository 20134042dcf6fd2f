"""Idle Postgres sessions of the service roles close, and nothing notices but memory.

`up` gives every service role an `idle_session_timeout` (devstack/database.py): the pools
ping a connection whose socket has input waiting (the server's goodbye) or that idled for
long, so the next use of a closed connection reconnects; the outbox relay's LISTEN session
turns the timeout off for itself.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import Engine, text

from paylab.core import db
from paylab.core.db import service_engine
from paylab.core.settings import get_settings
from paylab.devstack.database import IDLE_SESSION_TIMEOUT
from paylab.devstack.process import ProcessManager

from .waiting import wait_until

AUTH = "http://127.0.0.1:8001"


@pytest.fixture
def auth_engine() -> Iterator[Engine]:
    engine = service_engine("auth")
    yield engine
    engine.dispose()


def _alive(engine: Engine, pid: int) -> bool:
    with engine.connect() as conn:
        query = text("SELECT 1 FROM pg_stat_activity WHERE pid = :pid")
        return conn.execute(query, {"pid": pid}).first() is not None


def test_an_idle_session_closes_and_the_pool_reconnects(auth_engine: Engine) -> None:
    with auth_engine.connect() as conn:
        assert conn.execute(text("SHOW idle_session_timeout")).scalar_one() == IDLE_SESSION_TIMEOUT
        first = int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())
    watcher = service_engine("auth")
    try:
        wait_until(lambda: not _alive(watcher, first), timeout=15, description="idle close")
    finally:
        watcher.dispose()
    # The pooled connection is dead now: without pre-ping this would raise.
    with auth_engine.connect() as conn:
        second = int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())
    assert second != first


class _Pings:
    """Counts the pings `engine`'s checkout hook sends."""

    def __init__(self, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        real = engine.dialect.do_ping

        def counting(dbapi_connection: object) -> bool:
            self.count += 1
            return real(dbapi_connection)

        monkeypatch.setattr(engine.dialect, "do_ping", counting)


def _pid(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


@pytest.fixture
def pooled(auth_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> tuple[int, _Pings]:
    """The pid of the one pooled connection, and a counter of the pings sent from now on."""
    return _pid(auth_engine), _Pings(auth_engine, monkeypatch)


def test_a_quiet_recently_used_connection_is_not_pinged(
    auth_engine: Engine, pooled: tuple[int, _Pings], monkeypatch: pytest.MonkeyPatch
) -> None:
    first, pings = pooled
    now = db._now()
    monkeypatch.setattr(db, "_now", lambda: now)  # however slow the machine, never idle
    assert [_pid(auth_engine) for _ in range(5)] == [first] * 5
    assert pings.count == 0


def test_a_session_is_pinged_before_postgres_may_close_it_for_idleness() -> None:
    """A statement sent as Postgres closes the session fails (a 500); a ping is retried."""
    assert IDLE_SESSION_TIMEOUT.endswith("s")
    server_closes_after = float(IDLE_SESSION_TIMEOUT.removesuffix("s"))
    margin = server_closes_after - db.PING_AFTER_IDLE_S
    assert margin >= 0.5, (server_closes_after, db.PING_AFTER_IDLE_S)


def test_a_terminated_connection_is_pinged_and_replaced_at_once(
    auth_engine: Engine, pooled: tuple[int, _Pings]
) -> None:
    first, pings = pooled
    watcher = service_engine("auth")
    try:
        with watcher.connect() as conn:  # a role may terminate its own sessions
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
        wait_until(lambda: not _alive(watcher, first), timeout=10, description="terminated")
    finally:
        watcher.dispose()
    # Well within the idle allowance: the server's message on the socket gives it away.
    assert _pid(auth_engine) != first
    assert pings.count == 1


def test_a_connection_idle_for_long_is_pinged_before_use(
    auth_engine: Engine, pooled: tuple[int, _Pings], monkeypatch: pytest.MonkeyPatch
) -> None:
    first, pings = pooled
    later = db._now() + db.PING_AFTER_IDLE_S + 1
    monkeypatch.setattr(db, "_now", lambda: later)
    assert _pid(auth_engine) == first  # alive: pinged, then used
    assert pings.count == 1


def _backends_of(service: str, engine: Engine) -> list[int]:
    """Backend pids of the running `service` process's pooled connections."""
    manager = ProcessManager(get_settings().state_dir)
    proc = manager.running(service)
    assert proc is not None, f"{service} is not running"
    ports = [c.laddr.port for c in proc.net_connections("tcp") if c.raddr and c.raddr.port == 5432]
    if not ports:
        return []
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT pid FROM pg_stat_activity WHERE client_port = ANY(:ports)"),
            {"ports": ports},
        )
        return [int(row.pid) for row in rows]


def _login() -> httpx.Response:
    demo = json.loads((get_settings().state_dir / "demo.json").read_text())
    body = {"public_key": demo["public_key"], "private_key": demo["private_key"]}
    return httpx.post(f"{AUTH}/v1/auth/login", json=body, timeout=10)


def test_the_auth_service_answers_after_its_sessions_are_terminated(auth_engine: Engine) -> None:
    assert _login().status_code == 200  # leaves a pooled connection behind
    killed = _backends_of("auth", auth_engine)
    assert killed, "auth kept no connection after a login"
    with auth_engine.connect() as conn:  # a role may terminate its own sessions
        for pid in killed:
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    wait_until(
        lambda: not any(_alive(auth_engine, pid) for pid in killed),
        timeout=10,
        description="the terminated sessions to go",
    )
    answer = _login()  # its pool meets the dead connection first
    assert answer.status_code == 200, answer.text


def test_the_relays_listening_session_outlives_the_timeout(auth_engine: Engine) -> None:
    def idle_listener() -> bool:
        with auth_engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT pid FROM pg_stat_activity WHERE query LIKE 'LISTEN outbox_%'"
                    " AND state = 'idle' AND now() - state_change > interval '4 seconds'"
                )
            )
            listeners = {int(row.pid) for row in rows}
        return bool(listeners & set(_backends_of("workers", auth_engine)))

    wait_until(idle_listener, timeout=15, description="the relay's LISTEN session idle for 4 s")
