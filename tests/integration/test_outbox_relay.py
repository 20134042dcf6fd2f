"""The outbox relay: at least once, in order per aggregate, nothing lost while AWS fails."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import Engine, text

from paylab.core.db import service_engine, session_factory, unit_of_work
from paylab.core.events import Envelope
from paylab.core.outbox import add_event
from paylab.core.outbox_relay import OutboxRelay
from paylab.core.publishers import Publisher

from .messages import receive
from .resources import AwsClients, Queue

# Any schema whose role may create tables (audit's may not: its log is append-only); the
# tests use a private copy of its outbox table.
SCHEMA = "auth"


@pytest.fixture(scope="module")
def engine() -> Engine:
    return service_engine(SCHEMA)


@contextmanager
def throwaway_outbox(engine: Engine, prefix: str, schema: str = SCHEMA) -> Iterator[str]:
    """A table shaped like `schema`'s outbox (indexes included), dropped afterwards: no
    running relay reads it, so only the test's rows and relays are in play."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with engine.begin() as conn:
        conn.execute(text(f"CREATE TABLE {schema}.{name} (LIKE {schema}.outbox INCLUDING ALL)"))
    try:
        yield name
    finally:
        with engine.begin() as conn:
            conn.execute(text(f"DROP TABLE {schema}.{name}"))


@pytest.fixture
def outbox_table(engine: Engine) -> Iterator[str]:
    """A throwaway outbox table shaped like the real one, so no running relay competes."""
    with throwaway_outbox(engine, "outbox_it") as name:
        yield name


def _write(engine: Engine, table: str, events: list[Envelope], destination: str) -> None:
    """Insert outbox rows the way add_event does, into the throwaway table."""
    with engine.begin() as conn:
        for event in events:
            conn.execute(
                text(
                    f"INSERT INTO {SCHEMA}.{table} (id, aggregate_id, event_type, payload,"
                    " destinations) VALUES (CAST(:id AS uuid), :agg, :type,"
                    " CAST(:payload AS jsonb), :dest)"
                ),
                {
                    "id": event.id,
                    "agg": event.subject_id,
                    "type": event.type,
                    "payload": event.to_json(),
                    "dest": [destination],
                },
            )


def _events(aggregates: list[str], per_aggregate: int) -> list[Envelope]:
    """Interleaved events: a1#0, a2#0, a3#0, a1#1, ..."""
    return [
        Envelope(
            type="FundsReserved",
            source="paylab.wallet",  # the bus source must stay "paylab.wallet"
            subject_id=agg,
            correlation_id=agg,
            data={"seq": seq},
        )
        for seq in range(per_aggregate)
        for agg in aggregates
    ]


def _unpublished(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                text(f"SELECT count(*) FROM {SCHEMA}.{table} WHERE published_at IS NULL")
            ).scalar_one()
        )


def _drain_concurrently(
    engine: Engine, table: str, relays: list[OutboxRelay], *, timeout: float
) -> None:
    """Each relay in its own thread, running rounds until the table has nothing to publish."""

    def drain(relay: OutboxRelay) -> None:
        while _unpublished(engine, table):
            relay.run_once()

    threads = [threading.Thread(target=drain, args=(r,)) for r in relays]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)


def test_concurrent_relays_publish_each_event_once_in_order_per_aggregate(
    aws: AwsClients,
    engine: Engine,
    outbox_table: str,
    sqs_create_queue: Callable[..., Queue],
) -> None:
    queue = sqs_create_queue(fifo=True)
    events = _events([f"agg-{uuid.uuid4().hex[:6]}" for _ in range(3)], per_aggregate=9)
    _write(engine, outbox_table, events, "sqs:audit-ops")
    publisher = Publisher(targets={"sqs:audit-ops": queue.url})
    relays = [
        OutboxRelay(engine, SCHEMA, publisher, table=outbox_table, batch_size=7) for _ in range(3)
    ]

    _drain_concurrently(engine, outbox_table, relays, timeout=30)

    assert _unpublished(engine, outbox_table) == 0
    received = receive(aws.sqs, queue.url, len(events), timeout=20)
    bodies = [json.loads(m["Body"]) for m in received]
    assert sorted(b["id"] for b in bodies) == sorted(e.id for e in events)  # each exactly once
    for aggregate in {e.subject_id for e in events}:
        seqs = [b["data"]["seq"] for b in bodies if b["subject_id"] == aggregate]
        assert seqs == sorted(seqs), f"{aggregate} out of order: {seqs}"
    group = received[0]["Attributes"]["MessageGroupId"]
    assert group == bodies[0]["subject_id"]


