"""Bodies a rule's SQS target receives: the EventBridge event around our Envelope."""

from __future__ import annotations

import json

import pytest
from messaging_fakes import DLQ_URL, SOURCE_URL, FakeQueues, FakeSqs, envelope_body, sqs_message
from pydantic import ValidationError

from paylab.core.consumer import (
    LAST_ERROR,
    ConsumerSettings,
    QueueWorker,
    from_eventbridge,
)
from paylab.core.consumer_registry import REGISTRY
from paylab.core.events import Envelope
from paylab.lambdas.dlq_reprocessor import Reprocessor


def eventbridge_body(event_id: str) -> str:
    """What EventBridge puts in the queue for one PutEvents entry whose Detail is an Envelope."""
    return json.dumps(
        {
            "version": "0",
            "id": "eb-0f1e",
            "detail-type": "WebhookFailed",
            "source": "paylab.merchant",
            "account": "000000000000",
            "time": "2026-12-04T12:00:00Z",
            "region": "us-east-1",
            "resources": [],
            "detail": json.loads(envelope_body(event_id, type_="WebhookFailed")),
        }
    )


def test_the_envelope_is_the_detail() -> None:
    envelope = from_eventbridge(eventbridge_body("evt-1"))
    assert envelope == Envelope.model_validate_json(envelope_body("evt-1", type_="WebhookFailed"))


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (envelope_body("evt-1"), ValueError),  # a bare Envelope has no detail
        ('{"detail": "text"}', ValueError),
        ('{"detail": {"id": "x"}}', ValidationError),
        ("not json", ValueError),
    ],
)
def test_what_is_not_an_eventbridge_envelope_fails(body: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        from_eventbridge(body)


def test_only_the_merchant_consumer_unwraps() -> None:
    parsers = {name: consumer.parse for name, consumer in REGISTRY.items()}
    assert parsers.pop("merchant") is from_eventbridge
    assert set(parsers.values()) == {Envelope.model_validate_json}


def _worker(sqs: FakeSqs, handler: object) -> QueueWorker:
    settings = ConsumerSettings(backoff_base_seconds=2, wait_seconds=0)
    return QueueWorker(
        SOURCE_URL, handler, name="merchant", sqs=sqs, settings=settings, parse=from_eventbridge
    )  # type: ignore[arg-type]


def test_a_worker_with_the_eventbridge_parser_hands_over_the_detail() -> None:
    sqs = FakeSqs()
    sqs.queue(SOURCE_URL, [sqs_message("m1", eventbridge_body("evt-9"), group="webhook-failed")])
    seen: list[Envelope] = []

    _worker(sqs, seen.append).run_once()

    assert [(e.id, e.type) for e in seen] == [("evt-9", "WebhookFailed")]
    assert sqs.deleted == [(SOURCE_URL, "rh-m1-1")]


def test_a_bare_envelope_on_that_queue_is_dead_lettered_with_why() -> None:
    sqs = FakeSqs()
    sqs.queue(SOURCE_URL, [sqs_message("m1", envelope_body("evt-9"), count=4)])

    _worker(sqs, lambda e: None).run_once()

    [sent] = sqs.sent
    assert sent["QueueUrl"] == DLQ_URL
    assert "not an EventBridge event" in sent["MessageAttributes"][LAST_ERROR]["StringValue"]


def test_the_reprocessor_lists_eventbridge_dead_letters_by_our_event() -> None:
    urls = {
        "source": "http://sqs/w.fifo",
        "dlq": "http://sqs/w-dlq.fifo",
        "parking": "http://sqs/w-p.fifo",
    }
    sqs = FakeQueues()
    attributes = {LAST_ERROR: {"DataType": "String", "StringValue": "WebhookStillFailing: x"}}
    sqs.put(urls["parking"], sqs_message("p1", eventbridge_body("evt-3"), attributes=attributes))

    result = Reprocessor(sqs, {"merchant-webhooks": urls}).handle(
        {"action": "list", "queue": "merchant-webhooks"}
    )

    [parked] = result["queues"][0]["parked"]
    assert (parked["event_id"], parked["type"]) == ("evt-3", "WebhookFailed")
    assert parked["last_error"] == "WebhookStillFailing: x"
