"""The outbox relay: publishes committed outbox rows, at least once, in order per aggregate.

Concurrent relays share the work safely: each round locks the aggregates with the oldest
unpublished rows that no other relay holds (a transaction-scoped advisory lock each), then
reads their rows, so one aggregate's rows are published by one relay at a time, oldest first.
A row is marked published only when every destination accepted it and every earlier row of
its aggregate was published; anything else is sent again later (consumers deduplicate by
event id, and SQS FIFO by deduplication id).

A round groups its rows by destination across aggregates, and a destination with more than
one batch of rows is sent on several lanes at once: each aggregate's rows go to one lane, in
order, so parallel calls never reorder an aggregate (bench/events.py measures the gain).
Woken by a commit, the relay lingers `PAYLAB_OUTBOX_LINGER_MS` (150 ms) before its round, so
the commits of concurrent payments share AWS calls (every call costs LocalStack CPU:
bench/saga.py counts them); only a backlog (a full round) is drained without lingering.
The relay process also reports the backlog to CloudWatch (core/outbox_backlog.py).

    python -m paylab.core.outbox_relay      # alone; `paylab up` runs it in paylab.core.worker
"""

from __future__ import annotations

import math
import re
import signal
import threading
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import structlog
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import Engine, text

from paylab.core.aws import client
from paylab.core.db import SERVICES_WITH_DB, service_engine
from paylab.core.logging import configure_logging
from paylab.core.outbox_backlog import report_backlog
from paylab.core.pg_listen import listener_factory
from paylab.core.publishers import BATCH, OutboxMessage, Publisher
from paylab.core.relay_loop import serve_many
from paylab.core.settings import get_settings

log = structlog.get_logger(component="outbox-relay")

# {table} is a service schema's outbox table, checked in OutboxRelay: never user input.
# Claiming takes two statements. The first locks the aggregates with the oldest unpublished
# rows (a transaction-scoped advisory lock each, skipping those another relay holds). The
# second, with a snapshot taken once the locks are held, reads their unpublished rows: a relay
# that took a lock just as another committed its round sees that round's rows as published.
# OFFSET 0 keeps Postgres from moving the lock into the subquery (its HAVING), where it would
# lock every aggregate with unpublished rows; outside it, the LIMIT stops taking locks.
# One statement doing both read the rows with a snapshot from before that commit, so it could
# claim an aggregate's later rows while missing the earlier ones it skipped under the other
# relay's lock, and publish them out of order.
_LOCK = """
    SELECT aggregate_id FROM (
        SELECT aggregate_id, min(seq) AS first_seq FROM {table}
        WHERE published_at IS NULL
        GROUP BY aggregate_id
        ORDER BY first_seq
        OFFSET 0
    ) oldest
    WHERE pg_try_advisory_xact_lock(hashtextextended(:prefix || aggregate_id, 0))
    LIMIT :limit
"""
_CLAIM = """
    SELECT id::text AS id, aggregate_id, event_type, payload, destinations FROM {table}
    WHERE published_at IS NULL AND aggregate_id = ANY(:aggregates)
    ORDER BY seq
    LIMIT :limit
"""
_MARK = "UPDATE {table} SET published_at = now() WHERE id = ANY(CAST(:ids AS uuid[]))"


class RelaySettings(BaseSettings):
    """PAYLAB_OUTBOX_* variables of the relay process."""

    model_config = SettingsConfigDict(env_prefix="PAYLAB_OUTBOX_", extra="ignore")

    # Up to this much added commit → publish lag buys fewer, fuller batches (0 turns it off).
    linger_ms: int = Field(default=150, ge=0, le=5000)
    # Rounds nothing woke are a safety net (commits notify): rare ones let sessions idle out.
    quiet_poll_s: float = Field(default=30.0, gt=0, le=3600)
    # How often the backlog gauges go to CloudWatch (0: never).
    backlog_metric_s: float = Field(default=60.0, ge=0, le=3600)


def channel(schema: str, table: str = "outbox") -> str:
    """The NOTIFY channel that wakes the relay of `schema.table` (`add_event` signals on commit)."""
    return f"outbox_{schema}" if table == "outbox" else f"outbox_{schema}_{table}"