def test_parallel_lanes_keep_each_aggregate_in_order_across_concurrent_relays(
    aws: AwsClients,
    engine: Engine,
    outbox_table: str,
    sqs_create_queue: Callable[..., Queue],
) -> None:
    queue = sqs_create_queue(fifo=True)
    events = _events([f"agg-{uuid.uuid4().hex[:6]}" for _ in range(12)], per_aggregate=8)
    _write(engine, outbox_table, events, "sqs:audit-ops")
    publisher = Publisher(targets={"sqs:audit-ops": queue.url})
    # 60 rows a round on 4 lanes: several SendMessageBatch calls in flight at once.
    relays = [
        OutboxRelay(engine, SCHEMA, publisher, table=outbox_table, batch_size=60, lanes=4)
        for _ in range(2)
    ]

    _drain_concurrently(engine, outbox_table, relays, timeout=30)

    assert _unpublished(engine, outbox_table) == 0
    received = receive(aws.sqs, queue.url, len(events), timeout=30)
    bodies = [json.loads(m["Body"]) for m in received]
    assert sorted(b["id"] for b in bodies) == sorted(e.id for e in events)
    for aggregate in {e.subject_id for e in events}:
        seqs = [b["data"]["seq"] for b in bodies if b["subject_id"] == aggregate]
        assert seqs == sorted(seqs), f"{aggregate} out of order: {seqs}"


def test_nothing_is_lost_while_the_destination_fails(
    aws: AwsClients,
    engine: Engine,
    outbox_table: str,
    sqs_create_queue: Callable[..., Queue],
) -> None:
    events = _events([f"agg-{uuid.uuid4().hex[:6]}"], per_aggregate=3)
    _write(engine, outbox_table, events, "sqs:audit-ops")
    missing = "http://127.0.0.1:4566/000000000000/paylab-it-no-such-queue.fifo"
    broken = OutboxRelay(
        engine, SCHEMA, Publisher(targets={"sqs:audit-ops": missing}), table=outbox_table
    )
    assert broken.run_once() == 0
    assert _unpublished(engine, outbox_table) == 3

    queue = sqs_create_queue(fifo=True)
    fixed = OutboxRelay(
        engine, SCHEMA, Publisher(targets={"sqs:audit-ops": queue.url}), table=outbox_table
    )
    assert fixed.run_once() == 3
    bodies = [json.loads(m["Body"]) for m in receive(aws.sqs, queue.url, 3)]
    assert [b["id"] for b in bodies] == [e.id for e in events]


def test_events_reach_sns_and_eventbridge_with_the_envelope(
    aws: AwsClients,
    engine: Engine,
    outbox_table: str,
    sqs_create_queue: Callable[..., Queue],
    sns_create_topic: Callable[[], str],
    events_create_bus: Callable[[], str],
) -> None:
    topic, bus = sns_create_topic(), events_create_bus()
    from_topic, from_bus = sqs_create_queue(), sqs_create_queue()
    aws.sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=from_topic.arn,
        Attributes={"RawMessageDelivery": "true"},
    )
    rule = f"paylab-it-{uuid.uuid4().hex[:8]}"
    aws.events.put_rule(
        Name=rule, EventBusName=bus, EventPattern=json.dumps({"source": ["paylab.wallet"]})
    )
    aws.events.put_targets(Rule=rule, EventBusName=bus, Targets=[{"Id": "q", "Arn": from_bus.arn}])
    event = _events([f"agg-{uuid.uuid4().hex[:6]}"], per_aggregate=1)[0]
    with engine.begin() as conn:
        conn.execute(
            text(
                f"INSERT INTO {SCHEMA}.{outbox_table} (id, aggregate_id, event_type, payload,"
                " destinations) VALUES (CAST(:id AS uuid), :agg, :type, CAST(:p AS jsonb), :d)"
            ),
            {
                "id": event.id,
                "agg": event.subject_id,
                "type": event.type,
                "p": event.to_json(),
                "d": ["sns:wallet-events", "events:paylab"],
            },
        )
    publisher = Publisher(targets={"sns:wallet-events": topic, "events:paylab": bus})
    assert OutboxRelay(engine, SCHEMA, publisher, table=outbox_table).run_once() == 1

    via_sns = json.loads(receive(aws.sqs, from_topic.url, 1)[0]["Body"])
    via_bus = json.loads(receive(aws.sqs, from_bus.url, 1)[0]["Body"])
    assert via_sns["id"] == event.id and via_sns["type"] == "FundsReserved"
    assert via_bus["detail-type"] == "FundsReserved"
    assert via_bus["detail"]["id"] == event.id
    aws.events.remove_targets(Rule=rule, EventBusName=bus, Ids=["q"])
    aws.events.delete_rule(Name=rule, EventBusName=bus)


def test_a_rolled_back_change_leaves_no_event(engine: Engine) -> None:
    factory = session_factory(engine)
    # A valid event: add_event checks contracts (contracts/events) before writing.
    event = Envelope(
        type="LowBalanceAlert",
        source="paylab.wallet",
        subject_id=str(uuid.uuid4()),
        correlation_id="it-rollback",
        data={
            "account_id": str(uuid.uuid4()),
            "merchant_id": "paylab-it-merchant",
            "kind": "merchant",
            "currency": "COP",
            "available": "10.00",
            "threshold": "50000.00",
            "posting_id": str(uuid.uuid4()),
        },
    )

    def failing_use_case() -> None:
        with unit_of_work(factory) as session:
            add_event(session, SCHEMA, event, ["sqs:audit-ops"])
            raise RuntimeError("the use case failed after writing its event")

    with pytest.raises(RuntimeError):
        failing_use_case()
    with engine.connect() as conn:
        found = conn.execute(
            text(f"SELECT count(*) FROM {SCHEMA}.outbox WHERE id = CAST(:id AS uuid)"),
            {"id": event.id},
        ).scalar_one()
    assert found == 0
