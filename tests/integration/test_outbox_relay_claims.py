"""How concurrent relays claim outbox rows: whole aggregates, oldest row first (no AWS).

The publishers here record what reaches the "destination" in the order a FIFO queue, which
drops repeated deduplication ids, would deliver it.
"""

from __future__ import annotations

import threading
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence

import pytest
from sqlalchemy import Engine, text

from paylab.core.db import service_engine
from paylab.core.outbox_relay import OutboxRelay
from paylab.core.publishers import OutboxMessage, Publisher

from .test_outbox_relay import SCHEMA, _drain_concurrently, _events, _unpublished, _write

# Sessions holding the advisory lock of one of `:aggregates` of a table's relay.
_HOLDERS = """
    SELECT count(*) FROM pg_locks l
    JOIN unnest(CAST(:aggregates AS text[])) a
      ON ((l.classid::bigint << 32) | l.objid::bigint) = hashtextextended(:prefix || a, 0)
    WHERE l.locktype = 'advisory' AND l.granted
"""


class FifoRecorder(Publisher):
    """Accepts everything; keeps each aggregate's events in first-arrival order."""

    def __init__(self, on_publish: Callable[[], None] | None = None) -> None:
        super().__init__(targets={})
        self.lock = threading.Lock()
        self.arrived: dict[str, list[int]] = defaultdict(list)
        self.seen: set[str] = set()
        self.on_publish = on_publish

    def publish(self, destination: str, messages: Sequence[OutboxMessage]) -> set[str]:
        if self.on_publish is not None:
            self.on_publish()
        with self.lock:
            for message in messages:
                if message.id not in self.seen:
                    self.seen.add(message.id)
                    self.arrived[message.aggregate_id].append(message.payload["data"]["seq"])
        return {m.id for m in messages}


@pytest.fixture(scope="module")
def engine() -> Engine:
    return service_engine(SCHEMA)


@pytest.fixture
def new_table(engine: Engine) -> Iterator[Callable[[], str]]:
    """create() -> the name of a fresh table shaped like the outbox (dropped afterwards)."""
    made: list[str] = []

    def create() -> str:
        name = f"outbox_claims_{uuid.uuid4().hex[:8]}"
        with engine.begin() as conn:
            conn.execute(text(f"CREATE TABLE {SCHEMA}.{name} (LIKE {SCHEMA}.outbox INCLUDING ALL)"))
        made.append(name)
        return name

    yield create
    with engine.begin() as conn:
        for name in made:
            conn.execute(text(f"DROP TABLE {SCHEMA}.{name}"))


def test_relays_taking_small_rounds_at_once_keep_every_aggregate_in_order(
    engine: Engine, new_table: Callable[[], str]
) -> None:
    # Rounds of 7 rows cut aggregates in two, and three relays keep taking over each other's
    # aggregates right as a round commits. A claim read in one statement with the locks lost
    # that race: it took an aggregate's later rows without the earlier ones it had skipped
    # under another relay's lock (out of order in nearly every run here).
    out_of_order: list[tuple[str, list[int]]] = []
    for _ in range(20):
        table = new_table()
        _write(engine, table, _events([uuid.uuid4().hex[:8] for _ in range(20)], 10), "sqs:x")
        recorder = FifoRecorder()
        relays = [
            OutboxRelay(engine, SCHEMA, recorder, table=table, batch_size=7, lanes=1)
            for _ in range(3)
        ]

        _drain_concurrently(engine, table, relays, timeout=60)
        assert _unpublished(engine, table) == 0
        assert len(recorder.seen) == 200
        out_of_order += [(a, s) for a, s in recorder.arrived.items() if s != sorted(s)]
    assert not out_of_order


def test_a_round_locks_the_oldest_aggregates_no_other_relay_holds_and_no_more(
    engine: Engine, new_table: Callable[[], str]
) -> None:
    table = new_table()
    aggregates = [f"agg-{name}-{uuid.uuid4().hex[:6]}" for name in "abcd"]
    _write(engine, table, _events(aggregates, 1), "sqs:x")  # one row each, a oldest
    prefix = f"{SCHEMA}.{table}:"
    held: list[int] = []

    def count_holders() -> None:
        with engine.connect() as conn:
            held.append(
                conn.execute(
                    text(_HOLDERS), {"aggregates": aggregates, "prefix": prefix}
                ).scalar_one()
            )

    recorder = FifoRecorder(on_publish=count_holders)
    relay = OutboxRelay(engine, SCHEMA, recorder, table=table, batch_size=2)
    with engine.begin() as other_relay:  # holds a's lock for the whole round
        other_relay.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
            {"key": prefix + aggregates[0]},
        )
        assert relay.run_once() == 2
    assert set(recorder.arrived) == set(aggregates[1:3])  # b and c: the oldest free ones
    assert held == [3]  # a (the other relay's), b and c: d is left free for a third relay