class OutboxRelay:
    """Publishes one outbox table (`<service schema>.outbox`)."""

    def __init__(
        self,
        engine: Engine,
        schema: str,
        publisher: Publisher,
        *,
        table: str = "outbox",
        batch_size: int = 400,
        lanes: int = 4,
    ) -> None:
        if schema not in SERVICES_WITH_DB or not re.fullmatch(r"[a-z_][a-z0-9_]*", table):
            raise ValueError(f"no outbox {schema}.{table}")
        self.engine, self.schema, self.publisher = engine, schema, publisher
        self.table = f"{schema}.{table}"
        self.channel = channel(schema, table)
        self.batch_size = batch_size
        self.lanes = max(1, lanes)
        # True when the last round claimed rows it could not publish (AWS failing): retry soon.
        self.left_behind = False
        # Threads start on first use and wait idle on a queue: no cost between bursts.
        self._pool = ThreadPoolExecutor(self.lanes, thread_name_prefix=f"relay-{schema}")

    def run_once(self) -> int:
        """One round: claim, publish, mark; returns how many rows were marked published."""
        with self.engine.begin() as conn:
            locked = (
                conn.execute(
                    text(_LOCK.replace("{table}", self.table)),
                    {"prefix": f"{self.table}:", "limit": self.batch_size},
                )
                .scalars()
                .all()
            )
            self.left_behind = False
            if not locked:
                return 0
            rows = conn.execute(
                text(_CLAIM.replace("{table}", self.table)),
                {"aggregates": list(locked), "limit": self.batch_size},
            ).all()
            if not rows:
                return 0
            published = self._publish(list(rows))
            self.left_behind = len(published) < len(rows)
            if published:
                conn.execute(
                    text(_MARK.replace("{table}", self.table)),
                    {"ids": published},
                )
            return len(published)

    def _publish(self, rows: list[Any]) -> list[str]:
        by_destination: dict[str, list[OutboxMessage]] = defaultdict(list)
        for row in rows:
            message = OutboxMessage(row.id, row.aggregate_id, row.event_type, row.payload)
            for destination in row.destinations:
                by_destination[destination].append(message)
        sends = [(d, lane) for d, ms in by_destination.items() for lane in self._lanes(ms)]
        results = self._pool.map(lambda send: self._send(*send), sends)
        accepted: dict[str, set[str]] = defaultdict(set)
        for (destination, _), ids in zip(sends, results, strict=True):
            accepted[destination] |= ids
        published: list[str] = []
        blocked: set[str] = set()  # aggregates with an earlier row not yet published
        for row in rows:
            ok = all(row.id in accepted[d] for d in row.destinations)
            if ok and row.aggregate_id not in blocked:
                published.append(row.id)
            else:
                blocked.add(row.aggregate_id)
        return published

    def _lanes(self, messages: list[OutboxMessage]) -> list[list[OutboxMessage]]:
        """Split one destination's messages: whole aggregates per lane, order kept, lanes even."""
        count = min(self.lanes, math.ceil(len(messages) / BATCH))
        if count <= 1:
            return [messages]
        by_aggregate: dict[str, list[OutboxMessage]] = defaultdict(list)
        for message in messages:
            by_aggregate[message.aggregate_id].append(message)
        lanes: list[list[OutboxMessage]] = [[] for _ in range(count)]
        for aggregate_messages in by_aggregate.values():
            min(lanes, key=len).extend(aggregate_messages)
        return [lane for lane in lanes if lane]

    def _send(self, destination: str, messages: Sequence[OutboxMessage]) -> set[str]:
        try:
            return self.publisher.publish(destination, messages)
        except Exception as exc:  # AWS down or throttling: keep the rows for later
            log.warning("outbox.publish_failed", destination=destination, error=str(exc))
            return set()


def start_relay(stop: threading.Event) -> threading.Thread:
    """Start relaying every service schema's outbox in a daemon thread, until `stop`."""
    publisher = Publisher()
    settings = RelaySettings()
    relays = [
        OutboxRelay(service_engine(schema, pool_size=1), schema, publisher)
        for schema in SERVICES_WITH_DB
    ]
    # Channels are global to the database: one session (any service's role) listens to all.
    connect = listener_factory(relays[0].engine)
    args = (relays, connect, stop, 1.0, settings.linger_ms / 1000, settings.quiet_poll_s)
    runner = threading.Thread(target=serve_many, args=args, name="relay", daemon=True)
    runner.start()
    if settings.backlog_metric_s:
        report = (relays, lambda: client("cloudwatch"), get_settings().stack_name, stop)
        threading.Thread(
            target=report_backlog,
            args=(*report, settings.backlog_metric_s),
            name="relay-backlog",
            daemon=True,
        ).start()
    log.info("outbox.relay_started", schemas=list(SERVICES_WITH_DB))
    return runner


def main() -> None:
    """Relay alone (`paylab up` runs it in `paylab.core.worker`) until SIGTERM or Ctrl-C."""
    configure_logging("outbox-relay")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    start_relay(stop).join()  # a signal interrupts the join, sets `stop`, the relay ends


if __name__ == "__main__":
    main()
