"""Waking threads on Postgres NOTIFY: one LISTEN session that sets an Event per channel.

The outbox relay wakes on its outbox's channel; the merchant service's webhook loop wakes
when a delivery is recorded by another process (the queue consumers'). A NOTIFY sent in a
transaction reaches listeners when it commits, so a woken thread always sees the row.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

import psycopg
import structlog
from sqlalchemy import Engine

log = structlog.get_logger(__name__)


def listen(
    connect: Callable[[], psycopg.Connection[Any]],
    wakes: Mapping[str, threading.Event],
    stop: threading.Event,
) -> None:
    """Set `wakes[channel]` on each NOTIFY of that channel until `stop`; never gives up.

    A lost session (Postgres restarted, the session terminated) is opened again with backoff,
    and every event is set on each (re)connection: notifications may have been missed.
    """
    backoff = 0.0
    while not stop.is_set():
        try:
            with connect() as listener:
                # The one session that must outlive idleness (the roles' idle_session_timeout).
                listener.execute("SET idle_session_timeout = 0")
                for channel_name in wakes:
                    listener.execute(f"LISTEN {channel_name}")
                backoff = 0.0
                for wake in wakes.values():
                    wake.set()
                while not stop.is_set():
                    for note in listener.notifies(timeout=0.5):
                        if (woken := wakes.get(note.channel)) is not None:
                            woken.set()
        except Exception as exc:  # a lost session or a failed reconnect: never die, retry
            backoff = min(30.0, max(0.5, backoff * 2))
            log.warning("pg_listen.lost", channels=sorted(wakes), error=str(exc), retry_in=backoff)
            stop.wait(backoff)


def listener_factory(engine: Engine) -> Callable[[], psycopg.Connection[Any]]:
    """New autocommit connections made by `engine` (its connect hooks, e.g. the password)."""

    def connect() -> psycopg.Connection[Any]:
        proxied = engine.raw_connection()
        conn = proxied.driver_connection
        proxied.detach()  # ours until closed; never goes back to the pool
        if not isinstance(conn, psycopg.Connection):
            raise TypeError(f"the engine's driver is not psycopg 3: {type(conn).__name__}")
        conn.autocommit = True
        return conn

    return connect
