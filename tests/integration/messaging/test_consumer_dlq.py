"""The consumer and the DLQ reprocessor against LocalStack, on throwaway FIFO queues.

Failing handler → retries with growing visibility → DLQ with its last error → redrive →
handled once; poison → DLQ → redriven until parked, while other groups keep flowing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from paylab.core.consumer import (
    ATTEMPTS,
    LAST_ERROR,
    REDRIVES,
    SOURCE_QUEUE,
    ConsumerSettings,
    Handler,
    QueueWorker,
)
from paylab.core.events import Envelope
from paylab.lambdas.dlq_reprocessor import Reprocessor

from ..resources import AwsClients, Queue
from ..waiting import wait_until

pytestmark = pytest.mark.timeout(90)


def _envelope(event_id: str, subject: str) -> Envelope:
    return Envelope(
        id=event_id,
        type="PaymentCompleted",
        source="payment",
        subject_id=subject,
        correlation_id=event_id,
        data={"amount": "1000.00"},
    )


def _send(aws: AwsClients, queue: Queue, body: str, group: str, dedup: str) -> None:
    aws.sqs.send_message(
        QueueUrl=queue.url,
        MessageBody=body,
        MessageGroupId=group,
        MessageDeduplicationId=dedup,
        MessageAttributes={"type": {"DataType": "String", "StringValue": "PaymentCompleted"}},
    )


def _depth(aws: AwsClients, queue: Queue) -> int:
    attributes = aws.sqs.get_queue_attributes(
        QueueUrl=queue.url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def _peek(aws: AwsClients, queue: Queue) -> list[dict[str, Any]]:
    """Messages of `queue`, left visible (VisibilityTimeout 0)."""
    messages: list[dict[str, Any]] = aws.sqs.receive_message(
        QueueUrl=queue.url,
        MaxNumberOfMessages=10,
        VisibilityTimeout=0,
        MessageAttributeNames=["All"],
        AttributeNames=["All"],
    ).get("Messages", [])
    return messages


@contextmanager
def _running(queue: Queue, handler: Handler, base: int) -> Iterator[QueueWorker]:
    settings = ConsumerSettings(backoff_base_seconds=base, wait_seconds=1)
    worker = QueueWorker(queue.url, handler, name="it", settings=settings)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    thread.start()
    try:
        yield worker
    finally:
        stop.set()
        thread.join(timeout=5)


@pytest.fixture
def queues(
    sqs_create_queue_with_dlq: Callable[..., tuple[Queue, Queue]],
    sqs_create_queue: Callable[..., Queue],
) -> Callable[[int], tuple[Queue, Queue, Queue, dict[str, dict[str, str]]]]:
    def create(max_receive_count: int) -> tuple[Queue, Queue, Queue, dict[str, dict[str, str]]]:
        source, dlq = sqs_create_queue_with_dlq(
            max_receive_count=max_receive_count, VisibilityTimeout=30
        )
        parking = sqs_create_queue(fifo=True, ContentBasedDeduplication=False)
        config = {"it-ops": {"source": source.url, "dlq": dlq.url, "parking": parking.url}}
        return source, dlq, parking, config

    return create


def test_failing_handler_backs_off_dead_letters_with_its_error_then_redrive_handles_once(
    aws: AwsClients, queues: Callable[[int], tuple[Queue, Queue, Queue, Any]]
) -> None:
    source, dlq, _, config = queues(3)
    provider_down = threading.Event()
    provider_down.set()
    attempts: list[float] = []
    handled: list[str] = []

    def handler(envelope: Envelope) -> None:
        if provider_down.is_set():
            attempts.append(time.monotonic())
            raise ConnectionError("sms provider unavailable")
        handled.append(envelope.id)

    _send(aws, source, _envelope("evt-1", "pay-1").to_json(), "pay-1", "evt-1")
    with _running(source, handler, base=2):
        wait_until(lambda: _depth(aws, dlq) == 1, timeout=30, description="the DLQ")
        assert len(attempts) == 3  # maxReceiveCount 3: the third failure dead-letters
        first_gap, second_gap = attempts[1] - attempts[0], attempts[2] - attempts[1]
        assert 2 <= first_gap < second_gap, (first_gap, second_gap)  # 2 s, then 4 s
        assert second_gap >= 4
        (dead,) = _peek(aws, dlq)
        attrs = dead["MessageAttributes"]
        assert attrs[LAST_ERROR]["StringValue"] == "ConnectionError: sms provider unavailable"
        assert attrs[ATTEMPTS]["StringValue"] == "3"
        assert attrs[SOURCE_QUEUE]["StringValue"] == source.arn
        assert dead["Attributes"]["MessageGroupId"] == "pay-1"
        # Sent to the DLQ first, then deleted from the source: the delete may still be on its way.
        wait_until(lambda: _depth(aws, source) == 0, timeout=10, description="the source empty")

        provider_down.clear()
        result = Reprocessor(aws.sqs, config).redrive("it-ops", 10)
        assert result == {"queue": "it-ops", "redriven": 1, "parked": 0}
        wait_until(lambda: handled, timeout=30, description="the redriven message")
        wait_until(lambda: _depth(aws, source) == 0, timeout=30, description="an empty queue")
    assert handled == ["evt-1"]
    assert _depth(aws, dlq) == 0


def test_poison_is_parked_after_max_redrives_while_other_groups_keep_flowing(
    aws: AwsClients, queues: Callable[[int], tuple[Queue, Queue, Queue, Any]]
) -> None:
    source, dlq, parking, config = queues(2)
    handled: list[str] = []
    reprocessor = Reprocessor(aws.sqs, config, max_redrives=1)

    _send(aws, source, "{not an envelope", "poisoned", "poison-1")
    _send(aws, source, _envelope("after-poison", "poisoned").to_json(), "poisoned", "after-1")
    for n in range(3):
        _send(aws, source, _envelope(f"ok-{n}", f"pay-{n}").to_json(), f"pay-{n}", f"ok-{n}")

    with _running(source, lambda e: handled.append(e.id), base=1):
        # Other groups flow at once; the poisoned group waits behind its first message.
        wait_until(lambda: len(handled) >= 3, timeout=30, description="the healthy groups")
        assert sorted(handled) == ["ok-0", "ok-1", "ok-2"]
        wait_until(lambda: _depth(aws, dlq) == 1, timeout=20, description="poison in the DLQ")
        # Once the poison left, the message behind it in its group is handled.
        wait_until(lambda: "after-poison" in handled, timeout=30, description="its group")

        assert reprocessor.redrive("it-ops", 10) == {"queue": "it-ops", "redriven": 1, "parked": 0}
        wait_until(lambda: _depth(aws, dlq) == 1, timeout=20, description="poison back in DLQ")
        (dead,) = _peek(aws, dlq)
        assert dead["MessageAttributes"][REDRIVES]["StringValue"] == "1"
        _send(aws, source, _envelope("late", "pay-9").to_json(), "pay-9", "late-1")
        wait_until(lambda: "late" in handled, timeout=30, description="a later message")

        assert reprocessor.redrive("it-ops", 10) == {"queue": "it-ops", "redriven": 0, "parked": 1}
    listed = reprocessor.handle({"action": "list", "queue": "it-ops"})["queues"][0]
    assert listed["dlq"]["available"] == 0 and listed["parking"]["available"] == 1
    (parked,) = listed["parked"]
    assert parked["last_error"].startswith("ValidationError")
    assert parked["redrives"] == 1 and parked["attempts"] == 2
    # Listing peeks: the parked message is still there.
    assert _depth(aws, parking) == 1
    assert handled.count("after-poison") == 1
