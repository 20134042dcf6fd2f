"""The relay lingers after a wake-up, so commits that arrive close together share AWS calls."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from sqlalchemy import Engine, text

from paylab.core.db import service_engine
from paylab.core.events import Envelope
from paylab.core.outbox_relay import OutboxRelay, channel
from paylab.core.pg_listen import listener_factory
from paylab.core.publishers import OutboxMessage, Publisher
from paylab.core.relay_loop import serve

from .test_outbox_relay import throwaway_outbox
from .waiting import wait_until

SCHEMA = "auth"  # a schema whose role may create tables; the test uses a private outbox copy
NO_POLL = 60.0  # seconds between timed rounds: longer than any of these tests


class CountingPublisher(Publisher):
    """Accepts everything and records each call's message ids (no AWS involved)."""

    def __init__(self, hold_first: threading.Event | None = None) -> None:
        super().__init__(targets={})
        self.calls: list[list[str]] = []
        self.hold_first = hold_first  # the first call waits for it: a round still in flight

    def publish(self, destination: str, messages: Sequence[OutboxMessage]) -> set[str]:
        self.calls.append([m.id for m in messages])
        if self.hold_first is not None and len(self.calls) == 1:
            self.hold_first.wait(10)
        return {m.id for m in messages}


@pytest.fixture(scope="module")
def engine() -> Engine:
    return service_engine(SCHEMA)


@pytest.fixture
def table(engine: Engine) -> Iterator[str]:
    with throwaway_outbox(engine, "outbox_linger", SCHEMA) as name:
        yield name


def _commit(engine: Engine, table: str, aggregate: str) -> str:
    """One use case's commit: an outbox row and the NOTIFY add_event sends."""
    event = Envelope(
        type="FundsReserved",
        source="paylab.wallet",
        subject_id=aggregate,
        correlation_id=aggregate,
        data={},
    )
    with engine.begin() as conn:
        conn.execute(
            text(
                f"INSERT INTO {SCHEMA}.{table} (id, aggregate_id, event_type, payload,"
                " destinations) VALUES (CAST(:id AS uuid), :agg, :type, CAST(:payload AS jsonb),"
                " :dest)"
            ),
            {
                "id": event.id,
                "agg": aggregate,
                "type": event.type,
                "payload": event.to_json(),
                "dest": ["sns:wallet-events"],
            },
        )
        conn.execute(text("SELECT pg_notify(:c, '')"), {"c": channel(SCHEMA, table)})
    return event.id


