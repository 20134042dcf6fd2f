"""The relay's serving loop: a thread per outbox, woken by NOTIFY, one LISTEN session for all.

`paylab.core.outbox_relay` has what a round does (claim, publish, mark) and starts this loop.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import psycopg
import structlog

from paylab.core.pg_listen import listen

if TYPE_CHECKING:
    from paylab.core.outbox_relay import OutboxRelay

log = structlog.get_logger(component="outbox-relay")


def serve(
    relay: OutboxRelay,
    dsn: str | Callable[[], psycopg.Connection[Any]],
    stop: threading.Event,
    idle_wait: float = 1.0,
    linger: float = 0.0,
    quiet_wait: float | None = None,
) -> None:
    """One relay: `serve_many` with a single schema (tests and tools)."""
    connect = dsn if callable(dsn) else (lambda: psycopg.connect(dsn, autocommit=True))
    serve_many([relay], connect, stop, idle_wait, linger, quiet_wait)


def serve_many(
    relays: Sequence[OutboxRelay],
    connect: Callable[[], psycopg.Connection[Any]],
    stop: threading.Event,
    idle_wait: float = 1.0,
    linger: float = 0.0,
    quiet_wait: float | None = None,
) -> None:
    """Publish every relay's outbox until `stop`: a thread each, one LISTEN session for all.

    A relay sleeps between bursts until its channel is notified, or `quiet_wait` passes
    (`idle_wait` after a round that left rows behind, or by default), backs off while AWS
    fails; with `linger`, a round that is not full is followed by a wait for the next
    commit, then `linger` seconds for others to join it. `connect` returns a
    new autocommit connection (the engine's, so a reconnection after a password rotation
    uses the new password). A lost listening session (Postgres restarted, the session
    terminated) is opened again with backoff, and every relay runs a round meanwhile: the
    relay never stops publishing for good.
    """
    wakes = {relay.channel: threading.Event() for relay in relays}
    workers = [
        threading.Thread(
            target=_publish,
            args=(relay, wakes[relay.channel], stop, (idle_wait, quiet_wait or idle_wait), linger),
            name=relay.schema,
            daemon=True,
        )
        for relay in relays
    ]
    for worker in workers:
        worker.start()
    listen(connect, wakes, stop)
    for wake in wakes.values():
        wake.set()  # a relay sleeping until its quiet wait ends sees `stop` now, not then
    for worker in workers:
        worker.join(timeout=5)


def _publish(
    relay: OutboxRelay,
    wake: threading.Event,
    stop: threading.Event,
    waits: tuple[float, float],
    linger: float,
) -> None:
    idle_wait, quiet_wait = waits
    backoff = 0.0
    while not stop.is_set():
        try:
            moved = relay.run_once()
            backoff = 0.0
        except Exception as exc:  # database restarts, AWS outages: never die, slow down
            backoff = min(30.0, max(0.5, backoff * 2))
            log.warning(
                "outbox.round_failed", schema=relay.schema, error=str(exc), retry_in=backoff
            )
            stop.wait(backoff)
            continue
        if moved >= relay.batch_size or (moved and linger <= 0):
            continue  # a backlog (or no lingering): drain before sleeping
        # Rows committed during the round have notified: they wake us, then linger, so
        # stragglers join the next batch instead of each costing a call of their own.
        if wake.wait(idle_wait if relay.left_behind else quiet_wait):
            wake.clear()
            if linger > 0:
                stop.wait(linger)
                # The rows behind every notification so far are committed, so the next
                # round takes them: drop those wake-ups, or they would each cost a linger.
                wake.clear()