class WatchedRelay(OutboxRelay):
    """The relay, telling the test when a round has ended (it then waits on LISTEN)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.round_ended = threading.Event()
        self.rounds = 0

    def run_once(self) -> int:
        moved = super().run_once()
        self.rounds += 1
        self.round_ended.set()
        return moved


def _serving(
    engine: Engine, table: str, linger: float, hold_first: threading.Event | None = None
) -> tuple[CountingPublisher, threading.Event, WatchedRelay]:
    publisher = CountingPublisher(hold_first)
    relay = WatchedRelay(engine, SCHEMA, publisher, table=table)
    stop = threading.Event()
    # Only notifications wake the relay: a timed round between a commit and its notification
    # would publish that row before the linger (the runtime's default waits 1 s, then 30 s).
    threading.Thread(
        target=serve, args=(relay, listener_factory(engine), stop, NO_POLL, linger), daemon=True
    ).start()
    return publisher, stop, relay


def _listener_pids(engine: Engine, table: str) -> set[int]:
    """Backends LISTENing on the private outbox's channel (the relay's listening session)."""
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT pid FROM pg_stat_activity WHERE query = :q AND pid <> pg_backend_pid()"),
            {"q": f"LISTEN {channel(SCHEMA, table)}"},
        )
        return {row.pid for row in rows}


def test_the_relay_listens_again_after_losing_its_session(engine: Engine, table: str) -> None:
    """A restarted Postgres or a terminated session must not stop the relay for good."""
    publisher, stop, _ = _serving(engine, table, 0.0)
    try:
        first = wait_until(lambda: _listener_pids(engine, table), timeout=10, description="LISTEN")
        with engine.connect() as conn:  # a role may terminate its own sessions
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": next(iter(first))})
        wait_until(
            lambda: _listener_pids(engine, table) - first,
            timeout=15,
            description="a new listening session",
        )
        row = _commit(engine, table, "agg-after")
        wait_until(
            lambda: any(row in c for c in publisher.calls), timeout=10, description="published"
        )
    finally:
        stop.set()


@pytest.mark.parametrize(("linger", "calls"), [(1.0, 1), (0.0, 2)])
def test_commits_within_the_linger_share_one_call(
    engine: Engine, table: str, linger: float, calls: int
) -> None:
    publisher, stop, relay = _serving(engine, table, linger)
    try:
        # The relay is at its LISTEN wait (after its first, empty round) before the commits.
        assert relay.round_ended.wait(10), "the relay's first round did not end"
        first = _commit(engine, table, "agg-a")
        if linger:
            time.sleep(0.3)  # the second commit comes 0.3 s later, within the linger
        else:  # without one, the first row goes alone
            wait_until(lambda: publisher.calls, timeout=10, description="the first row")
        second = _commit(engine, table, "agg-b")
        wait_until(
            lambda: sum(len(c) for c in publisher.calls) >= 2,
            timeout=10,
            description="both rows published",
        )
    finally:
        stop.set()
    assert len(publisher.calls) == calls
    assert sorted(i for c in publisher.calls for i in c) == sorted([first, second])


@pytest.mark.parametrize(("linger", "calls"), [(1.0, 2), (0.0, 3)])
def test_rows_committed_during_a_round_wait_for_the_next_linger(
    engine: Engine, table: str, linger: float, calls: int
) -> None:
    in_flight = threading.Event()
    publisher, stop, _ = _serving(engine, table, linger, hold_first=in_flight)
    try:
        first = _commit(engine, table, "agg-a")
        wait_until(lambda: publisher.calls, timeout=10, description="the first round")
        straggler = _commit(engine, table, "agg-b")  # while the first round publishes
        in_flight.set()
        if linger:
            time.sleep(0.3)  # the next commit comes soon after the round, within the linger
        else:  # without one, the straggler goes in a round of its own
            wait_until(lambda: len(publisher.calls) >= 2, timeout=10, description="straggler")
        last = _commit(engine, table, "agg-c")
        wait_until(
            lambda: sum(len(c) for c in publisher.calls) >= 3,
            timeout=10,
            description="all rows published",
        )
    finally:
        in_flight.set()
        stop.set()
    assert publisher.calls[0] == [first]
    assert len(publisher.calls) == calls
    assert sorted(i for c in publisher.calls[1:] for i in c) == sorted([straggler, last])


def test_a_burst_of_commits_costs_one_linger_not_one_each(engine: Engine, table: str) -> None:
    publisher, stop, _ = _serving(engine, table, linger=0.3)
    try:
        burst = [_commit(engine, table, f"agg-{i}") for i in range(20)]
        wait_until(
            lambda: sum(len(c) for c in publisher.calls) >= len(burst),
            timeout=10,
            description="the burst published",
        )
        # Twenty notifications each costing a linger would hold the next row back about 6 s.
        late = _commit(engine, table, "agg-late")
        wait_until(
            lambda: any(late in c for c in publisher.calls),
            timeout=2,
            description="a later commit published within a linger or two",
        )
    finally:
        stop.set()


def test_stop_ends_the_relays_at_once_not_at_their_quiet_wait(engine: Engine, table: str) -> None:
    """`down` stops the workers: a relay asleep until its quiet wait must not hold them up."""
    relay = WatchedRelay(engine, SCHEMA, CountingPublisher(), table=table)
    stop = threading.Event()
    serving = threading.Thread(
        target=serve, args=(relay, listener_factory(engine), stop, NO_POLL, 0.0), daemon=True
    )
    before = set(threading.enumerate())
    serving.start()
    # Listening, then the round its first wake-up asks for: the relay sleeps until woken.
    wait_until(lambda: _listener_pids(engine, table), timeout=10, description="LISTEN")
    wait_until(lambda: relay.rounds >= 2, timeout=10, description="the round after LISTEN")
    publishers = [t for t in set(threading.enumerate()) - before if t.name == relay.schema]
    assert len(publishers) == 1, publishers
    stop.set()
    serving.join(timeout=10)
    # Asleep until its quiet wait (NO_POLL, 60 s), it would outlive serve's 5 s join.
    publishers[0].join(timeout=10)
    assert not publishers[0].is_alive(), "the relay went on sleeping after stop"
